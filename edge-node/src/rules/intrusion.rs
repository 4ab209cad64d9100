//! Intrusion: a track of a watched class inside a restricted zone while its schedule is
//! armed. One alert per stay; a stay that began before the zone was armed alerts when it arms.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{Alert, AlertPhase};

use super::presence::{Change, Presence};
use super::schedule::Schedule;
use super::{BuildRule, Ctx, Env, Rule, alert, allowed, defaults};
use crate::analytics::Zone;
use crate::config::{CamScope, ConfigError, Registration};

#[derive(Debug, Clone)]
pub struct IntrusionParams {
    pub zone: String,
    pub classes: Vec<String>,
    pub schedule: Schedule,
    pub grace_s: f64,
}

/// `kind = "intrusion"`: armed during `hours` on `days` in `tz` (Asia/Ho_Chi_Minh by default).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    zone: String,
    #[serde(default)]
    classes: Vec<String>,
    #[serde(default)]
    hours: Vec<String>,
    #[serde(default)]
    days: Option<Vec<String>>,
    #[serde(default)]
    tz: Option<String>,
    #[serde(default = "defaults::grace_s")]
    grace_s: f64,
}

const KIND: &str = "intrusion";

pub(super) const REGISTRATION: Registration<Arc<dyn BuildRule>> =
    Registration { kind: KIND, parse };

fn parse(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildRule>, ConfigError> {
    let r: Raw = cx.deserialize(t)?;
    Ok(Arc::new(IntrusionParams {
        zone: cx.zone(&r.zone)?,
        classes: cx.classes("classes", r.classes)?,
        schedule: Schedule::new(r.tz.as_deref(), &r.hours, r.days.as_deref())
            .map_err(|e| cx.err("", e))?,
        grace_s: cx.positive("grace_s", r.grace_s)?,
    }))
}

impl BuildRule for IntrusionParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Rule + Send> {
        Box::new(Intrusion::new(
            id,
            self.clone(),
            env.zone(&self.zone),
            env.calibrated(),
        ))
    }
}

#[derive(Default)]
struct Visit {
    presence: Presence,
    alerted: Option<DateTime<Utc>>,
}

pub struct Intrusion {
    id: String,
    p: IntrusionParams,
    zone: Zone,
    calibrated: bool,
    visits: HashMap<u64, (Visit, String)>,
}

impl Intrusion {
    pub fn new(id: String, p: IntrusionParams, zone: Zone, calibrated: bool) -> Self {
        Self {
            id,
            p,
            zone,
            calibrated,
            visits: HashMap::new(),
        }
    }

    fn make(
        &self,
        phase: AlertPhase,
        started: DateTime<Utc>,
        now: DateTime<Utc>,
        id: u64,
        class: &str,
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
        a
    }
}

impl Rule for Intrusion {
    fn update(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        let armed = self.p.schedule.active(cx.now);
        for &id in cx.seen {
            let Some(m) = cx.tracks.get(id) else { continue };
            if !allowed(&self.p.classes, &m.class) {
                continue;
            }
            let inside = self.zone.contains(m.img);
            let (v, class) = self
                .visits
                .entry(id)
                .or_insert_with(|| (Visit::default(), m.class.clone()));
            *class = m.class.clone();
            let change = v.presence.observe(inside, cx.now, self.p.grace_s);
            if let Change::Left(_) = change
                && let Some(started) = v.alerted.take()
            {
                let class = class.clone();
                out.push(self.make(AlertPhase::End, started, cx.now, id, &class));
                continue;
            }
            if armed && v.presence.inside() && v.alerted.is_none() {
                v.alerted = Some(cx.now);
                let class = class.clone();
                out.push(self.make(AlertPhase::Start, cx.now, cx.now, id, &class));
            }
        }
    }

    fn track_ended(&mut self, id: u64, cx: &Ctx, out: &mut Vec<Alert>) {
        if let Some((v, class)) = self.visits.remove(&id)
            && let Some(started) = v.alerted
        {
            out.push(self.make(AlertPhase::End, started, cx.now, id, &class));
        }
    }

    fn finish(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        let ids: Vec<u64> = self.visits.keys().copied().collect();
        for id in ids {
            self.track_ended(id, cx, out);
        }
    }
}
