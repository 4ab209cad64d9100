//! Behaviour rules over confirmed tracks: loitering, crowding, running, sudden dispersal,
//! intrusion, abandoned objects and wrong direction. Each configured rule keeps its own state
//! and turns it into alert episodes: one `start` when the condition has held long enough and
//! one `end` when it clears (or its track ends), never one per detector flicker.
//!
//! Rules see tracks in metres: through the camera's ground-plane calibration when it has one,
//! else estimated from each object's typical height (see `ground`).

mod abandoned;
mod crowding;
pub(crate) mod direction;
mod ground;
mod intrusion;
mod loitering;
mod motion;
pub(crate) mod presence;
mod schedule;
mod stopped_in_box;
mod tracks;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{Alert, AlertPhase, AlertRule, Body};

pub use direction::DirectionParams;
pub use ground::{GroundPlane, RawGround, typical_height_m};
pub use schedule::Schedule;
pub use tracks::{Cut, History, Motion, Tracks};

use crate::analytics::Zone;
use crate::config::Registration;

/// Every behaviour rule kind, by its `kind = "..."` name. Adding a rule: one module with its
/// raw config, validation and `BuildRule`, and one line here.
pub static REGISTRY: &[Registration<Arc<dyn BuildRule>>] = &[
    loitering::REGISTRATION,
    crowding::REGISTRATION,
    motion::RUNNING,
    motion::DISPERSAL,
    intrusion::REGISTRATION,
    abandoned::REGISTRATION,
    direction::REGISTRATION,
    stopped_in_box::REGISTRATION,
];

/// One configured rule, validated at config load.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub id: String,
    pub kind: &'static str,
    pub build: Arc<dyn BuildRule>,
}

/// A validated rule config that can make the running rule for one camera.
pub trait BuildRule: std::fmt::Debug + Send + Sync {
    fn build(&self, id: String, env: &Env) -> Box<dyn Rule + Send>;
}

/// What a rule is built against: its camera's zones and ground calibration.
pub struct Env<'a> {
    pub zones: &'a [Zone],
    pub ground: Option<&'a GroundPlane>,
}

impl Env<'_> {
    /// A zone the config validation has already checked exists.
    pub fn zone(&self, id: &str) -> Zone {
        validated_zone(self.zones, id)
    }

    pub fn opt_zone(&self, id: &Option<String>) -> Option<Zone> {
        id.as_deref().map(|id| self.zone(id))
    }

    pub fn calibrated(&self) -> bool {
        self.ground.is_some()
    }
}

/// A zone the config validation has already checked exists (rules and violations build on it).
pub fn validated_zone(zones: &[Zone], id: &str) -> Zone {
    zones
        .iter()
        .find(|z| z.id == id)
        .cloned()
        .unwrap_or_else(|| panic!("zone {id:?} was validated at config load"))
}

/// The defaults most rules share.
pub(crate) mod defaults {
    pub fn people() -> Vec<String> {
        vec!["person".into()]
    }
    pub fn grace_s() -> f64 {
        1.5
    }
}

/// What a rule sees each frame.
pub struct Ctx<'a> {
    pub now: DateTime<Utc>,
    /// Tracks a detection continued this frame.
    pub seen: &'a [u64],
    pub tracks: &'a Tracks,
}

pub trait Rule {
    fn update(&mut self, cx: &Ctx, out: &mut Vec<Alert>);
    /// The tracker dropped `id`: close whatever it held open.
    fn track_ended(&mut self, id: u64, cx: &Ctx, out: &mut Vec<Alert>);
    /// The stream ended: close every open episode.
    fn finish(&mut self, cx: &Ctx, out: &mut Vec<Alert>);
}

/// The fields every alert shares; rules fill in the rest.
fn alert(
    rule: &'static str,
    id: &str,
    phase: AlertPhase,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
    zone: Option<&Zone>,
    calibrated: bool,
) -> Alert {
    Alert {
        rule: AlertRule::new(rule).expect("rule kinds are snake_case names"),
        rule_id: id.to_string(),
        phase,
        started,
        duration_s: (now - started).as_seconds_f64().max(0.0) as f32,
        zone: zone.map(|z| z.id.clone()),
        track_ids: Vec::new(),
        class: None,
        count: None,
        measure: None,
        unit: None,
        calibrated,
        snapshot: None,
    }
}

fn allowed(classes: &[String], class: &str) -> bool {
    classes.is_empty() || classes.iter().any(|c| c == class)
}

/// All rules of one camera. They read the camera's shared track history (`History`), which the
/// violation rules read too.
pub struct RuleEngine {
    rules: Vec<Box<dyn Rule + Send>>,
}

impl RuleEngine {
    pub fn new(specs: &[RuleSpec], zones: &[Zone], ground: Option<&GroundPlane>) -> Self {
        let env = Env { zones, ground };
        Self {
            rules: specs
                .iter()
                .map(|s| s.build.build(s.id.clone(), &env))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// One frame, after `history.observe` → alerts, stamped with the frame's capture time.
    /// Episodes of tracks that ended this frame are closed here too.
    pub fn update(&mut self, now: DateTime<Utc>, history: &History) -> Vec<(DateTime<Utc>, Body)> {
        let mut alerts = Vec::new();
        let cx = Ctx {
            now,
            seen: history.seen(),
            tracks: history.tracks(),
        };
        for r in &mut self.rules {
            r.update(&cx, &mut alerts);
        }
        for &root in history.ended() {
            for r in &mut self.rules {
                r.track_ended(root, &cx, &mut alerts);
            }
        }
        alerts.into_iter().map(|a| (now, Body::Alert(a))).collect()
    }

    /// The stream ended or restarted: close every open episode (before the history resets).
    pub fn finish(&mut self, now: DateTime<Utc>, history: &History) -> Vec<(DateTime<Utc>, Body)> {
        let mut alerts = Vec::new();
        let cx = Ctx {
            now,
            seen: &[],
            tracks: history.tracks(),
        };
        for r in &mut self.rules {
            r.finish(&cx, &mut alerts);
        }
        alerts.into_iter().map(|a| (now, Body::Alert(a))).collect()
    }
}
