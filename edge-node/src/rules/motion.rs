//! Running (one person faster than `speed_mps` for `min_s`) and sudden dispersal (at least
//! `min_people` moving faster than `speed_mps`, each away from the point the group was around
//! `window_s` ago).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{Alert, AlertPhase};

use super::{BuildRule, Ctx, Env, Rule, alert, allowed, defaults};
use crate::analytics::Zone;
use crate::config::{CamScope, ConfigError, Registration};

/// Speeds are measured over this window: long enough to average out box jitter, short enough
/// to catch a sprint.
const SPEED_WINDOW_S: f64 = 1.0;

#[derive(Debug, Clone)]
pub struct RunningParams {
    pub zone: Option<String>,
    pub speed_mps: f64,
    pub min_s: f64,
    pub classes: Vec<String>,
}

/// `kind = "running"`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunning {
    #[serde(default)]
    zone: Option<String>,
    #[serde(default = "d_run_mps")]
    speed_mps: f64,
    #[serde(default = "d_run_s")]
    min_s: f64,
    #[serde(default = "defaults::people")]
    classes: Vec<String>,
}

fn d_run_mps() -> f64 {
    3.0
}
fn d_run_s() -> f64 {
    1.0
}

const RUNNING_KIND: &str = "running";

pub(super) const RUNNING: Registration<Arc<dyn BuildRule>> = Registration {
    kind: RUNNING_KIND,
    parse: parse_running,
};

fn parse_running(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildRule>, ConfigError> {
    let r: RawRunning = cx.deserialize(t)?;
    Ok(Arc::new(RunningParams {
        zone: cx.opt_zone(r.zone)?,
        speed_mps: cx.positive("speed_mps", r.speed_mps)?,
        min_s: cx.positive("min_s", r.min_s)?,
        classes: cx.classes("classes", r.classes)?,
    }))
}

impl BuildRule for RunningParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Rule + Send> {
        Box::new(Running::new(
            id,
            self.clone(),
            env.opt_zone(&self.zone),
            env.calibrated(),
        ))
    }
}

#[derive(Default)]
struct Runner {
    fast_since: Option<DateTime<Utc>>,
    slow_since: Option<DateTime<Utc>>,
    /// Start and peak speed of the open episode.
    alerted: Option<(DateTime<Utc>, f64)>,
}

pub struct Running {
    id: String,
    p: RunningParams,
    zone: Option<Zone>,
    calibrated: bool,
    runners: HashMap<u64, Runner>,
}

impl Running {
    pub fn new(id: String, p: RunningParams, zone: Option<Zone>, calibrated: bool) -> Self {
        Self {
            id,
            p,
            zone,
            calibrated,
            runners: HashMap::new(),
        }
    }

    fn make(
        &self,
        phase: AlertPhase,
        started: DateTime<Utc>,
        now: DateTime<Utc>,
        id: u64,
        class: &str,
        peak: f64,
    ) -> Alert {
        let mut a = alert(
            RUNNING_KIND,
            &self.id,
            phase,
            started,
            now,
            self.zone.as_ref(),
            self.calibrated,
        );
        a.track_ids = vec![id];
        a.class = Some(class.into());
        a.measure = Some(peak as f32);
        a.unit = Some("m/s".into());
        a
    }
}

impl Rule for Running {
    fn update(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        for &id in cx.seen {
            let Some(m) = cx.tracks.get(id) else { continue };
            if !allowed(&self.p.classes, &m.class)
                || self.zone.as_ref().is_some_and(|z| !z.contains(m.img))
            {
                continue;
            }
            let Some(v) = cx.tracks.speed(id, SPEED_WINDOW_S) else {
                continue;
            };
            let class = m.class.clone();
            let r = self.runners.entry(id).or_default();
            if v > self.p.speed_mps {
                r.slow_since = None;
                let since = *r.fast_since.get_or_insert(cx.now);
                match &mut r.alerted {
                    Some((_, peak)) => *peak = peak.max(v),
                    None if (cx.now - since).as_seconds_f64() >= self.p.min_s => {
                        r.alerted = Some((since, v));
                        let a = self.make(AlertPhase::Start, since, cx.now, id, &class, v);
                        out.push(a);
                    }
                    None => {}
                }
            } else {
                r.fast_since = None;
                // Below 80 % of the limit for a second ends it: a runner easing off for a
                // step is still the same episode.
                if r.alerted.is_some() && v < 0.8 * self.p.speed_mps {
                    let since = *r.slow_since.get_or_insert(cx.now);
                    if (cx.now - since).as_seconds_f64() >= 1.0 {
                        let (started, peak) = r.alerted.take().expect("alerted");
                        r.slow_since = None;
                        let a = self.make(AlertPhase::End, started, cx.now, id, &class, peak);
                        out.push(a);
                    }
                }
            }
        }
    }

    fn track_ended(&mut self, id: u64, cx: &Ctx, out: &mut Vec<Alert>) {
        if let Some(r) = self.runners.remove(&id)
            && let Some((started, peak)) = r.alerted
        {
            let class = cx.tracks.get(id).map_or("person", |m| m.class.as_str());
            out.push(self.make(AlertPhase::End, started, cx.now, id, class, peak));
        }
    }

    fn finish(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        let ids: Vec<u64> = self.runners.keys().copied().collect();
        for id in ids {
            self.track_ended(id, cx, out);
        }
    }
}

