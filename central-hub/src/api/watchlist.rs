//! The watch list over HTTP: operators list, add (with a reason and an expiry) and remove
//! plates, read the hits, and keep a stream open on which each new hit arrives as it is stored
//! (server-sent events). Every change and every look is audited.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller, Shared, blocking};
use crate::config::Role;
use crate::store::plate_norm;

/// Longest an entry may run: a list nobody reviews fills with stale plates.
const MAX_DAYS: i64 = 365;
const MAX_REASON: usize = 500;

#[derive(Deserialize)]
pub(super) struct NewEntry {
    plate: String,
    reason: String,
    /// Days until the entry ends (1..=365).
    days: i64,
}

pub(super) async fn list(
    State(s): State<Shared>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    blocking(move || {
        let mut store = s.conn()?;
        caller.audit(store.as_mut(), "view_watchlist", "")?;
        let entries = store.watch_entries(Utc::now())?;
        Ok(Json(json!({ "entries": entries })))
    })
    .await
}

pub(super) async fn add(
    State(s): State<Shared>,
    caller: Caller,
    Json(n): Json<NewEntry>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    caller.require(&s, &[Role::Operator])?;
    let plate = plate_norm(&n.plate);
    let bad = |m: String| ApiError(StatusCode::BAD_REQUEST, m);
    if !(5..=10).contains(&plate.len()) || !plate[..2].chars().all(|c| c.is_ascii_digit()) {
        return Err(bad(format!(
            "plate: {:?} is not a Vietnamese plate (province digits, series, number: 51F-123.45)",
            n.plate
        )));
    }
    let reason = n.reason.trim().to_string();
    if reason.is_empty() || reason.len() > MAX_REASON {
        return Err(bad(format!("reason: 1 to {MAX_REASON} bytes, saying why")));
    }
    if !(1..=MAX_DAYS).contains(&n.days) {
        return Err(bad(format!("days: 1 to {MAX_DAYS}")));
    }
    let expires = Utc::now() + Duration::days(n.days);
    blocking(move || {
        let mut store = s.conn()?;
        caller.audit(
            store.as_mut(),
            "watchlist_add",
            &format!("{plate} for {} days: {reason}", n.days),
        )?;
        let id = store.watch_add(&plate, &reason, &caller.name, expires)?;
        s.watch.reload(store.as_mut())?;
        Ok((
            StatusCode::CREATED,
            Json(
                json!({ "id": id, "plate": plate, "expires": matthan_schema::format_ts(&expires) }),
            ),
        ))
    })
    .await
}

pub(super) async fn remove(
    State(s): State<Shared>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    blocking(move || {
        let mut store = s.conn()?;
        caller.audit(store.as_mut(), "watchlist_remove", &id.to_string())?;
        if !store.watch_remove(id, &caller.name)? {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("no active watch-list entry {id}"),
            ));
        }
        s.watch.reload(store.as_mut())?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct HitParams {
    limit: Option<usize>,
}

pub(super) async fn hits(
    State(s): State<Shared>,
    caller: Caller,
    Query(p): Query<HitParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    blocking(move || {
        let mut store = s.conn()?;
        caller.audit(store.as_mut(), "view_watchlist_hits", "")?;
        Ok(Json(json!({ "hits": store.watch_hits(limit)? })))
    })
    .await
}

/// New hits as server-sent events (`event: hit`, JSON data), kept alive every 15 s.
pub(super) async fn stream(
    State(s): State<Shared>,
    caller: Caller,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    let s2 = s.clone();
    let name = caller.name.clone();
    blocking(move || caller.audit(s2.conn()?.as_mut(), "watchlist_stream", &name)).await?;
    let rx = s.watch.hits.subscribe();
    let closed = Box::pin(s.watch.closed());
    let events = futures_util::stream::unfold((rx, closed), |(mut rx, mut closed)| async move {
        loop {
            let next = tokio::select! {
                r = rx.recv() => r,
                // The hub is stopping: end the stream rather than hold the shutdown.
                _ = &mut closed => return None,
            };
            match next {
                Ok(h) => {
                    let e = Event::default()
                        .event("hit")
                        .json_data(&h)
                        .unwrap_or_else(|_| Event::default().comment("unserialisable hit"));
                    return Some((Ok(e), (rx, closed)));
                }
                // A console that fell behind skips to the newest; the hits stay listed.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15))))
}
