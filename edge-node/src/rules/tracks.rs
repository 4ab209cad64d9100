//! Where each track is, in the image and in metres, and where it was over the last seconds:
//! the motion every rule reads (speed, displacement, distance between tracks).

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};

use super::ground::{GroundPlane, typical_height_m};
use crate::track::TrackSnapshot;

/// Seconds of position history kept per track: enough for every rule's window.
const HISTORY_S: f64 = 6.0;
/// A new track that appears where a lost one of the same class was, within this long, is taken
/// to be the same object: detectors drop a person for a few frames and the tracker starts a new
/// id, which would restart every stay and dwell clock.
const RELINK_S: f64 = 4.0;
/// How far from the lost track's last position (metres, plus 1.5 m per second lost) the new one
/// may appear.
const RELINK_M: f64 = 1.5;

#[derive(Debug, Clone)]
pub struct Motion {
    pub class: String,
    /// Bottom-centre of the box, normalised.
    pub img: [f64; 2],
    /// The same point in pixels.
    pub px: [f64; 2],
    /// The box in pixels, as last seen.
    pub bbox: matthan_schema::BBox,
    /// Metres per pixel at the track (uncalibrated estimate, smoothed).
    pub scale: f64,
    /// Ground position in metres (calibrated, or pixels × scale).
    pub pos: [f64; 2],
    pub last_seen: DateTime<Utc>,
    /// The tracker id that sighted it last (a root may span several tracker ids).
    pub last_id: u64,
    pub history: VecDeque<(DateTime<Utc>, [f64; 2])>,
    /// Ground positions of the whole vehicle over the last seconds (see `whole_centre`), for
    /// its speed; the rest of the rules judge the box they see.
    whole: VecDeque<(DateTime<Utc>, [f64; 2])>,
    /// The widest uncut box of a vehicle, with its height (pixels).
    widest: (f64, f64),
    /// Which end of the vehicle is hidden while its box is cut (see `whole_centre`).
    cut: Option<Cut>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cut {
    /// The right-hand end (x2's side) is hidden.
    Right,
    Left,
}

impl Motion {
    /// Whether part of the vehicle is hidden now (its box is narrower than the vehicle, one
    /// end behind something or beyond the frame's edge; see `whole_centre`).
    pub fn is_cut(&self) -> bool {
        self.cut.is_some()
    }

    /// Which end is hidden while the box is cut.
    pub fn cut(&self) -> Option<Cut> {
        self.cut
    }

    /// The vehicle's full width at its current distance (the widest uncut box, scaled by the
    /// box's height); none before it was seen whole.
    pub fn full_width(&self) -> Option<f64> {
        let (ww, wh) = self.widest;
        (wh > 0.0).then(|| ww * (self.bbox.y2 - self.bbox.y1) as f64 / wh)
    }

