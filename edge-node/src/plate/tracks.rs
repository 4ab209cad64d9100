//! Plates on every passing vehicle (`[plates]`), not only on violators: each vehicle track of
//! the configured classes is read on a few of its best sightings (large and sharp), the
//! readings are fused character by character (`format::fuse`), and the result goes on the
//! track's events with the plate's crop. Reading runs on a thread of its own at a lower CPU
//! priority, fed through a bounded queue: when it cannot keep up, a sighting is skipped and
//! counted (`matthan_edge_plate_skipped_total`), the detector never waits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, channel, sync_channel};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Plate, PlateReader};
use crate::config::{ConfigError, Scope};
use crate::detect::DetectError;
use crate::frame::RgbImage;
use crate::metrics::Metrics;
use crate::snapshot::TrackPlate;
use crate::track::TrackSnapshot;

#[derive(Debug, Clone)]
pub struct PlatesConfig {
    pub det: PathBuf,
    pub rec: PathBuf,
    /// Detector classes whose tracks are read, as label indices.
    pub classes: Vec<usize>,
    pub reads_per_track: u32,
    pub every: chrono::Duration,
    pub min_width_px: f32,
    pub queue: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlates {
    /// PP-OCRv4 text detector and recogniser (`scripts/setup.sh` fetches them).
    det: PathBuf,
    rec: PathBuf,
    #[serde(default = "d_classes")]
    classes: Vec<String>,
    /// Readings per track at most; fewer once three agree.
    #[serde(default = "d_reads")]
    reads_per_track: u32,
    /// Seconds between two readings of one track.
    #[serde(default = "d_every_s")]
    every_s: f64,
    /// Narrower vehicle boxes are not read (no plate is legible on them).
    #[serde(default = "d_min_width")]
    min_width_px: f32,
    /// Sightings waiting for the reader; when full, new ones are skipped and counted.
    #[serde(default = "d_queue")]
    queue: usize,
}

fn d_classes() -> Vec<String> {
    ["car", "motorcycle", "bus", "truck"]
        .map(String::from)
        .to_vec()
}
fn d_reads() -> u32 {
    4
}
fn d_every_s() -> f64 {
    0.3
}
fn d_min_width() -> f32 {
    40.0
}
fn d_queue() -> usize {
    8
}

impl RawPlates {
    pub fn validate(self, s: &Scope, labels: &[String]) -> Result<PlatesConfig, ConfigError> {
        let hint = " (scripts/setup.sh fetches the PP-OCRv4 models)";
        let (det, rec) = (s.path(&self.det), s.path(&self.rec));
        for (k, p) in [("det", &det), ("rec", &rec)] {
            if !p.is_file() {
                return Err(s.err(k, format!("{} does not exist{hint}", p.display())));
            }
        }
        let mut classes = Vec::new();
        for c in &self.classes {
            let i = labels.iter().position(|l| l == c).ok_or_else(|| {
                s.err(
                    "classes",
                    format!("{c:?} is not one of the model's classes"),
                )
            })?;
            classes.push(i);
        }
        if classes.is_empty() {
            return Err(s.err("classes", "name at least one vehicle class"));
        }
        if !(1..=20).contains(&self.reads_per_track) {
            return Err(s.err("reads_per_track", "must be 1..=20"));
        }
        if !(self.every_s.is_finite() && (0.0..=10.0).contains(&self.every_s)) {
            return Err(s.err("every_s", "must be within 0..=10 seconds"));
        }
        if !(self.min_width_px.is_finite() && self.min_width_px >= 0.0) {
            return Err(s.err("min_width_px", "must be a non-negative number"));
        }
        if !(1..=1024).contains(&self.queue) {
            return Err(s.err("queue", "must be 1..=1024"));
        }
        Ok(PlatesConfig {
            det,
            rec,
            classes,
            reads_per_track: self.reads_per_track,
            every: chrono::Duration::milliseconds((self.every_s * 1000.0) as i64),
            min_width_px: self.min_width_px,
            queue: self.queue,
        })
    }
}

/// A sighting to read.
struct Job {
    track: u64,
    crop: RgbImage,
    reply: Sender<Reading>,
}

/// What the reader made of a sighting: the plate (if any) and the crop it is in.
pub struct Reading {
    track: u64,
    plate: Option<Plate>,
    crop: RgbImage,
}

/// The reader thread every camera shares.
pub struct PlateWorker {
    jobs: SyncSender<Job>,
    metrics: Arc<Metrics>,
}

impl PlateWorker {
    /// Loads the models now, so a bad model fails the start, not the first vehicle.
    pub fn start(
        cfg: &PlatesConfig,
        ort_library: Option<&std::path::Path>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, DetectError> {
        let mut reader = PlateReader::with_threads(&cfg.det, &cfg.rec, ort_library, 1)?;
        let (tx, rx) = sync_channel::<Job>(cfg.queue);
        let m = metrics.clone();
        std::thread::Builder::new()
            .name("plates".into())
            .spawn(move || {
                lower_priority();
                for job in rx {
                    let t = Instant::now();
                    let plate = reader.read(&job.crop).unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "plate reading failed");
                        None
                    });
                    m.plate_ms.observe_ms(t.elapsed().as_millis() as u64);
                    m.plate_reads
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let _ = job.reply.send(Reading {
                        track: job.track,
                        plate,
                        crop: job.crop,
                    });
                }
            })
            .map_err(|e| DetectError::Model {
                path: cfg.rec.display().to_string(),
                reason: format!("cannot start the plate reader thread: {e}"),
            })?;
        Ok(Self { jobs: tx, metrics })
    }

    /// Queues a sighting; false (and counted) when the reader is behind. A recorded file
    /// (`wait`) waits for room instead: nothing runs away while it does, and every vehicle in
    /// it gets read.
    fn submit(&self, job: Job, wait: bool) -> bool {
        if wait {
            return self.jobs.send(job).is_ok();
        }
        match self.jobs.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics
                    .plate_skipped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                false
            }
        }
    }
}

