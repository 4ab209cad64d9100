//! One stream, side by side with the peer in one run (issue #20): on `vtest.avi`, every frame,
//! the same model (NanoDet-m 416 fp32) and 2 ONNX Runtime threads, what each pipeline spends
//! besides the model, how close its full pipeline comes to the model alone, and how many track
//! ids it hands out for the same people.
//!
//! - Peer (`benches/peer/`): its own figures, with its line at x = 0.8 of the width (full height).
//! - Ours: decode-only (the real ingest; process CPU per frame), inference-only (the detector on
//!   200 frames decoded beforehand), then the whole edge (decode → detect → track → lines, zones
//!   and the vtest rules → MQTT QoS 1 to a real mosquitto), with the hand-labelled `east`
//!   segment and the peer's full-height line at x = 0.8. Our per-frame time outside the model
//!   is the decoder's CPU per frame plus every timed stage on the detector thread except the
//!   model run itself (`detect.inference`); the peer's is its decode, preprocess, postprocess
//!   and track+line wall time per frame, as it prints them.
//! - int8 against fp32: the two models' inference alone, in alternated rounds, median ratio.
//! - Memory: peak RSS of `edge-node run` with one camera as its own process (vtest.avi, and
//!   vtest's first 20 s as H.264 through libav and through OpenH264) beside the peer's.
//! - Track ids: distinct person track ids each pipeline reported over the clip (fewer for the
//!   same people is fewer fragments), and the crossings of the shared full-height line.
//!
//! cargo bench -p matthan-benches --bench overhead
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edge_node::config::EdgeConfig;
use edge_node::detect::Detector;
use edge_node::frame::RgbImage;
use edge_node::ingest;
use matthan_benches::{
    Broker, cached, decode_frames, decode_only, edge_run_peak_rss_mib, peer_run, process_cpu_s,
    repo,
};
use matthan_schema::{Body, Direction, Event};

const THREADS: usize = 2;
/// The shared line, as a fraction of the width (the labelled `east` segment's x).
const LINE_X: f64 = 0.8;