    /// How much the whole vehicle's velocity changed over its last sighting (m/s): the step
    /// from the sighting before last to the last one against the step before it. A vehicle
    /// cannot change speed by tens of m/s in a tenth of a second; a box can, when the detector
    /// boxes a vehicle with what stands beside it or drops that again.
    pub fn jolt(&self) -> Option<f64> {
        let n = self.whole.len();
        if n < 3 {
            return None;
        }
        let [a, b, c] = [n - 3, n - 2, n - 1].map(|i| self.whole[i]);
        let v = |(t0, p0): (DateTime<Utc>, [f64; 2]), (t1, p1): (DateTime<Utc>, [f64; 2])| {
            let dt = (t1 - t0).as_seconds_f64().max(1e-3);
            [(p1[0] - p0[0]) / dt, (p1[1] - p0[1]) / dt]
        };
        let (v1, v2) = (v(a, b), v(b, c));
        Some(dist(v1, v2))
    }
}

/// A vehicle's box narrower than this share of its full width is cut: by something in front
/// or by the frame's edge.
const CUT_SHARE: f64 = 0.95;
/// The edge still in view must move at least this share of the vehicle's length in one
/// sighting for a cut to be recognised (10 km/h at 10 detections/s moves a 10 m bus 2.8 %).
const MIN_EDGE_STEP: f64 = 0.025;
/// The most a vehicle's full width may grow in one sighting (see `observe`).
const GROWTH: f64 = 1.08;

/// Where a vehicle's centre is, in pixels along x, when part of it is hidden behind something
/// in front or beyond the frame's edge: the box's centre moves at half the vehicle's speed then
/// (one edge stands still), which made a 60 km/h truck passing behind a bus measure under the
/// limit. Its full width is the widest uncut box seen, scaled by height (it shrinks and grows
/// with distance). The hidden end is the one whose edge stood still when the cut began (the
/// other moves with the vehicle), and stays so while the box is cut; a box that narrows
/// without either edge standing still is a detector's breathing and keeps its centre.
fn whole_centre(m: &mut Motion, b: &matthan_schema::BBox, fw: f64) -> f64 {
    let (x1, x2) = (b.x1 as f64, b.x2 as f64);
    let (ww, wh) = m.widest;
    let h = (b.y2 - b.y1) as f64;
    let full = if wh > 0.0 { ww * h / wh } else { 0.0 };
    if full <= 0.0 || x2 - x1 >= CUT_SHARE * full {
        m.cut = None;
        return (x1 + x2) / 2.0;
    }
    let moved = ((x1 - m.bbox.x1 as f64).abs(), (x2 - m.bbox.x2 as f64).abs());
    let cut = if x1 <= 1.0 {
        Some(Cut::Left)
    } else if x2 >= fw - 1.0 {
        Some(Cut::Right)
    } else if m.cut.is_some() {
        m.cut
    } else if moved.0.max(moved.1) < MIN_EDGE_STEP * full {
        // Neither edge moved like a driving vehicle's: a standing one's box jitters (measured:
        // a standing bus boxed in two halves made a "speeder" of itself).
        None
    } else if moved.1 < 0.5 * moved.0 {
        Some(Cut::Right)
    } else if moved.0 < 0.5 * moved.1 {
        Some(Cut::Left)
    } else {
        None
    };
    m.cut = cut;
    match cut {
        Some(Cut::Right) => x1 + full / 2.0,
        Some(Cut::Left) => x2 - full / 2.0,
        None => (x1 + x2) / 2.0,
    }
}

/// Rules key their state by a track's root: its own id, or the id of the lost track it was
/// re-linked to.
pub struct Tracks {
    map: HashMap<u64, Motion>,
    /// Tracker id → root id.
    owner: HashMap<u64, u64>,
    /// Root id → tracker ids still alive in the tracker.
    live: HashMap<u64, u32>,
    ground: Option<GroundPlane>,
    labels: Vec<String>,
    /// Classes whose boxes keep their shape (vehicles): a narrower box is a cut one.
    rigid: Vec<String>,
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Position about `window_s` ago and now, if the history covers at least 60 % of it.
fn span(
    h: &VecDeque<(DateTime<Utc>, [f64; 2])>,
    window_s: f64,
) -> Option<([f64; 2], [f64; 2], f64)> {
    let (t_now, p_now) = *h.back()?;
    let (t0, p0) = *h
        .iter()
        .find(|(t, _)| (t_now - *t).as_seconds_f64() <= window_s)?;
    let dt = (t_now - t0).as_seconds_f64();
    (dt >= 0.6 * window_s).then_some((p0, p_now, dt))
}

/// Mean velocity (m/s) over the last second of a history; zero when too short to tell.
fn velocity(h: &VecDeque<(DateTime<Utc>, [f64; 2])>) -> [f64; 2] {
    let Some(&(t1, p1)) = h.back() else {
        return [0.0, 0.0];
    };
    let Some(&(t0, p0)) = h.iter().find(|(t, _)| (t1 - *t).as_seconds_f64() <= 1.0) else {
        return [0.0, 0.0];
    };
    let dt = (t1 - t0).as_seconds_f64();
    if dt < 0.3 {
        return [0.0, 0.0];
    }
    [(p1[0] - p0[0]) / dt, (p1[1] - p0[1]) / dt]
}

impl Tracks {
    pub fn new(ground: Option<GroundPlane>, labels: Vec<String>) -> Self {
        Self {
            map: HashMap::new(),
            owner: HashMap::new(),
            live: HashMap::new(),
            ground,
            labels,
            rigid: crate::violations::vehicle_classes(),
        }
    }

