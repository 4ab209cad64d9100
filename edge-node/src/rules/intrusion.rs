//! Intrusion: a track of a watched class inside a restricted zone while its schedule is
//! armed. One alert per stay; a stay that began before the zone was armed alerts when it arms.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use matthan_schema::{Alert, AlertPhase, AlertRule};

use super::presence::{Change, Presence};
use super::schedule::Schedule;
use super::{Ctx, Rule, alert, allowed};
use crate::analytics::Zone;

#[derive(Debug, Clone)]
pub struct IntrusionParams {
    pub zone: String,
    pub classes: Vec<String>,
    pub schedule: Schedule,
    pub grace_s: f64,
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
            AlertRule::Intrusion,
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
