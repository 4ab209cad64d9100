//! Abandoned object: a bag-like track that stays within `still_m` of one spot while no person
//! is within `near_m` of it, for `still_s`. Ends when the object moves, is claimed (a person
//! beside it for a couple of seconds) or disappears.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{Alert, AlertPhase};

use super::{BuildRule, Ctx, Env, Rule, alert, allowed, defaults};
use crate::analytics::Zone;
use crate::config::{CamScope, ConfigError, Registration};

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

/// `kind = "abandoned_object"`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    zone: Option<String>,
    #[serde(default = "d_bags")]
    classes: Vec<String>,
    #[serde(default = "defaults::people")]
    owners: Vec<String>,
    #[serde(default = "d_still_s")]
    still_s: f64,
    #[serde(default = "d_still_m")]
    still_m: f64,
    #[serde(default = "d_near_m")]
    near_m: f64,
}

fn d_bags() -> Vec<String> {
    vec!["backpack".into(), "handbag".into(), "suitcase".into()]
}
fn d_still_s() -> f64 {
    30.0
}
fn d_still_m() -> f64 {
    0.5
}
fn d_near_m() -> f64 {
    2.0
}

const KIND: &str = "abandoned_object";

pub(super) const REGISTRATION: Registration<Arc<dyn BuildRule>> =
    Registration { kind: KIND, parse };

fn parse(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildRule>, ConfigError> {
    let r: Raw = cx.deserialize(t)?;
    Ok(Arc::new(AbandonedParams {
        zone: cx.opt_zone(r.zone)?,
        classes: cx.classes("classes", r.classes)?,
        owners: cx.classes("owners", r.owners)?,
        still_s: cx.positive("still_s", r.still_s)?,
        still_m: cx.positive("still_m", r.still_m)?,
        near_m: cx.positive("near_m", r.near_m)?,
    }))
}

impl BuildRule for AbandonedParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Rule + Send> {
        Box::new(Abandoned::new(
            id,
            self.clone(),
            env.opt_zone(&self.zone),
            env.calibrated(),
        ))
    }
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
            KIND,
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
