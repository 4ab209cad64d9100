//! The body of each event kind.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DecodeError, rfc3339_ms};

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
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Track,
        Kind::Crossing,
        Kind::Zone,
        Kind::Counts,
        Kind::CameraStatus,
        Kind::EdgeStatus,
        Kind::Alert,
        Kind::SignalRecommendation,
        Kind::CongestionWarning,
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
        }
    }

    pub(crate) fn validate(&self) -> Result<(), DecodeError> {
        let bad = |field: &'static str, reason: &str| DecodeError::BadField {
            field,
            reason: reason.to_string(),
        };
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
            _ => {}
        }
        Ok(())
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackPhase {
    New,
    Update,
    End,
}

/// Attributes that description search matches on. All optional: each is filled by the stage
/// that can measure it (colour from pixels, plate from OCR, speed from a calibrated camera).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Attributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_score: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_deg: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackEvent {
    pub phase: TrackPhase,
    pub track_id: u64,
    pub class: String,
    pub score: f32,
    pub bbox: BBox,
    #[serde(with = "rfc3339_ms")]
    pub first_seen: DateTime<Utc>,
    #[serde(with = "rfc3339_ms")]
    pub last_seen: DateTime<Utc>,
    /// Zones the track has been inside so far, in the order it entered them.
    #[serde(default)]
    pub zones: Vec<String>,
    /// Bottom-centre points of the box, thinned to at most a few dozen, in pixels.
    #[serde(default)]
    pub path: Vec<[f32; 2]>,
    #[serde(default)]
    pub attributes: Attributes,
    /// sha256 of a JPEG crop of the object at its best-scoring sighting so far, published on
    /// `matthan-evidence/{site}/{sha256}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    In,
    Out,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Crossing {
    pub line: String,
    pub direction: Direction,
    pub class: String,
    pub track_id: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneAction {
    Enter,
    Exit,
    /// Inside longer than the zone's dwell threshold; sent once per stay.
    Dwell,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneEvent {
    pub zone: String,
    pub action: ZoneAction,
    pub class: String,
    pub track_id: u64,
    /// Seconds inside the zone so far (0 on enter).
    pub duration_s: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineCount {
    pub line: String,
    pub class: String,
    #[serde(rename = "in")]
    pub in_count: u32,
    #[serde(rename = "out")]
    pub out_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneCount {
    pub zone: String,
    pub class: String,
    pub entered: u32,
    /// Most objects of the class inside at once during the interval.
    pub max_occupancy: u32,
    /// Mean number inside over the interval's frames.
    pub mean_occupancy: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    #[serde(with = "rfc3339_ms")]
    pub interval_start: DateTime<Utc>,
    #[serde(with = "rfc3339_ms")]
    pub interval_end: DateTime<Utc>,
    pub lines: Vec<LineCount>,
    pub zones: Vec<ZoneCount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    Up,
    Degraded,
    Down,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraStatus {
    pub state: CameraState,
    pub fps_in: f32,
    pub fps_out: f32,
    /// Frames dropped by back-pressure since the camera started (never events).
    pub dropped_frames: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeState {
    Online,
    /// Sent by the broker as the edge's MQTT last will, or by the edge on a clean shutdown.
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeStatus {
    pub state: EdgeState,
    pub cameras: Vec<String>,
    pub version: String,
    /// Messages dropped from the edge's outbox for lack of disk, since it was created.
    #[serde(default)]
    pub outbox_dropped: u64,
    /// Messages waiting in the outbox for the broker.
    #[serde(default)]
    pub outbox_pending: u64,
}

/// What a public-order (or other behaviour) rule saw. Each names the rule kind and the
/// configured rule's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertRule {
    /// A person inside a zone longer than allowed, or back in it too often.
    Loitering,
    /// More people in a zone (or per m²) than allowed, for longer than allowed.
    Crowding,
    /// A person moving faster than a walking pace allows.
    Running,
    /// Several people speeding away from one point at once.
    Dispersal,
    /// Someone or something inside a restricted zone during its closed hours.
    Intrusion,
    /// A bag or case left still with nobody near it.
    AbandonedObject,
    /// Moving against the declared direction of a one-way corridor or lane.
    WrongDirection,
}

impl AlertRule {
    pub const ALL: [AlertRule; 7] = [
        AlertRule::Loitering,
        AlertRule::Crowding,
        AlertRule::Running,
        AlertRule::Dispersal,
        AlertRule::Intrusion,
        AlertRule::AbandonedObject,
        AlertRule::WrongDirection,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertRule::Loitering => "loitering",
            AlertRule::Crowding => "crowding",
            AlertRule::Running => "running",
            AlertRule::Dispersal => "dispersal",
            AlertRule::Intrusion => "intrusion",
            AlertRule::AbandonedObject => "abandoned_object",
            AlertRule::WrongDirection => "wrong_direction",
        }
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

/// One phase's share of a recommended cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseTiming {
    pub phase: String,
    pub green_s: f32,
    pub yellow_s: f32,
    pub all_red_s: f32,
}

/// What was measured on one approach over the interval the recommendation used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproachInput {
    pub approach: String,
    /// Passenger-car units per hour (motorbikes weighted by the junction's factor).
    pub flow_pcu_h: f32,
    /// Saturation flow, PCU per hour of green.
    pub saturation_pcu_h: f32,
    /// Whether saturation flow was measured from discharge headways (else the configured default).
    pub saturation_measured: bool,
    /// Vehicles stopped behind the stop line (latest).
    pub queue_veh: f32,
    /// Fraction of the interval the queue zone held a vehicle.
    pub occupancy: f32,
    /// Flow ratio y = flow / saturation.
    pub flow_ratio: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalRecommendation {
    pub junction: String,
    /// `webster` (optimal fixed-time plan for the measured flows) or `adaptive` (updated every
    /// cycle from queues and flows, with oversaturation handling).
    pub mode: String,
    pub cycle_s: f32,
    pub phases: Vec<PhaseTiming>,
    pub inputs: Vec<ApproachInput>,
    /// Sum of the phases' critical flow ratios; at or over 0.9 the junction is oversaturated.
    pub y_total: f32,
    pub oversaturated: bool,
    /// Mean delay per vehicle (s, HCM/Webster estimate) under the plan in force, and under this one.
    pub delay_current_s: f32,
    pub delay_expected_s: f32,
    #[serde(with = "rfc3339_ms")]
    pub interval_start: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CongestionWarning {
    pub junction: String,
    pub approach: String,
    /// Minutes ahead the forecast looks.
    pub horizon_min: u32,
    pub forecast_flow_pcu_h: f32,
    /// Forecast degree of saturation (flow over capacity under the current plan).
    pub forecast_degree: f32,
    pub threshold: f32,
}
