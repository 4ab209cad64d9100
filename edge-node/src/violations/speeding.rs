//! Speeding: ground speed through the camera's homography, measured over `window_s` and
//! smoothed (the median of the last measurements, so one jumpy box cannot make a speeder),
//! above `limit_kmh + tolerance_kmh` for at least `min_s`. One violation per track, carrying
//! the highest smoothed speed seen up to the moment it is raised.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{ViolationContext, ViolationRule};

use super::{BuildCheck, Check, Cx, Env, Hit, allowed, vehicle_classes};
use crate::config::{CamScope, ConfigError, Registration};

use crate::analytics::Zone;
use crate::rules::{Cut, Motion};

#[derive(Debug, Clone)]
pub struct SpeedingParams {
    pub zone: Option<String>,
    pub limit_kmh: f64,
    pub tolerance_kmh: f64,
    pub window_s: f64,
    pub min_s: f64,
    pub classes: Vec<String>,
}

/// `kind = "speeding"`; needs `[cameras.ground]`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    zone: Option<String>,
    limit_kmh: f64,
    #[serde(default = "d_tolerance")]
    tolerance_kmh: f64,
    #[serde(default = "d_window_s")]
    window_s: f64,
    #[serde(default = "d_over_s")]
    min_s: f64,
    #[serde(default = "vehicle_classes")]
    classes: Vec<String>,
}

fn d_tolerance() -> f64 {
    5.0
}
fn d_window_s() -> f64 {
    1.0
}
fn d_over_s() -> f64 {
    0.5
}

pub(super) const REGISTRATION: Registration<Arc<dyn BuildCheck>> = Registration {
    kind: "speeding",
    parse,
};

fn parse(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildCheck>, ConfigError> {
    let r: Raw = cx.deserialize(t)?;
    if !cx.known.calibrated {
        return Err(cx.err(
            "",
            "speeding needs a ground-plane calibration ([cameras.ground]): without one, speeds are guesses and cannot support a fine",
        ));
    }
    if !(r.tolerance_kmh.is_finite() && r.tolerance_kmh >= 0.0) {
        return Err(cx.err("tolerance_kmh", "must be 0 or more"));
    }
    Ok(Arc::new(SpeedingParams {
        zone: cx.opt_zone(r.zone)?,
        limit_kmh: cx.positive("limit_kmh", r.limit_kmh)?,
        tolerance_kmh: r.tolerance_kmh,
        window_s: cx.positive("window_s", r.window_s)?,
        min_s: cx.positive("min_s", r.min_s)?,
        classes: cx.classes("classes", r.classes)?,
    }))
}

impl BuildCheck for SpeedingParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Check + Send> {
        let calibration = env
            .calibration()
            .expect("validated: speeding needs a ground plane");
        let zone = self.zone.as_deref().map(|z| env.zone(z));
        Box::new(Speeding::new(id, self.clone(), zone, calibration))
    }
}

/// Measurements the median is taken over.
const SMOOTH_N: usize = 5;

#[derive(Default)]
struct Run {
    recent: VecDeque<f64>,
    over_since: Option<DateTime<Utc>>,
    peak: f64,
    flagged: bool,
    /// The box's left and right edges at the last sighting (pixels), and when.
    last_x: Option<(f64, f64, DateTime<Utc>)>,
    /// After the box jumped, no speed is taken until the window no longer spans the jump.
    settle_until: Option<DateTime<Utc>>,
}

/// The most the whole vehicle's velocity may change in one sighting (m/s) before the box is
/// taken to have jumped. Braking hard changes it by under 2 m/s in a fifth of a second and box
/// jitter by a few; measured: a standing bus boxed now with the road beside it, now without,
/// stepped by 30-100 m/s and made a 22 km/h motorbike hidden behind it a 60 km/h "speeder".
const MAX_JOLT_MPS: f64 = 15.0;
/// Sightings further apart than this (seconds; two missed at 5 detections/s) are not compared
/// box to box.
const MAX_STEP_S: f64 = 0.45;

pub struct Speeding {
    id: String,
    p: SpeedingParams,
    zone: Option<Zone>,
    calibration: String,
    runs: HashMap<u64, Run>,
}

impl Speeding {
    pub fn new(id: String, p: SpeedingParams, zone: Option<Zone>, calibration: String) -> Self {
        Self {
            id,
            p,
            zone,
            calibration,
            runs: HashMap::new(),
        }
    }
}

