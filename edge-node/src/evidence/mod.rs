//! Evidence for every violation: a ring buffer of recent frames per camera (shared frames, no
//! copies), the violating vehicle's boxes, and, once `after_s` has passed, a bundle built off the
//! pipeline thread: two full-resolution images at the rule's two moments, the vehicle crop, the
//! plate crop and reading when one is found, an MP4 clip from `before_s` before to `after_s`
//! after, and a manifest signed with the box's Ed25519 key (`signing`). The violation event
//! lists every file with its sha256; the files travel as evidence blobs.

mod bundle;
mod clip;
mod config;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::BBox;

pub use bundle::{Done, EvidenceError, Worker};
pub use clip::{ClipError, encode_mp4};
pub use config::{EvidenceConfig, OcrConfig, RawEvidence};

use crate::frame::RgbImage;
use crate::track::TrackSnapshot;
use crate::violations::Hit;

/// A frame kept for evidence.
#[derive(Clone)]
pub struct Shot {
    pub ts: DateTime<Utc>,
    pub image: Arc<RgbImage>,
}

/// Everything a bundle is built from.
pub struct Job {
    pub camera: String,
    pub hit: Hit,
    pub frames: Vec<Shot>,
    /// The vehicle's boxes, by capture time.
    pub boxes: Vec<(DateTime<Utc>, BBox)>,
}

struct Pending {
    job: Job,
    until: DateTime<Utc>,
}

/// One camera's ring buffer and the violations waiting for their `after_s`.
pub struct Collector {
    camera: String,
    before_s: f64,
    after_s: f64,
    step_s: f64,
    ring: VecDeque<Shot>,
    boxes: HashMap<u64, VecDeque<(DateTime<Utc>, BBox)>>,
    pending: Vec<Pending>,
}

impl Collector {
    pub fn new(camera: &str, cfg: &EvidenceConfig) -> Self {
        Self {
            camera: camera.to_string(),
            before_s: cfg.before_s,
            after_s: cfg.after_s,
            step_s: 1.0 / cfg.clip_fps as f64,
            ring: VecDeque::new(),
            boxes: HashMap::new(),
            pending: Vec::new(),
        }
    }

    /// Frames held (ring and pending), for memory accounting in tests and metrics.
    pub fn frames_held(&self) -> usize {
        self.ring.len()
            + self
                .pending
                .iter()
                .map(|p| p.job.frames.len())
                .sum::<usize>()
    }

    /// A new frame and the tracks seen in it; returns the bundles now complete.
    pub fn on_frame(
        &mut self,
        ts: DateTime<Utc>,
        image: &Arc<RgbImage>,
        seen: &[TrackSnapshot],
    ) -> Vec<Job> {
        // Capture times went back (a file replayed from its start): nothing old applies.
        if self.ring.back().is_some_and(|s| ts < s.ts) {
            self.ring.clear();
            self.boxes.clear();
        }
        let due = self
            .ring
            .back()
            .is_none_or(|s| (ts - s.ts).as_seconds_f64() >= self.step_s * 0.95);
        if due {
            let shot = Shot {
                ts,
                image: image.clone(),
            };
            for p in &mut self.pending {
                if ts <= p.until {
                    p.job.frames.push(shot.clone());
                }
            }
            self.ring.push_back(shot);
            while self
                .ring
                .front()
                .is_some_and(|s| (ts - s.ts).as_seconds_f64() > self.before_s + 0.5)
            {
                self.ring.pop_front();
            }
        }
        let keep = self.before_s + self.after_s + 2.0;
        for s in seen {
            self.boxes.entry(s.id).or_default().push_back((ts, s.bbox));
            for p in &mut self.pending {
                if p.job.hit.track == s.id && ts <= p.until {
                    p.job.boxes.push((ts, s.bbox));
                }
            }
        }
        self.boxes.retain(|_, b| {
            while b
                .front()
                .is_some_and(|(t, _)| (ts - *t).as_seconds_f64() > keep)
            {
                b.pop_front();
            }
            !b.is_empty()
        });
        let (done, wait): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| ts >= p.until);
        self.pending = wait;
        done.into_iter().map(|p| p.job).collect()
    }

    /// A rule found a violation: start collecting its bundle.
    pub fn hit(&mut self, hit: Hit) {
        let from = hit.moments[0].min(hit.at) - crate::violations::secs(self.before_s);
        let frames: Vec<Shot> = self.ring.iter().filter(|s| s.ts >= from).cloned().collect();
        let boxes: Vec<_> = self
            .boxes
            .get(&hit.track)
            .map(|b| b.iter().filter(|(t, _)| *t >= from).copied().collect())
            .unwrap_or_default();
        let until = hit.moments[1].max(hit.at) + crate::violations::secs(self.after_s);
        self.pending.push(Pending {
            job: Job {
                camera: self.camera.clone(),
                hit,
                frames,
                boxes,
            },
            until,
        });
    }

    /// The stream ended: every waiting bundle is built from what it has.
    pub fn flush(&mut self) -> Vec<Job> {
        self.ring.clear();
        self.boxes.clear();
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|p| p.job)
            .collect()
    }
}
