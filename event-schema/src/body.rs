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
            Body::Violation(v) => v.validate().map_err(|(f, r)| bad(f, &r))?,
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
    fn validate(&self) -> Result<(), (&'static str, String)> {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

/// One phase change from a junction controller, on `matthan/{site}/{junction}/signal/state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalState {
    pub phase: String,
    pub colour: Colour,
    /// When this colour came on.
    #[serde(with = "rfc3339_ms")]
    pub since: DateTime<Utc>,
    /// The controller's yellow and planned red, when it tells them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yellow_s: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub red_s: Option<f32>,
}
