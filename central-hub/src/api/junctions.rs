//! The traffic centre's junction page: the latest state of every camera and junction, and a
//! day of history for one of them (interval counts per class; signal recommendations with
//! flow and queue per approach) for its charts.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{Duration, Utc};
use matthan_schema::Body;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller, Shared, blocking};
use crate::config::Role;
use crate::store::Filter;

/// Most events one history answer reads (24 h of 1-minute intervals is 1,440).
const MAX_EVENTS: usize = 5000;

pub(super) async fn latest(
    State(s): State<Shared>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Traffic])?;
    blocking(move || {
        let mut store = s.conn()?;
        let counts = store.latest_per_camera("counts")?;
        let status = store.latest_per_camera("camera_status")?;
        // Junction events name the junction where camera events name the camera.
        let recs = store.latest_per_camera("signal_recommendation")?;
        let warnings = store.latest_per_camera("congestion_warning")?;
        let mut cams: Vec<serde_json::Value> = Vec::new();
        for (site, camera) in store.cameras()? {
            let pick = |v: &[matthan_schema::Event]| {
                v.iter()
                    .find(|e| e.site == site && e.camera == camera)
                    .cloned()
            };
            let (c, st, r, w) = (pick(&counts), pick(&status), pick(&recs), pick(&warnings));
            if c.is_some() || st.is_some() || r.is_some() {
                cams.push(json!({ "site": site, "camera": camera, "counts": c, "status": st, "recommendation": r, "warning": w }));
            }
        }
        Ok(Json(json!({ "cameras": cams, "positions": s.positions })))
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct HistoryParams {
    site: String,
    /// A camera (its counts) or a junction (its recommendations).
    id: String,
    /// How far back (default 24, at most 168).
    hours: Option<i64>,
}

pub(super) async fn history(
    State(s): State<Shared>,
    caller: Caller,
    Query(p): Query<HistoryParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Traffic])?;
    let hours = p.hours.unwrap_or(24).clamp(1, 168);
    blocking(move || {
        let mut store = s.conn()?;
        let f = Filter {
            kinds: vec!["counts".into(), "signal_recommendation".into()],
            cameras: vec![p.id.clone()],
            from: Some(Utc::now() - Duration::hours(hours)),
            ..Filter::default()
        };
        let mut rows = store.select(&f, MAX_EVENTS)?;
        rows.retain(|r| r.site == p.site);
        rows.reverse();
        let (mut counts, mut recs) = (Vec::new(), Vec::new());
        for r in rows {
            let Some(e) = store.get(&r.id)? else { continue };
            match &e.body {
                Body::Counts(c) => {
                    // Crossings of every line, both ways, per class.
                    let mut per: std::collections::BTreeMap<&str, u32> = Default::default();
                    for l in &c.lines {
                        *per.entry(l.class.as_str()).or_default() += l.in_count + l.out_count;
                    }
                    counts.push(json!({
                        "start": matthan_schema::format_ts(&c.interval_start),
                        "end": matthan_schema::format_ts(&c.interval_end),
                        "classes": per,
                    }));
                }
                Body::SignalRecommendation(x) => recs.push(json!({
                    "ts": matthan_schema::format_ts(&e.ts),
                    "cycle_s": x.cycle_s,
                    "phases": x.phases,
                    "approaches": x.inputs.iter().map(|a| json!({
                        "approach": a.approach, "flow_pcu_h": a.flow_pcu_h, "queue_veh": a.queue_veh,
                    })).collect::<Vec<_>>(),
                    "oversaturated": x.oversaturated,
                    "in_force": x.in_force,
                    "forecasts": x.forecasts,
                })),
                _ => {}
            }
        }
        Ok(Json(json!({
            "site": p.site, "id": p.id, "hours": hours,
            "counts": counts, "recommendations": recs,
        })))
    })
    .await
}
