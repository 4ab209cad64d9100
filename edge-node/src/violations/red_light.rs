//! Red light: a vehicle crosses the stop line, in the approach's direction, while the phase
//! serving it shows red, later than `grace_s` into the red. The crossing is judged at its own
//! capture time, so a vehicle already past the line when red starts (in the box) is never
//! flagged, and one still short of the line during yellow is not either.

use std::sync::Arc;

use chrono::DateTime;
use matthan_schema::{Colour, Direction, SignalContext, ViolationContext, ViolationRule};

use super::{BuildCheck, Check, Cx, Env, Hit, allowed, secs, vehicle_classes};
use crate::config::{CamScope, ConfigError, Registration};

#[derive(Debug, Clone)]
pub struct RedLightParams {
    /// The camera line drawn on the stop line.
    pub line: String,
    /// Which crossing direction enters the junction; both when unset.
    pub direction: Option<Direction>,
    pub junction: String,
    /// The junction phase that serves this approach.
    pub phase: String,
    pub grace_s: f64,
    pub classes: Vec<String>,
}

/// `kind = "red_light"`: crossings of `line` while `junction`'s `phase` is red.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    line: String,
    #[serde(default)]
    direction: Option<Direction>,
    junction: String,
    phase: String,
    #[serde(default = "d_grace_s")]
    grace_s: f64,
    #[serde(default = "vehicle_classes")]
    classes: Vec<String>,
}

fn d_grace_s() -> f64 {
    0.5
}

pub(super) const REGISTRATION: Registration<Arc<dyn BuildCheck>> = Registration {
    kind: "red_light",
    parse,
};

fn parse(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildCheck>, ConfigError> {
    let r: Raw = cx.deserialize(t)?;
    let line = cx.line(&r.line)?;
    let Some(j) = cx.known.junctions.iter().find(|j| j.id == r.junction) else {
        return Err(cx.err(
            "junction",
            format!("no [[junctions]] entry with id {:?}", r.junction),
        ));
    };
    if !j.phases.iter().any(|p| p.id == r.phase) {
        return Err(cx.err(
            "phase",
            format!("junction {:?} has no phase {:?}", r.junction, r.phase),
        ));
    }
    if !(r.grace_s.is_finite() && r.grace_s >= 0.0) {
        return Err(cx.err("grace_s", format!("{} must be 0 or more", r.grace_s)));
    }
    Ok(Arc::new(RedLightParams {
        line,
        direction: r.direction,
        junction: r.junction,
        phase: r.phase,
        grace_s: r.grace_s,
        classes: cx.classes("classes", r.classes)?,
    }))
}

impl BuildCheck for RedLightParams {
    fn build(&self, id: String, _env: &Env) -> Box<dyn Check + Send> {
        Box::new(RedLight::new(id, self.clone()))
    }

    fn reads_signals(&self) -> bool {
        true
    }
}

pub struct RedLight {
    id: String,
    p: RedLightParams,
}

impl RedLight {
    pub fn new(id: String, p: RedLightParams) -> Self {
        Self { id, p }
    }
}

impl Check for RedLight {
    fn update(&mut self, cx: &Cx, out: &mut Vec<Hit>) {
        for (ts, c) in cx.crossings {
            if c.line != self.p.line
                || self.p.direction.is_some_and(|d| d != c.direction)
                || !allowed(&self.p.classes, &c.class)
            {
                continue;
            }
            let Some(light) = cx.lights.at(&self.p.junction, &self.p.phase, *ts) else {
                tracing::warn!(rule = %self.id, junction = %self.p.junction, phase = %self.p.phase,
                    "no signal state known (no controller message and no fixed plan); crossing not judged");
                continue;
            };
            if light.colour != Colour::Red {
                continue;
            }
            let into = (*ts - light.since).as_seconds_f64();
            if into <= self.p.grace_s {
                continue;
            }
            let track = cx
                .tracks
                .root_of(c.track_id)
                .and_then(|r| cx.tracks.get(r))
                .map_or(c.track_id, |m| m.last_id);
            out.push(Hit {
                rule: ViolationRule::RedLight,
                rule_id: self.id.clone(),
                track,
                class: c.class.clone(),
                at: *ts,
                zone: None,
                line: Some(c.line.clone()),
                context: ViolationContext {
                    signal: Some(SignalContext {
                        junction: self.p.junction.clone(),
                        phase: self.p.phase.clone(),
                        source: light.source,
                        red_started: light.since,
                        into_red_s: into as f32,
                        yellow_s: light.yellow_s as f32,
                        red_s: light.red_s.map(|r| r as f32),
                        grace_s: self.p.grace_s as f32,
                    }),
                    ..ViolationContext::default()
                },
                // At the stop line, and past it.
                moments: [*ts - secs(0.3), *ts + secs(1.0)],
                color: None,
            });
        }
    }

    fn track_ended(&mut self, _id: u64, _now: DateTime<chrono::Utc>) {}
}