fn median(v: &VecDeque<f64>) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().collect();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// Whether the box changed width in one sighting by more than the vehicle can: its centre then
/// jumps, and the run starts again. Uncut, a box that grows or shrinks by more than 8 % is the
/// detector merging it with a neighbour or breathing (measured: a motorbike and a standing bus
/// boxed as one made a 60 km/h "speeder"). With one end hidden, the hidden end's edge stands
/// at what hides it and the width changes by what the free edge moved, a whole fifth of a
/// truck per sighting at 60 km/h and 10 detections/s (more at 5): only the change beyond that
/// counts, as a share of the vehicle's full width, 20 % allowed (a bus driving on as it hides
/// the vehicle moves the hidden edge too). Before, the change was taken as a share of the cut
/// box, which a fast truck's shrinking sliver exceeds at every sighting: its speeding behind a
/// bus was never judged.
fn box_jumped(m: &Motion, (p1, p2): (f64, f64), (x1, x2): (f64, f64)) -> bool {
    let (was, w) = (p2 - p1, x2 - x1);
    match m.cut() {
        None => (w - was).abs() / was.max(1.0) > 0.08,
        Some(end) => {
            let free = match end {
                Cut::Right => (x1 - p1).abs(),
                Cut::Left => (x2 - p2).abs(),
            };
            let full = m.full_width().unwrap_or(w.max(was));
            ((w - was).abs() - free).max(0.0) / full.max(1.0) > 0.2
        }
    }
}

impl Check for Speeding {
    fn update(&mut self, cx: &Cx, out: &mut Vec<Hit>) {
        let threshold = self.p.limit_kmh + self.p.tolerance_kmh;
        for &id in cx.seen {
            let Some(m) = cx.tracks.get(id) else { continue };
            if !allowed(&self.p.classes, &m.class)
                || self.zone.as_ref().is_some_and(|z| !z.contains(m.img))
            {
                continue;
            }
            let r = self.runs.entry(id).or_default();
            // A box cut by the frame's edge moves its anchor without the vehicle moving (its
            // full width is not known yet): no measurement from those. A box cut by something
            // in front is measured: the track's ground position is then the whole vehicle's
            // (`rules::tracks`), and dropping those left a fast vehicle passing behind a bus
            // with too few measurements to judge.
            let frame_w = if m.img[0] > 0.0 {
                m.px[0] / m.img[0]
            } else {
                f64::MAX
            };
            if m.bbox.x1 <= 2.0 || m.bbox.x2 as f64 >= frame_w - 2.0 {
                continue;
            }
            let x = (m.bbox.x1 as f64, m.bbox.x2 as f64);
            // Only boxes a sighting or two apart are compared: one seen again after it was
            // hidden is cut the other way, and the whole vehicle's position spans the gap
            // (measured: a 59 km/h truck hidden 0.6 s restarted its run on coming out and was
            // left with three measurements either side, too few to judge).
            let resized = r.last_x.is_some_and(|(p1, p2, t)| {
                (cx.now - t).as_seconds_f64() <= MAX_STEP_S && box_jumped(m, (p1, p2), x)
            });
            let jolted = m.jolt().is_some_and(|j| j > MAX_JOLT_MPS);
            r.last_x = Some((x.0, x.1, cx.now));
            if resized || jolted {
                tracing::trace!(id, jolt = ?m.jolt(), bbox = ?m.bbox, "box jumped");
                // The speed is taken over a window: one spanning a jolt is as wrong as the
                // jolt itself. (A resized box moves its centre by a fraction of the width
                // change, which the median of the next measurements outvotes: waiting out the
                // window there left a truck about to hide with one measurement.)
                if jolted {
                    let window = chrono::Duration::milliseconds((self.p.window_s * 1e3) as i64);
                    r.settle_until = Some(cx.now + window);
                }
                r.recent.clear();
                r.over_since = None;
                continue;
            }
            if r.settle_until.is_some_and(|t| cx.now < t) {
                continue;
            }
            let Some(mps) = cx.tracks.speed(id, self.p.window_s) else {
                continue;
            };
            tracing::trace!(id, kmh = mps * 3.6, cut = m.is_cut(), jolt = ?m.jolt(), bbox = ?m.bbox, "speed");
            r.recent.push_back(mps * 3.6);
            if r.recent.len() > SMOOTH_N {
                r.recent.pop_front();
            }
            if r.flagged || r.recent.len() < SMOOTH_N.min(3) {
                continue;
            }
            let kmh = median(&r.recent);
            if kmh <= threshold {
                r.over_since = None;
                r.peak = 0.0;
                continue;
            }
            r.peak = r.peak.max(kmh);
            let since = *r.over_since.get_or_insert(cx.now);
            if (cx.now - since).as_seconds_f64() < self.p.min_s {
                continue;
            }
            r.flagged = true;
            out.push(Hit {
                rule: ViolationRule::Speeding,
                rule_id: self.id.clone(),
                track: m.last_id,
                class: m.class.clone(),
                at: cx.now,
                zone: self.zone.as_ref().map(|z| z.id.clone()),
                line: None,
                context: ViolationContext {
                    speed_kmh: Some(r.peak as f32),
                    limit_kmh: Some(self.p.limit_kmh as f32),
                    tolerance_kmh: Some(self.p.tolerance_kmh as f32),
                    calibration: Some(self.calibration.clone()),
                    ..ViolationContext::default()
                },
                moments: [since, cx.now],
                color: None,
            });
        }
    }

    fn track_ended(&mut self, id: u64, _now: DateTime<Utc>) {
        self.runs.remove(&id);
    }
}
