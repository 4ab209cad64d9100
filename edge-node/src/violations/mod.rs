//! Traffic violations over confirmed tracks: red light, wrong way, forbidden zone, illegal
//! parking, speeding, and what a secondary classifier sees on motorbike crops (no helmet, more
//! than two riders). Each configured rule yields at most one violation per vehicle and
//! occasion (per crossing, per stay, per track), never one per detector flicker. A violation
//! is a `Hit`: the rule, the vehicle, the measured context and the two moments its evidence
//! images are taken at; `evidence` turns it into a signed bundle.
//!
//! Rules share the behaviour rules' track motion (`rules::Tracks`: metres through the ground
//! calibration, re-linking of briefly lost tracks).

mod config;
mod crop_vote;
mod forbidden;
mod lights;
mod parking;
mod red_light;
mod speeding;

use chrono::{DateTime, Duration, Utc};
use matthan_schema::{AlertPhase, Body, Crossing, ViolationContext, ViolationRule};

pub use config::{Known, RawViolation, validate};
pub use crop_vote::{CropVoteParams, Vote};
pub use forbidden::ForbiddenParams;
pub use lights::{Light, Lights, LightsError};
pub use parking::ParkingParams;
pub use red_light::RedLightParams;
pub use speeding::SpeedingParams;

use crate::analytics::Zone;
use crate::rules::direction::WrongDirection;
use crate::rules::{DirectionParams, GroundPlane, Rule, Tracks};
use crate::track::TrackerOutput;

/// One configured violation rule, validated at config load.
#[derive(Debug, Clone)]
pub struct ViolationSpec {
    pub id: String,
    pub kind: ViolationKind,
}

#[derive(Debug, Clone)]
pub enum ViolationKind {
    RedLight(RedLightParams),
    WrongWay(DirectionParams),
    ForbiddenZone(ForbiddenParams),
    IllegalParking(ParkingParams),
    Speeding(SpeedingParams),
    NoHelmet(CropVoteParams),
    TooManyRiders(CropVoteParams),
}

