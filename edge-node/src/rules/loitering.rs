//! Loitering: a track inside a zone longer than `min_s` in one stay, or entering it `revisits`
//! times within `window_s`. One alert per stay, ended when the stay ends.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{Alert, AlertPhase};

use super::presence::{Change, Presence};
use super::{BuildRule, Ctx, Env, Rule, alert, allowed, defaults};
use crate::analytics::Zone;
use crate::config::{CamScope, ConfigError, Registration};

#[derive(Debug, Clone)]
pub struct LoiteringParams {
    pub zone: String,
    pub min_s: f64,
    pub revisits: Option<u32>,
    pub window_s: f64,
    pub grace_s: f64,
    pub classes: Vec<String>,
}

/// `kind = "loitering"`; defaults are for people in a public square.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    zone: String,
    #[serde(default = "d_min_s")]
    min_s: f64,
    #[serde(default)]
    revisits: Option<u32>,
    #[serde(default = "d_window_s")]
    window_s: f64,
    #[serde(default = "defaults::grace_s")]
    grace_s: f64,
    #[serde(default = "defaults::people")]
    classes: Vec<String>,
}

fn d_min_s() -> f64 {
    60.0
}
fn d_window_s() -> f64 {
    600.0
}

const KIND: &str = "loitering";

pub(super) const REGISTRATION: Registration<Arc<dyn BuildRule>> =
    Registration { kind: KIND, parse };

fn parse(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildRule>, ConfigError> {
    let r: Raw = cx.deserialize(t)?;
    if r.revisits.is_some_and(|n| n < 2) {
        return Err(cx.err(
            "revisits",
            "must be at least 2 (visits within window_s that count as loitering)",
        ));
    }
    Ok(Arc::new(LoiteringParams {
        zone: cx.zone(&r.zone)?,
        min_s: cx.positive("min_s", r.min_s)?,
        revisits: r.revisits,
        window_s: cx.positive("window_s", r.window_s)?,
        grace_s: cx.positive("grace_s", r.grace_s)?,
        classes: cx.classes("classes", r.classes)?,
    }))
}

impl BuildRule for LoiteringParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Rule + Send> {
        Box::new(Loitering::new(
            id,
            self.clone(),
            env.zone(&self.zone),
            env.calibrated(),
        ))
    }
}

#[derive(Default)]
struct Stay {
    presence: Presence,
    visits: VecDeque<DateTime<Utc>>,
    /// Start of the alerted stay, while it lasts.
    alerted: Option<DateTime<Utc>>,
}

pub struct Loitering {
    id: String,
    p: LoiteringParams,
    zone: Zone,
    calibrated: bool,
    stays: HashMap<u64, Stay>,
}

impl Loitering {
    pub fn new(id: String, p: LoiteringParams, zone: Zone, calibrated: bool) -> Self {
        Self {
            id,
            p,
            zone,
            calibrated,
            stays: HashMap::new(),
        }
    }

    fn make(
        &self,
        phase: AlertPhase,
        started: DateTime<Utc>,
        now: DateTime<Utc>,
        track: u64,
        class: &str,
        visits: usize,
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
        a.track_ids = vec![track];
        a.class = Some(class.to_string());
        a.count = (visits > 1).then_some(visits as u32);
        a.measure = Some(a.duration_s);
        a.unit = Some("s".into());
        a
    }
}

impl Rule for Loitering {
    fn update(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        for &id in cx.seen {
            let Some(m) = cx.tracks.get(id) else { continue };
            if !allowed(&self.p.classes, &m.class) {
                continue;
            }
            let inside = self.zone.contains(m.img);
            let stay = self.stays.entry(id).or_default();
            let change = stay.presence.observe(inside, cx.now, self.p.grace_s);
            let window = self.p.window_s;
            stay.visits
                .retain(|t| (cx.now - *t).as_seconds_f64() <= window);
            let class = m.class.clone();
            match change {
                Change::Entered => {
                    stay.visits.push_back(cx.now);
                    let visits = stay.visits.len();
                    if stay.alerted.is_none()
                        && self.p.revisits.is_some_and(|n| visits >= n as usize)
                    {
                        stay.alerted = Some(cx.now);
                        let a = self.make(AlertPhase::Start, cx.now, cx.now, id, &class, visits);
                        out.push(a);
                    }
                }
                Change::Left(_) => {
                    let stay = self.stays.get_mut(&id).expect("present");
                    if let Some(started) = stay.alerted.take() {
                        let visits = stay.visits.len();
                        out.push(self.make(AlertPhase::End, started, cx.now, id, &class, visits));
                    }
                }
                Change::None => {}
            }
            let stay = self.stays.get_mut(&id).expect("present");
            if stay.alerted.is_none()
                && stay.presence.inside()
                && let Some(entered) = stay.presence.entered
                && stay.presence.stay_s() >= self.p.min_s
            {
                stay.alerted = Some(entered);
                let visits = stay.visits.len();
                out.push(self.make(AlertPhase::Start, entered, cx.now, id, &class, visits));
            }
        }
    }

    fn track_ended(&mut self, id: u64, cx: &Ctx, out: &mut Vec<Alert>) {
        if let Some(stay) = self.stays.remove(&id)
            && let Some(started) = stay.alerted
        {
            let class = cx.tracks.get(id).map_or("unknown", |m| m.class.as_str());
            out.push(self.make(
                AlertPhase::End,
                started,
                cx.now,
                id,
                class,
                stay.visits.len(),
            ));
        }
    }

    fn finish(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        let ids: Vec<u64> = self.stays.keys().copied().collect();
        for id in ids {
            self.track_ended(id, cx, out);
        }
    }
}
