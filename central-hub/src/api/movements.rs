//! Turning-movement counts for planners (phân tích dữ liệu phục vụ quy hoạch): a camera's
//! `counts` events folded into 15-minute bins per movement (entry → exit) and class, with
//! speed distributions where the camera is calibrated, the peak hour and its peak-hour factor.
//! JSON for the junction page's charts, CSV for a planner's spreadsheet.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use matthan_schema::{Body, Event};
use serde::{Deserialize, Serialize};

use super::{ApiError, Caller, Shared, blocking};
use crate::config::Role;
use crate::store::Filter;

/// Most `counts` events one answer folds (a week of 1-minute intervals is 10,080).
const MAX_EVENTS: usize = 12_000;

#[derive(Deserialize)]
pub(super) struct Params {
    site: String,
    camera: String,
    /// RFC 3339 or local `YYYY-MM-DDTHH:MM`; default the last 24 hours.
    from: Option<String>,
    to: Option<String>,
    /// Bin length in minutes (default 15, the planning standard).
    bin_min: Option<i64>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// One movement's vehicles of one class in one bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub start: DateTime<Utc>,
    pub from: String,
    /// None: entered and never reached an exit.
    pub to: Option<String>,
    pub class: String,
    pub count: u32,
    pub mean_kmh: Option<f32>,
    pub p85_kmh: Option<f32>,
}

/// The busiest hour and how evenly its 15-minute bins carry it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeakHour {
    pub start: DateTime<Utc>,
    pub volume: u32,
    /// Volume / (4 × the busiest 15-minute bin inside the hour): 1 is perfectly even.
    pub phf: f64,
    /// False when the data cover less than the whole hour.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub bin_min: i64,
    pub rows: Vec<Row>,
    /// Total per movement (`from→to`) over the period, all classes.
    pub totals: BTreeMap<String, u32>,
    pub peak_hour: Option<PeakHour>,
}

