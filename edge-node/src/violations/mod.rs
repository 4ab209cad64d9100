//! Traffic violations over confirmed tracks: red light, wrong way, forbidden zone, illegal
//! parking, speeding, and what a secondary classifier sees on motorbike crops (no helmet, more
//! than two riders). Each configured rule yields at most one violation per vehicle and
//! occasion (per crossing, per stay, per track), never one per detector flicker. A violation
//! is a `Hit`: the rule, the vehicle, the measured context and the two moments its evidence
//! images are taken at; `evidence` turns it into a signed bundle.
//!
//! Rules share the behaviour rules' track motion (`rules::Tracks`: metres through the ground
//! calibration, re-linking of briefly lost tracks).

mod crop_vote;
mod forbidden;
mod lights;
mod parking;
mod red_light;
mod speeding;
mod wrong_way;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use matthan_schema::{Crossing, ViolationContext, ViolationRule};

pub use crop_vote::{CropVoteParams, Vote};
pub use lights::{Light, Lights, LightsError};

use crate::analytics::Zone;
use crate::config::Registration;
use crate::rules::{GroundPlane, History, Tracks};

/// Every violation rule kind, by its `kind = "..."` name. Adding one: a module with its raw
/// config, validation and `BuildCheck`, and one line here.
pub static REGISTRY: &[Registration<Arc<dyn BuildCheck>>] = &[
    red_light::REGISTRATION,
    wrong_way::REGISTRATION,
    forbidden::REGISTRATION,
    parking::REGISTRATION,
    speeding::REGISTRATION,
    crop_vote::NO_HELMET,
    crop_vote::TOO_MANY_RIDERS,
];

/// One configured violation rule, validated at config load.
#[derive(Debug, Clone)]
pub struct ViolationSpec {
    pub id: String,
    pub kind: &'static str,
    pub build: Arc<dyn BuildCheck>,
}

impl ViolationSpec {
    /// The secondary classifier the rule reads, if any.
    pub fn classifier(&self) -> Option<&str> {
        self.build.classifier()
    }
}

/// A validated violation rule config that can make the running check for one camera.
pub trait BuildCheck: std::fmt::Debug + Send + Sync {
    fn build(&self, id: String, env: &Env) -> Box<dyn Check + Send>;
    /// The secondary classifier whose votes the rule reads.
    fn classifier(&self) -> Option<&str> {
        None
    }
    /// Whether the rule judges by junction signal states (the edge then subscribes to them).
    fn reads_signals(&self) -> bool {
        false
    }
}

/// What a check is built against: its camera's zones and ground calibration.
pub struct Env<'a> {
    pub zones: &'a [Zone],
    pub ground: Option<&'a GroundPlane>,
}

impl Env<'_> {
    /// A zone the config validation has already checked exists.
    pub fn zone(&self, id: &str) -> Zone {
        crate::rules::validated_zone(self.zones, id)
    }

    /// The calibration's id, named in measured contexts.
    pub fn calibration(&self) -> Option<String> {
        self.ground.map(|g| g.id.clone())
    }
}

/// A violation as a rule saw it; the evidence stage completes it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub rule: ViolationRule,
    pub rule_id: String,
    /// The tracker id that last saw the vehicle (its box is in the frames around `at`).
    pub track: u64,
    pub class: String,
    pub at: DateTime<Utc>,
    pub zone: Option<String>,
    pub line: Option<String>,
    pub context: ViolationContext,
    /// When the two evidence images are taken (before and at/after the violation).
    pub moments: [DateTime<Utc>; 2],
    /// Body colour named from pixels (filled in by the pipeline from the track's best view).
    pub color: Option<String>,
}

/// What a violation rule sees each frame.
pub struct Cx<'a> {
    pub now: DateTime<Utc>,
    /// Roots of the tracks seen this frame.
    pub seen: &'a [u64],
    pub tracks: &'a Tracks,
    /// Line crossings the analytics stage found this frame.
    pub crossings: &'a [(DateTime<Utc>, Crossing)],
    pub lights: &'a Lights,
    /// Secondary classifier results on this frame's crops.
    pub votes: &'a [Vote],
}

pub trait Check {
    fn update(&mut self, cx: &Cx, out: &mut Vec<Hit>);
    /// The tracker dropped the root `id` for good.
    fn track_ended(&mut self, id: u64, now: DateTime<Utc>);
}

fn allowed(classes: &[String], class: &str) -> bool {
    classes.is_empty() || classes.iter().any(|c| c == class)
}

/// Classes that are vehicles, the default for every traffic rule.
pub fn vehicle_classes() -> Vec<String> {
    ["car", "motorcycle", "bus", "truck", "bicycle"]
        .map(String::from)
        .to_vec()
}

pub(crate) fn secs(s: f64) -> Duration {
    Duration::microseconds((s * 1e6).round() as i64)
}

/// All violation rules of one camera, over the camera's shared track history.
pub struct ViolationEngine {
    checks: Vec<Box<dyn Check + Send>>,
}

impl ViolationEngine {
    pub fn new(specs: &[ViolationSpec], zones: &[Zone], ground: Option<&GroundPlane>) -> Self {
        let env = Env { zones, ground };
        Self {
            checks: specs
                .iter()
                .map(|s| s.build.build(s.id.clone(), &env))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// One frame, after `history.observe`: the crossings and classifier votes of the same frame.
    pub fn update(
        &mut self,
        now: DateTime<Utc>,
        history: &History,
        crossings: &[(DateTime<Utc>, Crossing)],
        lights: &Lights,
        votes: &[Vote],
    ) -> Vec<Hit> {
        let cx = Cx {
            now,
            seen: history.seen(),
            tracks: history.tracks(),
            crossings,
            lights,
            votes,
        };
        let mut hits = Vec::new();
        for c in &mut self.checks {
            c.update(&cx, &mut hits);
        }
        for &root in history.ended() {
            for c in &mut self.checks {
                c.track_ended(root, now);
            }
        }
        hits
    }

    /// The stream ended or restarted: forget every track (before the history resets).
    pub fn finish(&mut self, now: DateTime<Utc>, history: &History) {
        let roots: Vec<u64> = history.tracks().iter().map(|(id, _)| id).collect();
        for root in roots {
            for c in &mut self.checks {
                c.track_ended(root, now);
            }
        }
    }
}
