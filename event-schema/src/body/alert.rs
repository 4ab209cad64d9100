//! Behaviour-rule alerts (public order, stopped vehicles, ...).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rfc3339_ms;

/// The kind of behaviour rule that raised an alert (`loitering`, `crowding`, `stopped_in_box`,
/// ...): the `kind` of its `[[cameras.rules]]` entry. An open set, so a new rule on the edge
/// needs no schema change; the hub's vocabulary (`central-hub/lexicon/rules.toml`) names the
/// ones it knows in English and Vietnamese. Always snake_case ASCII, 1-40 bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AlertRule(String);

impl AlertRule {
    pub fn new(name: &str) -> Result<Self, String> {
        let ok = !name.is_empty()
            && name.len() <= 40
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(name.to_string()))
        } else {
            Err(format!(
                "{name:?} is not a rule kind (snake_case ASCII, 1-40 bytes, starting with a letter)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AlertRule {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::new(&s)
    }
}

impl From<AlertRule> for String {
    fn from(r: AlertRule) -> String {
        r.0
    }
}

impl std::fmt::Display for AlertRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An alert episode has a start and an end event; both carry the same `rule_id`, `started`
/// and first track, which is how a reader pairs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertPhase {
    Start,
    End,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub rule: AlertRule,
    /// The configured rule's id.
    pub rule_id: String,
    pub phase: AlertPhase,
    /// When the condition began (the episode's key together with `rule_id`).
    #[serde(with = "rfc3339_ms")]
    pub started: DateTime<Utc>,
    /// Seconds from `started` to this event (on `end`: the whole episode).
    pub duration_s: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The tracks involved, the main one first.
    #[serde(default)]
    pub track_ids: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// People counted (crowding, dispersal) or visits made (loitering by revisits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// The measured quantity that tripped the rule, in `unit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<f32>,
    /// `s`, `m/s`, `people`, `people/m2` or `m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Whether distances and speeds come from a ground-plane calibration (else they are
    /// estimated from the object's typical height and only approximate).
    #[serde(default)]
    pub calibrated: bool,
    /// sha256 of a JPEG crop of the main track, on `matthan-evidence/{site}/{sha256}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}