#[derive(Debug, Clone)]
pub struct DispersalParams {
    pub zone: Option<String>,
    pub min_people: u32,
    pub speed_mps: f64,
    pub window_s: f64,
    pub classes: Vec<String>,
}

/// `kind = "dispersal"`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDispersal {
    #[serde(default)]
    zone: Option<String>,
    #[serde(default = "d_disperse_n")]
    min_people: u32,
    #[serde(default = "d_disperse_mps")]
    speed_mps: f64,
    #[serde(default = "d_disperse_s")]
    window_s: f64,
    #[serde(default = "defaults::people")]
    classes: Vec<String>,
}

fn d_disperse_n() -> u32 {
    4
}
fn d_disperse_mps() -> f64 {
    2.0
}
fn d_disperse_s() -> f64 {
    2.0
}

const DISPERSAL_KIND: &str = "dispersal";

pub(super) const DISPERSAL: Registration<Arc<dyn BuildRule>> = Registration {
    kind: DISPERSAL_KIND,
    parse: parse_dispersal,
};

fn parse_dispersal(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildRule>, ConfigError> {
    let r: RawDispersal = cx.deserialize(t)?;
    if r.min_people < 2 {
        return Err(cx.err("min_people", "must be at least 2"));
    }
    Ok(Arc::new(DispersalParams {
        zone: cx.opt_zone(r.zone)?,
        min_people: r.min_people,
        speed_mps: cx.positive("speed_mps", r.speed_mps)?,
        window_s: cx.positive("window_s", r.window_s)?,
        classes: cx.classes("classes", r.classes)?,
    }))
}

impl BuildRule for DispersalParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Rule + Send> {
        Box::new(Dispersal::new(
            id,
            self.clone(),
            env.opt_zone(&self.zone),
            env.calibrated(),
        ))
    }
}

pub struct Dispersal {
    id: String,
    p: DispersalParams,
    zone: Option<Zone>,
    calibrated: bool,
    quiet_since: Option<DateTime<Utc>>,
    active: Option<(DateTime<Utc>, Vec<u64>)>,
}

impl Dispersal {
    pub fn new(id: String, p: DispersalParams, zone: Option<Zone>, calibrated: bool) -> Self {
        Self {
            id,
            p,
            zone,
            calibrated,
            quiet_since: None,
            active: None,
        }
    }

    fn make(
        &self,
        phase: AlertPhase,
        started: DateTime<Utc>,
        now: DateTime<Utc>,
        ids: &[u64],
    ) -> Alert {
        let mut a = alert(
            DISPERSAL_KIND,
            &self.id,
            phase,
            started,
            now,
            self.zone.as_ref(),
            self.calibrated,
        );
        a.track_ids = ids.to_vec();
        a.count = Some(ids.len() as u32);
        a.class = Some("person".into());
        a
    }

    /// Tracks moving fast (over the last second) and away from the group's centre of
    /// `window_s` ago.
    fn fleeing(&self, cx: &Ctx) -> Vec<u64> {
        let movers: Vec<(u64, [f64; 2], [f64; 2])> = cx
            .tracks
            .recent(cx.now, 0.5)
            .filter(|(_, m)| {
                allowed(&self.p.classes, &m.class)
                    && self.zone.as_ref().is_none_or(|z| z.contains(m.img))
            })
            .filter_map(|(id, _)| {
                let v = cx.tracks.speed(id, SPEED_WINDOW_S)?;
                let (a, b, _) = cx.tracks.displacement(id, self.p.window_s)?;
                (v > self.p.speed_mps).then_some((id, a, b))
            })
            .collect();
        if movers.len() < self.p.min_people as usize {
            return Vec::new();
        }
        let n = movers.len() as f64;
        let c = [
            movers.iter().map(|m| m.1[0]).sum::<f64>() / n,
            movers.iter().map(|m| m.1[1]).sum::<f64>() / n,
        ];
        movers
            .into_iter()
            .filter(|(_, a, b)| {
                let out = [a[0] - c[0], a[1] - c[1]];
                let mv = [b[0] - a[0], b[1] - a[1]];
                let (lo, lm) = (out[0].hypot(out[1]), mv[0].hypot(mv[1]));
                // Someone standing right at the centre has no "away"; any fast move counts.
                lo < 0.3 || (out[0] * mv[0] + out[1] * mv[1]) / (lo * lm).max(1e-9) > 0.5
            })
            .map(|(id, _, _)| id)
            .collect()
    }
}

impl Rule for Dispersal {
    fn update(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        let fleeing = self.fleeing(cx);
        if fleeing.len() >= self.p.min_people as usize {
            self.quiet_since = None;
            if self.active.is_none() {
                let started = cx.now;
                out.push(self.make(AlertPhase::Start, started, cx.now, &fleeing));
                self.active = Some((started, fleeing));
            }
        } else if self.active.is_some() {
            let since = *self.quiet_since.get_or_insert(cx.now);
            if (cx.now - since).as_seconds_f64() >= self.p.window_s {
                let (started, ids) = self.active.take().expect("active");
                out.push(self.make(AlertPhase::End, started, cx.now, &ids));
                self.quiet_since = None;
            }
        }
    }

    fn track_ended(&mut self, _id: u64, _cx: &Ctx, _out: &mut Vec<Alert>) {}

    fn finish(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        if let Some((started, ids)) = self.active.take() {
            out.push(self.make(AlertPhase::End, started, cx.now, &ids));
        }
    }
}
