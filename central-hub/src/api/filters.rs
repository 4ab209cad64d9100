//! The console's filters beside the text box (`/api/search?camera=&class=&kind=&rule=&plate=
//! &from=&to=&sort=&offset=`): merged into what the text says, a filter narrowing the text's
//! reading (a camera chosen in the list and one named in the text are both kept).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::ApiError;
use crate::query::{Plate, Query};
use axum::http::StatusCode;

#[derive(Debug, Default, Deserialize)]
pub(super) struct SearchParams {
    #[serde(default)]
    pub q: String,
    pub limit: Option<usize>,
    /// Comma-separated lists.
    pub camera: Option<String>,
    pub class: Option<String>,
    pub kind: Option<String>,
    pub rule: Option<String>,
    pub plate: Option<String>,
    /// RFC 3339, or a local (Asia/Ho_Chi_Minh) `YYYY-MM-DDTHH:MM` as a browser's
    /// datetime-local input sends it.
    pub from: Option<String>,
    pub to: Option<String>,
    /// `relevance` (default) or `newest`.
    pub sort: Option<String>,
    /// Results to skip ("load more").
    pub offset: Option<usize>,
}

fn list(v: &Option<String>) -> Vec<String> {
    v.iter()
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

pub(super) fn bad(what: &str, why: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, format!("{what}: {why}"))
}

pub(super) fn time(name: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.to_utc());
    }
    let local = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| bad(name, format!("{v:?} is not a time (2026-12-01T20:00)")))?;
    local
        .and_local_timezone(crate::caption::local_tz())
        .earliest()
        .map(|t| t.to_utc())
        .ok_or_else(|| bad(name, format!("{v:?} does not exist in local time")))
}

/// Sort order of the results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Sort {
    Relevance,
    Newest,
}

impl SearchParams {
    pub fn sort(&self) -> Result<Sort, ApiError> {
        match self.sort.as_deref() {
            None | Some("relevance") => Ok(Sort::Relevance),
            Some("newest") => Ok(Sort::Newest),
            Some(o) => Err(bad("sort", format!("{o:?}: relevance or newest"))),
        }
    }

    /// Checks every filter (so a bad one is a 400 naming it, before any work).
    pub fn check(&self) -> Result<(), ApiError> {
        self.sort()?;
        for (name, v) in [("from", &self.from), ("to", &self.to)] {
            if let Some(v) = v {
                time(name, v)?;
            }
        }
        for (name, v) in [("class", &self.class), ("kind", &self.kind)] {
            for x in list(v) {
                let known = match name {
                    // Classes are the detector's labels (configurable): any plain word.
                    "class" => {
                        x.len() <= 32 && x.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }
                    _ => matthan_schema::Kind::ALL.iter().any(|k| k.as_str() == x),
                };
                if !known {
                    return Err(bad(name, format!("unknown value {x:?}")));
                }
            }
        }
        Ok(())
    }

    /// Narrows the text's reading by the filters.
    pub fn apply(&self, q: &mut Query) {
        for c in list(&self.camera) {
            if !q.cameras.contains(&c) {
                q.cameras.push(c);
            }
        }
        let classes = list(&self.class);
        if !classes.is_empty() {
            q.classes = classes;
        }
        let kinds = list(&self.kind);
        if !kinds.is_empty() {
            q.kinds = kinds;
        }
        if let Some(r) = self
            .rule
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            q.violation = Some(r.to_string());
        }
        if let Some(p) = self
            .plate
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            q.plate = Some(Plate::new(p));
        }
        if let Some(f) = self.from.as_deref().and_then(|v| time("from", v).ok()) {
            q.from = Some(f);
            q.to = q.to.or(Some(Utc::now()));
        }
        if let Some(t) = self.to.as_deref().and_then(|v| time("to", v).ok()) {
            q.to = Some(t);
            q.from = q.from.or(Some(DateTime::<Utc>::MIN_UTC));
        }
    }
}

/// `GET /api/cameras`: every camera with stored events, for the console's camera filter.
pub(super) async fn cameras(
    axum::extract::State(s): axum::extract::State<super::Shared>,
    caller: super::Caller,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[crate::config::Role::Operator])?;
    super::blocking(move || {
        let list: Vec<serde_json::Value> = s
            .conn()?
            .cameras()?
            .into_iter()
            .map(|(site, camera)| serde_json::json!({ "site": site, "camera": camera }))
            .collect();
        Ok(axum::Json(serde_json::json!({ "cameras": list })))
    })
    .await
}
