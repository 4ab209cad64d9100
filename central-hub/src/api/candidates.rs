//! Possible sightings of a vehicle whose plate was not read (or not trusted): given one of its
//! events, the passes at the other cameras within reach that could be the same vehicle,
//! ranked by how alike they are (class, colour) and how plausible the time between the two
//! cameras is for the distance (about 30 km/h in the city). Every result is marked as a
//! candidate with its reasons: an operator confirms it by looking, the system does not.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::Duration;
use serde::Deserialize;
use serde_json::json;

use super::trace::{haversine_km, passes};
use super::{ApiError, Caller, Shared, blocking};
use crate::config::Role;
use crate::store::{Filter, Row, plate_norm};

/// The usual speed between two city cameras; the time it implies scores highest.
const TYPICAL_KMH: f64 = 30.0;
/// Slower than this (a jam) or faster than this is not considered at all.
const SLOWEST_KMH: f64 = 5.0;
const FASTEST_KMH: f64 = 130.0;

#[derive(Deserialize)]
pub(super) struct Params {
    /// An event of the vehicle (a track or violation).
    event: String,
    /// Cameras within this many km (default 2).
    within_km: Option<f64>,
    limit: Option<usize>,
    /// `false`: rank as if no plate had been read (for evaluation and for plates not trusted).
    use_plate: Option<bool>,
}

pub(super) async fn candidates(
    State(s): State<Shared>,
    caller: Caller,
    Query(p): Query<Params>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    let within = p.within_km.unwrap_or(2.0).clamp(0.0, 50.0);
    let limit = p.limit.unwrap_or(10).clamp(1, 100);
    blocking(move || {
        let mut store = s.conn()?;
        caller.audit(store.as_mut(), "candidates", &p.event)?;
        let Some(e) = store.get(&p.event)? else {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("no event {}", p.event),
            ));
        };
        let fields = crate::store::Fields::of(&e);
        let at = |site: &str, cam: &str| {
            s.positions
                .iter()
                .find(|c| c.site == site && c.id == cam)
                .cloned()
        };
        let Some(here) = at(&e.site, &e.camera) else {
            // Nothing can be ranked without knowing where the cameras stand.
            return Ok(Json(json!({
                "event": p.event, "camera": e.camera, "candidates": [],
                "note": format!(
                    "camera {}/{} has no position in the hub config ([[cameras]] site, id, lat, lon)",
                    e.site, e.camera
                ),
            })));
        };
        let plate = p
            .use_plate
            .unwrap_or(true)
            .then(|| fields.plate.as_deref().map(plate_norm))
            .flatten();
        let mut ranked = Vec::new();
        for cam in s.positions.iter().filter(|c| *c != &here) {
            let km = haversine_km(&here, cam);
            if km > within {
                continue;
            }
            // Either way along the road: the vehicle came from there or went there.
            let (near, far) = (hours(km / FASTEST_KMH), hours(km / SLOWEST_KMH));
            let f = Filter {
                kinds: vec!["track".into()],
                cameras: vec![cam.id.clone()],
                from: Some(e.ts - far),
                to: Some(e.ts + far),
                ..Filter::default()
            };
            let mut rows = store.select(&f, 2000)?;
            rows.retain(|r| r.site == cam.site && (r.ts - e.ts).abs() >= near);
            rows.reverse();
            for pass in passes(&rows) {
                if let Some(c) = score(&fields, plate.as_deref(), pass.best, km, e.ts) {
                    ranked.push(c);
                }
            }
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.truncate(limit);
        Ok(Json(json!({
            "event": p.event,
            "camera": e.camera,
            "candidates": ranked.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        })))
    })
    .await
}

fn hours(h: f64) -> Duration {
    Duration::milliseconds((h * 3_600_000.0) as i64)
}

/// How alike a pass is to the vehicle, with the reasons; none when its plate says it is
/// another vehicle.
fn score(
    of: &crate::store::Fields,
    plate: Option<&str>,
    r: &Row,
    km: f64,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<(f64, serde_json::Value)> {
    let mut reasons = Vec::new();
    let mut score = 0.0;
    if let (Some(want), Some(read)) = (plate, r.plate.as_deref()) {
        // Another plate read clearly: another vehicle.
        crate::watch::matches(want, read)?;
        score += 3.0;
        reasons.push(format!("biển số / plate {read}"));
    }
    fn group(c: &str) -> &str {
        match c {
            "bicycle" | "motorcycle" => "two-wheeler",
            "car" | "truck" | "bus" => "four-wheeler",
            other => other,
        }
    }
    match (of.class.as_deref(), r.class.as_deref()) {
        (Some(a), Some(b)) if a == b => {
            score += 1.0;
            reasons.push(format!("cùng loại / same class {b}"));
        }
        (Some(a), Some(b)) if group(a) == group(b) => {
            score += 0.5;
            reasons.push(format!("loại gần / similar class {b}"));
        }
        _ => {}
    }
    if let (Some(a), Some(b)) = (of.color.as_deref(), r.color.as_deref())
        && a == b
    {
        score += 1.0;
        reasons.push(format!("cùng màu / same colour {b}"));
    }
    let secs = (r.ts - at).num_milliseconds().abs() as f64 / 1000.0;
    let expected = km / TYPICAL_KMH * 3600.0;
    let off = (secs - expected) / expected.max(1.0);
    let plausible = (-off * off).exp();
    score += 2.0 * plausible;
    let kmh = km / (secs.max(0.001) / 3600.0);
    reasons.push(format!(
        "{:.0} s cho {km:.2} km / for {km:.2} km ({kmh:.0} km/h)",
        secs
    ));
    Some((
        score,
        json!({
            "candidate": true, "score": (score * 100.0).round() / 100.0,
            "id": r.id, "site": r.site, "camera": r.camera, "track_id": r.track_id,
            "ts": matthan_schema::format_ts(&r.ts), "class": r.class, "color": r.color,
            "plate": r.plate, "snapshot": r.snapshot, "reasons": reasons,
            "before": r.ts < at,
        }),
    ))
}
