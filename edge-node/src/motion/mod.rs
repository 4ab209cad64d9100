//! Motion gating (`[cameras.motion]`): a frame in which nothing moved since the camera's last
//! detected frame skips the detector, and its confirmed tracks stay where they were.
//!
//! Each camera thread shrinks its frames to a grey thumbnail (one mean per `cell_px` square,
//! on GStreamer's thread, in parallel with the detector); the detector thread compares it with
//! the thumbnail of the camera's last *detected* frame, not the previous frame, so a slow
//! object's change adds up until it wakes the detector, and a frame dropped under load cannot
//! hide a change. A change of the whole frame's exposure (auto-exposure, a cloud) is taken out
//! before counting changed cells, and a cell mean averages `cell_px²` pixels, so sensor noise and
//! compression flicker stay well under `pixel_delta`. A full detection at least every
//! `full_every_s` keeps still objects (parked vehicles, loiterers, left bags) confirmed and
//! catches anything the thumbnail cannot see.
//!
//! With `windows = true` a frame that moved is detected only around what moved: the gate hands
//! back the bounds of each group of changed cells, the pipeline turns them into windows that
//! take in every track they touch (`window`), and the model runs on those windows of its input
//! (as for `detect_region`). Tracks wholly outside are held where they are, as on a still frame.
//! The reference thumbnail is then renewed only where the frame was looked at, so a slow change
//! elsewhere still adds up.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::config::{ConfigError, Scope};
use crate::frame::RgbImage;

pub mod window;

/// Changed cells this close (in cells, either way) are one moving thing's.
const BLOB_GAP_CELLS: usize = 2;

/// `[cameras.motion]` as validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MotionConfig {
    /// Side of a thumbnail cell, in frame pixels.
    pub cell_px: u32,
    /// Change of a cell's mean grey level (0-255) that counts as motion.
    pub pixel_delta: u8,
    /// Changed cells needed to run the detector.
    pub min_cells: u32,
    /// A full detection at least this often, motion or not (seconds).
    pub full_every_s: f64,
    /// Detect only around what moved (a model that takes any input size).
    pub windows: bool,
}