fn main() {
    let vtest = cached("MATTHAN_VTEST", ".cache/media/vtest.avi");
    let ort = cached("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so");
    // SAFETY: single-threaded here, before ONNX Runtime is loaded.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &ort) };
    let model = repo().join("models/nanodet-m-416.onnx");

    let peer = peer_run(
        &vtest,
        &model,
        THREADS,
        &["--line-x", &format!("{}", LINE_X * 768.0)],
    );
    let p_stage = &peer["full"]["stage_ms_per_frame"];
    let ms = |k: &str| p_stage[k].as_f64().unwrap_or(f64::NAN);
    let peer_other = ms("decode") + ms("preprocess") + ms("postprocess") + ms("track_line");

    let broker = Broker::start();
    let events = subscribe(broker.port);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), broker.port, &vtest, &model);
    ingest::init().unwrap();

    let cpu = process_cpu_s();
    let (decoded, decode_s) = decode_only(&cfg);
    let decode_cpu_ms = (process_cpu_s() - cpu) * 1000.0 / decoded as f64;

    let frames = decode_frames(&cfg.cameras[0], 200);
    let mut det = Detector::new(&cfg.model).unwrap();
    det.detect(&[frames[0].as_ref()]).unwrap();
    let t = Instant::now();
    for f in &frames {
        det.detect(&[f.as_ref()]).unwrap();
    }
    let infer_fps = frames.len() as f64 / t.elapsed().as_secs_f64();
    drop(det);
    let (fp32_fps, int8_fps, int8_x) = int8_against_fp32(&cfg, &frames);
    drop(frames);

    let s = edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false))).unwrap();
    let full_fps = s.frames as f64 / s.elapsed.as_secs_f64();
    let want = s.publish.published as usize;
    let deadline = Instant::now() + Duration::from_secs(30);
    while events.lock().unwrap().len() < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let evs = events.lock().unwrap().clone();
    let stage_ms: f64 = s
        .stages
        .iter()
        .filter(|(n, _, _)| *n != "detect.inference")
        .map(|(_, _, us)| us / 1000.0)
        .sum();
    let ours_other = decode_cpu_ms + stage_ms;
    let (ids, full_in, full_out) = tracks_and_crossings(&evs);

    println!(
        "clip {} ({decoded} frames), NanoDet-m 416 fp32, {THREADS} ORT threads",
        vtest.display()
    );
    println!("{:<44} {:>10} {:>10}", "", "peer", "ours");
    let row = |k: &str, p: String, o: String| println!("{k:<44} {p:>10} {o:>10}");
    row(
        "decode-only fps",
        f1(&peer["decode_fps"]),
        format!("{:.1}", decoded as f64 / decode_s),
    );
    row(
        "inference-only fps",
        f1(&peer["inference_fps"]),
        format!("{infer_fps:.1}"),
    );
    row(
        "full pipeline fps",
        f1(&peer["full_fps"]),
        format!("{full_fps:.1}"),
    );
    row(
        "full / inference-only",
        format!(
            "{:.3}",
            peer["full_fps"].as_f64().unwrap() / peer["inference_fps"].as_f64().unwrap()
        ),
        format!("{:.3}", full_fps / infer_fps),
    );
    row(
        "int8 / fp32 inference, alternated rounds",
        "-".into(),
        format!("{int8_x:.2}x"),
    );
    row(
        "per frame outside the model, ms",
        format!("{peer_other:.2}"),
        format!("{ours_other:.2}"),
    );
    row(
        "person track ids",
        peer["unique_track_ids"].to_string(),
        ids.to_string(),
    );
    row(
        "full-height line x=0.8: in / out",
        format!("{} / {}", peer["in_count"], peer["out_count"]),
        format!("{full_in} / {full_out}"),
    );
    let truth = full_line_truth();
    let score = |found: &[(String, f64)]| {
        let (tp, fp, missed) = line_score(&truth, found);
        format!("{tp} / {fp} / {missed}")
    };
    row(
        &format!(
            "  vs {} hand labels: right / false / missed",
            truth.labels.len()
        ),
        score(&peer_crossings(&peer)),
        score(&our_crossings(&evs)),
    );
    println!(
        "ours outside the model: decode {decode_cpu_ms:.2} ms CPU, then {}",
        s.stages
            .iter()
            .map(|(n, _, us)| format!("{n} {:.2}", us / 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "int8 vs fp32, {ROUNDS} alternated rounds of {ROUND} frames: {fp32_fps:.1} vs {int8_fps:.1} inferences/s, median ratio {int8_x:.2}"
    );
    memory(&peer, &vtest, &model, broker.port);
    println!("peer stages (ms/frame): {p_stage}");
    println!("{} events published, {} received", want, evs.len());
}

/// Peak RSS of `edge-node run` with one camera, as its own process, beside the peer's after its
/// full pipeline: on vtest.avi (libav's MPEG-4 decoder), and on vtest's first 20 s as H.264
/// (a camera's codec) decoded by libav and by OpenH264.
fn memory(peer: &serde_json::Value, vtest: &Path, model: &Path, port: u16) {
    let mp4 = cached("MATTHAN_VTEST_MP4", ".cache/media/vtest-20s.mp4");
    let run = |video: &Path, decoder: &str| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edge.toml");
        let head = matthan_benches::one_camera_toml(port, model, THREADS, video);
        std::fs::write(&path, format!("{head}decoder = \"{decoder}\"\n")).unwrap();
        edge_run_peak_rss_mib(&path)
    };
    let (avi, h264, open) = (run(vtest, "auto"), run(&mp4, "auto"), run(&mp4, "openh264"));
    println!(
        "{:<44} {:>10} {:>10}",
        "peak RSS, one camera (edge-node run), MiB",
        f1(&peer["peak_rss_pipeline_mib"]),
        format!("{avi:.1}")
    );
    println!(
        "{:<44} {:>10} {:>10}",
        "  the clip as H.264: libav / openh264",
        "-",
        format!("{h264:.1} / {open:.1}")
    );
}

const ROUNDS: usize = 7;
const ROUND: usize = 40;

/// fp32 and int8 (`models/nanodet-m-416-int8.onnx`) inference-only on the same frames, in
/// alternated rounds so that the VM's drift hits both alike: (fp32 fps, int8 fps, the median
/// of the per-round speed ratios).
fn int8_against_fp32(cfg: &EdgeConfig, frames: &[Arc<RgbImage>]) -> (f64, f64, f64) {
    let mut m8 = cfg.model.clone();
    m8.path = repo().join("models/nanodet-m-416-int8.onnx");
    let mut dets = [
        Detector::new(&cfg.model).unwrap(),
        Detector::new(&m8).unwrap(),
    ];
    let mut total = [0.0f64; 2];
    let mut ratios = Vec::new();
    for d in &mut dets {
        d.detect(&[frames[0].as_ref()]).unwrap();
    }
    for r in 0..ROUNDS {
        let part = &frames[(r * ROUND) % (frames.len() - ROUND)..][..ROUND];
        let mut secs = [0.0f64; 2];
        for (i, d) in dets.iter_mut().enumerate() {
            let t = Instant::now();
            for f in part {
                d.detect(&[f.as_ref()]).unwrap();
            }
            secs[i] = t.elapsed().as_secs_f64();
            total[i] += secs[i];
        }
        ratios.push(secs[0] / secs[1]);
    }
    let n = (ROUNDS * ROUND) as f64;
    (
        n / total[0],
        n / total[1],
        matthan_benches::pct(&mut ratios, 0.5),
    )
}

fn f1(v: &serde_json::Value) -> String {
    format!("{:.1}", v.as_f64().unwrap_or(f64::NAN))
}

/// The full-height line's hand labels: the `east` segment's crossings (`ground-truth.toml`) and
/// those elsewhere on the line (`full-line.toml`), with the line's ambiguous stretches.
struct FullLine {
    labels: Vec<(String, f64)>,
    ambiguous: Vec<(f64, f64)>,
}