/// The reader only gets the CPU the detector leaves: a plate may come a little later, a
/// detection must not.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on this thread's own id changes only its nice value.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

#[derive(Default)]
struct PerTrack {
    sent: u32,
    pending: u32,
    last_sent: Option<DateTime<Utc>>,
    best_quality: f32,
    readings: Vec<(String, f32)>,
    /// Each reading's crop and where the plate is in it (same order as `readings`).
    crops: Vec<(RgbImage, super::Rect)>,
    /// The fused text last put on the track's events.
    told: Option<String>,
    /// Set when the track ended with readings still out.
    ended: Option<TrackSnapshot>,
}

/// A plate that is settled for a track, for its events (`late`: the track had already ended).
pub struct Settled {
    pub track: u64,
    pub plate: TrackPlate,
    pub late: Option<TrackSnapshot>,
}

/// One camera's plate reading: which sightings to read, and the fused result per track.
pub struct TrackPlates {
    cfg: PlatesConfig,
    /// A recorded file: wait for the reader rather than skip (see `PlateWorker::submit`).
    wait: bool,
    tracks: HashMap<u64, PerTrack>,
    tx: Sender<Reading>,
    rx: Receiver<Reading>,
}

impl TrackPlates {
    pub fn new(cfg: PlatesConfig, wait: bool) -> Self {
        let (tx, rx) = channel();
        Self {
            cfg,
            wait,
            tracks: HashMap::new(),
            tx,
            rx,
        }
    }