impl Default for MotionConfig {
    fn default() -> Self {
        Self {
            cell_px: d_cell(),
            pixel_delta: d_delta(),
            min_cells: d_cells(),
            full_every_s: d_full(),
            windows: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMotion {
    #[serde(default = "d_cell")]
    cell_px: u32,
    #[serde(default = "d_delta")]
    pixel_delta: u8,
    #[serde(default = "d_cells")]
    min_cells: u32,
    #[serde(default = "d_full")]
    full_every_s: f64,
    #[serde(default)]
    windows: bool,
}

// Defaults: an 8-px cell keeps a 16x16-px motorbike far down the road at four cells while
// averaging 64 pixels (noise sigma / 8); 12 grey levels is far above that averaged noise
// (measured on vtest: see docs/benchmarks.md); 2 cells ignores one flickering cell; 2 s
// bounds how long a still object waits for a detection.
fn d_cell() -> u32 {
    8
}
fn d_delta() -> u8 {
    12
}
fn d_cells() -> u32 {
    2
}
fn d_full() -> f64 {
    2.0
}

impl RawMotion {
    pub fn validate(self, s: &Scope) -> Result<MotionConfig, ConfigError> {
        if !(2..=64).contains(&self.cell_px) {
            return Err(s.err("cell_px", "must be 2..=64 pixels"));
        }
        if self.pixel_delta == 0 {
            return Err(s.err("pixel_delta", "must be 1..=255 grey levels"));
        }
        if self.min_cells == 0 {
            return Err(s.err("min_cells", "must be at least 1"));
        }
        if !(self.full_every_s > 0.0 && self.full_every_s <= 60.0) {
            return Err(s.err(
                "full_every_s",
                "must be above 0 and at most 60 s (still objects need a detection now and then)",
            ));
        }
        Ok(MotionConfig {
            cell_px: self.cell_px,
            pixel_delta: self.pixel_delta,
            min_cells: self.min_cells,
            full_every_s: self.full_every_s,
            windows: self.windows,
        })
    }
}

/// A frame shrunk to one mean grey level per cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    pub cols: usize,
    pub rows: usize,
    pub cells: Vec<u8>,
}

impl Thumb {
    /// Every second pixel of every second row (16 samples in an 8-px cell) is plenty for a
    /// mean and halves the cost twice; partial cells at the right and bottom edges are left out.
    pub fn of(img: &RgbImage, cell_px: u32) -> Self {
        let cell = cell_px as usize;
        let (cols, rows) = (img.width as usize / cell, img.height as usize / cell);
        let mut sums = vec![0u32; cols];
        let mut cells = Vec::with_capacity(cols * rows);
        let step = if cell >= 4 { 2 } else { 1 };
        let samples = ((cell / step) * (cell / step)) as u32;
        for r in 0..rows {
            sums.iter_mut().for_each(|s| *s = 0);
            for y in (r * cell..(r + 1) * cell).step_by(step) {
                let row = img.row(y);
                for (c, sum) in sums.iter_mut().enumerate() {
                    for x in (c * cell..(c + 1) * cell).step_by(step) {
                        let p = &row[x * 3..x * 3 + 3];
                        // BT.601 luma in fixed point.
                        *sum += (77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) >> 8;
                    }
                }
            }
            cells.extend(sums.iter().map(|s| (s / samples) as u8));
        }
        Self { cols, rows, cells }
    }

    /// Cells that changed by more than `delta` once a change of the whole frame's exposure
    /// (auto-exposure, a cloud, mains flicker: a gain on every pixel) is taken out; only cells
    /// in `within` (x1, y1, x2, y2 as fractions of the frame) when given.
    pub fn changed(&self, reference: &Thumb, delta: u8, within: Option<[f64; 4]>) -> u32 {
        self.changed_cells(reference, delta, within).len() as u32
    }

    /// [`Thumb::changed`], naming the cells (row, column).
    pub fn changed_cells(
        &self,
        reference: &Thumb,
        delta: u8,
        within: Option<[f64; 4]>,
    ) -> Vec<(usize, usize)> {
        let (cols, rows) = self.span(within.unwrap_or([0.0, 0.0, 1.0, 1.0]));
        let pairs = || {
            rows.clone().flat_map(|r| {
                let at = r * self.cols;
                cols.clone()
                    .map(move |c| (r, c, self.cells[at + c], reference.cells[at + c]))
            })
        };
        let (now, then) = pairs().fold((0u64, 0u64), |(x, y), (_, _, a, b)| {
            (x + a as u64, y + b as u64)
        });
        let gain = now.max(1) as f32 / then.max(1) as f32;
        pairs()
            .filter(|(_, _, a, b)| (*a as f32 - *b as f32 * gain).abs() > delta as f32)
            .map(|(r, c, _, _)| (r, c))
            .collect()
    }

    /// The columns and rows of cells that `rect` (fractions of the frame) touches.
    fn span(&self, rect: [f64; 4]) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let [x1, y1, x2, y2] = rect;
        let span = |a: f64, b: f64, n: usize| {
            ((a * n as f64).floor() as usize).min(n)..((b * n as f64).ceil() as usize).min(n)
        };
        (span(x1, x2, self.cols), span(y1, y2, self.rows))
    }

    /// Takes `new`'s cells within `rect` (fractions of the frame).
    fn renew(&mut self, new: &Thumb, rect: [f64; 4]) {
        let (cols, rows) = self.span(rect);
        for r in rows {
            let at = r * self.cols;
            self.cells[at + cols.start..at + cols.end]
                .copy_from_slice(&new.cells[at + cols.start..at + cols.end]);
        }
    }
}

/// What the gate decided for one frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Detect on the whole frame (or the camera's region).
    Detect,
    /// Detect around what moved: the bounds of each group of changed cells (fractions of the
    /// frame, never empty: at least `min_cells` changed), before the pipeline grows them over
    /// the tracks they touch (`window::windows`).
    Around(Vec<[f64; 4]>),
    /// Nothing moved since the last detected frame.
    Still,
}

/// One camera's gate, kept by the detector thread.
#[derive(Debug)]
pub struct MotionGate {
    cfg: MotionConfig,
    /// The camera's detection region: motion elsewhere cannot change what it detects.
    region: Option<[f64; 4]>,
    /// The reference thumbnail (each cell as last looked at) and when the frame was last
    /// detected whole.
    last: Option<(Thumb, DateTime<Utc>)>,
}

impl MotionGate {
    pub fn new(cfg: MotionConfig) -> Self {
        Self {
            cfg,
            region: None,
            last: None,
        }
    }

    /// The camera's gate, when it has `[motion]`, watching its detection region if it has one.
    pub fn of(cam: &crate::config::CameraConfig) -> Option<Self> {
        cam.motion.clone().map(|cfg| Self {
            region: cam.detect_region.map(|r| r.rect()),
            ..Self::new(cfg)
        })
    }

