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
mod tracks;

use chrono::{DateTime, Utc};
use matthan_schema::{Alert, AlertPhase, AlertRule, Body};

pub use abandoned::AbandonedParams;
pub use crowding::CrowdingParams;
pub use direction::DirectionParams;
pub use ground::{GroundPlane, typical_height_m};
pub use intrusion::IntrusionParams;
pub use loitering::LoiteringParams;
pub use motion::{DispersalParams, RunningParams};
pub use schedule::Schedule;
pub use tracks::Tracks;

use crate::analytics::Zone;
use crate::track::TrackerOutput;

/// One configured rule, validated at config load.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub id: String,
    pub kind: RuleKind,
}

#[derive(Debug, Clone)]
pub enum RuleKind {
    Loitering(LoiteringParams),
    Crowding(CrowdingParams),
    Running(RunningParams),
    Dispersal(DispersalParams),
    Intrusion(IntrusionParams),
    AbandonedObject(AbandonedParams),
    WrongDirection(DirectionParams),
}

/// What a rule sees each frame.
pub(crate) struct Ctx<'a> {
    pub now: DateTime<Utc>,
    /// Tracks a detection continued this frame.
    pub seen: &'a [u64],
    pub tracks: &'a Tracks,
}

pub(crate) trait Rule {
    fn update(&mut self, cx: &Ctx, out: &mut Vec<Alert>);
    /// The tracker dropped `id`: close whatever it held open.
    fn track_ended(&mut self, id: u64, cx: &Ctx, out: &mut Vec<Alert>);
    /// The stream ended: close every open episode.
    fn finish(&mut self, cx: &Ctx, out: &mut Vec<Alert>);
}

/// The fields every alert shares; rules fill in the rest.
fn alert(
    rule: AlertRule,
    id: &str,
    phase: AlertPhase,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
    zone: Option<&Zone>,
    calibrated: bool,
) -> Alert {
    Alert {
        rule,
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

/// All rules of one camera, with the track motion they share.
pub struct RuleEngine {
    rules: Vec<Box<dyn Rule + Send>>,
    tracks: Tracks,
}

impl RuleEngine {
    pub fn new(
        specs: &[RuleSpec],
        zones: &[Zone],
        ground: Option<GroundPlane>,
        labels: Vec<String>,
    ) -> Self {
        let zone = |id: &Option<String>| {
            id.as_ref()
                .and_then(|id| zones.iter().find(|z| &z.id == id).cloned())
        };
        let calibrated = ground.is_some();
        let rules = specs
            .iter()
            .map(|s| -> Box<dyn Rule + Send> {
                let id = s.id.clone();
                match &s.kind {
                    RuleKind::Loitering(p) => Box::new(loitering::Loitering::new(
                        id,
                        p.clone(),
                        zone(&Some(p.zone.clone())).expect("validated"),
                        calibrated,
                    )),
                    RuleKind::Crowding(p) => Box::new(crowding::Crowding::new(
                        id,
                        p.clone(),
                        zone(&Some(p.zone.clone())).expect("validated"),
                        ground.as_ref(),
                    )),
                    RuleKind::Running(p) => Box::new(motion::Running::new(
                        id,
                        p.clone(),
                        zone(&p.zone),
                        calibrated,
                    )),
                    RuleKind::Dispersal(p) => Box::new(motion::Dispersal::new(
                        id,
                        p.clone(),
                        zone(&p.zone),
                        calibrated,
                    )),
                    RuleKind::Intrusion(p) => Box::new(intrusion::Intrusion::new(
                        id,
                        p.clone(),
                        zone(&Some(p.zone.clone())).expect("validated"),
                        calibrated,
                    )),
                    RuleKind::AbandonedObject(p) => Box::new(abandoned::Abandoned::new(
                        id,
                        p.clone(),
                        zone(&p.zone),
                        calibrated,
                    )),
                    RuleKind::WrongDirection(p) => Box::new(direction::WrongDirection::new(
                        id,
                        p.clone(),
                        zone(&Some(p.zone.clone())).expect("validated"),
                        ground.as_ref(),
                    )),
                }
            })
            .collect();
        Self {
            rules,
            tracks: Tracks::new(ground, labels),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// One frame's tracker output → alerts, stamped with the frame's capture time.
    pub fn update(
        &mut self,
        now: DateTime<Utc>,
        frame_size: (u32, u32),
        out: &TrackerOutput,
    ) -> Vec<(DateTime<Utc>, Body)> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let seen = self.tracks.observe(now, frame_size, &out.seen);
        let mut alerts = Vec::new();
        let cx = Ctx {
            now,
            seen: &seen,
            tracks: &self.tracks,
        };
        for r in &mut self.rules {
            r.update(&cx, &mut alerts);
        }
        let roots: Vec<u64> = out
            .ended
            .iter()
            .filter_map(|t| self.tracks.end(t.id))
            .collect();
        let cx = Ctx {
            now,
            seen: &seen,
            tracks: &self.tracks,
        };
        for &root in &roots {
            for r in &mut self.rules {
                r.track_ended(root, &cx, &mut alerts);
            }
        }
        for root in roots {
            self.tracks.forget(root);
        }
        alerts.into_iter().map(|a| (now, Body::Alert(a))).collect()
    }

    /// The stream ended or restarted: close every open episode.
    pub fn finish(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, Body)> {
        let mut alerts = Vec::new();
        let cx = Ctx {
            now,
            seen: &[],
            tracks: &self.tracks,
        };
        for r in &mut self.rules {
            r.finish(&cx, &mut alerts);
        }
        self.tracks = Tracks::new(self.tracks.ground().cloned(), self.tracks.labels().to_vec());
        alerts.into_iter().map(|a| (now, Body::Alert(a))).collect()
    }
}
