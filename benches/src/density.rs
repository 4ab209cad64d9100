//! Cameras per box, shared by the density bench (CPU, against the peer) and the GPU check: N
//! cameras looping a clip in real time at `DETECT_FPS`, publishing to a real broker; a count is
//! *sustained* when no camera loses more than `MAX_DROP` of its frames to back-pressure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use edge_node::config::EdgeConfig;
use edge_node::detect::{Detector, Region};
use edge_node::frame::RgbImage;

use crate::{cached, decode_frames, repo};

pub const THREADS: usize = 2;
pub const DETECT_FPS: u32 = 5;
/// A camera count is sustained while every camera loses at most this share of its frames.
pub const MAX_DROP: f64 = 0.01;

pub struct Variant {
    pub name: &'static str,
    pub model: PathBuf,
    pub motion: bool,
    /// The looped clip every camera plays.
    pub clip: PathBuf,
    /// The execution provider (cpu, cuda…); the trial fails if the detector runs on another.
    pub provider: String,
    /// Detect only around the camera's line (`[cameras.detect_region] around = "geometry"`).
    pub region: bool,
}

/// The region `around = "geometry"` gives the cameras of [`config`]: their one line, x = 0.5
/// from y = 0.05 to 0.95, with the default margin.
pub fn line_region() -> Region {
    let m = edge_node::detect::DEFAULT_MARGIN;
    Region::new([0.5 - m, 0.0, 0.5 + m, 1.0]).expect("a valid region")
}

pub struct Trial {
    pub worst_drop: f64,
    pub analysed: u64,
    pub gated: u64,
    /// The detector thread's mean time per analysed frame, by stage (µs).
    pub stages: String,
}

/// The most cameras sustained, starting the search at `n`: grow by a third while sustained,
/// then bisect between the best sustained count and the first that was not (7 trials at most).
/// Returns the count and one line per trial.
pub fn sweep(port: u16, v: &Variant, mut n: usize, secs: u64) -> (usize, Vec<String>) {
    let (mut best, mut over): (usize, Option<usize>) = (0, None);
    let mut tried = Vec::new();
    loop {
        let t = trial(port, v, n, secs);
        let ok = t.worst_drop <= MAX_DROP;
        tried.push(format!(
            "{n}: worst drop {:.1} %, {} analysed, {} still{}{}",
            t.worst_drop * 100.0,
            t.analysed,
            t.gated,
            if ok { "" } else { " (over)" },
            if v.provider == "cpu" {
                String::new()
            } else {
                format!(" (us per frame: {})", t.stages)
            }
        ));
        if ok {
            best = best.max(n);
        } else {
            over = Some(over.map_or(n, |o| o.min(n)));
        }
        n = match over {
            None => n + (n / 3).max(1),
            Some(o) if o <= best + 1 => break,
            Some(o) => (best + o) / 2,
        };
        if n == 0 || tried.len() >= 7 {
            break;
        }
    }
    (best, tried)
}

pub fn config(port: u16, v: &Variant, n: usize) -> String {
    let mut s = crate::edge_toml_head_on(port, &v.model, THREADS, &v.provider);
    for i in 0..n {
        s += &format!(
            r#"[[cameras]]
id = "cam{i}"
url = "file://{video}"
detect_fps = {DETECT_FPS}
realtime = true
loop_file = true
[[cameras.lines]]
id = "mid"
points = [[0.5, 0.05], [0.5, 0.95]]
"#,
            video = v.clip.display()
        );
        if v.motion {
            s += "[cameras.motion]\n";
        }
        if v.region {
            s += "[cameras.detect_region]\naround = \"geometry\"\n";
        }
    }
    s
}

pub fn trial(port: u16, v: &Variant, n: usize, secs: u64) -> Trial {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("density.toml");
    std::fs::write(&path, config(port, v, n)).unwrap();
    let mut cfg = EdgeConfig::load(&path).expect("bench config");
    cfg.outbox.path = dir.path().join("outbox.db");
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let run = std::thread::spawn(move || edge_node::pipeline::run(&cfg, s2));
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let s = run.join().unwrap().expect("pipeline run");
    crate::assert_provider_is(s.provider, &v.provider);
    let worst_drop = s
        .per_camera
        .iter()
        .map(|(_, pushed, analysed)| {
            pushed.saturating_sub(*analysed) as f64 / (*pushed).max(1) as f64
        })
        .fold(0.0, f64::max);
    Trial {
        worst_drop,
        analysed: s.frames,
        gated: s.gated,
        stages: s
            .stages
            .iter()
            .map(|(n, _, us)| format!("{n} {us:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Inference-only throughput of one model on frames decoded beforehand, batches of 4 where
/// the model takes them, within `region` where given.
pub fn inference_fps(
    model: &Path,
    provider: &str,
    frames: &[Arc<RgbImage>],
    region: Option<&Region>,
) -> f64 {
    let mut det = detector(model, provider);
    let batch = det.max_batch().min(4);
    batch_fps_in(&mut det, frames, batch, region)
}

/// Frames per second through `det` in batches of `batch` (one warm-up call first, since the
/// first run allocates and a GPU provider compiles its kernels then).
pub fn batch_fps(det: &mut Detector, frames: &[Arc<RgbImage>], batch: usize) -> f64 {
    batch_fps_in(det, frames, batch, None)
}

fn batch_fps_in(
    det: &mut Detector,
    frames: &[Arc<RgbImage>],
    batch: usize,
    region: Option<&Region>,
) -> f64 {
    let items: Vec<_> = frames.iter().map(|f| (f.as_ref(), region)).collect();
    det.detect_in(&items[..batch.min(items.len())]).unwrap();
    let t = Instant::now();
    for chunk in items.chunks(batch) {
        det.detect_in(chunk).unwrap();
    }
    frames.len() as f64 / t.elapsed().as_secs_f64()
}

/// The real detector on `model` and `provider` with the benches' thread count; panics if it
/// came up on another provider.
pub fn detector(model: &Path, provider: &str) -> Detector {
    detector_with(model, provider, "")
}

/// [`detector`] with `extra` lines in its `[model]` table.
pub fn detector_with(model: &Path, provider: &str, extra: &str) -> Detector {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(
        &path,
        format!(
            "site = \"b\"\n[mqtt]\nport = 1883\n[model]\npath = \"{}\"\nthreads = {THREADS}\nexecution_provider = \"{}\"\n{extra}\n[[cameras]]\nid = \"c\"\nurl = \"file://{}\"\n",
            model.display(),
            provider,
            cached("MATTHAN_VTEST", ".cache/media/vtest.avi").display()
        ),
    )
    .unwrap();
    let cfg = EdgeConfig::load(&path).expect("model config");
    let det = Detector::new(&cfg.model).unwrap();
    crate::assert_provider_is(det.provider(), provider);
    det
}

pub fn frames(vtest: &Path, max: usize) -> Vec<Arc<RgbImage>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.toml");
    let model = repo().join("models/nanodet-m-416.onnx");
    std::fs::write(
        &path,
        format!(
            "site = \"b\"\n[mqtt]\nport = 1883\n[model]\npath = \"{}\"\n[[cameras]]\nid = \"c\"\nurl = \"file://{}\"\ndetect_fps = {DETECT_FPS}\n",
            model.display(),
            vtest.display()
        ),
    )
    .unwrap();
    let cfg = EdgeConfig::load(&path).expect("frames config");
    decode_frames(&cfg.cameras[0], max)
}
