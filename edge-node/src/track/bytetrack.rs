//! ByteTrack: two-stage association (confident detections first, then the weak ones that only
//! continue existing tracks), a Kalman filter per track, and Hungarian matching on IoU.
//!
//! States: tentative (not yet `min_hits` hits, no id, not announced) → confirmed → lost
//! (unseen, still matchable) → removed. Lost tracks that were standing still are kept for
//! `max_lost_s`, so a parked vehicle whose detection flickers keeps its id; lost tracks that
//! were moving are dropped after `max_lost_moving_s`, because their prediction drifts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use pathfinding::prelude::{Matrix, kuhn_munkres};

use super::Kalman;
use super::reid::{self, Trail};
use crate::config::TrackerConfig;
use crate::detect::Detection;
use matthan_schema::BBox;

/// A confirmed track as seen after one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSnapshot {
    pub id: u64,
    pub class: usize,
    pub score: f32,
    /// The matched detection's box this frame, else the filter's prediction.
    pub bbox: BBox,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub hits: u32,
}

#[derive(Debug, Default)]
pub struct TrackerOutput {
    /// Confirmed tracks that a detection continued in this frame.
    pub seen: Vec<TrackSnapshot>,
    /// Ids confirmed in this frame (also in `seen`).
    pub confirmed: Vec<u64>,
    /// Tracks that ended in this frame, with their last known state.
    pub ended: Vec<TrackSnapshot>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Tentative,
    Confirmed,
    Lost,
}

#[derive(Debug, Clone)]
struct Track {
    id: u64,
    state: State,
    kf: Kalman,
    bbox: BBox,
    score: f32,
    votes: HashMap<usize, f32>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    hits: u32,
    /// Frames in a row without a match (tentative tracks only).
    misses: u32,
    /// Whether the object was moving when last seen (centre speed per frame vs its height).
    moving: bool,
    /// Its recent boxes, to find it again after an occlusion (`reid`).
    trail: Trail,
}

impl Track {
    fn class(&self) -> usize {
        self.votes
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(c, _)| *c)
    }

    fn predicted(&self) -> BBox {
        from_xyah(self.kf.state())
    }

    /// Where the track is taken to be now: its last box, or its prediction while lost.
    fn current(&self) -> BBox {
        if self.state == State::Lost {
            self.predicted()
        } else {
            self.bbox
        }
    }

    fn snapshot(&self) -> TrackSnapshot {
        TrackSnapshot {
            id: self.id,
            class: self.class(),
            score: self.score,
            bbox: self.bbox,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            hits: self.hits,
        }
    }

    fn hit(&mut self, d: &Detection, now: DateTime<Utc>) {
        self.kf.update(to_xyah(&d.bbox));
        self.bbox = d.bbox;
        self.score = d.score;
        *self.votes.entry(d.class).or_default() += d.score;
        self.last_seen = now;
        self.hits += 1;
        self.misses = 0;
        self.trail.push(now, d.bbox);
        let h = (d.bbox.y2 - d.bbox.y1).max(1.0);
        self.moving = self.kf.speed() / h > 0.01;
    }
}

pub struct Tracker {
    cfg: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
    /// When the last frame (detected or still) was analysed: the analysed rate.
    last_frame: Option<DateTime<Utc>>,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Self {
        Self {
            cfg,
            tracks: Vec::new(),
            next_id: 1,
            last_frame: None,
        }
    }