impl ViolationSpec {
    /// The secondary classifier the rule reads, if any.
    pub fn classifier(&self) -> Option<&str> {
        match &self.kind {
            ViolationKind::NoHelmet(p) | ViolationKind::TooManyRiders(p) => Some(&p.classifier),
            _ => None,
        }
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

trait Check {
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

/// The behaviour rules' wrong-direction logic, reporting its alert starts as violations.
struct WrongWay {
    rule: WrongDirection,
    zone: String,
    calibration: Option<String>,
}

impl Check for WrongWay {
    fn update(&mut self, cx: &Cx, out: &mut Vec<Hit>) {
        let mut alerts = Vec::new();
        let rcx = crate::rules::Ctx {
            now: cx.now,
            seen: cx.seen,
            tracks: cx.tracks,
        };
        self.rule.update(&rcx, &mut alerts);
        for a in alerts.into_iter().filter(|a| a.phase == AlertPhase::Start) {
            let Some(&root) = a.track_ids.first() else {
                continue;
            };
            let Some(m) = cx.tracks.get(root) else {
                continue;
            };
            out.push(Hit {
                rule: ViolationRule::WrongWay,
                rule_id: a.rule_id,
                track: m.last_id,
                class: m.class.clone(),
                at: cx.now,
                zone: Some(self.zone.clone()),
                line: None,
                context: ViolationContext {
                    distance_m: a.measure,
                    calibration: self.calibration.clone(),
                    ..ViolationContext::default()
                },
                moments: [a.started, cx.now],
                color: None,
            });
        }
    }

    fn track_ended(&mut self, id: u64, now: DateTime<Utc>) {
        let rcx = crate::rules::Ctx {
            now,
            seen: &[],
            tracks: &Tracks::new(None, Vec::new()),
        };
        self.rule.track_ended(id, &rcx, &mut Vec::new());
    }
}

/// All violation rules of one camera.
pub struct ViolationEngine {
    checks: Vec<Box<dyn Check + Send>>,
    tracks: Tracks,
}

impl ViolationEngine {
    pub fn new(
        specs: &[ViolationSpec],
        zones: &[Zone],
        ground: Option<GroundPlane>,
        labels: Vec<String>,
    ) -> Self {
        let zone = |id: &str| {
            zones
                .iter()
                .find(|z| z.id == id)
                .cloned()
                .expect("validated")
        };
        let calibration = ground.as_ref().map(|g| g.id.clone());
        let checks = specs
            .iter()
            .map(|s| -> Box<dyn Check + Send> {
                let id = s.id.clone();
                match &s.kind {
                    ViolationKind::RedLight(p) => Box::new(red_light::RedLight::new(id, p.clone())),
                    ViolationKind::WrongWay(p) => Box::new(WrongWay {
                        rule: WrongDirection::new(id, p.clone(), zone(&p.zone), ground.as_ref()),
                        zone: p.zone.clone(),
                        calibration: calibration.clone(),
                    }),
                    ViolationKind::ForbiddenZone(p) => {
                        Box::new(forbidden::Forbidden::new(id, p.clone(), zone(&p.zone)))
                    }
                    ViolationKind::IllegalParking(p) => Box::new(parking::Parking::new(
                        id,
                        p.clone(),
                        zone(&p.zone),
                        calibration.clone(),
                    )),
                    ViolationKind::Speeding(p) => Box::new(speeding::Speeding::new(
                        id,
                        p.clone(),
                        p.zone.as_deref().map(zone),
                        calibration
                            .clone()
                            .expect("validated: speeding needs a ground plane"),
                    )),
                    ViolationKind::NoHelmet(p) => Box::new(crop_vote::CropVote::new(
                        id,
                        ViolationRule::NoHelmet,
                        p.clone(),
                    )),
                    ViolationKind::TooManyRiders(p) => Box::new(crop_vote::CropVote::new(
                        id,
                        ViolationRule::TooManyRiders,
                        p.clone(),
                    )),
                }
            })
            .collect();
        Self {
            checks,
            tracks: Tracks::new(ground, labels),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// One frame: tracker output, the crossings and classifier votes of the same frame.
    pub fn update(
        &mut self,
        now: DateTime<Utc>,
        frame_size: (u32, u32),
        out: &TrackerOutput,
        bodies: &[(DateTime<Utc>, Body)],
        lights: &Lights,
        votes: &[Vote],
    ) -> Vec<Hit> {
        if self.checks.is_empty() {
            return Vec::new();
        }
        let seen = self.tracks.observe(now, frame_size, &out.seen);
        let crossings: Vec<(DateTime<Utc>, Crossing)> = bodies
            .iter()
            .filter_map(|(ts, b)| match b {
                Body::Crossing(c) => Some((*ts, c.clone())),
                _ => None,
            })
            .collect();
        let cx = Cx {
            now,
            seen: &seen,
            tracks: &self.tracks,
            crossings: &crossings,
            lights,
            votes,
        };
        let mut hits = Vec::new();
        for c in &mut self.checks {
            c.update(&cx, &mut hits);
        }
        let roots: Vec<u64> = out
            .ended
            .iter()
            .filter_map(|t| self.tracks.end(t.id))
            .collect();
        for root in roots {
            for c in &mut self.checks {
                c.track_ended(root, now);
            }
            self.tracks.forget(root);
        }
        hits
    }

    /// The stream ended or restarted: forget every track.
    pub fn finish(&mut self, now: DateTime<Utc>) {
        let roots: Vec<u64> = self.tracks.iter().map(|(id, _)| id).collect();
        for root in roots {
            for c in &mut self.checks {
                c.track_ended(root, now);
            }
        }
        self.tracks = Tracks::new(self.tracks.ground().cloned(), self.tracks.labels().to_vec());
    }
}
