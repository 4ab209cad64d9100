//! Illegal parking or stopping: a vehicle that stays within `still_m` of one spot inside a
//! no-stopping zone for longer than `max_stop_s`. One violation per stay: the clock restarts
//! only when the vehicle moves off the spot, and a parked vehicle hidden for a while (a bus
//! passing in front) and found again on the same spot keeps its clock and its violation
//! instead of starting a new one.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{BBox, ViolationContext, ViolationRule};

use super::{BuildCheck, Check, Cx, Env, Hit, allowed, vehicle_classes};
use crate::config::{CamScope, ConfigError, Registration};

use crate::analytics::Zone;
use crate::rules::presence::{Change, Presence};

#[derive(Debug, Clone)]
pub struct ParkingParams {
    pub zone: String,
    pub max_stop_s: f64,
    pub still_m: f64,
    /// How long a stopped vehicle may be out of sight and still be the same stay.
    pub hidden_s: f64,
    pub classes: Vec<String>,
}

/// `kind = "illegal_parking"`: one violation per stay longer than `max_stop_s` in `zone`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    zone: String,
    #[serde(default = "d_stop_s")]
    max_stop_s: f64,
    #[serde(default = "d_still_m")]
    still_m: f64,
    #[serde(default = "d_hidden_s")]
    hidden_s: f64,
    #[serde(default = "vehicle_classes")]
    classes: Vec<String>,
}

fn d_stop_s() -> f64 {
    60.0
}
fn d_still_m() -> f64 {
    1.5
}
fn d_hidden_s() -> f64 {
    60.0
}

pub(super) const REGISTRATION: Registration<Arc<dyn BuildCheck>> = Registration {
    kind: "illegal_parking",
    parse,
};

fn parse(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildCheck>, ConfigError> {
    let r: Raw = cx.deserialize(t)?;
    Ok(Arc::new(ParkingParams {
        zone: cx.zone(&r.zone)?,
        max_stop_s: cx.positive("max_stop_s", r.max_stop_s)?,
        still_m: cx.positive("still_m", r.still_m)?,
        hidden_s: cx.positive("hidden_s", r.hidden_s)?,
        classes: cx.classes("classes", r.classes)?,
    }))
}

impl BuildCheck for ParkingParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Check + Send> {
        Box::new(Parking::new(
            id,
            self.clone(),
            env.zone(&self.zone),
            env.calibration(),
        ))
    }
}

struct Stay {
    presence: Presence,
    spot: [f64; 2],
    /// The box when it stopped: a parked vehicle partly hidden shows a smaller box inside it,
    /// whose bottom-centre moves although the vehicle does not.
    spot_box: BBox,
    still_since: DateTime<Utc>,
    flagged: bool,
    /// Until when this stay may still turn out to continue a hidden one (the first views of a
    /// vehicle coming out from behind another are partial).
    adopt_until: Option<DateTime<Utc>>,
    /// When it entered the zone, and when it was last seen.
    entered: Option<DateTime<Utc>>,
    last: DateTime<Utc>,
}

/// A stopped vehicle the tracker lost: where, since when, and whether it was flagged.
struct Hidden {
    spot: [f64; 2],
    spot_box: BBox,
    still_since: DateTime<Utc>,
    flagged: bool,
    lost: DateTime<Utc>,
    /// When its track was last seen (the tracker ends a lost track seconds later).
    last_seen: DateTime<Utc>,
}

pub struct Parking {
    id: String,
    p: ParkingParams,
    zone: Zone,
    calibration: Option<String>,
    stays: HashMap<u64, Stay>,
    hidden: Vec<Hidden>,
}

/// Seconds after entering during which a stay can be matched to a hidden one.
const ADOPT_S: f64 = 2.0;

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Share of `a`'s area inside `b`.
fn inside_share(a: &BBox, b: &BBox) -> f32 {
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let area = ((a.x2 - a.x1) * (a.y2 - a.y1)).max(1e-3);
    w * h / area
}

fn area(b: &BBox) -> f32 {
    (b.x2 - b.x1).max(0.0) * (b.y2 - b.y1).max(0.0)
}

/// Still at its spot: the anchor has not moved, or the box is a part of the stopped one.
fn still(spot: [f64; 2], spot_box: &BBox, pos: [f64; 2], bbox: &BBox, still_m: f64) -> bool {
    dist(spot, pos) <= still_m || inside_share(bbox, spot_box) >= 0.85
}

