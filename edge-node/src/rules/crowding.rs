//! Crowding: more people in a zone than `max_people` (or, with a calibration, more than
//! `max_density` per m²) for `min_s`; the episode ends once it has stayed at or below the limit
//! for `clear_s`. A crowd hovering around the limit is one episode, not many.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{Alert, AlertPhase};

use super::ground::GroundPlane;
use super::{BuildRule, Ctx, Env, Rule, alert, allowed, defaults};
use crate::analytics::Zone;
use crate::config::{CamScope, ConfigError, Registration};

/// A track counts as present for this long after its last detection: one missed frame must
/// not thin the crowd.
const PRESENT_S: f64 = 1.0;

#[derive(Debug, Clone)]
pub struct CrowdingParams {
    pub zone: String,
    pub max_people: Option<u32>,
    pub max_density: Option<f64>,
    pub min_s: f64,
    pub clear_s: f64,
    pub classes: Vec<String>,
}

/// `kind = "crowding"`: give `max_people`, or `max_density` (needs `[cameras.ground]`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    zone: String,
    #[serde(default)]
    max_people: Option<u32>,
    #[serde(default)]
    max_density: Option<f64>,
    #[serde(default = "d_min_s")]
    min_s: f64,
    #[serde(default)]
    clear_s: Option<f64>,
    #[serde(default = "defaults::people")]
    classes: Vec<String>,
}

fn d_min_s() -> f64 {
    10.0
}

const KIND: &str = "crowding";

pub(super) const REGISTRATION: Registration<Arc<dyn BuildRule>> =
    Registration { kind: KIND, parse };

fn parse(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildRule>, ConfigError> {
    let r: Raw = cx.deserialize(t)?;
    match (r.max_people, r.max_density) {
        (None, None) => {
            return Err(cx.err(
                "",
                "give max_people, or max_density (people per m², needs [cameras.ground])",
            ));
        }
        (_, Some(_)) if !cx.known.calibrated => {
            return Err(cx.err(
                "max_density",
                "needs a ground-plane calibration ([cameras.ground]) to know the zone's area",
            ));
        }
        (_, Some(d)) => {
            cx.positive("max_density", d)?;
        }
        _ => {}
    }
    Ok(Arc::new(CrowdingParams {
        zone: cx.zone(&r.zone)?,
        max_people: r.max_people,
        max_density: r.max_density,
        min_s: cx.positive("min_s", r.min_s)?,
        clear_s: cx.positive("clear_s", r.clear_s.unwrap_or(r.min_s))?,
        classes: cx.classes("classes", r.classes)?,
    }))
}

impl BuildRule for CrowdingParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Rule + Send> {
        Box::new(Crowding::new(
            id,
            self.clone(),
            env.zone(&self.zone),
            env.ground,
        ))
    }
}

pub struct Crowding {
    id: String,
    p: CrowdingParams,
    zone: Zone,
    area_m2: Option<f64>,
    above_since: Option<DateTime<Utc>>,
    below_since: Option<DateTime<Utc>>,
    /// Start and peak count of the open episode.
    active: Option<(DateTime<Utc>, u32, Vec<u64>)>,
}

impl Crowding {
    pub fn new(id: String, p: CrowdingParams, zone: Zone, ground: Option<&GroundPlane>) -> Self {
        let area_m2 = ground.and_then(|g| g.area(zone.polygon()));
        Self {
            id,
            p,
            zone,
            area_m2,
            above_since: None,
            below_since: None,
            active: None,
        }
    }

    fn make(
        &self,
        phase: AlertPhase,
        started: DateTime<Utc>,
        now: DateTime<Utc>,
        peak: u32,
        ids: &[u64],
    ) -> Alert {
        let mut a = alert(
            KIND,
            &self.id,
            phase,
            started,
            now,
            Some(&self.zone),
            self.area_m2.is_some(),
        );
        a.count = Some(peak);
        a.track_ids = ids.to_vec();
        a.class = Some("person".into());
        match (self.p.max_density, self.area_m2) {
            (Some(_), Some(area)) => {
                a.measure = Some((peak as f64 / area) as f32);
                a.unit = Some("people/m2".into());
            }
            _ => {
                a.measure = Some(peak as f32);
                a.unit = Some("people".into());
            }
        }
        a
    }

    fn over(&self, n: u32) -> bool {
        match (self.p.max_density, self.area_m2, self.p.max_people) {
            (Some(d), Some(area), _) => n as f64 / area > d,
            (_, _, Some(max)) => n > max,
            _ => false,
        }
    }
}

impl Rule for Crowding {
    fn update(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        let inside: Vec<u64> = cx
            .tracks
            .recent(cx.now, PRESENT_S)
            .filter(|(_, m)| allowed(&self.p.classes, &m.class) && self.zone.contains(m.img))
            .map(|(id, _)| id)
            .collect();
        let n = inside.len() as u32;
        if self.over(n) {
            self.below_since = None;
            let since = *self.above_since.get_or_insert(cx.now);
            match &mut self.active {
                Some((_, peak, ids)) if n > *peak => {
                    *peak = n;
                    *ids = inside;
                }
                Some(_) => {}
                None if (cx.now - since).as_seconds_f64() >= self.p.min_s => {
                    let a = self.make(AlertPhase::Start, since, cx.now, n, &inside);
                    out.push(a);
                    self.active = Some((since, n, inside));
                }
                None => {}
            }
        } else {
            self.above_since = None;
            if self.active.is_some() {
                let since = *self.below_since.get_or_insert(cx.now);
                if (cx.now - since).as_seconds_f64() >= self.p.clear_s {
                    let (started, peak, ids) = self.active.take().expect("active");
                    out.push(self.make(AlertPhase::End, started, cx.now, peak, &ids));
                    self.below_since = None;
                }
            }
        }
    }

    fn track_ended(&mut self, _id: u64, _cx: &Ctx, _out: &mut Vec<Alert>) {}

    fn finish(&mut self, cx: &Ctx, out: &mut Vec<Alert>) {
        if let Some((started, peak, ids)) = self.active.take() {
            out.push(self.make(AlertPhase::End, started, cx.now, peak, &ids));
        }
        self.above_since = None;
        self.below_since = None;
    }
}
