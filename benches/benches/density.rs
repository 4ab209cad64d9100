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
//! The region row detects only around each camera's counting line (`[cameras.detect_region]
//! around = "geometry"`): a vertical line's box with the default margin, 23 % of the input.
//!
//! cargo bench -p matthan-benches --bench density [-- SECONDS_PER_TRIAL] [VARIANT_NAME ...]

use std::path::Path;

use matthan_benches::density::{
    DETECT_FPS, MAX_DROP, THREADS, Variant, frames, inference_fps, line_region, sweep,
};
use matthan_benches::{Broker, cached, repo};

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    // Other arguments pick variants by name (a rerun of a few rows).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.parse::<u64>().is_err() && !a.starts_with('-'))
        .collect();
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
    let ep = matthan_benches::bench_provider();
    let variants = [
        Variant {
            name: "fp32, 1 frame per call",
            model: models.join("nanodet-m-416.onnx"),
            motion: false,
            clip: vtest.clone(),
            provider: ep.clone(),
            region: false,
        },
        Variant {
            name: "fp32, batched",
            model: dyn_model,
            motion: false,
            clip: vtest.clone(),
            provider: ep.clone(),
            region: false,
        },
        Variant {
            name: "int8, batched",
            model: models.join("nanodet-m-416-int8.onnx"),
            motion: false,
            clip: vtest.clone(),
            provider: ep.clone(),
            region: false,
        },
        Variant {
            name: "int8, batched, motion gate",
            model: models.join("nanodet-m-416-int8.onnx"),
            motion: true,
            clip: vtest.clone(),
            provider: ep.clone(),
            region: false,
        },
        Variant {
            name: "int8, batched, region",
            model: models.join("nanodet-m-416-int8.onnx"),
            motion: false,
            clip: vtest.clone(),
            provider: ep.clone(),
            region: true,
        },
        Variant {
            name: "int8, batched; still street",
            model: models.join("nanodet-m-416-int8.onnx"),
            motion: false,
            clip: still.clone(),
            provider: ep.clone(),
            region: false,
        },
        Variant {
            name: "int8, gate; still street",
            model: models.join("nanodet-m-416-int8.onnx"),
            motion: true,
            clip: still,
            provider: ep.clone(),
            region: false,
        },
    ];
    let frames = frames(&vtest, 100);
    println!(
        "vtest looped in real time, detect_fps {DETECT_FPS}, {THREADS} ORT threads, {secs} s per trial; sustained = no camera drops over {:.0} %",
        MAX_DROP * 100.0
    );
    let peer_cams = (peer / DETECT_FPS as f64).floor();
    println!("peer: full pipeline {peer:.1} fps -> {peer_cams} cameras at {DETECT_FPS} fps");
    let region = line_region();
    for v in variants
        .iter()
        .filter(|v| only.is_empty() || only.iter().any(|o| v.name == o))
    {
        let infer = inference_fps(&v.model, &v.provider, &frames, v.region.then_some(&region));
        let n = ((infer / DETECT_FPS as f64) * 0.8).floor().max(1.0) as usize;
        let (best, tried) = sweep(broker.port, v, n, secs);
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
