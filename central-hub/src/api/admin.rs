//! Admin views of what the hub acknowledged without storing as events: refused messages
//! (with why) and quarantined ones (valid events dated implausibly far in the past).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller, Shared, blocking};
use crate::store::SetAside;

/// Bytes of each message shown in the list (the row keeps more).
const PREVIEW: usize = 512;

#[derive(Deserialize)]
pub(super) struct Params {
    why: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn dead_letters(
    State(s): State<Shared>,
    caller: Caller,
    Query(p): Query<Params>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[])?;
    let why = match p.why.as_deref() {
        None | Some("") => None,
        Some(w) => Some(SetAside::parse(w).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("why: {w:?} is neither \"refused\" nor \"quarantined\""),
            )
        })?),
    };
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    blocking(move || {
        let mut store = s.conn()?;
        caller.audit(
            store.as_mut(),
            "view_dead_letters",
            p.why.as_deref().unwrap_or(""),
        )?;
        let rows = store.dead_letters(why, limit)?;
        let i = &s.ingest;
        Ok(Json(json!({
            "refused_total": i.rejected.load(std::sync::atomic::Ordering::Relaxed),
            "quarantined_total": i.quarantined.load(std::sync::atomic::Ordering::Relaxed),
            "letters": rows.iter().map(|d| {
                let cut = d.payload.len().min(PREVIEW);
                let mut v = serde_json::to_value(d).expect("serialises");
                v["preview"] = json!(String::from_utf8_lossy(&d.payload[..cut]));
                v
            }).collect::<Vec<_>>(),
        })))
    })
    .await
}
