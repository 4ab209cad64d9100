//! Cameras per box (issue #20), side by side in one run: `vtest.avi` looped in real time as N
//! cameras at `detect_fps = 5`, publishing to a real broker, for each model path (fp32 one
//! frame per call, fp32 with a dynamic batch across cameras, int8 with the batch, int8 with the
//! batch and the motion gate); a camera count is *sustained* when no camera loses more than
//! 1 % of its frames to back-pressure. The peer (`benches/peer/`, OpenCV + onnxruntime +
//! supervision ByteTrack on the same model and threads) runs in the same process tree
//! first; its camera count is its full-pipeline fps over 5, which is generous to it (it would
//! have to decode 10 fps per camera to analyse 5).
//!
//! The last two rows loop a mostly still street instead (the violation suite's `parked`
//! composite), with and without the gate: what the gate buys where there is stillness to skip.
//!
//! cargo bench -p matthan-benches --bench density [-- SECONDS_PER_TRIAL]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use edge_node::config::EdgeConfig;
use edge_node::detect::Detector;
use edge_node::frame::RgbImage;
use matthan_benches::{Broker, cached, decode_frames, repo};

const THREADS: usize = 2;
const DETECT_FPS: u32 = 5;
/// A camera count is sustained while every camera loses at most this share of its frames.
const MAX_DROP: f64 = 0.01;

struct Variant {
    name: &'static str,
    model: PathBuf,
    motion: bool,
    /// The looped clip every camera plays.
    clip: PathBuf,
}

struct Trial {
    worst_drop: f64,
    analysed: u64,
    gated: u64,
}

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let vtest = cached("MATTHAN_VTEST", ".cache/media/vtest.avi");
    let ort = cached("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so");
    // SAFETY: single-threaded here, before ONNX Runtime is loaded.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &ort) };
    let models = repo().join("models");
    let dyn_model = models.join("nanodet-m-416-dyn.onnx");
    assert!(
        dyn_model.is_file(),
        "{} is missing: run scripts/setup.sh (it derives it with models/make-nanodet-variants.py)",
        dyn_model.display()
    );
    let peer = peer(&vtest, &models.join("nanodet-m-416.onnx"));
    // A mostly still street (a truck drives in and parks; the light changes), where the motion
    // gate has something to skip: on vtest's busy square it skips nothing.
    let still = matthan_test_support::generated_clips(
        "traffic",
        &["test-videos/traffic/make.py"],
        "scenarios.json",
    )
    .join("parked.mp4");
    let broker = Broker::start();
    let variants = [
        Variant {
            name: "fp32, 1 frame per call",
            model: models.join("nanodet-m-416.onnx"),
            motion: false,
            clip: vtest.clone(),
        },
        Variant {
            name: "fp32, batched",
            model: dyn_model,
            motion: false,
            clip: vtest.clone(),
        },
        Variant {
            name: "int8, batched",
            model: models.join("nanodet-m-416-int8.onnx"),
            motion: false,
            clip: vtest.clone(),
        },
        Variant {
            name: "int8, batched, motion gate",
            model: models.join("nanodet-m-416-int8.onnx"),
            motion: true,
            clip: vtest.clone(),
        },
        Variant {
            name: "int8, batched; still street",
            model: models.join("nanodet-m-416-int8.onnx"),
            motion: false,
            clip: still.clone(),
        },
        Variant {
            name: "int8, gate; still street",
            model: models.join("nanodet-m-416-int8.onnx"),
            motion: true,
            clip: still,
        },
    ];
    let frames = frames(&vtest, 100);
    println!(
        "vtest looped in real time, detect_fps {DETECT_FPS}, {THREADS} ORT threads, {secs} s per trial; sustained = no camera drops over {:.0} %",
        MAX_DROP * 100.0
    );
    let peer_cams = (peer / DETECT_FPS as f64).floor();
    println!("peer: full pipeline {peer:.1} fps -> {peer_cams} cameras at {DETECT_FPS} fps");
    for v in &variants {
        let infer = inference_fps(&v.model, &frames);
        let mut n = ((infer / DETECT_FPS as f64) * 0.8).floor().max(1.0) as usize;
        // Grow by a third while sustained, then bisect between the best sustained count and
        // the first that was not.
        let (mut best, mut over): (usize, Option<usize>) = (0, None);
        let mut tried = Vec::new();
        loop {
            let t = trial(broker.port, v, n, secs);
            let ok = t.worst_drop <= MAX_DROP;
            tried.push(format!(
                "{n}: worst drop {:.1} %, {} analysed, {} still{}",
                t.worst_drop * 100.0,
                t.analysed,
                t.gated,
                if ok { "" } else { " (over)" }
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
        println!(
            "{:<28} inference-only {infer:5.1} fps; sustained {best} cameras = {:.2}x the peer  [{}]",
            v.name,
            best as f64 / peer_cams.max(1.0),
            tried.join("; ")
        );
    }
}

/// Runs the peer once (same clip, model, threads) and returns its full-pipeline fps.
fn peer(vtest: &Path, model: &Path) -> f64 {
    matthan_benches::peer_run(vtest, model, THREADS, &[])["full_fps"]
        .as_f64()
        .expect("peer full_fps")
}

fn config(port: u16, v: &Variant, n: usize) -> String {
    let mut s = matthan_benches::edge_toml_head(port, &v.model, THREADS);
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
    }
    s
}

fn trial(port: u16, v: &Variant, n: usize, secs: u64) -> Trial {
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
    }
}

/// Inference-only throughput of one model on frames decoded beforehand, batches of 4 where
/// the model takes them.
fn inference_fps(model: &Path, frames: &[Arc<RgbImage>]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(
        &path,
        format!(
            "site = \"b\"\n[mqtt]\nport = 1883\n[model]\npath = \"{}\"\nthreads = {THREADS}\n[[cameras]]\nid = \"c\"\nurl = \"file://{}\"\n",
            model.display(),
            cached("MATTHAN_VTEST", ".cache/media/vtest.avi").display()
        ),
    )
    .unwrap();
    let cfg = EdgeConfig::load(&path).expect("model config");
    let mut det = Detector::new(&cfg.model).unwrap();
    let batch = det.max_batch().min(4);
    det.detect(&[frames[0].as_ref()]).unwrap();
    let t = Instant::now();
    for chunk in frames.chunks(batch) {
        let imgs: Vec<&RgbImage> = chunk.iter().map(|f| f.as_ref()).collect();
        det.detect(&imgs).unwrap();
    }
    frames.len() as f64 / t.elapsed().as_secs_f64()
}

fn frames(vtest: &Path, max: usize) -> Vec<Arc<RgbImage>> {
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
