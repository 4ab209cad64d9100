//! Track lifecycle, line crossings, zone events and interval counts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rfc3339_ms;

use super::BBox;

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
    /// Which Vietnamese plate shape the reading fits (set with `plate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_format: Option<PlateFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading_deg: Option<f32>,
}

/// The two shapes of Vietnamese plates: cars carry one line ("51F-123.45"), motorbikes two
/// ("59-X1" over "123.45", written "59-X1-123.45").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateFormat {
    OneLine,
    TwoLine,
}

/// Every colour name an edge gives (`color`, `upper_color`, `lower_color`): the hub's search
/// maps query words onto exactly these (a "silver" car is seen as grey).
pub const PALETTE: [&str; 11] = [
    "black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown",
];

/// Longest text attribute accepted (bytes): colour names and plates are a few bytes; a
/// publisher's 200 KB "colour" would only slow every search that reads it.
pub const MAX_ATTRIBUTE_BYTES: usize = 256;

impl Attributes {
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        for (field, v) in [
            ("body.attributes.color", &self.color),
            ("body.attributes.upper_color", &self.upper_color),
            ("body.attributes.lower_color", &self.lower_color),
            ("body.attributes.subtype", &self.subtype),
            ("body.attributes.plate", &self.plate),
        ] {
            if v.as_ref().is_some_and(|v| v.len() > MAX_ATTRIBUTE_BYTES) {
                return Err((field, format!("longer than {MAX_ATTRIBUTE_BYTES} bytes")));
            }
        }
        let nums = [self.plate_score, self.speed_kmh, self.heading_deg];
        if nums.iter().flatten().any(|v| !v.is_finite()) {
            return Err(("body.attributes", "numbers must be finite".into()));
        }
        Ok(())
    }
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
    /// sha256 of a JPEG of the plate at its best reading (published like `snapshot`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_image: Option<String>,
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
    /// Turning movements finished in the interval (a track crossed an entry, then an exit);
    /// absent from events of edges without `[cameras.movements]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub movements: Vec<MovementCount>,
}

/// Vehicles of one class that made one movement (entry → exit) in an interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovementCount {
    /// The entry (approach) the tracks came in by.
    pub from: String,
    /// The exit they left by; none when the track ended inside the junction without reaching
    /// an exit (lost, parked, or left the view elsewhere): counted so totals stay honest.
    pub to: Option<String>,
    pub class: String,
    pub count: u32,
    /// Each vehicle's mean speed from entry to exit along its path, km/h, where the camera has
    /// a ground calibration (else empty); planners want the distribution, not only the mean.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speeds_kmh: Vec<f32>,
}
