//! Wrong direction in a one-way corridor or lane: inside the zone, a track that has moved at
//! least `min_m` against the declared direction (measured back from the furthest point it
//! reached along it) over at least `min_s`. One alert per stay in the zone.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{Alert, AlertPhase};

use super::ground::GroundPlane;
use super::presence::{Change, Presence};
use super::{BuildRule, Ctx, Env, Rule, alert, allowed, defaults};
use crate::analytics::Zone;
use crate::config::{CamScope, ConfigError, Registration};

#[derive(Debug, Clone)]
pub struct DirectionParams {
    pub zone: String,
    /// Two normalised image points: the allowed way of travel, from the first to the second.
    pub direction: [[f64; 2]; 2],
    pub min_m: f64,
    pub min_s: f64,
    pub grace_s: f64,
    pub classes: Vec<String>,
}

/// `kind = "wrong_direction"`: `direction` is two points (from, to), fractions of the frame.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    zone: String,
    direction: Vec<[f64; 2]>,
    #[serde(default = "d_min_m")]
    min_m: f64,
    #[serde(default = "d_min_s")]
    min_s: f64,
    #[serde(default = "defaults::grace_s")]
    grace_s: f64,
    #[serde(default)]
    classes: Vec<String>,
}

fn d_min_m() -> f64 {
    2.0
}
fn d_min_s() -> f64 {
    1.0
}

const KIND: &str = "wrong_direction";

pub(super) const REGISTRATION: Registration<Arc<dyn BuildRule>> =
    Registration { kind: KIND, parse };

fn parse(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildRule>, ConfigError> {
    let r: Raw = cx.deserialize(t)?;
    Ok(Arc::new(DirectionParams {
        zone: cx.zone(&r.zone)?,
        direction: cx.direction("direction", &r.direction)?,
        min_m: cx.positive("min_m", r.min_m)?,
        min_s: cx.positive("min_s", r.min_s)?,
        grace_s: cx.positive("grace_s", r.grace_s)?,
        classes: cx.classes("classes", r.classes)?,
    }))
}

impl BuildRule for DirectionParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Rule + Send> {
        Box::new(WrongDirection::new(
            id,
            self.clone(),
            env.zone(&self.zone),
            env.ground,
        ))
    }
}

#[derive(Default)]
struct Pass {
    presence: Presence,
    /// Furthest progress along the allowed direction and when it was reached.
    best: Option<(f64, DateTime<Utc>)>,
    alerted: Option<(DateTime<Utc>, f64)>,
    class: String,
}

pub struct WrongDirection {
    id: String,
    p: DirectionParams,
    zone: Zone,
    calibrated: bool,
    /// Allowed direction as a unit vector: on the ground when calibrated, else in pixels
    /// (normalised coordinates are scaled per axis by the frame size at use).
    ground_dir: Option<[f64; 2]>,
    passes: HashMap<u64, Pass>,
}

fn unit(v: [f64; 2]) -> [f64; 2] {
    let l = v[0].hypot(v[1]).max(1e-12);
    [v[0] / l, v[1] / l]
}

impl WrongDirection {
    pub fn new(id: String, p: DirectionParams, zone: Zone, ground: Option<&GroundPlane>) -> Self {
        let ground_dir = ground.and_then(|g| {
            let (a, b) = (g.to_ground(p.direction[0])?, g.to_ground(p.direction[1])?);
            Some(unit([b[0] - a[0], b[1] - a[1]]))
        });
        Self {
            id,
            p,
            zone,
            calibrated: ground.is_some(),
            ground_dir,
            passes: HashMap::new(),
        }
    }

    fn make(
        &self,
        phase: AlertPhase,
        started: DateTime<Utc>,
        now: DateTime<Utc>,
        id: u64,
        class: &str,
        metres: f64,
    ) -> Alert {
        let mut a = alert(
            KIND,
            &self.id,
            phase,
            started,
            now,
            Some(&self.zone),
            self.calibrated,
        );
        a.track_ids = vec![id];
        a.class = Some(class.into());
        a.measure = Some(metres as f32);
        a.unit = Some("m".into());
        a
    }
}

impl Rule for WrongDirection {
    fn update(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        for &id in cx.seen {
            let Some(m) = cx.tracks.get(id) else { continue };
            if !allowed(&self.p.classes, &m.class) {
                continue;
            }
            let u = match self.ground_dir {
                Some(u) => u,
                None => {
                    // Pixels: the pixel-per-normalised ratio is the frame size, which the
                    // track's own pixel and normalised positions give.
                    let (sx, sy) = (
                        if m.img[0] > 0.0 {
                            m.px[0] / m.img[0]
                        } else {
                            1.0
                        },
                        if m.img[1] > 0.0 {
                            m.px[1] / m.img[1]
                        } else {
                            1.0
                        },
                    );
                    let d = self.p.direction;
                    unit([(d[1][0] - d[0][0]) * sx, (d[1][1] - d[0][1]) * sy])
                }
            };
            let progress = m.pos[0] * u[0] + m.pos[1] * u[1];
            let inside = self.zone.contains(m.img);
            let pass = self.passes.entry(id).or_default();
            pass.class = m.class.clone();
            match pass.presence.observe(inside, cx.now, self.p.grace_s) {
                Change::Entered => pass.best = Some((progress, cx.now)),
                Change::Left(_) => {
                    pass.best = None;
                    if let Some((started, metres)) = pass.alerted.take() {
                        let class = pass.class.clone();
                        out.push(self.make(AlertPhase::End, started, cx.now, id, &class, metres));
                    }
                    continue;
                }
                Change::None => {}
            }
            if !pass.presence.inside() {
                continue;
            }
            let (best, at) = pass.best.get_or_insert((progress, cx.now));
            if progress > *best {
                *best = progress;
                *at = cx.now;
            }
            let against = *best - progress;
            if let Some((_, metres)) = &mut pass.alerted {
                *metres = metres.max(against);
            } else if against >= self.p.min_m && (cx.now - *at).as_seconds_f64() >= self.p.min_s {
                let started = *at;
                pass.alerted = Some((started, against));
                let class = pass.class.clone();
                out.push(self.make(AlertPhase::Start, started, cx.now, id, &class, against));
            }
        }
    }

    fn track_ended(&mut self, id: u64, cx: &Ctx, out: &mut Vec<Alert>) {
        if let Some(p) = self.passes.remove(&id)
            && let Some((started, metres)) = p.alerted
        {
            out.push(self.make(AlertPhase::End, started, cx.now, id, &p.class, metres));
        }
    }

    fn finish(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        let ids: Vec<u64> = self.passes.keys().copied().collect();
        for id in ids {
            self.track_ended(id, cx, out);
        }
    }
}