    /// Number of tracks of any state, for tests and metrics.
    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    pub fn update(&mut self, dets: &[Detection], now: DateTime<Utc>) -> TrackerOutput {
        let mut out = TrackerOutput::default();
        let lenient = self
            .last_frame
            .replace(now)
            .is_some_and(|prev| (now - prev).as_seconds_f64() * self.cfg.lenient_below_fps >= 1.0);
        for t in &mut self.tracks {
            if t.state != State::Confirmed {
                t.kf.freeze_size();
            }
            t.kf.predict();
        }
        let (high, low): (Vec<usize>, Vec<usize>) = (0..dets.len())
            .filter(|&i| dets[i].score >= self.cfg.low_score)
            .partition(|&i| dets[i].score >= self.cfg.high_score);

        // 1. Confident detections against confirmed and lost tracks.
        let pool: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state != State::Tentative)
            .collect();
        let (m1, rest_tracks, rest_high) = self.associate(&pool, &high, dets, self.cfg.match_iou);
        // 2. Weak detections continue tracks that were seen last frame only.
        let tracked: Vec<usize> = rest_tracks
            .into_iter()
            .filter(|&i| self.tracks[i].state == State::Confirmed)
            .collect();
        let (m2, unmatched_tracked, rest_low) =
            self.associate(&tracked, &low, dets, self.cfg.low_match_iou);
        // 3. Remaining confident detections against tentative tracks, then (at low analysed
        // rates, `lenient_below_fps`) weak ones against those still unmatched: a track begins
        // only at a confident detection, but its next sightings may score just under it.
        let tentative: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state == State::Tentative)
            .collect();
        let (m3, rest_tentative, new_dets) =
            self.associate(&tentative, &rest_high, dets, self.cfg.match_iou);
        let (m4, unmatched_tentative, _) = if lenient {
            self.associate(&rest_tentative, &rest_low, dets, self.cfg.low_match_iou)
        } else {
            (Vec::new(), rest_tentative, Vec::new())
        };

        let mut dead = vec![false; self.tracks.len()];
        let mut confirming = Vec::new();
        for (ti, di) in m1.into_iter().chain(m2).chain(m3).chain(m4) {
            let t = &mut self.tracks[ti];
            t.hit(&dets[di], now);
            match t.state {
                State::Tentative if t.hits >= self.cfg.min_hits => confirming.push(ti),
                State::Lost => t.state = State::Confirmed,
                _ => {}
            }
            if t.state == State::Confirmed {
                out.seen.push(t.snapshot());
            }
        }
        for ti in unmatched_tracked {
            self.tracks[ti].state = State::Lost;
        }
        for ti in confirming {
            self.confirm(ti, now, &mut dead, &mut out);
        }
        for ti in unmatched_tentative {
            let t = &mut self.tracks[ti];
            t.misses += 1;
            dead[ti] = !lenient || t.misses > self.cfg.tentative_misses;
        }
        self.age_lost(now, &mut dead, &mut out);
        for di in new_dets {
            let d = &dets[di];
            let mut t = Track {
                id: 0,
                state: State::Tentative,
                kf: Kalman::new(to_xyah(&d.bbox)),
                bbox: d.bbox,
                score: d.score,
                votes: HashMap::from([(d.class, d.score)]),
                first_seen: now,
                last_seen: now,
                hits: 1,
                misses: 0,
                moving: false,
                trail: Trail::default(),
            };
            t.trail.push(now, d.bbox);
            if self.cfg.min_hits <= 1 {
                t.state = State::Confirmed;
                t.id = self.next_id;
                self.next_id += 1;
                out.confirmed.push(t.id);
                out.seen.push(t.snapshot());
            }
            self.tracks.push(t);
        }
        out
    }

    /// A frame detected only within `windows` (frame pixels; `[cameras.motion] windows`):
    /// tracks not wholly inside one were not looked at and are held as on a still frame (see
    /// `still`); the others are matched as on any frame.
    pub fn update_within(
        &mut self,
        dets: &[Detection],
        now: DateTime<Utc>,
        windows: &[BBox],
    ) -> TrackerOutput {
        let inside = |t: &Track| {
            let b = t.current();
            windows
                .iter()
                .any(|w| b.x1 >= w.x1 && b.y1 >= w.y1 && b.x2 <= w.x2 && b.y2 <= w.y2)
        };
        let (looked, held): (Vec<Track>, Vec<Track>) = std::mem::take(&mut self.tracks)
            .into_iter()
            .partition(inside);
        self.tracks = looked;
        let mut out = self.update(dets, now);
        let looked = std::mem::replace(&mut self.tracks, held);
        let still = self.still(now);
        out.seen.extend(still.seen);
        out.ended.extend(still.ended);
        self.tracks.extend(looked);
        out
    }

    /// Every track's box (the prediction for a lost one) as fractions of a `size` frame
    /// (x1, y1, x2, y2), and whether it was moving: what a motion window must take in.
    pub fn boxes(&self, size: (u32, u32)) -> Vec<([f64; 4], bool)> {
        let (w, h) = (size.0.max(1) as f64, size.1.max(1) as f64);
        self.tracks
            .iter()
            .map(|t| {
                let b = t.current();
                let r = [
                    b.x1 as f64 / w,
                    b.y1 as f64 / h,
                    b.x2 as f64 / w,
                    b.y2 as f64 / h,
                ];
                (r.map(|v| v.clamp(0.0, 1.0)), t.moving)
            })
            .collect()
    }

    /// A frame the motion gate found unchanged since the last detected one (`motion`): every
    /// confirmed track is still where it was, so it is seen there without a detection (its
    /// filter is not stepped: nothing moved); lost tracks age as on any frame.
    pub fn still(&mut self, now: DateTime<Utc>) -> TrackerOutput {
        let mut out = TrackerOutput::default();
        self.last_frame = Some(now);
        for t in &mut self.tracks {
            if t.state == State::Confirmed {
                t.last_seen = now;
                out.seen.push(t.snapshot());
            }
        }
        let mut dead = vec![false; self.tracks.len()];
        self.age_lost(now, &mut dead, &mut out);
        out
    }

    /// Ends lost tracks unseen for longer than their limit, and removes every `dead` track.
    fn age_lost(&mut self, now: DateTime<Utc>, dead: &mut [bool], out: &mut TrackerOutput) {
        for (ti, t) in self.tracks.iter_mut().enumerate() {
            if t.state == State::Lost {
                t.bbox = t.predicted();
                let unseen = (now - t.last_seen).as_seconds_f64();
                let limit = if t.moving {
                    self.cfg.max_lost_moving_s
                } else {
                    self.cfg.max_lost_s
                };
                if unseen > limit {
                    dead[ti] = true;
                    out.ended.push(t.snapshot());
                }
            }
        }
        let mut i = 0;
        self.tracks.retain(|_| {
            i += 1;
            !dead[i - 1]
        });
    }

    /// A tentative track has its hits: it is a vehicle seen before and hidden since (it takes
    /// that track's id), or a new one.
    fn confirm(
        &mut self,
        ti: usize,
        now: DateTime<Utc>,
        dead: &mut [bool],
        out: &mut TrackerOutput,
    ) {
        let found = self.tracks[ti].bbox;
        let lost = (0..self.tracks.len())
            .filter(|&i| i != ti && !dead[i])
            .filter(|&i| self.tracks[i].state == State::Lost)
            .filter_map(|i| {
                let t = &self.tracks[i];
                let e = t.trail.expected(now);
                let d = e.as_ref().and_then(|e| reid::distance(e, &found));
                tracing::debug!(lost = t.id, moving = t.moving, ?e, ?found, ?d, "re-link?");
                d.filter(|_| t.moving).map(|d| (d, i))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let Some((_, li)) = lost else {
            let t = &mut self.tracks[ti];
            t.state = State::Confirmed;
            t.id = self.next_id;
            self.next_id += 1;
            out.confirmed.push(t.id);
            out.seen.push(t.snapshot());
            return;
        };
        let new = self.tracks[ti].clone();
        let t = &mut self.tracks[li];
        t.kf = new.kf;
        t.bbox = new.bbox;
        t.score = new.score;
        t.last_seen = now;
        t.hits += new.hits;
        for (c, v) in new.votes {
            *t.votes.entry(c).or_default() += v;
        }
        t.trail.push(now, new.bbox);
        t.state = State::Confirmed;
        dead[ti] = true;
        out.seen.push(t.snapshot());
    }

    /// Ends every confirmed or lost track (stream over, camera removed).
    pub fn finish(&mut self) -> Vec<TrackSnapshot> {
        self.tracks
            .drain(..)
            .filter(|t| t.state != State::Tentative)
            .map(|t| t.snapshot())
            .collect()
    }

    /// Optimal one-to-one matching by IoU; pairs under `min_iou` stay unmatched.
    /// Returns (pairs, unmatched tracks, unmatched detections).
    fn associate(
        &self,
        tracks: &[usize],
        dets_idx: &[usize],
        dets: &[Detection],
        min_iou: f32,
    ) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
        if tracks.is_empty() || dets_idx.is_empty() {
            return (Vec::new(), tracks.to_vec(), dets_idx.to_vec());
        }
        let ious: Vec<Vec<f32>> = tracks
            .iter()
            .map(|&t| {
                let p = self.tracks[t].predicted();
                let area = |b: &BBox| ((b.x2 - b.x1) * (b.y2 - b.y1)).max(1e-3);
                dets_idx
                    .iter()
                    .map(|&d| {
                        let b = &dets[d].bbox;
                        let change = area(b).max(area(&p)) / area(b).min(area(&p));
                        if change > self.cfg.max_area_change {
                            0.0
                        } else {
                            box_iou(&p, b)
                        }
                    })
                    .collect()
            })
            .collect();
        let weight = |r: usize, c: usize| {
            let v = ious[r][c];
            if v >= min_iou { (v * 1e6) as i64 } else { 0 }
        };
        // kuhn_munkres needs no more rows than columns.
        let transpose = tracks.len() > dets_idx.len();
        let (rows, cols) = if transpose {
            (dets_idx.len(), tracks.len())
        } else {
            (tracks.len(), dets_idx.len())
        };
        let m = Matrix::from_fn(rows, cols, |(r, c)| {
            if transpose {
                weight(c, r)
            } else {
                weight(r, c)
            }
        });
        let (_, assign) = kuhn_munkres(&m);
        let mut pairs = Vec::new();
        let mut t_used = vec![false; tracks.len()];
        let mut d_used = vec![false; dets_idx.len()];
        for (r, c) in assign.into_iter().enumerate() {
            let (ti, di) = if transpose { (c, r) } else { (r, c) };
            if ious[ti][di] >= min_iou {
                pairs.push((tracks[ti], dets_idx[di]));
                t_used[ti] = true;
                d_used[di] = true;
            }
        }
        let rest_t = tracks
            .iter()
            .zip(&t_used)
            .filter(|(_, u)| !**u)
            .map(|(t, _)| *t)
            .collect();
        let rest_d = dets_idx
            .iter()
            .zip(&d_used)
            .filter(|(_, u)| !**u)
            .map(|(d, _)| *d)
            .collect();
        (pairs, rest_t, rest_d)
    }
}

fn to_xyah(b: &BBox) -> [f32; 4] {
    let (w, h) = ((b.x2 - b.x1).max(1e-3), (b.y2 - b.y1).max(1e-3));
    [(b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0, w / h, h]
}

fn from_xyah(s: [f32; 4]) -> BBox {
    let h = s[3].max(1e-3);
    let w = (s[2] * h).max(1e-3);
    BBox {
        x1: s[0] - w / 2.0,
        y1: s[1] - h / 2.0,
        x2: s[0] + w / 2.0,
        y2: s[1] + h / 2.0,
    }
}

pub fn box_iou(a: &BBox, b: &BBox) -> f32 {
    let iw = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let ih = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = iw * ih;
    let union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

#[cfg(test)]
mod tests;