    pub fn decide(&mut self, thumb: &Thumb, captured: DateTime<Utc>) -> Decision {
        let changed = match &self.last {
            Some((prev, at)) if prev.cols == thumb.cols && prev.rows == thumb.rows => {
                let due = (captured - *at).as_seconds_f64() >= self.cfg.full_every_s;
                (!due).then(|| thumb.changed_cells(prev, self.cfg.pixel_delta, self.region))
            }
            _ => None,
        };
        match changed {
            Some(cells) if (cells.len() as u32) < self.cfg.min_cells => Decision::Still,
            // Grouped only when windows are on: the gate alone needs just the count.
            Some(cells) if self.cfg.windows => Decision::Around(window::blobs(
                &cells,
                thumb.cols,
                thumb.rows,
                BLOB_GAP_CELLS,
            )),
            _ => {
                self.last = Some((thumb.clone(), captured));
                Decision::Detect
            }
        }
    }

    /// After `Around`: the detector looked at the frame within `rects` (the windows, fractions
    /// of the frame), whose cells are the reference from now on; `None`: the whole frame was
    /// detected after all.
    pub fn looked(&mut self, thumb: &Thumb, captured: DateTime<Utc>, rects: Option<&[[f64; 4]]>) {
        match (&mut self.last, rects) {
            (Some((prev, _)), Some(rects))
                if prev.cols == thumb.cols && prev.rows == thumb.rows =>
            {
                for r in rects {
                    prev.renew(thumb, *r);
                }
            }
            _ => self.last = Some((thumb.clone(), captured)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn cfg() -> MotionConfig {
        RawMotion {
            cell_px: d_cell(),
            pixel_delta: d_delta(),
            min_cells: d_cells(),
            full_every_s: d_full(),
            windows: false,
        }
        .validate(&Scope::root(std::path::Path::new("test.toml")))
        .unwrap()
    }

    /// A grey road (120) with a 24x16 "vehicle" of grey level `shade` at `x`, lit at `gain`
    /// (1.0: normal), and a little pixel noise from a fixed-seed generator.
    fn scene(x: u32, shade: u8, gain: f32, seed: u64) -> RgbImage {
        let mut img = RgbImage::filled(320, 240, [120; 3]);
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        for px in img.data.iter_mut() {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = ((s >> 33) % 9) as i16 - 4;
            *px = (*px as i16 + noise).clamp(0, 255) as u8;
        }
        for y in 100..116 {
            for xx in x..x + 24 {
                let i = y * img.stride + xx as usize * 3;
                img.data[i..i + 3].copy_from_slice(&[shade; 3]);
            }
        }
        for px in img.data.iter_mut() {
            *px = (*px as f32 * gain).min(255.0) as u8;
        }
        img
    }

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(ms)
    }

    #[test]
    fn noise_and_lighting_do_not_wake_the_detector_but_motion_does() {
        let c = cfg();
        let mut g = MotionGate::new(c.clone());
        let thumb = |x, gain, seed| Thumb::of(&scene(x, 20, gain, seed), c.cell_px);
        assert_eq!(g.decide(&thumb(40, 1.0, 1), at(0)), Decision::Detect);
        // Same scene, new noise; then the exposure 25 % up and 20 % down.
        assert_eq!(g.decide(&thumb(40, 1.0, 2), at(200)), Decision::Still);
        assert_eq!(g.decide(&thumb(40, 1.25, 3), at(400)), Decision::Still);
        assert_eq!(g.decide(&thumb(40, 0.8, 3), at(500)), Decision::Still);
        // The vehicle moves 16 px: detect, and the new frame becomes the reference.
        assert_eq!(g.decide(&thumb(56, 1.0, 4), at(600)), Decision::Detect);
        assert_eq!(g.decide(&thumb(56, 1.0, 5), at(800)), Decision::Still);
    }

    #[test]
    fn slow_motion_adds_up_against_the_last_detected_frame() {
        let c = cfg();
        let mut g = MotionGate::new(c.clone());
        // A grey car on a grey road: contrast 30, so a 2-px step changes a cell by at most
        // a quarter of that, under pixel_delta.
        let thumb = |x| Thumb::of(&scene(x, 90, 1.0, x as u64), c.cell_px);
        assert_eq!(g.decide(&thumb(40), at(0)), Decision::Detect);
        // 2 px per frame: no single step is visible, their sum is.
        let decisions: Vec<_> = (1..=8)
            .map(|i| g.decide(&thumb(40 + 2 * i), at(100 * i as i64)))
            .collect();
        assert!(decisions.contains(&Decision::Still));
        assert!(decisions.contains(&Decision::Detect), "{decisions:?}");
    }

    #[test]
    fn a_still_scene_is_detected_every_full_every_s() {
        let c = cfg();
        let mut g = MotionGate::new(c.clone());
        let t = Thumb::of(&scene(40, 20, 1.0, 1), c.cell_px);
        let detected: Vec<i64> = (0..50)
            .map(|i| i * 100)
            .filter(|&ms| g.decide(&t, at(ms)) == Decision::Detect)
            .collect();
        assert_eq!(detected, vec![0, 2000, 4000]);
    }

    #[test]
    fn motion_outside_the_detection_region_does_not_wake_the_detector() {
        let c = cfg();
        let mut g = MotionGate {
            // The right half of the 320-px frame; the vehicle moves in the left half.
            region: Some([0.5, 0.0, 1.0, 1.0]),
            ..MotionGate::new(c.clone())
        };
        let thumb = |x| Thumb::of(&scene(x, 20, 1.0, x as u64), c.cell_px);
        assert_eq!(g.decide(&thumb(40), at(0)), Decision::Detect);
        assert_eq!(g.decide(&thumb(80), at(200)), Decision::Still);
        // Into the region: detect.
        assert_eq!(g.decide(&thumb(180), at(400)), Decision::Detect);
        let mut whole = MotionGate::new(c.clone());
        assert_eq!(whole.decide(&thumb(40), at(0)), Decision::Detect);
        assert_eq!(whole.decide(&thumb(80), at(200)), Decision::Detect);
    }

    #[test]
    fn with_windows_the_gate_says_where_it_moved_and_renews_only_what_was_looked_at() {
        let c = MotionConfig {
            windows: true,
            ..cfg()
        };
        let mut g = MotionGate::new(c.clone());
        let thumb = |x, seed| Thumb::of(&scene(x, 20, 1.0, seed), c.cell_px);
        // The first frame, and every full_every_s, is detected whole.
        assert_eq!(g.decide(&thumb(40, 1), at(0)), Decision::Detect);
        let Decision::Around(moved) = g.decide(&thumb(56, 2), at(200)) else {
            panic!("the vehicle moved");
        };
        assert_eq!(moved.len(), 1, "{moved:?}");
        let moved = moved[0];
        // Cells of the 320x240 frame the 24x16 vehicle left and entered: x 40..80, y 100..116.
        let px = [
            moved[0] * 320.0,
            moved[1] * 240.0,
            moved[2] * 320.0,
            moved[3] * 240.0,
        ];
        assert!(
            px[0] <= 40.0 && px[2] >= 80.0 && px[1] <= 100.0 && px[3] >= 116.0,
            "{px:?}"
        );
        assert!(
            px[0] >= 32.0 && px[2] <= 88.0 && px[3] - px[1] <= 32.0,
            "{px:?}"
        );
        // Looked at only in the left half: the same picture again is still there...
        g.looked(&thumb(56, 3), at(200), Some(&[[0.0, 0.0, 0.5, 1.0]]));
        assert_eq!(g.decide(&thumb(56, 4), at(300)), Decision::Still);
        // ...and a full detection comes when due, window or not.
        assert_eq!(g.decide(&thumb(56, 5), at(2000)), Decision::Detect);
        // Looked at nowhere near the change: the change is still there next frame.
        assert!(matches!(
            g.decide(&thumb(72, 6), at(2200)),
            Decision::Around(_)
        ));
        g.looked(&thumb(72, 6), at(2200), Some(&[[0.8, 0.8, 1.0, 1.0]]));
        assert!(matches!(
            g.decide(&thumb(72, 7), at(2400)),
            Decision::Around(_)
        ));
    }

    #[test]
    fn bad_settings_name_the_field() {
        let s = Scope::root(std::path::Path::new("cam.toml"));
        let raw = |full_every_s| RawMotion {
            cell_px: 8,
            pixel_delta: 12,
            min_cells: 2,
            full_every_s,
            windows: false,
        };
        let e = raw(0.0).validate(&s).unwrap_err().to_string();
        assert!(e.contains("full_every_s"), "{e}");
        let e = RawMotion {
            cell_px: 1,
            ..raw(2.0)
        }
        .validate(&s)
        .unwrap_err()
        .to_string();
        assert!(e.contains("cell_px"), "{e}");
    }
}
