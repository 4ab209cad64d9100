//! Legal holds over HTTP: an operator puts an event on hold for a case (an export does it by
//! itself), so retention keeps it and its evidence; only an admin releases one. Both audited.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller, Shared, blocking, load_event};
use crate::config::Role;

const MAX_REASON: usize = 500;

#[derive(Deserialize)]
pub(super) struct NewHold {
    /// The case or order the event is held for.
    reason: String,
}

pub(super) async fn hold(
    State(s): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    Json(h): Json<NewHold>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    let reason = h.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("reason: 1 to {MAX_REASON} characters (the case it is held for)"),
        ));
    }
    blocking(move || {
        load_event(&s, &caller, &id, "hold")?;
        let mut store = s.conn()?;
        let new = store.hold(&id, &reason, &caller.name)?;
        caller.audit(store.as_mut(), "hold", &format!("{id}: {reason}"))?;
        Ok(Json(
            json!({ "held": true, "new": new, "hold": store.hold_of(&id)? }),
        ))
    })
    .await
}

pub(super) async fn release(
    State(s): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Admin])?;
    blocking(move || {
        let mut store = s.conn()?;
        if !store.release(&id)? {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("event {id} is not on hold"),
            ));
        }
        caller.audit(store.as_mut(), "release_hold", &id)?;
        Ok(Json(json!({ "held": false })))
    })
    .await
}