    /// One frame: offers its good sightings to the reader, takes in what it read, and
    /// returns the plates settled since the last frame.
    pub fn on_frame(
        &mut self,
        worker: &PlateWorker,
        now: DateTime<Utc>,
        image: &RgbImage,
        seen: &[TrackSnapshot],
        ended: &[TrackSnapshot],
    ) -> Vec<Settled> {
        for s in seen {
            self.offer(worker, now, image, s);
        }
        let mut out: Vec<Settled> = self
            .rx
            .try_iter()
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|r| self.take(r))
            .collect();
        for s in ended {
            out.extend(self.end(s));
        }
        out
    }

    /// The stream ended: waits a little for readings still out, then settles every track
    /// (their end events follow).
    pub fn finish(&mut self, ended: &[TrackSnapshot]) -> Vec<Settled> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut out = Vec::new();
        while self.tracks.values().any(|t| t.pending > 0) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(r) => out.extend(self.take(r)),
                Err(_) => break,
            }
        }
        for s in ended {
            if let Some(t) = self.tracks.get_mut(&s.id) {
                t.pending = 0;
            }
            out.extend(self.end(s));
        }
        self.tracks.clear();
        out
    }

    fn offer(
        &mut self,
        worker: &PlateWorker,
        now: DateTime<Utc>,
        image: &RgbImage,
        s: &TrackSnapshot,
    ) {
        let b = &s.bbox;
        if !self.cfg.classes.contains(&s.class) || b.x2 - b.x1 < self.cfg.min_width_px {
            return;
        }
        let t = self.tracks.entry(s.id).or_default();
        let agreeing = t
            .told
            .as_ref()
            .map_or(0, |told| t.readings.iter().filter(|r| &r.0 == told).count());
        if t.sent >= self.cfg.reads_per_track
            || agreeing >= 3
            || t.last_sent.is_some_and(|at| now - at < self.cfg.every)
        {
            return;
        }
        let crop = image.crop(image.around(b, 0.05));
        // Size and focus: a sighting is read when it is about as good as the best seen so far.
        let quality = (crop.width * crop.height) as f32 * sharpness(&crop);
        t.best_quality = t.best_quality.max(quality);
        if quality < 0.8 * t.best_quality {
            return;
        }
        let job = Job {
            track: s.id,
            crop,
            reply: self.tx.clone(),
        };
        if worker.submit(job, self.wait) {
            t.sent += 1;
            t.pending += 1;
            t.last_sent = Some(now);
        }
    }

    /// A reading back from the worker.
    fn take(&mut self, r: Reading) -> Option<Settled> {
        let t = self.tracks.get_mut(&r.track)?;
        t.pending = t.pending.saturating_sub(1);
        if let Some(p) = r.plate {
            t.crops.push((r.crop, p.rect));
            t.readings.push((p.text, p.score));
        }
        let done = t.sent >= self.cfg.reads_per_track && t.pending == 0;
        let ended = t.ended.is_some() && t.pending == 0;
        let out = settle(r.track, t, done || ended);
        if ended {
            let snap = self.tracks.remove(&r.track).and_then(|t| t.ended);
            return out.map(|s| Settled { late: snap, ..s });
        }
        out
    }

    /// The track ended: settles what it has; readings still out settle it late.
    fn end(&mut self, s: &TrackSnapshot) -> Option<Settled> {
        let t = self.tracks.get_mut(&s.id)?;
        let out = settle(s.id, t, true);
        if t.pending > 0 {
            t.ended = Some(s.clone());
        } else {
            self.tracks.remove(&s.id);
        }
        out
    }
}

/// The fused plate when it changed and is backed by two agreeing readings, or by whatever
/// there is once no more readings will come (`last`).
fn settle(track: u64, t: &mut PerTrack, last: bool) -> Option<Settled> {
    let main = main_plate(&t.readings);
    let readings: Vec<(String, f32)> = main.iter().map(|&i| t.readings[i].clone()).collect();
    let (text, score) = super::format::fuse(&readings)?;
    let agreeing = readings.iter().filter(|r| r.0 == text).count();
    if t.told.as_ref() == Some(&text) || !(last || agreeing >= 2) {
        return None;
    }
    t.told = Some(text.clone());
    // The crop shown: the best reading of the fused text, else the best of its group.
    let best = main
        .iter()
        .copied()
        .max_by(|&a, &b| {
            let key = |i: usize| (t.readings[i].0 == text, t.readings[i].1);
            key(a).0.cmp(&key(b).0).then(key(a).1.total_cmp(&key(b).1))
        })
        .and_then(|i| t.crops.get(i));
    let image = best.and_then(|(crop, rect)| crop.jpeg(*rect, 92));
    Some(Settled {
        track,
        plate: TrackPlate::new(text, score, image),
        late: None,
    })
}

