//! `[analytics]` and each camera's `[[cameras.lines]]` and `[[cameras.zones]]`.

use std::collections::HashSet;

use serde::Deserialize;

use super::{Line, Zone};
use crate::config::{ConfigError, Scope};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    #[serde(default = "d_interval")]
    pub count_interval_s: u32,
    /// A live camera repeating the exact same picture this long is reported degraded (frozen).
    #[serde(default = "d_frozen")]
    pub frozen_after_s: f64,
}

fn d_frozen() -> f64 {
    60.0
}

fn d_interval() -> u32 {
    60
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        toml::from_str("").expect("all analytics keys have defaults")
    }
}

impl AnalyticsConfig {
    pub fn validate(&self, s: &Scope) -> Result<(), ConfigError> {
        if self.count_interval_s == 0 {
            return Err(s.err("count_interval_s", "must be at least 1"));
        }
        if !(self.frozen_after_s.is_finite() && self.frozen_after_s >= 1.0) {
            return Err(s.err("frozen_after_s", "must be at least 1 second"));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLine {
    id: String,
    points: Vec<[f64; 2]>,
    #[serde(default = "d_hysteresis")]
    hysteresis: f64,
    #[serde(default)]
    classes: Option<Vec<String>>,
}

fn d_hysteresis() -> f64 {
    0.01
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZone {
    id: String,
    polygon: Vec<[f64; 2]>,
    #[serde(default)]
    dwell_s: Option<f64>,
    #[serde(default)]
    classes: Option<Vec<String>>,
}

/// Lines and zones share one id space per camera (events name either as `place`).
fn unique(s: &Scope, id: &str, seen: &mut HashSet<String>) -> Result<(), ConfigError> {
    if seen.insert(id.to_string()) {
        Ok(())
    } else {
        Err(s.err("id", format!("duplicate line/zone id {id:?}")))
    }
}

fn classes(
    s: &Scope,
    c: Option<Vec<String>>,
    labels: &[String],
) -> Result<Option<Vec<String>>, ConfigError> {
    c.map(|c| s.classes("classes", c, labels)).transpose()
}

impl RawLine {
    pub fn validate(
        self,
        s: &Scope,
        labels: &[String],
        seen: &mut HashSet<String>,
    ) -> Result<Line, ConfigError> {
        unique(s, &self.id, seen)?;
        let cls = classes(s, self.classes, labels)?;
        Line::new(&self.id, &self.points, self.hysteresis, cls).map_err(|r| s.err("", r))
    }
}

impl RawZone {
    pub fn validate(
        self,
        s: &Scope,
        labels: &[String],
        seen: &mut HashSet<String>,
    ) -> Result<Zone, ConfigError> {
        unique(s, &self.id, seen)?;
        let cls = classes(s, self.classes, labels)?;
        Zone::new(&self.id, &self.polygon, self.dwell_s, cls).map_err(|r| s.err("", r))
    }
}
