//! Feeds a junction's controller from the cameras: stop-line crossings from the analytics,
//! stopped vehicles in queue zones from each frame's tracks, green starts from the fixed plan
//! in force, and an interval tick that yields the recommendation and any congestion warnings.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use matthan_schema::{Body, Crossing, PhaseDecision};

use super::Controller;
use crate::analytics::Zone;

/// Asia/Ho_Chi_Minh is UTC+7 all year (no daylight saving since 1975).
const LOCAL_OFFSET_S: f64 = 7.0 * 3600.0;
const VEHICLES: [&str; 5] = ["car", "motorcycle", "bus", "truck", "bicycle"];

/// One vehicle as a frame saw it: track id, class, bottom-centre (normalised), box height
/// (normalised).
pub struct Sighting<'a> {
    pub id: u64,
    pub class: &'a str,
    pub anchor: [f64; 2],
    pub height: f64,
}

pub struct JunctionFeed {
    pub controller: Controller,
    /// Per (camera, track): where it was at the start of the current one-second window.
    still: HashMap<(String, u64), ([f64; 2], f64, bool)>,
    green: Option<usize>,
    started: bool,
    /// The junction's controller asks for its greens (live control): it says when each starts.
    pub(super) live: bool,
    /// Greens decided for the controller since the last recommendation.
    pub(super) decisions: Vec<PhaseDecision>,
}

/// Decisions kept for one recommendation; a controller asking more often than this per interval
/// is misbehaving, and the oldest are dropped from the record (never from the answers).
const MAX_DECISIONS: usize = 200;

fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

impl JunctionFeed {
    pub fn new(controller: Controller) -> Self {
        Self {
            controller,
            still: HashMap::new(),
            green: None,
            started: false,
            live: false,
            decisions: Vec::new(),
        }
    }

    pub fn on_crossing(&mut self, camera: &str, c: &Crossing, at: DateTime<Utc>) {
        if !VEHICLES.contains(&c.class.as_str()) {
            return;
        }
        let hits: Vec<usize> = self
            .controller
            .junction
            .approaches
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.camera == camera
                    && a.line == c.line
                    && a.direction.is_none_or(|d| d == c.direction)
            })
            .map(|(i, _)| i)
            .collect();
        for i in hits {
            self.controller.crossing(i, secs(at), &c.class);
        }
    }

    /// A frame from `camera`: which vehicles are stopped in each queue zone of this camera.
    pub fn on_frame(&mut self, camera: &str, zones: &[Zone], seen: &[Sighting], at: DateTime<Utc>) {
        let t = secs(at);
        // A vehicle is stopped when over the last second it moved less than a quarter of its
        // own height (scale-free, so it holds near and far from the camera).
        let mut stopped: HashMap<u64, bool> = HashMap::new();
        for s in seen {
            let e = self
                .still
                .entry((camera.to_string(), s.id))
                .or_insert((s.anchor, t, false));
            if t - e.1 >= 1.0 {
                let moved = (s.anchor[0] - e.0[0]).hypot(s.anchor[1] - e.0[1]);
                *e = (s.anchor, t, moved < 0.25 * s.height.max(1e-3));
            }
            stopped.insert(s.id, e.2);
        }
        self.still
            .retain(|(c, id), v| c != camera || stopped.contains_key(id) || t - v.1 < 5.0);
        let approaches: Vec<(usize, String)> = self
            .controller
            .junction
            .approaches
            .iter()
            .enumerate()
            .filter(|(_, a)| a.camera == camera)
            .filter_map(|(i, a)| a.queue_zone.clone().map(|z| (i, z)))
            .collect();
        for (i, zone_id) in approaches {
            let Some(zone) = zones.iter().find(|z| z.id == zone_id) else {
                continue;
            };
            let classes: Vec<&str> = seen
                .iter()
                .filter(|s| VEHICLES.contains(&s.class) && zone.contains(s.anchor))
                .filter(|s| stopped.get(&s.id).copied().unwrap_or(false))
                .map(|s| s.class)
                .collect();
            self.controller.queue(i, t, &classes);
        }
    }

    /// A green decided for the controller, for the next recommendation's record.
    pub(super) fn record(&mut self, d: PhaseDecision) {
        if self.decisions.len() >= MAX_DECISIONS {
            self.decisions.remove(0);
        }
        self.decisions.push(d);
    }

    /// Time passed: green starts of the fixed plan (unless the controller reports them), and,
    /// every interval, the recommendation and warnings as event bodies.
    pub fn on_time(&mut self, at: DateTime<Utc>) -> Vec<Body> {
        let t = secs(at);
        if !self.started {
            self.started = true;
            self.controller.start_at(t);
        }
        let local = t + LOCAL_OFFSET_S;
        if !self.live
            && let Some((p, since)) = self
                .controller
                .junction
                .plan_green_at(local.rem_euclid(86400.0))
            && self.green != Some(p)
        {
            self.green = Some(p);
            let started = t - (local.rem_euclid(86400.0) - since);
            self.controller.green(p, started);
        }
        let adaptive = self.controller.junction.adaptive;
        match self.controller.tick(t, at, adaptive, LOCAL_OFFSET_S) {
            None => Vec::new(),
            Some((mut rec, warnings)) => {
                rec.decisions = std::mem::take(&mut self.decisions);
                std::iter::once(Body::SignalRecommendation(rec))
                    .chain(warnings.into_iter().map(Body::CongestionWarning))
                    .collect()
            }
        }
    }
}