/// What the bench reads of a vtest label file.
#[derive(serde::Deserialize)]
struct Labels {
    crossings: Vec<Crossing>,
    ambiguous: Vec<Span>,
}

#[derive(serde::Deserialize)]
struct Crossing {
    t: f64,
    direction: String,
}

#[derive(serde::Deserialize)]
struct Span {
    from: f64,
    to: f64,
}

fn full_line_truth() -> FullLine {
    let read = |f: &str| -> Labels {
        let p = repo().join("test-videos/vtest").join(f);
        toml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
    };
    let (east, full) = (read("ground-truth.toml"), read("full-line.toml"));
    FullLine {
        labels: east
            .crossings
            .iter()
            .chain(&full.crossings)
            .map(|c| (c.direction.clone(), c.t))
            .collect(),
        // The segment's own ambiguous stretches are about its ends; the full line has its own.
        ambiguous: full.ambiguous.iter().map(|s| (s.from, s.to)).collect(),
    }
}

/// (right, false, missed), matched as `edge-node --test vtest_rules` scores the `east` segment
/// (nearest unused label of the same direction within 1.5 s); an unmatched crossing inside an
/// ambiguous stretch is neither right nor false.
fn line_score(truth: &FullLine, found: &[(String, f64)]) -> (usize, usize, usize) {
    let (tp, extra, missed) = matthan_test_support::matched(found, &truth.labels, 1.5);
    let fp = extra
        .iter()
        .filter(|(_, t)| !truth.ambiguous.iter().any(|(a, b)| (a..=b).contains(&t)))
        .count();
    (tp, fp, missed)
}

/// The peer's crossings as it timed them (frame index / the video's frame rate).
fn peer_crossings(peer: &serde_json::Value) -> Vec<(String, f64)> {
    peer["full"]["crossings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[1].as_str().unwrap().to_string(), c[0].as_f64().unwrap()))
        .collect()
}

/// Our crossings of the full line, in seconds from the first frame (the camera's first `up`
/// status is stamped with its capture time).
fn our_crossings(evs: &[Event]) -> Vec<(String, f64)> {
    let t0 = evs
        .iter()
        .find(|e| matches!(&e.body, Body::CameraStatus(s) if s.state == matthan_schema::CameraState::Up))
        .expect("camera came up")
        .ts;
    evs.iter()
        .filter_map(|e| match &e.body {
            Body::Crossing(c) if c.line == "full" => Some((
                match c.direction {
                    Direction::In => "in".to_string(),
                    Direction::Out => "out".to_string(),
                },
                (e.ts - t0).as_seconds_f64(),
            )),
            _ => None,
        })
        .collect()
}

/// Distinct person track ids, and crossings of the shared line (in, out).
fn tracks_and_crossings(evs: &[Event]) -> (usize, usize, usize) {
    let mut ids = BTreeSet::new();
    let (mut i, mut o) = (0, 0);
    for e in evs {
        match &e.body {
            Body::Track(t) if t.class == "person" => {
                ids.insert(t.track_id);
            }
            Body::Crossing(c) if c.line == "full" => match c.direction {
                Direction::In => i += 1,
                Direction::Out => o += 1,
            },
            _ => {}
        }
    }
    (ids.len(), i, o)
}

fn config(
    dir: &std::path::Path,
    port: u16,
    video: &std::path::Path,
    model: &std::path::Path,
) -> EdgeConfig {
    let camera = std::fs::read_to_string(repo().join("test-videos/vtest/camera.toml")).unwrap();
    let path = dir.join("bench.toml");
    let head = matthan_benches::one_camera_toml(port, model, THREADS, video);
    std::fs::write(
        &path,
        format!(
            "{head}[[cameras.lines]]\nid = \"full\"\npoints = [[{LINE_X}, 0.0], [{LINE_X}, 1.0]]\nclasses = [\"person\"]\n{camera}"
        ),
    )
    .unwrap();
    EdgeConfig::load(&path).expect("bench config")
}

/// Every event published under `matthan/#`, decoded.
fn subscribe(port: u16) -> Arc<Mutex<Vec<Event>>> {
    use rumqttc::{Client, Event as E, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new("overhead-bench", "127.0.0.1", port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut conn) = Client::new(opts, 64);
    client.subscribe("matthan/#", QoS::AtLeastOnce).unwrap();
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let (ev, (ready_tx, ready_rx)) = (events.clone(), std::sync::mpsc::channel());
    std::thread::spawn(move || {
        let _client = client;
        for n in conn.iter() {
            match n {
                Ok(E::Incoming(Packet::SubAck(_))) => {
                    let _ = ready_tx.send(());
                }
                Ok(E::Incoming(Packet::Publish(p))) => {
                    if let Ok(e) = Event::from_json(&p.payload) {
                        ev.lock().unwrap().push(e);
                    }
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("subscribed");
    events
}
