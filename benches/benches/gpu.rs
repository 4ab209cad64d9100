//! The GPU path (issue #20), side by side with the CPU in one run, on whatever accelerator the
//! loaded ONNX Runtime library drives (`MATTHAN_BENCH_EP`, cuda when unset; the library from
//! `onnxruntime-gpu` in `ORT_DYLIB_PATH`). `scripts/gpu-check.sh` runs it with the pipeline
//! bench; the figures and the machine go in `docs/benchmarks.md`.
//!
//! 1. Inference-only fps of the dynamic-batch model at batch 1 and 8, CPU (2 threads, the
//!    roadside box's setting) and the accelerator, on the same decoded frames.
//!    Then with the batch size cycling 1-4 from call to call, as in a live multi-camera run, and
//!    on CUDA both again with cuDNN's exhaustive convolution search instead of the heuristic.
//! 2. Agreement: the share of the CPU's detections the accelerator also makes (same class,
//!    IoU >= 0.9) and the other way round: a GPU must see what the CPU saw.
//! 3. Cameras sustained at 5 detections/s, the clip looped in real time, CPU then accelerator.
//!
//! cargo bench -p matthan-benches --bench gpu [-- SECONDS_PER_TRIAL]

use std::sync::Arc;

use edge_node::detect::Detection;
use edge_node::frame::RgbImage;
use matthan_benches::density::{
    DETECT_FPS, Variant, batch_fps, detector, detector_with, frames, inference_fps, sweep,
};
use matthan_benches::{Broker, cached, repo};

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let vtest = cached("MATTHAN_VTEST", ".cache/media/vtest.avi");
    let ort = cached("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so");
    // SAFETY: single-threaded here, before ONNX Runtime is loaded.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &ort) };
    let gpu = std::env::var("MATTHAN_BENCH_EP").unwrap_or_else(|_| "cuda".into());
    let model = repo().join("models/nanodet-m-416-dyn.onnx");
    assert!(
        model.is_file(),
        "{} is missing: run models/make-nanodet-variants.py --dyn-only",
        model.display()
    );
    let frames = frames(&vtest, 200);
    println!(
        "clip {} ({} frames decoded), model {}, library {}",
        vtest.display(),
        frames.len(),
        model.display(),
        ort.display()
    );

    let mut cpu = detector(&model, "cpu");
    let mut acc = detector(&model, &gpu);
    for batch in [1, 8] {
        let c = batch_fps(&mut cpu, &frames, batch);
        let g = batch_fps(&mut acc, &frames, batch);
        println!(
            "inference-only, batch {batch}: cpu {c:7.1} fps, {gpu} {g:7.1} fps = {:.1}x",
            g / c
        );
    }
    // A live run's batches change size with the cameras' timing; on the H200 the
    // multi-camera run spent 11-109 ms per frame in the model against 3 ms alone. Cycling the
    // batch size here shows whether shape changes are what costs.
    let c = cycling_fps(&mut cpu, &frames);
    let g = cycling_fps(&mut acc, &frames);
    println!(
        "inference-only, batch size cycling 1,2,3,4: cpu {c:7.1} fps, {gpu} {g:7.1} fps = {:.1}x",
        g / c
    );
    if gpu == "cuda" {
        // The same with cuDNN's exhaustive search, ONNX Runtime's own default (ours is
        // heuristic: `model.cuda_conv_search`).
        let mut ex = detector_with(&model, &gpu, "cuda_conv_search = \"exhaustive\"");
        let one = batch_fps(&mut ex, &frames, 1);
        let cyc = cycling_fps(&mut ex, &frames);
        println!("exhaustive conv search: batch 1 {one:7.1} fps, batch size cycling {cyc:7.1} fps");
    }
    let (seen, total) = agreement(&mut cpu, &mut acc, &frames);
    let (back, total_back) = agreement(&mut acc, &mut cpu, &frames);
    println!(
        "agreement: {gpu} makes {seen} of the cpu's {total} detections ({:.3}); the cpu makes {back} of {gpu}'s {total_back} ({:.3})",
        seen as f64 / total.max(1) as f64,
        back as f64 / total_back.max(1) as f64
    );
    drop((cpu, acc));

    let broker = Broker::start();
    let mut counts = Vec::new();
    // MATTHAN_GPU_SWEEP=accelerator skips the CPU's sweep (a rerun on a short lease).
    let only_acc = std::env::var("MATTHAN_GPU_SWEEP").is_ok_and(|v| v == "accelerator");
    let providers: &[&str] = if only_acc {
        &[gpu.as_str()]
    } else {
        &["cpu", gpu.as_str()]
    };
    for &provider in providers {
        let v = Variant {
            name: "fp32, batched",
            model: model.clone(),
            motion: false,
            clip: vtest.clone(),
            provider: provider.to_string(),
            region: false,
        };
        let infer = inference_fps(&v.model, provider, &frames, None);
        // The accelerator's start is capped: past a few dozen cameras decoding, not inference,
        // is what runs out, and the sweep grows from there.
        let start = ((infer / DETECT_FPS as f64) * 0.8).clamp(1.0, 24.0) as usize;
        let (best, tried) = sweep(broker.port, &v, start, secs);
        println!(
            "{provider:<5} {}: sustained {best} cameras at {DETECT_FPS} fps  [{}]",
            v.name,
            tried.join("; ")
        );
        counts.push(best);
    }
    if let [cpu, acc] = counts[..] {
        println!(
            "cameras per box: {gpu} {acc} vs cpu {cpu} = {:.1}x",
            acc as f64 / cpu.max(1) as f64
        );
    }
}

/// Frames per second through `det` with the batch size cycling 1, 2, 3, 4 from call to call
/// (every size already seen by the detector's warm-up).
fn cycling_fps(det: &mut edge_node::detect::Detector, frames: &[Arc<RgbImage>]) -> f64 {
    let t = std::time::Instant::now();
    let (mut i, mut size) = (0, 1);
    while i < frames.len() {
        let end = (i + size).min(frames.len());
        let imgs: Vec<&RgbImage> = frames[i..end].iter().map(|f| f.as_ref()).collect();
        det.detect(&imgs).unwrap();
        i = end;
        size = size % 4.min(det.max_batch()) + 1;
    }
    frames.len() as f64 / t.elapsed().as_secs_f64()
}

/// How many of `a`'s detections on `frames` `b` also makes (same class, IoU >= 0.9), of how many.
fn agreement(
    a: &mut edge_node::detect::Detector,
    b: &mut edge_node::detect::Detector,
    frames: &[Arc<RgbImage>],
) -> (usize, usize) {
    let (mut hit, mut total) = (0, 0);
    for f in frames {
        let da = &a.detect(&[f.as_ref()]).unwrap()[0];
        let db = &b.detect(&[f.as_ref()]).unwrap()[0];
        total += da.len();
        hit += da
            .iter()
            .filter(|x| db.iter().any(|y| y.class == x.class && iou(x, y) >= 0.9))
            .count();
    }
    (hit, total)
}

fn iou(a: &Detection, b: &Detection) -> f32 {
    let (a, b) = (&a.bbox, &b.bbox);
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = w * h;
    let union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}
