//! Stopped in the box: a vehicle standing still inside a zone (a junction's box, a level
//! crossing, a hospital entrance) for longer than `max_s`. "Still" means it stayed within
//! `still_m` of where it stopped; the clock survives a detector flicker (state is kept per
//! track root while the tracker still holds the track). One alert per stop, ended when the
//! vehicle moves off, leaves the zone or its track ends.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{Alert, AlertPhase};

use super::{BuildRule, Ctx, Env, Rule, alert, allowed};
use crate::analytics::Zone;
use crate::config::{CamScope, ConfigError, Registration};

#[derive(Debug, Clone)]
pub struct StoppedParams {
    pub zone: String,
    pub max_s: f64,
    pub still_m: f64,
    pub classes: Vec<String>,
}

/// `kind = "stopped_in_box"`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    zone: String,
    #[serde(default = "d_max_s")]
    max_s: f64,
    #[serde(default = "d_still_m")]
    still_m: f64,
    #[serde(default = "crate::violations::vehicle_classes")]
    classes: Vec<String>,
}

fn d_max_s() -> f64 {
    10.0
}
fn d_still_m() -> f64 {
    1.0
}

const KIND: &str = "stopped_in_box";

pub(super) const REGISTRATION: Registration<Arc<dyn BuildRule>> =
    Registration { kind: KIND, parse };

fn parse(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildRule>, ConfigError> {
    let r: Raw = cx.deserialize(t)?;
    Ok(Arc::new(StoppedParams {
        zone: cx.zone(&r.zone)?,
        max_s: cx.positive("max_s", r.max_s)?,
        still_m: cx.positive("still_m", r.still_m)?,
        classes: cx.classes("classes", r.classes)?,
    }))
}

impl BuildRule for StoppedParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Rule + Send> {
        Box::new(StoppedInBox {
            id,
            p: self.clone(),
            zone: env.zone(&self.zone),
            calibrated: env.calibrated(),
            stops: HashMap::new(),
        })
    }
}

struct Stop {
    /// Where and when the vehicle came to rest.
    since: DateTime<Utc>,
    at: [f64; 2],
    class: String,
    alerted: bool,
}

struct StoppedInBox {
    id: String,
    p: StoppedParams,
    zone: Zone,
    calibrated: bool,
    stops: HashMap<u64, Stop>,
}

impl StoppedInBox {
    fn make(&self, phase: AlertPhase, track: u64, stop: &Stop, now: DateTime<Utc>) -> Alert {
        let mut a = alert(
            KIND,
            &self.id,
            phase,
            stop.since,
            now,
            Some(&self.zone),
            self.calibrated,
        );
        a.track_ids = vec![track];
        a.class = Some(stop.class.clone());
        a.measure = Some(a.duration_s);
        a.unit = Some("s".into());
        a
    }

    /// Ends the stop of `track`, with an end alert if it had started one.
    fn end(&mut self, track: u64, now: DateTime<Utc>, out: &mut Vec<Alert>) {
        if let Some(stop) = self.stops.remove(&track)
            && stop.alerted
        {
            out.push(self.make(AlertPhase::End, track, &stop, now));
        }
    }
}

impl Rule for StoppedInBox {
    fn update(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        for &id in cx.seen {
            let Some(m) = cx.tracks.get(id) else { continue };
            if !allowed(&self.p.classes, &m.class) || !self.zone.contains(m.img) {
                self.end(id, cx.now, out);
                continue;
            }
            let moved = self
                .stops
                .get(&id)
                .is_some_and(|s| (m.pos[0] - s.at[0]).hypot(m.pos[1] - s.at[1]) > self.p.still_m);
            if moved {
                self.end(id, cx.now, out);
            }
            let stop = self.stops.entry(id).or_insert_with(|| Stop {
                since: cx.now,
                at: m.pos,
                class: m.class.clone(),
                alerted: false,
            });
            if !stop.alerted && (cx.now - stop.since).as_seconds_f64() >= self.p.max_s {
                stop.alerted = true;
                let a = self.make(AlertPhase::Start, id, &self.stops[&id], cx.now);
                out.push(a);
            }
        }
    }

    fn track_ended(&mut self, id: u64, cx: &Ctx, out: &mut Vec<Alert>) {
        self.end(id, cx.now, out);
    }

    fn finish(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        let ids: Vec<u64> = self.stops.keys().copied().collect();
        for id in ids {
            self.end(id, cx.now, out);
        }
    }
}
