//! Search: the parsed query's filters become a parameterised WHERE clause (text never reaches
//! SQL), and the leftover words rank candidates by how many of them the caption contains.
//! One result per tracked object: the best-ranked, latest event of each track.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;

use crate::query::{Query, fold};
use crate::store::{Row, Store, StoreError};

/// Candidates fetched before ranking.
const CANDIDATES: usize = 5000;

#[derive(Debug, Clone)]
pub struct Hit {
    pub row: Row,
    pub score: f32,
    /// Why it matched, for the result card.
    pub reasons: Vec<String>,
}

pub fn search(
    store: &Store,
    text: &str,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<(Query, Vec<Hit>), StoreError> {
    let cameras: Vec<String> = store.cameras()?.into_iter().map(|(_, c)| c).collect();
    let q = crate::query::parse(text, now, &cameras);
    let hits = run(store, &q, limit)?;
    Ok((q, hits))
}

pub fn run(store: &Store, q: &Query, limit: usize) -> Result<Vec<Hit>, StoreError> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let any_of = |col: &str, vals: &[String], clauses: &mut Vec<String>, args: &mut Vec<Value>| {
        let marks: Vec<String> = vals
            .iter()
            .map(|v| {
                args.push(Value::Text(v.clone()));
                format!("?{}", args.len())
            })
            .collect();
        clauses.push(format!("{col} IN ({})", marks.join(", ")));
    };
    let kinds: Vec<String> = if let Some(v) = &q.violation {
        // Violation events arrive with the rules engine; until then nothing matches.
        reasons.push(format!("violation {v}"));
        vec!["violation".into()]
    } else if !q.kinds.is_empty() {
        q.kinds.clone()
    } else if q.color.is_some()
        || q.upper_color.is_some()
        || q.lower_color.is_some()
        || q.plate.is_some()
    {
        // Attributes live on track events.
        vec!["track".into()]
    } else {
        vec!["track".into(), "crossing".into(), "zone".into()]
    };
    any_of("kind", &kinds, &mut clauses, &mut args);
    if !q.classes.is_empty() {
        any_of("class", &q.classes, &mut clauses, &mut args);
        reasons.push(format!("class {}", q.classes.join("/")));
    }
    if !q.cameras.is_empty() {
        any_of("camera", &q.cameras, &mut clauses, &mut args);
        reasons.push(format!("camera {}", q.cameras.join("/")));
    }
    for (col, val, label) in [
        ("color", &q.color, "colour"),
        ("upper_color", &q.upper_color, "top"),
        ("lower_color", &q.lower_color, "bottom"),
        ("direction", &q.direction, "direction"),
    ] {
        if let Some(v) = val {
            args.push(Value::Text(v.clone()));
            clauses.push(format!("{col} = ?{}", args.len()));
            reasons.push(format!("{label} {v}"));
        }
    }
    if let Some(p) = &q.plate {
        args.push(Value::Text(format!("%{p}%")));
        clauses.push(format!(
            "replace(replace(upper(plate), '-', ''), '.', '') LIKE ?{}",
            args.len()
        ));
        reasons.push(format!("plate contains {p}"));
    }
    if let Some(f) = q.from {
        args.push(Value::Integer(f.timestamp_millis()));
        clauses.push(format!("ts_ms >= ?{}", args.len()));
    }
    if let Some(t) = q.to {
        args.push(Value::Integer(t.timestamp_millis()));
        clauses.push(format!("ts_ms < ?{}", args.len()));
    }
    if let (Some(f), Some(t)) = (q.from, q.to) {
        let tz = crate::caption::local_tz();
        reasons.push(format!(
            "time {} to {}",
            f.with_timezone(&tz).format("%d/%m %H:%M"),
            t.with_timezone(&tz).format("%d/%m %H:%M")
        ));
    }
    let rows = store.select(&clauses.join(" AND "), &args, CANDIDATES)?;

    let terms: Vec<String> = q.terms.iter().map(|t| fold(t)).collect();
    let mut seen: HashSet<(String, String, Option<i64>)> = HashSet::new();
    let mut hits: Vec<Hit> = Vec::new();
    for row in rows {
        let cap = fold(&row.caption);
        let matched: Vec<&String> = terms.iter().filter(|t| cap.contains(t.as_str())).collect();
        let score = if terms.is_empty() {
            1.0
        } else {
            matched.len() as f32 / terms.len() as f32
        };
        let mut why = reasons.clone();
        if !matched.is_empty() {
            why.push(format!(
                "words {}",
                matched
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        hits.push(Hit {
            row,
            score,
            reasons: why,
        });
    }
    // Best score first; among equals, the latest (rows came newest first and the sort is stable).
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    hits.retain(|h| {
        let key = (h.row.site.clone(), h.row.camera.clone(), h.row.track_id);
        h.row.track_id.is_none() || seen.insert(key)
    });
    hits.truncate(limit);
    Ok(hits)
}
