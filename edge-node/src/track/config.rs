//! `[tracker]`: ByteTrack's thresholds and how long tracks live.

use serde::Deserialize;

use crate::config::{ConfigError, Scope};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerConfig {
    /// Detections at or above this score start tracks and take part in the first association.
    #[serde(default = "d_high")]
    pub high_score: f32,
    /// Detections between this and `high_score` can only continue existing tracks (ByteTrack's second pass).
    #[serde(default = "d_low")]
    pub low_score: f32,
    /// Minimum IoU for the first association.
    #[serde(default = "d_match_iou")]
    pub match_iou: f32,
    /// Minimum IoU for the second (low-score) association.
    #[serde(default = "d_low_match_iou")]
    pub low_match_iou: f32,
    /// A detection whose box is this many times larger or smaller (in area) than a track's
    /// predicted box never continues it: in dense traffic the detector sometimes boxes two
    /// neighbouring vehicles as one, and a track that followed that box would jump to the
    /// other vehicle (and carry its plate). Real growth between two frames is far less.
    #[serde(default = "d_max_area_change")]
    pub max_area_change: f32,
    /// Hits needed before a tentative track is confirmed and announced.
    #[serde(default = "d_min_hits")]
    pub min_hits: u32,
    /// Below this many analysed frames a second (measured between frames), a tentative track
    /// survives `tentative_misses` frames in a row without a match and is continued by weak
    /// detections too. ByteTrack drops it at the first miss and feeds it only confident boxes,
    /// which costs nothing at 10-30 frames a second; at the 2-5 of a busy box or an index job,
    /// a vehicle whose score hovers at the threshold never reaches `min_hits` in a row
    /// (measured: 3 of the index bench's 47 vehicles never tracked at 5 fps). At higher
    /// rates the strict rule stays: there the leniency only confirmed flickering fragments.
    #[serde(default = "d_lenient_below_fps")]
    pub lenient_below_fps: f64,
    /// See `lenient_below_fps`.
    #[serde(default = "d_tentative_misses")]
    pub tentative_misses: u32,
    /// How long a track may go unseen before it ends. Long on purpose: a parked vehicle whose
    /// detection flickers must keep its id.
    #[serde(default = "d_max_lost")]
    pub max_lost_s: f64,
    /// Lost tracks that were moving are dropped sooner: their predicted box drifts off anyway.
    #[serde(default = "d_max_lost_moving")]
    pub max_lost_moving_s: f64,
    /// Seconds between `update` events for a confirmed track.
    #[serde(default = "d_update")]
    pub update_interval_s: f64,
}

fn d_high() -> f32 {
    0.45
}
fn d_low() -> f32 {
    0.2
}
fn d_match_iou() -> f32 {
    0.2
}
fn d_low_match_iou() -> f32 {
    0.4
}
fn d_max_area_change() -> f32 {
    3.0
}
fn d_min_hits() -> u32 {
    3
}
fn d_lenient_below_fps() -> f64 {
    // Between the 5 fps of the index jobs and the 10 fps the rule suites were tuned at.
    8.0
}
fn d_tentative_misses() -> u32 {
    1
}
fn d_max_lost() -> f64 {
    120.0
}
fn d_max_lost_moving() -> f64 {
    // Long enough for a vehicle to pass behind a stopped bus at 12 km/h and be found again
    // (`reid`): the detector loses its box while a good part still shows and finds the front
    // only well out, so a truck hidden 2.5 s went 5.4 s unseen (measured; 5 s lost it). A
    // track that left the frame ends this long after.
    8.0
}
fn d_update() -> f64 {
    5.0
}

impl Default for TrackerConfig {
    fn default() -> Self {
        toml::from_str("").expect("all tracker keys have defaults")
    }
}

impl TrackerConfig {
    pub fn validate(&self, s: &Scope) -> Result<(), ConfigError> {
        for (key, v) in [
            ("high_score", self.high_score),
            ("low_score", self.low_score),
            ("match_iou", self.match_iou),
            ("low_match_iou", self.low_match_iou),
        ] {
            s.unit(key, v)?;
        }
        if self.low_score > self.high_score {
            return Err(s.err("low_score", "must not exceed tracker.high_score"));
        }
        for (key, v) in [
            ("max_lost_s", self.max_lost_s),
            ("max_lost_moving_s", self.max_lost_moving_s),
            ("update_interval_s", self.update_interval_s),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(s.err(key, "must be a positive number of seconds"));
            }
        }
        if !(self.lenient_below_fps.is_finite() && self.lenient_below_fps >= 0.0) {
            return Err(s.err(
                "lenient_below_fps",
                "must be a number of frames a second, 0 or more (0: never lenient)",
            ));
        }
        if !(self.max_area_change.is_finite() && self.max_area_change > 1.0) {
            return Err(s.err("max_area_change", "must be a number above 1"));
        }
        if self.min_hits == 0 {
            return Err(s.err("min_hits", "must be at least 1"));
        }
        Ok(())
    }
}