/// The readings (indices) of the plate with the most confidence behind it. A track that
/// held two vehicles for a moment (an identity switch in dense traffic) has readings of two
/// plates; they are not fused into one. Readings of one length that differ in at most two
/// characters are one plate read with errors.
fn main_plate(readings: &[(String, f32)]) -> Vec<usize> {
    let close = |a: &str, b: &str| {
        a.len() == b.len() && a.chars().zip(b.chars()).filter(|(x, y)| x != y).count() <= 2
    };
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, r) in readings.iter().enumerate() {
        match groups.iter_mut().find(|g| close(&readings[g[0]].0, &r.0)) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    let weight = |g: &Vec<usize>| g.iter().map(|&i| readings[i].1).sum::<f32>();
    groups
        .into_iter()
        .max_by(|a, b| weight(a).total_cmp(&weight(b)))
        .unwrap_or_default()
}

/// Mean absolute Laplacian of the grey image (sampled on a grid of at most 64 columns):
/// blurred crops score low.
fn sharpness(img: &RgbImage) -> f32 {
    if img.width < 3 || img.height < 3 {
        return 0.0;
    }
    let step = (img.width / 64).max(1) as usize;
    let grey = |x: usize, y: usize| -> f32 {
        let p = &img.row(y)[x * 3..x * 3 + 3];
        0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32
    };
    let (mut sum, mut n) = (0.0f32, 0u32);
    for y in (step..img.height as usize - step).step_by(step) {
        for x in (step..img.width as usize - step).step_by(step) {
            let lap = 4.0 * grey(x, y)
                - grey(x - step, y)
                - grey(x + step, y)
                - grey(x, y - step)
                - grey(x, y + step);
            sum += lap.abs();
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { sum / n as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blurred_crops_are_less_sharp() {
        let mut sharp = RgbImage::filled(64, 32, [255, 255, 255]);
        for y in 0..32 {
            for x in (0..64).step_by(2) {
                let i = y * sharp.stride + x * 3;
                sharp.data[i..i + 3].copy_from_slice(&[0, 0, 0]);
            }
        }
        let flat = RgbImage::filled(64, 32, [128, 128, 128]);
        assert!(sharpness(&sharp) > 100.0);
        assert_eq!(sharpness(&flat), 0.0);
    }

    #[test]
    fn a_plate_settles_on_two_agreeing_readings_or_at_the_end() {
        let mut t = PerTrack::default();
        t.readings.push(("51F-123.45".into(), 0.9));
        assert!(
            settle(1, &mut t, false).is_none(),
            "one reading is not enough"
        );
        t.readings.push(("51F-123.45".into(), 0.8));
        let s = settle(1, &mut t, false).expect("two agree");
        assert_eq!(s.plate.text, "51F-123.45");
        assert!(settle(1, &mut t, true).is_none(), "told already");
        let mut u = PerTrack::default();
        u.readings.push(("59-X1-123.45".into(), 0.7));
        assert_eq!(settle(2, &mut u, true).unwrap().plate.text, "59-X1-123.45");
    }

    #[test]
    fn two_vehicles_on_one_track_are_not_fused_into_one_plate() {
        let r = |t: &str, s: f32| (t.to_string(), s);
        let readings = [
            r("51F-133.45", 0.9),
            r("30B-566.12", 0.95),
            r("51F-138.45", 0.8),
            r("51F-133.45", 0.9),
        ];
        assert_eq!(main_plate(&readings), vec![0, 2, 3]);
        assert!(main_plate(&[]).is_empty());
    }
}
