//! Between the frame queue and the stages: where each frame goes to the detector (the whole
//! frame, the camera's region, a window around what moved, or nowhere when nothing moved) and
//! what it found.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{CameraRun, PipelineError};
use crate::config::EdgeConfig;
use crate::detect::{DetectError, Detector, Region};
use crate::metrics::Metrics;
use crate::motion::{Decision, MotionGate};
use crate::queue::Msg;

/// A camera asks for `what` (a region, motion windows), which a fixed-size model cannot run.
fn fixed_size(cfg: &EdgeConfig, detector: &Detector, i: usize, what: &str) -> PipelineError {
    let (w, h) = detector.input_size();
    PipelineError::Detect(DetectError::Model {
        path: cfg.model.path.display().to_string(),
        reason: format!(
            "cameras[{i}] ({}) has {what}, but the model's input is fixed at {w}x{h}; \
             use one that takes any size (models/nanodet-m-416-dyn.onnx or -int8.onnx)",
            cfg.cameras[i].id
        ),
    })
}

/// Each camera's detection region (`[cameras.detect_region]`), checked against the model: a
/// region (and a motion window) needs a model that takes any input size.
pub(super) fn regions(
    cfg: &EdgeConfig,
    detector: &mut Detector,
) -> Result<Vec<Option<Region>>, PipelineError> {
    let regions: Vec<Option<Region>> = cfg.cameras.iter().map(|c| c.detect_region).collect();
    let windows = |c: &crate::config::CameraConfig| c.motion.as_ref().is_some_and(|m| m.windows);
    if let Some(i) = regions.iter().position(Option::is_some)
        && !detector.supports_regions()
    {
        return Err(fixed_size(cfg, detector, i, "a detect_region"));
    }
    if let Some(i) = cfg.cameras.iter().position(windows)
        && !detector.supports_regions()
    {
        return Err(fixed_size(cfg, detector, i, "motion windows"));
    }
    detector.warm_up_regions(&regions.iter().flatten().copied().collect::<Vec<_>>())?;
    Ok(regions)
}

/// What the detector made of one frame of a batch.
pub(super) enum Looked {
    Whole(Vec<crate::detect::Detection>),
    /// Detected within these windows (frame pixels) around what moved.
    Within(Vec<crate::detect::Detection>, Vec<matthan_schema::BBox>),
    Still,
}

/// Room around what moved, as a fraction of the frame on each side, before a window takes in
/// the tracks it touches.
const WINDOW_MARGIN: f64 = 0.04;

/// Motion windows covering more than this share of the frame together are detected whole.
const WINDOW_WHOLE_ABOVE: f64 = 0.6;

/// At most this many motion windows a frame (each is a model run of its own); more: whole.
const MOST_WINDOWS: usize = 6;

/// Where the camera's gate sends a frame: the whole frame (or the camera's region), windows
/// around what moved (within the camera's region), or nowhere.
fn aim(
    f: &crate::frame::Frame,
    gate: Option<&mut MotionGate>,
    cam: &CameraRun,
    region: Option<&Region>,
) -> Aim {
    let (Some(g), Some(t)) = (gate, &f.thumb) else {
        return Aim::Whole;
    };
    match g.decide(t, f.captured) {
        Decision::Detect => Aim::Whole,
        Decision::Still => Aim::Still,
        Decision::Around(moved) => {
            let within = |w: [f64; 4]| match region.map(Region::rect) {
                Some(r) => Region::new([
                    w[0].max(r[0]),
                    w[1].max(r[1]),
                    w[2].min(r[2]),
                    w[3].min(r[3]),
                ])
                .ok(),
                None => Region::new(w).ok(),
            };
            let windows = crate::motion::window::windows(
                &moved,
                &cam.state.tracks,
                WINDOW_MARGIN,
                WINDOW_WHOLE_ABOVE,
                MOST_WINDOWS,
            )
            .map(|ws| ws.into_iter().filter_map(within).collect::<Vec<_>>())
            .filter(|ws| !ws.is_empty());
            let rects = windows
                .as_ref()
                .map(|ws| ws.iter().map(Region::rect).collect::<Vec<_>>());
            g.looked(t, f.captured, rects.as_deref());
            windows.map_or(Aim::Whole, Aim::Within)
        }
    }
}

enum Aim {
    Whole,
    Within(Vec<Region>),
    Still,
}

