//! The body of each event kind: one module per kind (or family of kinds), the envelope here.

mod alert;
mod limits;
mod signal;
mod status;
mod track;
mod violation;

pub use alert::*;
pub use signal::*;
pub use status::*;
pub use track::*;
pub use violation::*;

use serde::{Deserialize, Serialize};

use crate::DecodeError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Track,
    Crossing,
    Zone,
    Counts,
    CameraStatus,
    EdgeStatus,
    Alert,
    SignalRecommendation,
    CongestionWarning,
    Violation,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Track,
        Kind::Crossing,
        Kind::Zone,
        Kind::Counts,
        Kind::CameraStatus,
        Kind::EdgeStatus,
        Kind::Alert,
        Kind::SignalRecommendation,
        Kind::CongestionWarning,
        Kind::Violation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Track => "track",
            Kind::Crossing => "crossing",
            Kind::Zone => "zone",
            Kind::Counts => "counts",
            Kind::CameraStatus => "camera_status",
            Kind::EdgeStatus => "edge_status",
            Kind::Alert => "alert",
            Kind::SignalRecommendation => "signal_recommendation",
            Kind::CongestionWarning => "congestion_warning",
            Kind::Violation => "violation",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// Events are built once and serialised straight away, never stored in bulk as `Body` values,
// so the track variant's size costs nothing worth a Box at every construction site.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "body", rename_all = "snake_case")]
pub enum Body {
    Track(TrackEvent),
    Crossing(Crossing),
    Zone(ZoneEvent),
    Counts(Counts),
    CameraStatus(CameraStatus),
    EdgeStatus(EdgeStatus),
    Alert(Alert),
    SignalRecommendation(SignalRecommendation),
    CongestionWarning(CongestionWarning),
    Violation(Violation),
}

impl Body {
    pub fn kind(&self) -> Kind {
        match self {
            Body::Track(_) => Kind::Track,
            Body::Crossing(_) => Kind::Crossing,
            Body::Zone(_) => Kind::Zone,
            Body::Counts(_) => Kind::Counts,
            Body::CameraStatus(_) => Kind::CameraStatus,
            Body::EdgeStatus(_) => Kind::EdgeStatus,
            Body::Alert(_) => Kind::Alert,
            Body::SignalRecommendation(_) => Kind::SignalRecommendation,
            Body::CongestionWarning(_) => Kind::CongestionWarning,
            Body::Violation(_) => Kind::Violation,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), DecodeError> {
        let bad = |field: &'static str, reason: &str| DecodeError::BadField {
            field,
            reason: reason.to_string(),
        };
        limits::check(self).map_err(|(f, r)| bad(f, &r))?;
        match self {
            Body::Track(t) => {
                if !t.bbox.is_valid() {
                    return Err(bad(
                        "body.bbox",
                        "box must be finite with x1<=x2 and y1<=y2",
                    ));
                }
                if !(0.0..=1.0).contains(&t.score) {
                    return Err(bad("body.score", "score must be within 0..=1"));
                }
                if t.last_seen < t.first_seen {
                    return Err(bad("body.last_seen", "last_seen is before first_seen"));
                }
                snapshot_ok(&t.snapshot).map_err(|r| bad("body.snapshot", r))?;
                snapshot_ok(&t.plate_image).map_err(|r| bad("body.plate_image", r))?;
                t.attributes.validate().map_err(|(f, r)| bad(f, &r))?;
            }
            Body::Counts(c) if c.interval_end < c.interval_start => {
                return Err(bad("body.interval_end", "interval ends before it starts"));
            }
            Body::Alert(a) => {
                if !(a.duration_s.is_finite() && a.duration_s >= 0.0) {
                    return Err(bad(
                        "body.duration_s",
                        "must be a finite, non-negative number",
                    ));
                }
                if a.measure.is_some_and(|m| !m.is_finite()) {
                    return Err(bad("body.measure", "must be finite"));
                }
                crate::validate_segment(&a.rule_id).map_err(|r| bad("body.rule_id", &r))?;
                snapshot_ok(&a.snapshot).map_err(|r| bad("body.snapshot", r))?;
            }
            Body::SignalRecommendation(r) => {
                let nums = [r.cycle_s, r.y_total, r.delay_current_s, r.delay_expected_s];
                if nums.iter().any(|v| !v.is_finite() || *v < 0.0)
                    || r.phases
                        .iter()
                        .any(|p| !p.green_s.is_finite() || p.green_s < 0.0)
                {
                    return Err(bad(
                        "body",
                        "cycle, greens, Y and delays must be finite and non-negative",
                    ));
                }
                crate::validate_segment(&r.junction).map_err(|e| bad("body.junction", &e))?;
            }
            Body::CongestionWarning(w) => {
                crate::validate_segment(&w.junction).map_err(|e| bad("body.junction", &e))?;
            }
            Body::Violation(v) => v.validate().map_err(|(f, r)| bad(f, &r))?,
            _ => {}
        }
        Ok(())
    }
}

fn snapshot_ok(s: &Option<String>) -> Result<(), &'static str> {
    match s {
        Some(s) if !crate::is_sha256(s) => Err("must be a sha256: 64 lower-case hex digits"),
        _ => Ok(()),
    }
}

/// An axis-aligned box in pixels of the camera's frame.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn is_valid(&self) -> bool {
        [self.x1, self.y1, self.x2, self.y2]
            .iter()
            .all(|v| v.is_finite())
            && self.x1 <= self.x2
            && self.y1 <= self.y2
    }
}