impl Parking {
    pub fn new(id: String, p: ParkingParams, zone: Zone, calibration: Option<String>) -> Self {
        Self {
            id,
            p,
            zone,
            calibration,
            stays: HashMap::new(),
            hidden: Vec::new(),
        }
    }
}

impl Check for Parking {
    fn update(&mut self, cx: &Cx, out: &mut Vec<Hit>) {
        let hidden_s = self.p.hidden_s;
        self.hidden
            .retain(|h| (cx.now - h.lost).as_seconds_f64() <= hidden_s);
        for &id in cx.seen {
            let Some(m) = cx.tracks.get(id) else { continue };
            if !allowed(&self.p.classes, &m.class) {
                continue;
            }
            let s = self.stays.entry(id).or_insert_with(|| Stay {
                presence: Presence::default(),
                spot: m.pos,
                spot_box: m.bbox,
                still_since: cx.now,
                flagged: false,
                adopt_until: None,
                entered: None,
                last: cx.now,
            });
            s.last = cx.now;
            match s.presence.observe(self.zone.contains(m.img), cx.now, 1.5) {
                Change::Left(_) => {
                    s.flagged = false;
                    continue;
                }
                Change::Entered => {
                    s.spot = m.pos;
                    s.spot_box = m.bbox;
                    s.still_since = cx.now;
                    s.adopt_until = Some(cx.now + super::secs(ADOPT_S));
                    s.entered = Some(cx.now);
                }
                Change::None => {}
            }
            // The same vehicle found again where a stopped one was lost.
            if s.adopt_until.is_some_and(|t| cx.now <= t)
                && let Some(i) = self.hidden.iter().position(|h| {
                    // Not the class: detectors call one vehicle a car in one frame and a
                    // truck in the next.
                    still(h.spot, &h.spot_box, m.pos, &m.bbox, self.p.still_m)
                })
            {
                let h = self.hidden.swap_remove(i);
                s.spot = h.spot;
                s.spot_box = h.spot_box;
                s.still_since = h.still_since;
                s.flagged = h.flagged;
                s.adopt_until = None;
            }
            if !s.presence.inside() {
                continue;
            }
            if !still(s.spot, &s.spot_box, m.pos, &m.bbox, self.p.still_m) {
                // A moving vehicle keeps its size; a box much smaller or larger than the stopped
                // one is the vehicle partly hidden (or merged with what passes in front).
                let ratio = area(&m.bbox) / area(&s.spot_box).max(1.0);
                if !(0.75..=1.33).contains(&ratio) {
                    continue;
                }
                s.spot = m.pos;
                s.spot_box = m.bbox;
                s.still_since = cx.now;
                s.flagged = false;
                continue;
            }
            let still = (cx.now - s.still_since).as_seconds_f64();
            if s.flagged || still < self.p.max_stop_s {
                continue;
            }
            s.flagged = true;
            out.push(Hit {
                rule: ViolationRule::IllegalParking,
                rule_id: self.id.clone(),
                track: m.last_id,
                class: m.class.clone(),
                at: cx.now,
                zone: Some(self.zone.id.clone()),
                line: None,
                context: ViolationContext {
                    dwell_s: Some(still as f32),
                    calibration: self.calibration.clone(),
                    ..ViolationContext::default()
                },
                moments: [s.still_since, cx.now],
                color: None,
            });
        }
    }

    fn track_ended(&mut self, id: u64, now: DateTime<Utc>) {
        let Some(s) = self.stays.remove(&id).filter(|s| s.presence.inside()) else {
            return;
        };
        let h = Hidden {
            spot: s.spot,
            spot_box: s.spot_box,
            still_since: s.still_since,
            flagged: s.flagged,
            lost: now,
            last_seen: s.last,
        };
        // The tracker ends a lost track only seconds after it was last seen (longer when its
        // box was moving, as a parked vehicle's does while a bus cuts it): the vehicle may
        // already be back under a new id, standing still at the same spot since it came
        // after the old one was last seen. It continues the stay.
        let back = self.stays.values_mut().find(|n| {
            n.entered
                .is_some_and(|e| e >= h.last_seen && n.still_since == e)
                && !n.flagged
                && still(h.spot, &h.spot_box, n.spot, &n.spot_box, self.p.still_m)
        });
        match back {
            Some(n) => {
                n.spot = h.spot;
                n.spot_box = h.spot_box;
                n.still_since = h.still_since;
                n.flagged = h.flagged;
                n.adopt_until = None;
            }
            None => self.hidden.push(h),
        }
    }
}
