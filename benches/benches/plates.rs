//! What reading the plate of every passing vehicle costs, plates off vs on in one run, on
//! the tracing corridor's busiest camera (`test-videos/corridor/`, 44 vehicles):
//!
//! - **Live camera** (the clip replayed at its own 10 fps, `realtime = true`): frames the
//!   detector analysed per second of video with plates off and on (the issue's "detector frame
//!   rate"; goal: on ≥ 0.95 × off), sightings read and skipped, plates on tracks.
//! - **Recorded file** (as fast as the box goes; the reader is waited for, so every vehicle is
//!   read): throughput off and on, which prices the reading itself.
//! - Plate reading cost per read and per vehicle track.
//!
//! cargo bench -p matthan-benches --bench plates

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use edge_node::config::EdgeConfig;
use matthan_benches::{Broker, cached};

fn config(
    dir: &std::path::Path,
    port: u16,
    clip: &std::path::Path,
    plates: bool,
    live: bool,
) -> EdgeConfig {
    let text = format!(
        r#"site = "bench"
[mqtt]
port = {port}
[outbox]
path = "{dir}/outbox-{plates}-{live}.db"
receipts = false
{sections}[[cameras]]
id = "cam"
url = "file://{clip}"
detect_fps = 10
realtime = {live}
"#,
        dir = dir.display(),
        sections = matthan_test_support::corridor_edge_sections(plates),
        clip = clip.display(),
    );
    let path = dir.join(format!("bench-{plates}-{live}.toml"));
    std::fs::write(&path, text).unwrap();
    EdgeConfig::load(&path).expect("bench config")
}

struct Run {
    frames: u64,
    dropped: u64,
    secs: f64,
    plates: edge_node::pipeline::PlateStats,
}

fn run(cfg: &EdgeConfig) -> Run {
    let t = Instant::now();
    let s = edge_node::pipeline::run(cfg, Arc::new(AtomicBool::new(false))).expect("pipeline");
    Run {
        frames: s.frames,
        dropped: s.dropped,
        secs: t.elapsed().as_secs_f64(),
        plates: s.plates,
    }
}

fn main() {
    let ort = cached("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so");
    // SAFETY: single-threaded here, before ONNX Runtime is loaded.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &ort) };
    let clips = matthan_test_support::corridor_clips();
    let clip = clips.join("cam-2.mp4");
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = |plates, live| config(dir.path(), broker.port, &clip, plates, live);

    println!("clip: {} (corridor cam-2, 10 fps)", clip.display());
    println!("\nlive camera (replayed at 10 fps, frames dropped when the box is behind):");
    let off = run(&cfg(false, true));
    let on = run(&cfg(true, true));
    for (name, r) in [("plates off", &off), ("plates on", &on)] {
        println!(
            "  {name:<10} {:>5} frames analysed, {:>4} dropped, {:.2} analysed/s of video, {} read, {} skipped",
            r.frames,
            r.dropped,
            r.frames as f64 / r.secs,
            r.plates.read,
            r.plates.skipped
        );
    }
    println!(
        "  detector frame rate on/off: {:.3} (goal ≥ 0.95)",
        (on.frames as f64 / on.secs) / (off.frames as f64 / off.secs)
    );

    println!("\nrecorded file (as fast as possible; every sighting read):");
    let off = run(&cfg(false, false));
    let on = run(&cfg(true, false));
    for (name, r) in [("plates off", &off), ("plates on", &on)] {
        println!(
            "  {name:<10} {:>5} frames in {:.1} s: {:.1} frames/s, {} read",
            r.frames,
            r.secs,
            r.frames as f64 / r.secs,
            r.plates.read
        );
    }
    let p = on.plates;
    let per_read = p.ms_total as f64 / p.read.max(1) as f64;
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(clips.join("corridor.json")).unwrap())
            .unwrap();
    // True passes before cam-2.
    let vehicles = truth["vehicles"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["sightings"].as_array().unwrap())
        .filter(|s| s["camera"] == "cam-2")
        .count() as f64;
    println!(
        "  throughput on/off: {:.3}; reading: {per_read:.0} ms per sighting, {:.1} sightings and {:.0} ms per vehicle",
        (on.frames as f64 / on.secs) / (off.frames as f64 / off.secs),
        p.read as f64 / vehicles,
        p.ms_total as f64 / vehicles
    );
}