/// Runs the detector on the batch's frames that the camera's motion gate lets through, within
/// the camera's region where it has one, or within a window around what moved: one result per
/// frame in order.
pub(super) fn detect(
    detector: &mut Detector,
    batch: &[Msg],
    gates: &mut [Option<MotionGate>],
    regions: &[Option<Region>],
    cams: &[CameraRun],
    metrics: &Metrics,
) -> Result<Vec<Looked>, DetectError> {
    let frames: Vec<_> = batch
        .iter()
        .filter_map(|m| match m {
            Msg::Frame(f) => Some(f),
            _ => None,
        })
        .collect();
    let aims: Vec<Aim> = frames
        .iter()
        .map(|f| {
            let (gate, region) = (gates[f.camera].as_mut(), regions[f.camera].as_ref());
            aim(f, gate, &cams[f.camera], region)
        })
        .collect();
    let images: Vec<_> = frames
        .iter()
        .zip(&aims)
        .flat_map(|(f, aim)| match aim {
            Aim::Whole => vec![(f.image.as_ref(), regions[f.camera].as_ref())],
            Aim::Within(ws) => ws.iter().map(|r| (f.image.as_ref(), Some(r))).collect(),
            Aim::Still => Vec::new(),
        })
        .collect();
    let started = Instant::now();
    let mut detected = detector.detect_in(&images)?.into_iter();
    if !images.is_empty() {
        metrics
            .inference_ms
            .observe_ms(started.elapsed().as_millis() as u64);
        metrics.detector_times(&detector.take_times());
    }
    Ok(frames
        .iter()
        .zip(aims)
        .map(|(f, aim)| match aim {
            Aim::Still => {
                metrics.gated[f.camera].fetch_add(1, Ordering::Relaxed);
                Looked::Still
            }
            Aim::Whole => Looked::Whole(detected.next().expect("one result per image")),
            Aim::Within(ws) => {
                metrics.windowed[f.camera].fetch_add(1, Ordering::Relaxed);
                let per_window: Vec<_> = ws
                    .iter()
                    .map(|_| detected.next().expect("one result per image"))
                    .collect();
                let found = once_each(per_window);
                let (w, h) = (f.image.width as f32, f.image.height as f32);
                let px = ws.iter().map(|r| {
                    let [x1, y1, x2, y2] = r.rect().map(|v| v as f32);
                    matthan_schema::BBox {
                        x1: x1 * w,
                        y1: y1 * h,
                        x2: x2 * w,
                        y2: y2 * h,
                    }
                });
                Looked::Within(found, px.collect())
            }
        })
        .collect())
}

/// The detections of a frame's windows together. Windows that touch were merged, but each is
/// widened onto the model's 32-pixel grid, so two may still share a strip: an object inside
/// both is kept once (its best box).
fn once_each(per_window: Vec<Vec<crate::detect::Detection>>) -> Vec<crate::detect::Detection> {
    let mut all: Vec<(usize, crate::detect::Detection)> = per_window
        .into_iter()
        .enumerate()
        .flat_map(|(w, ds)| ds.into_iter().map(move |d| (w, d)))
        .collect();
    all.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    let mut kept: Vec<(usize, crate::detect::Detection)> = Vec::with_capacity(all.len());
    for (w, d) in all {
        if !kept
            .iter()
            .any(|(kw, k)| *kw != w && crate::track::box_iou(&k.bbox, &d.bbox) > 0.5)
        {
            kept.push((w, d));
        }
    }
    kept.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Detection;
    use matthan_schema::BBox;

    fn det(x: f32, score: f32) -> Detection {
        Detection {
            bbox: BBox {
                x1: x,
                y1: 10.0,
                x2: x + 20.0,
                y2: 50.0,
            },
            score,
            class: 0,
        }
    }

    #[test]
    fn an_object_in_two_windows_is_kept_once() {
        // The person at x 100 is in both windows' shared strip; the two at 10 and 24 overlap
        // each other but come from one window, whose own NMS already judged them.
        let found = once_each(vec![
            vec![det(10.0, 0.9), det(24.0, 0.6), det(100.0, 0.7)],
            vec![det(101.0, 0.8), det(300.0, 0.5)],
        ]);
        let xs: Vec<f32> = found.iter().map(|d| d.bbox.x1).collect();
        assert_eq!(xs, vec![10.0, 101.0, 24.0, 300.0]);
    }
}
