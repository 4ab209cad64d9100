//! Tracing a vehicle (truy vết): every sighting of a plate across the cameras, oldest first,
//! each with how well its reading matches what was asked (exact, the start of the plate, or
//! through OCR look-alikes), and each hop between two cameras judged against where they stand:
//! a hop faster than any car in a city is flagged as impossible (two vehicles, one plate: a
//! cloned plate or a misreading).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller, Shared, blocking};
use crate::config::{CameraPosition, Role};
use crate::query::Plate;
use crate::store::{Filter, Row, plate_norm};

/// Faster than this between two cameras is not one vehicle driving (km/h).
const IMPOSSIBLE_KMH: f64 = 130.0;

#[derive(Deserialize)]
pub(super) struct Params {
    plate: Option<String>,
    /// An event whose plate to trace.
    event: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn trace(
    State(s): State<Shared>,
    caller: Caller,
    Query(p): Query<Params>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    let limit = p.limit.unwrap_or(200).clamp(1, 1000);
    blocking(move || {
        let mut store = s.conn()?;
        let typed = match (&p.plate, &p.event) {
            (Some(t), _) if !plate_norm(t).is_empty() => t.clone(),
            (_, Some(id)) => store
                .get(id)?
                .and_then(|e| crate::watch::plate_of(&e).map(String::from))
                .ok_or_else(|| {
                    ApiError(StatusCode::NOT_FOUND, format!("event {id} has no plate"))
                })?,
            _ => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    "give plate= (51F-123.45, 51F, ...) or event=<id>".into(),
                ));
            }
        };
        caller.audit(store.as_mut(), "trace", &typed)?;
        let asked = Plate::new(&typed);
        let f = Filter {
            kinds: vec!["track".into(), "violation".into()],
            plate: Some(asked.clone()),
            ..Filter::default()
        };
        let mut rows = store.select(&f, limit)?;
        rows.reverse();
        Ok(Json(json!({
            "plate": asked.text,
            "sightings": sightings(&rows, &asked, &s.positions),
        })))
    })
    .await
}

/// One pass of a vehicle before one camera: the events the hub holds about that track (its
/// updates as the plate firms up, its end, a violation) make one sighting, not several.
pub(super) struct Pass<'a> {
    pub first: &'a Row,
    /// The newest track event (its plate is the most readings fused), else the first row.
    pub best: &'a Row,
    last: DateTime<Utc>,
    ids: Vec<&'a str>,
    rules: Vec<&'a str>,
}

/// Events of one track this far apart are two passes (the edge restarted, ids began again).
const PASS_GAP_MIN: i64 = 10;

pub(super) fn passes(rows: &[Row]) -> Vec<Pass<'_>> {
    let mut out: Vec<Pass> = Vec::new();
    for r in rows {
        let same = r.track_id.and_then(|t| {
            out.iter().rposition(|p| {
                p.first.site == r.site
                    && p.first.camera == r.camera
                    && p.first.track_id == Some(t)
                    && r.ts - p.last <= chrono::Duration::minutes(PASS_GAP_MIN)
            })
        });
        let rule = (r.kind == "violation")
            .then_some(r.rule.as_deref())
            .flatten();
        match same {
            Some(i) => {
                let p = &mut out[i];
                p.ids.push(&r.id);
                p.last = r.ts;
                p.rules.extend(rule);
                if r.kind == "track" || p.best.kind != "track" {
                    p.best = r;
                }
            }
            None => out.push(Pass {
                first: r,
                best: r,
                last: r.ts,
                ids: vec![&r.id],
                rules: rule.into_iter().collect(),
            }),
        }
    }
    out
}

/// The sightings in time order, with match quality and the hop from the one before.
fn sightings(rows: &[Row], asked: &Plate, at: &[CameraPosition]) -> Vec<serde_json::Value> {
    let place = |r: &Row| at.iter().find(|c| c.site == r.site && c.id == r.camera);
    let mut out = Vec::new();
    let mut prev: Option<&Row> = None;
    for pass in passes(rows) {
        let r = pass.first;
        let read = plate_norm(pass.best.plate.as_deref().unwrap_or(""));
        let quality = if read == asked.text {
            "exact"
        } else if read.contains(&asked.text) {
            "partial"
        } else {
            "look-alike"
        };
        let hop = prev
            .filter(|p| p.camera != r.camera || p.site != r.site)
            .map(|p| match (place(p), place(r)) {
                (Some(a), Some(b)) => {
                    let km = haversine_km(a, b);
                    let s = (r.ts - p.ts).num_milliseconds().max(1) as f64 / 1000.0;
                    let kmh = km / (s / 3600.0);
                    json!({
                        "from": p.camera, "km": (km * 100.0).round() / 100.0, "seconds": s,
                        "kmh": kmh.round(), "impossible": kmh > IMPOSSIBLE_KMH,
                    })
                }
                _ => json!({ "from": p.camera, "unknown": "camera positions not configured" }),
            });
        let b = pass.best;
        out.push(json!({
            "id": b.id, "kind": b.kind, "site": r.site, "camera": r.camera,
            "ts": matthan_schema::format_ts(&r.ts), "track_id": r.track_id, "class": b.class,
            "color": b.color, "plate": b.plate, "match": quality, "place": b.place,
            "snapshot": b.snapshot, "rule": b.rule, "violations": pass.rules,
            "events": pass.ids, "hop": hop,
        }));
        prev = Some(r);
    }
    out
}

/// Great-circle distance between two cameras.
pub(super) fn haversine_km(a: &CameraPosition, b: &CameraPosition) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let (dla, dlo) = ((b.lat - a.lat).to_radians(), (b.lon - a.lon).to_radians());
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}