/// Speeds sorted ascending → (mean, 85th percentile by nearest rank).
fn speed_stats(v: &mut [f32]) -> (Option<f32>, Option<f32>) {
    if v.is_empty() {
        return (None, None);
    }
    v.sort_by(f32::total_cmp);
    let mean = v.iter().sum::<f32>() / v.len() as f32;
    let rank = ((0.85 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    (Some(mean), Some(v[rank - 1]))
}

/// Folds `counts` events into bins of `bin_min` minutes aligned to the clock (a whole-hour
/// offset like Asia/Ho_Chi_Minh's keeps UTC-aligned quarters local quarters).
pub fn fold(events: &[Event], bin_min: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> Report {
    let bin_s = bin_min * 60;
    type Key = (i64, String, Option<String>, String);
    let mut bins: BTreeMap<Key, (u32, Vec<f32>)> = BTreeMap::new();
    for e in events {
        let Body::Counts(c) = &e.body else { continue };
        // An interval belongs to the bin its start falls in (count intervals divide bins).
        let t = c.interval_start.timestamp();
        if c.interval_start < from || c.interval_start >= to {
            continue;
        }
        let slot = t.div_euclid(bin_s) * bin_s;
        for m in &c.movements {
            let b = bins
                .entry((slot, m.from.clone(), m.to.clone(), m.class.clone()))
                .or_default();
            b.0 += m.count;
            b.1.extend(&m.speeds_kmh);
        }
    }
    let mut totals: BTreeMap<String, u32> = BTreeMap::new();
    let mut per_bin: BTreeMap<i64, u32> = BTreeMap::new();
    let rows = bins
        .into_iter()
        .map(|((slot, from, to, class), (count, mut speeds))| {
            let name = format!("{from}→{}", to.as_deref().unwrap_or("?"));
            *totals.entry(name).or_default() += count;
            *per_bin.entry(slot).or_default() += count;
            let (mean_kmh, p85_kmh) = speed_stats(&mut speeds);
            Row {
                start: DateTime::from_timestamp(slot, 0).unwrap_or(DateTime::UNIX_EPOCH),
                from,
                to,
                class,
                count,
                mean_kmh,
                p85_kmh,
            }
        })
        .collect();
    Report {
        bin_min,
        rows,
        totals,
        peak_hour: peak_hour(&per_bin, bin_s),
    }
}

/// The hour (starting at any bin) carrying the most vehicles, and its peak-hour factor
/// measured over its quarters (HCM: V / (4 × V15max)).
fn peak_hour(per_bin: &BTreeMap<i64, u32>, bin_s: i64) -> Option<PeakHour> {
    let (&first, _) = per_bin.first_key_value()?;
    let (&last, _) = per_bin.last_key_value()?;
    let (mut best, mut best_v) = (first, 0u32);
    for &start in per_bin.keys() {
        let v: u32 = per_bin.range(start..start + 3600).map(|(_, n)| n).sum();
        if v > best_v {
            (best, best_v) = (start, v);
        }
    }
    // Quarters inside the hour, whatever the bin length.
    let quarters: Vec<u32> = (0..4)
        .map(|q| {
            let s = best + q * 900;
            per_bin.range(s..s + 900).map(|(_, n)| n).sum()
        })
        .collect();
    let max_q = quarters.iter().copied().max().unwrap_or(0);
    Some(PeakHour {
        start: DateTime::from_timestamp(best, 0).unwrap_or(DateTime::UNIX_EPOCH),
        volume: best_v,
        phf: if max_q == 0 {
            0.0
        } else {
            best_v as f64 / (4.0 * max_q as f64)
        },
        complete: first <= best && last + bin_s >= best + 3600,
    })
}

/// The report as CSV: one line per bin, movement and class; times in local time.
pub fn csv(r: &Report) -> String {
    let tz = crate::caption::local_tz();
    let mut out = String::from("bin_start,bin_end,from,to,class,count,mean_kmh,p85_kmh\n");
    let f = |v: Option<f32>| v.map_or(String::new(), |v| format!("{v:.1}"));
    for row in &r.rows {
        let s = row.start.with_timezone(&tz);
        let e = s + Duration::minutes(r.bin_min);
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            s.format("%Y-%m-%dT%H:%M%:z"),
            e.format("%Y-%m-%dT%H:%M%:z"),
            row.from,
            row.to.as_deref().unwrap_or(""),
            row.class,
            row.count,
            f(row.mean_kmh),
            f(row.p85_kmh),
        ));
    }
    out
}

pub(super) async fn movements(
    State(s): State<Shared>,
    caller: Caller,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    caller.require(&s, &[Role::Traffic])?;
    let bin_min = p.bin_min.unwrap_or(15);
    if !(1..=1440).contains(&bin_min) || 1440 % bin_min != 0 {
        return Err(super::filters::bad(
            "bin_min",
            format!("{bin_min} does not divide a day into whole bins (1..=1440)"),
        ));
    }
    let to =
        p.to.as_deref()
            .map(|v| super::filters::time("to", v))
            .transpose()?
            .unwrap_or_else(Utc::now);
    let from = p
        .from
        .as_deref()
        .map(|v| super::filters::time("from", v))
        .transpose()?
        .unwrap_or(to - Duration::hours(24));
    let csv_out = match p.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(o) => {
            return Err(super::filters::bad(
                "format",
                format!("{o:?} is not json or csv"),
            ));
        }
    };
    blocking(move || {
        let mut store = s.conn()?;
        // Counts are stamped at their interval's end: look one bin past `to` for the last.
        let f = Filter {
            kinds: vec!["counts".into()],
            cameras: vec![p.camera.clone()],
            from: Some(from),
            to: Some(to + Duration::minutes(bin_min)),
            ..Filter::default()
        };
        let mut events = Vec::new();
        for r in store.select(&f, MAX_EVENTS)? {
            if r.site != p.site {
                continue;
            }
            if let Some(e) = store.get(&r.id)? {
                events.push(e);
            }
        }
        let report = fold(&events, bin_min, from, to);
        if csv_out {
            let name = format!("movements-{}-{}.csv", p.site, p.camera);
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                csv(&report),
            )
                .into_response())
        } else {
            Ok(axum::Json(serde_json::json!({
                "site": p.site, "camera": p.camera,
                "from": matthan_schema::format_ts(&from), "to": matthan_schema::format_ts(&to),
                "report": report,
            }))
            .into_response())
        }
    })
    .await
}

#[cfg(test)]
mod tests;
