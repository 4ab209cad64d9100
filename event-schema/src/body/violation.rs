//! Traffic violations with their measured context and signed evidence.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rfc3339_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationRule {
    RedLight,
    WrongWay,
    ForbiddenZone,
    IllegalParking,
    Speeding,
    NoHelmet,
    TooManyRiders,
}

impl ViolationRule {
    pub const ALL: [ViolationRule; 7] = [
        ViolationRule::RedLight,
        ViolationRule::WrongWay,
        ViolationRule::ForbiddenZone,
        ViolationRule::IllegalParking,
        ViolationRule::Speeding,
        ViolationRule::NoHelmet,
        ViolationRule::TooManyRiders,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ViolationRule::RedLight => "red_light",
            ViolationRule::WrongWay => "wrong_way",
            ViolationRule::ForbiddenZone => "forbidden_zone",
            ViolationRule::IllegalParking => "illegal_parking",
            ViolationRule::Speeding => "speeding",
            ViolationRule::NoHelmet => "no_helmet",
            ViolationRule::TooManyRiders => "too_many_riders",
        }
    }
}

/// Where the signal state a red-light violation was judged by came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalSource {
    /// Messages from the junction controller on `matthan/{site}/{junction}/signal/state`.
    Controller,
    /// The fixed-time plan in the edge's config.
    FixedPlan,
}

/// The signal as it stood when the vehicle crossed the stop line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalContext {
    pub junction: String,
    pub phase: String,
    pub source: SignalSource,
    #[serde(with = "rfc3339_ms")]
    pub red_started: DateTime<Utc>,
    /// Seconds from the start of red to the crossing.
    pub into_red_s: f32,
    pub yellow_s: f32,
    /// The red's planned length, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub red_s: Option<f32>,
    pub grace_s: f32,
}

/// What was measured to judge the violation; only the fields the rule uses are set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ViolationContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<SignalContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_kmh: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_kmh: Option<f32>,
    /// The ground-plane calibration that turned pixels into metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dwell_s: Option<f32>,
    /// Metres travelled against the lane's direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f32>,
    /// The secondary classifier's label and score (helmet, riders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// Frames the classifier agreed on, out of `frames`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub votes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<u32>,
}

/// One file of a violation's evidence bundle, stored on `matthan-evidence/{site}/{sha256}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artefact {
    /// File name inside the bundle (`overview-1.jpg`, `clip.mp4`, `manifest.json`...).
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
    /// `image/jpeg`, `video/mp4` or `application/json`.
    pub mime: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339_ms::option"
    )]
    pub captured: Option<DateTime<Utc>>,
}

/// A traffic violation with its signed evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: ViolationRule,
    /// The configured rule's id.
    pub rule_id: String,
    /// Unique per violation: also the evidence bundle's folder name on the edge.
    pub violation_id: String,
    pub track_id: u64,
    pub class: String,
    /// When the violation happened (the crossing, the moment the stay passed its limit...).
    #[serde(with = "rfc3339_ms")]
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    #[serde(default)]
    pub context: ViolationContext,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_score: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Every file of the bundle except the manifest and its signature.
    #[serde(default)]
    pub evidence: Vec<Artefact>,
    /// sha256 of `manifest.json` (also a blob), which lists `evidence` and is what is signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// Hex Ed25519 signature over the manifest's bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Hex public key of the edge box that signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

impl Violation {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        crate::validate_segment(&self.rule_id).map_err(|r| ("body.rule_id", r))?;
        crate::validate_segment(&self.violation_id).map_err(|r| ("body.violation_id", r))?;
        let c = &self.context;
        let nums = [
            c.speed_kmh,
            c.limit_kmh,
            c.tolerance_kmh,
            c.dwell_s,
            c.distance_m,
            c.score,
            self.plate_score,
        ];
        if nums.iter().flatten().any(|v| !v.is_finite()) {
            return Err(("body.context", "measurements must be finite".into()));
        }
        if let Some(s) = &c.signal
            && !(s.into_red_s.is_finite() && s.yellow_s.is_finite() && s.grace_s.is_finite())
        {
            return Err(("body.context.signal", "times must be finite".into()));
        }
        let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if let Some(a) = self.evidence.iter().find(|a| !hex64(&a.sha256)) {
            return Err((
                "body.evidence",
                format!("{}: sha256 must be 64 hex digits", a.name),
            ));
        }
        if self.manifest.as_deref().is_some_and(|m| !hex64(m)) {
            return Err(("body.manifest", "must be 64 hex digits".into()));
        }
        Ok(())
    }
}