    pub fn ground(&self) -> Option<&GroundPlane> {
        self.ground.as_ref()
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn calibrated(&self) -> bool {
        self.ground.is_some()
    }

    /// The root a new tracker id continues, if a lost track of its class was close by.
    fn relink(
        &self,
        now: DateTime<Utc>,
        class: &str,
        px: [f64; 2],
        img: [f64; 2],
        seen_now: &[u64],
    ) -> Option<u64> {
        self.map
            .iter()
            .filter(|(root, m)| {
                let gap = (now - m.last_seen).as_seconds_f64();
                m.class == class && gap > 0.0 && gap <= RELINK_S && !seen_now.contains(root)
            })
            .filter_map(|(root, m)| {
                let gap = (now - m.last_seen).as_seconds_f64();
                let p = match &self.ground {
                    Some(g) => g.to_ground(img)?,
                    None => [px[0] * m.scale, px[1] * m.scale],
                };
                // Where the lost object would be now at the speed it had: a vehicle covers
                // metres in the half second a detector may miss it.
                let v = velocity(&m.history);
                let pred = [m.pos[0] + v[0] * gap, m.pos[1] + v[1] * gap];
                let d = dist(p, pred);
                (d <= RELINK_M + 1.5 * gap).then_some((*root, d))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(root, _)| root)
    }

    /// Records this frame's sightings; returns the roots seen.
    pub fn observe(
        &mut self,
        now: DateTime<Utc>,
        frame_size: (u32, u32),
        seen: &[TrackSnapshot],
    ) -> Vec<u64> {
        let (fw, fh) = (frame_size.0.max(1) as f64, frame_size.1.max(1) as f64);
        let mut ids = Vec::with_capacity(seen.len());
        // Roots matched this frame are not lost, whatever order the sightings come in.
        let known: Vec<u64> = seen
            .iter()
            .filter_map(|s| self.owner.get(&s.id).copied())
            .collect();
        for s in seen {
            let class = self
                .labels
                .get(s.class)
                .map_or("unknown", String::as_str)
                .to_string();
            let px = [
                (s.bbox.x1 + s.bbox.x2) as f64 / 2.0,
                (s.bbox.y2 as f64).clamp(0.0, fh),
            ];
            let img = [px[0] / fw, px[1] / fh];
            let root = match self.owner.get(&s.id) {
                Some(r) => *r,
                None => {
                    let root = self.relink(now, &class, px, img, &known).unwrap_or(s.id);
                    self.owner.insert(s.id, root);
                    *self.live.entry(root).or_default() += 1;
                    root
                }
            };
            // Old and new id both matched this frame: one sighting is enough.
            if ids.contains(&root) {
                continue;
            }
            let h_px = ((s.bbox.y2 - s.bbox.y1) as f64).max(4.0);
            let raw_scale = typical_height_m(&class) / h_px;
            let m = self.map.entry(root).or_insert_with(|| Motion {
                class: class.clone(),
                img,
                px,
                bbox: s.bbox,
                scale: raw_scale,
                pos: [0.0, 0.0],
                last_seen: now,
                last_id: s.id,
                history: VecDeque::new(),
                whole: VecDeque::new(),
                widest: (0.0, 0.0),
                cut: None,
            });
            // Capture times only go forward within a stream; if they jump back (a replayed
            // file starting over) old history would make speeds nonsense.
            if now < m.last_seen {
                m.history.clear();
                m.whole.clear();
            }
            // Boxes breathe from frame to frame; the scale must not, or a standing person
            // would seem to move.
            m.scale = 0.9 * m.scale + 0.1 * raw_scale;
            m.img = img;
            m.px = px;
            // Before the box is replaced: which edge stood still tells the hidden end.
            let gx = if self.rigid.contains(&class) {
                whole_centre(m, &s.bbox, fw)
            } else {
                px[0]
            };
            m.bbox = s.bbox;
            m.class = class;
            let (w, h) = ((s.bbox.x2 - s.bbox.x1) as f64, h_px);
            let inside = s.bbox.x1 > 1.0 && (s.bbox.x2 as f64) < fw - 1.0;
            // The full width grows with the vehicle's approach, a little per sighting; a jump is
            // the detector boxing it with a neighbour, which must not become its length.
            let full = if m.widest.1 > 0.0 {
                m.widest.0 * h / m.widest.1
            } else {
                0.0
            };
            if inside && (full <= 0.0 || (full..=GROWTH * full).contains(&w)) {
                m.widest = (w, h);
            }
            let whole = match &self.ground {
                Some(g) => g.to_ground([gx / fw, img[1]]).unwrap_or(m.pos),
                None => [gx * m.scale, px[1] * m.scale],
            };
            m.pos = match &self.ground {
                Some(g) => g.to_ground(img).unwrap_or(m.pos),
                None => [px[0] * m.scale, px[1] * m.scale],
            };
            m.last_seen = now;
            m.last_id = s.id;
            m.history.push_back((now, m.pos));
            m.whole.push_back((now, whole));
            for h in [&mut m.history, &mut m.whole] {
                while h
                    .front()
                    .is_some_and(|(t, _)| (now - *t).as_seconds_f64() > HISTORY_S)
                {
                    h.pop_front();
                }
            }
            ids.push(root);
        }
        ids
    }

    /// The tracker ended `id`; returns its root when no tracker id of that root is left, and
    /// forgets it.
    pub fn end(&mut self, id: u64) -> Option<u64> {
        let root = self.owner.remove(&id)?;
        let n = self.live.entry(root).or_default();
        *n = n.saturating_sub(1);
        if *n > 0 {
            return None;
        }
        self.live.remove(&root);
        Some(root)
    }

    pub fn forget(&mut self, root: u64) {
        self.map.remove(&root);
    }

    /// The root a tracker id belongs to, while the tracker has it.
    pub fn root_of(&self, tracker_id: u64) -> Option<u64> {
        self.owner.get(&tracker_id).copied()
    }

    pub fn get(&self, id: u64) -> Option<&Motion> {
        self.map.get(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &Motion)> {
        self.map.iter().map(|(k, v)| (*k, v))
    }

    /// Tracks seen within `max_age_s` of `now`.
    pub fn recent(
        &self,
        now: DateTime<Utc>,
        max_age_s: f64,
    ) -> impl Iterator<Item = (u64, &Motion)> {
        self.iter()
            .filter(move |(_, m)| (now - m.last_seen).as_seconds_f64() <= max_age_s)
    }

    /// Position about `window_s` ago and now, if the history covers at least 60 % of it.
    pub fn displacement(&self, id: u64, window_s: f64) -> Option<([f64; 2], [f64; 2], f64)> {
        span(&self.map.get(&id)?.history, window_s)
    }

    /// Ground speed in m/s over the last `window_s`, of the whole vehicle (a box cut by
    /// something in front moves at half its speed).
    pub fn speed(&self, id: u64, window_s: f64) -> Option<f64> {
        let (a, b, dt) = span(&self.map.get(&id)?.whole, window_s)?;
        (dt > 0.0).then(|| dist(a, b) / dt)
    }

    /// Ground distance between two tracks now. Uncalibrated, the pixel distance is scaled at
    /// `b` (the reference: a person's height is a better ruler than a bag's).
    pub fn distance(&self, a: u64, b: u64) -> Option<f64> {
        let (ma, mb) = (self.map.get(&a)?, self.map.get(&b)?);
        Some(if self.calibrated() {
            dist(ma.pos, mb.pos)
        } else {
            dist(ma.px, mb.px) * mb.scale
        })
    }
}

/// One camera's track history, shared by its behaviour rules and violation rules: observed once
/// per frame, read by both, and only then are the tracks that ended forgotten.
pub struct History {
    tracks: Tracks,
    seen: Vec<u64>,
    ended: Vec<u64>,
}

impl History {
    pub fn new(ground: Option<GroundPlane>, labels: Vec<String>) -> Self {
        Self {
            tracks: Tracks::new(ground, labels),
            seen: Vec::new(),
            ended: Vec::new(),
        }
    }

    /// Records one frame's tracker output: the roots seen, and the roots whose last tracker id
    /// ended (rules close what those held; `settle` then forgets them).
    pub fn observe(
        &mut self,
        now: DateTime<Utc>,
        frame_size: (u32, u32),
        out: &crate::track::TrackerOutput,
    ) {
        self.seen = self.tracks.observe(now, frame_size, &out.seen);
        self.ended = out
            .ended
            .iter()
            .filter_map(|t| self.tracks.end(t.id))
            .collect();
    }

    /// Every reader has seen this frame: forget the ended roots.
    pub fn settle(&mut self) {
        for root in std::mem::take(&mut self.ended) {
            self.tracks.forget(root);
        }
    }

    /// The stream ended or restarted: start again with no tracks.
    pub fn reset(&mut self) {
        self.tracks = Tracks::new(self.tracks.ground().cloned(), self.tracks.labels().to_vec());
        self.seen.clear();
        self.ended.clear();
    }

    pub fn tracks(&self) -> &Tracks {
        &self.tracks
    }

    /// Roots seen this frame.
    pub fn seen(&self) -> &[u64] {
        &self.seen
    }

    /// Roots that ended this frame.
    pub fn ended(&self) -> &[u64] {
        &self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matthan_schema::BBox;

    /// A truck at 100 px/s (5 m/s at 0.05 m/px), 200 px long, drives behind a bus standing at
    /// x ≥ 500: its box is cut at the bus's edge, and its centre slows to half speed.
    #[test]
    fn a_vehicle_cut_by_something_in_front_keeps_its_speed() {
        let mut tr = Tracks::new(None, vec!["truck".into()]);
        let t0 = DateTime::from_timestamp_millis(1_764_000_000_000).unwrap();
        let mut speeds = Vec::new();
        for i in 0..40 {
            let x1 = 100.0 + 10.0 * i as f32;
            let b = BBox {
                x1,
                y1: 300.0,
                x2: (x1 + 200.0).min(500.0),
                y2: 380.0,
            };
            let now = t0 + chrono::Duration::milliseconds(100 * i);
            let s = TrackSnapshot {
                id: 1,
                class: 0,
                score: 0.9,
                bbox: b,
                first_seen: t0,
                last_seen: now,
                hits: i as u32 + 1,
            };
            tr.observe(now, (960, 540), &[s]);
            if let Some(v) = tr.speed(1, 1.0) {
                speeds.push((b.x2 - b.x1, v / tr.get(1).unwrap().scale));
            }
        }
        // In pixels per second: 100 while whole, and still about 100 once cut to under 140 px.
        let cut: Vec<f64> = speeds
            .iter()
            .filter(|(w, _)| *w < 140.0)
            .map(|(_, v)| *v)
            .collect();
        assert!(cut.len() >= 5, "{speeds:?}");
        assert!(cut.iter().all(|v| (v - 100.0).abs() < 8.0), "{speeds:?}");
        // The boxes the other rules judge stay as seen.
        let (a, b, _) = tr.displacement(1, 1.0).unwrap();
        assert!(((b[0] - a[0]) / tr.get(1).unwrap().scale) < 60.0);
    }
}
