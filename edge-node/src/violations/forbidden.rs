//! Forbidden zone: a vehicle of a class the zone does not allow (a motorbike on the sidewalk,
//! a car in the motorbike lane, any vehicle in the bus lane during its hours) inside it for at
//! least `min_s`. One violation per stay.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{ViolationContext, ViolationRule};

use super::{BuildCheck, Check, Cx, Env, Hit, allowed};
use crate::config::{CamScope, ConfigError, Registration};

use crate::analytics::Zone;
use crate::rules::Schedule;
use crate::rules::presence::{Change, Presence};

#[derive(Debug, Clone)]
pub struct ForbiddenParams {
    pub zone: String,
    /// The classes not allowed in the zone.
    pub classes: Vec<String>,
    pub schedule: Schedule,
    pub min_s: f64,
    pub grace_s: f64,
}

/// `kind = "forbidden_zone"`: `classes` not allowed in `zone` during `hours`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    zone: String,
    classes: Vec<String>,
    #[serde(default)]
    hours: Vec<String>,
    #[serde(default)]
    days: Option<Vec<String>>,
    #[serde(default)]
    tz: Option<String>,
    #[serde(default = "d_min_s")]
    min_s: f64,
}

fn d_min_s() -> f64 {
    1.0
}

pub(super) const REGISTRATION: Registration<Arc<dyn BuildCheck>> = Registration {
    kind: "forbidden_zone",
    parse,
};

fn parse(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildCheck>, ConfigError> {
    let r: Raw = cx.deserialize(t)?;
    if r.classes.is_empty() {
        return Err(cx.err("classes", "list the classes not allowed in the zone"));
    }
    Ok(Arc::new(ForbiddenParams {
        zone: cx.zone(&r.zone)?,
        classes: cx.classes("classes", r.classes)?,
        schedule: Schedule::new(r.tz.as_deref(), &r.hours, r.days.as_deref())
            .map_err(|e| cx.err("", e))?,
        min_s: cx.positive("min_s", r.min_s)?,
        grace_s: 1.5,
    }))
}

impl BuildCheck for ForbiddenParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Check + Send> {
        Box::new(Forbidden::new(id, self.clone(), env.zone(&self.zone)))
    }
}

#[derive(Default)]
struct Stay {
    presence: Presence,
    flagged: bool,
}

pub struct Forbidden {
    id: String,
    p: ForbiddenParams,
    zone: Zone,
    stays: HashMap<u64, Stay>,
}

impl Forbidden {
    pub fn new(id: String, p: ForbiddenParams, zone: Zone) -> Self {
        Self {
            id,
            p,
            zone,
            stays: HashMap::new(),
        }
    }
}

impl Check for Forbidden {
    fn update(&mut self, cx: &Cx, out: &mut Vec<Hit>) {
        let armed = self.p.schedule.active(cx.now);
        for &id in cx.seen {
            let Some(m) = cx.tracks.get(id) else { continue };
            if !allowed(&self.p.classes, &m.class) {
                continue;
            }
            let s = self.stays.entry(id).or_default();
            if let Change::Left(_) =
                s.presence
                    .observe(self.zone.contains(m.img), cx.now, self.p.grace_s)
            {
                s.flagged = false;
                continue;
            }
            if !armed || s.flagged || !s.presence.inside() || s.presence.stay_s() < self.p.min_s {
                continue;
            }
            s.flagged = true;
            let entered = s.presence.entered.unwrap_or(cx.now);
            out.push(Hit {
                rule: ViolationRule::ForbiddenZone,
                rule_id: self.id.clone(),
                track: m.last_id,
                class: m.class.clone(),
                at: cx.now,
                zone: Some(self.zone.id.clone()),
                line: None,
                context: ViolationContext {
                    dwell_s: Some(s.presence.stay_s() as f32),
                    ..ViolationContext::default()
                },
                moments: [entered, cx.now],
                color: None,
            });
        }
    }

    fn track_ended(&mut self, id: u64, _now: DateTime<Utc>) {
        self.stays.remove(&id);
    }
}
