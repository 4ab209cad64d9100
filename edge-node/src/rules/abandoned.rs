//! Abandoned object: a bag-like track that stays within `still_m` of one spot while no person
//! is within `near_m` of it, for `still_s`. Ends when the object moves, is claimed (a person
//! beside it for a couple of seconds) or disappears.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use matthan_schema::{Alert, AlertPhase, AlertRule};

use super::{Ctx, Rule, alert, allowed};
use crate::analytics::Zone;

/// A person beside the object this long has claimed it.
const CLAIM_S: f64 = 2.0;
/// People count as present this long after their last detection.
const PRESENT_S: f64 = 1.0;

#[derive(Debug, Clone)]
pub struct AbandonedParams {
    pub zone: Option<String>,
    pub classes: Vec<String>,
    pub owners: Vec<String>,
    pub still_s: f64,
    pub still_m: f64,
    pub near_m: f64,
}

struct Object {
    class: String,
    anchor: [f64; 2],
    still_since: DateTime<Utc>,
    unattended_since: Option<DateTime<Utc>>,
    attended_since: Option<DateTime<Utc>>,
    alerted: Option<DateTime<Utc>>,
}

pub struct Abandoned {
    id: String,
    p: AbandonedParams,
    zone: Option<Zone>,
    calibrated: bool,
    objects: HashMap<u64, Object>,
}

impl Abandoned {
    pub fn new(id: String, p: AbandonedParams, zone: Option<Zone>, calibrated: bool) -> Self {
        Self {
            id,
            p,
            zone,
            calibrated,
            objects: HashMap::new(),
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
            AlertRule::AbandonedObject,
            &self.id,
            phase,
            started,
            now,
            self.zone.as_ref(),
            self.calibrated,
        );
        a.track_ids = vec![id];
        a.class = Some(class.into());
        a.measure = Some(a.duration_s);
        a.unit = Some("s".into());
        a
    }
}

impl Rule for Abandoned {
    fn update(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        for &id in cx.seen {
            let Some(m) = cx.tracks.get(id) else { continue };
            if !allowed(&self.p.classes, &m.class)
                || self.zone.as_ref().is_some_and(|z| !z.contains(m.img))
            {
                continue;
            }
            let o = self.objects.entry(id).or_insert_with(|| Object {
                class: m.class.clone(),
                anchor: m.pos,
                still_since: cx.now,
                unattended_since: None,
                attended_since: None,
                alerted: None,
            });
            // Uncalibrated, the object's own scale is a poor ruler; use a person-sized one.
            let moved = if cx.tracks.calibrated() {
                (m.pos[0] - o.anchor[0]).hypot(m.pos[1] - o.anchor[1])
            } else {
                let k = 1.7 / super::typical_height_m(&m.class);
                (m.pos[0] - o.anchor[0]).hypot(m.pos[1] - o.anchor[1]) / k
            };
            if moved > self.p.still_m {
                o.anchor = m.pos;
                o.still_since = cx.now;
                o.unattended_since = None;
                if let Some(started) = o.alerted.take() {
                    let class = o.class.clone();
                    out.push(self.make(AlertPhase::End, started, cx.now, id, &class));
                }
            }
        }
        // Every object known, seen this frame or not: the tracker keeps a still object alive
        // through missed detections, and nobody coming near it is what matters.
        let ids: Vec<u64> = self.objects.keys().copied().collect();
        for id in ids {
            let near = cx
                .tracks
                .recent(cx.now, PRESENT_S)
                .filter(|(pid, pm)| *pid != id && allowed(&self.p.owners, &pm.class))
                .any(|(pid, _)| {
                    cx.tracks
                        .distance(id, pid)
                        .is_some_and(|d| d <= self.p.near_m)
                });
            let o = self.objects.get_mut(&id).expect("present");
            if near {
                o.unattended_since = None;
                let since = *o.attended_since.get_or_insert(cx.now);
                if (cx.now - since).as_seconds_f64() >= CLAIM_S
                    && let Some(started) = o.alerted.take()
                {
                    let class = o.class.clone();
                    out.push(self.make(AlertPhase::End, started, cx.now, id, &class));
                }
                continue;
            }
            o.attended_since = None;
            let unattended = *o.unattended_since.get_or_insert(cx.now);
            let since = unattended.max(o.still_since);
            if o.alerted.is_none() && (cx.now - since).as_seconds_f64() >= self.p.still_s {
                o.alerted = Some(since);
                let class = o.class.clone();
                out.push(self.make(AlertPhase::Start, since, cx.now, id, &class));
            }
        }
    }

    fn track_ended(&mut self, id: u64, cx: &Ctx, out: &mut Vec<Alert>) {
        if let Some(o) = self.objects.remove(&id)
            && let Some(started) = o.alerted
        {
            out.push(self.make(AlertPhase::End, started, cx.now, id, &o.class));
        }
    }

    fn finish(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        let ids: Vec<u64> = self.objects.keys().copied().collect();
        for id in ids {
            self.track_ended(id, cx, out);
        }
    }
}
