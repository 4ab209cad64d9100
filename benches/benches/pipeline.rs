//! Pipeline overhead on one clip, all in one run:
//! decode-only fps (the real ingest code, frames discarded), inference-only fps (the real
//! detector on frames decoded beforehand), full pipeline fps (decode → detect → track →
//! analytics → MQTT to a real broker), and full / min(decode, inference). Goal: ≥ 0.9. Also the
//! per-frame time of each stage after detection (tracking, snapshots, analytics…), as the
//! pipeline's own `matthan_edge_stage_seconds_total` counts it.
//!
//! cargo bench -p matthan-benches --bench pipeline [-- FRAMES]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use edge_node::config::EdgeConfig;
use edge_node::detect::Detector;
use edge_node::ingest;
use matthan_benches::{Broker, cached, decode_frames, decode_only, peak_rss_mib, repo};

fn main() {
    let vtest = cached("MATTHAN_VTEST", ".cache/media/vtest.avi");
    let ort = cached("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so");
    // SAFETY: single-threaded here, before ONNX Runtime is loaded.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &ort) };
    let threads: usize = std::env::var("MATTHAN_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("bench.toml");
    std::fs::write(
        &cfg_path,
        format!(
            r#"{head}[[cameras.lines]]
id = "mid"
points = [[0.05, 0.55], [0.95, 0.55]]
[[cameras.zones]]
id = "plaza"
polygon = [[0.0, 0.6], [0.5, 0.6], [0.5, 1.0], [0.0, 1.0]]
"#,
            head = matthan_benches::one_camera_toml(
                broker.port,
                &repo().join("models/nanodet-m-416.onnx"),
                threads,
                &vtest
            )
        ),
    )
    .unwrap();
    let cfg = EdgeConfig::load(&cfg_path).expect("bench config");
    ingest::init().unwrap();

    // 1. Decode only: the same GStreamer pipeline and hand-off, frames thrown away.
    let (decoded, decode_s) = decode_only(&cfg);
    let decode_fps = decoded as f64 / decode_s;

    // 2. Inference only: preprocess + model + decode + NMS on frames decoded beforehand.
    let frames = decode_frames(&cfg.cameras[0], 200);
    let mut det = Detector::new(&cfg.model).unwrap();
    matthan_benches::assert_provider(det.provider());
    det.detect(&[frames[0].as_ref()]).unwrap(); // warm-up: first run allocates
    let t = Instant::now();
    let mut n = 0;
    for f in &frames {
        det.detect(&[f.as_ref()]).unwrap();
        n += 1;
    }
    let infer_fps = n as f64 / t.elapsed().as_secs_f64();
    drop(det);

    // 3. Everything, publishing to a real broker.
    let s = edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false))).unwrap();
    let full_fps = s.frames as f64 / s.elapsed.as_secs_f64();
    let ratio = full_fps / decode_fps.min(infer_fps);

    println!(
        "clip: {} ({decoded} frames at 10 fps detect rate), model threads {threads}",
        vtest.display()
    );
    println!("decode-only     {decode_fps:8.1} fps");
    println!(
        "inference-only  {infer_fps:8.1} fps  ({n} frames, provider {})",
        s.provider
    );
    println!(
        "full pipeline   {full_fps:8.1} fps  ({} frames, {} events, {} acked)",
        s.frames, s.publish.published, s.publish.acked
    );
    println!("ratio full / min(decode, inference) = {ratio:.3}  (goal >= 0.9)");
    // The detector thread's work besides inference, stage by stage (the pipeline's own timers).
    let per_frame: f64 = s
        .stages
        .iter()
        .filter(|(n, _, _)| *n != "detect.inference")
        .map(|(_, _, us)| us)
        .sum();
    let stages: Vec<String> = s
        .stages
        .iter()
        .map(|(n, _, us)| format!("{n} {us:.0}"))
        .collect();
    println!(
        "stages per frame: {per_frame:.0} us outside the model run ({})",
        stages.join(", ")
    );
    println!("peak RSS {:.0} MiB", peak_rss_mib());
}
