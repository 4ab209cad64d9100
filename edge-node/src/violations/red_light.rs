//! Red light: a vehicle crosses the stop line, in the approach's direction, while the phase
//! serving it shows red, later than `grace_s` into the red. The crossing is judged at its own
//! capture time, so a vehicle already past the line when red starts (in the box) is never
//! flagged, and one still short of the line during yellow is not either.

use chrono::DateTime;
use matthan_schema::{Colour, Direction, SignalContext, ViolationContext, ViolationRule};

use super::{Check, Cx, Hit, allowed, secs};

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
