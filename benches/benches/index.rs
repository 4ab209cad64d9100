//! Forensic indexing speed (issue #19): seconds of recorded video analysed per second per core,
//! and how many of the tracks a full-rate run finds each faster setting keeps. The videos are
//! what an investigator brings: the generated case (`test-videos/cases/make.py`: 22 short
//! phone, recorder and web videos, H.264/H.265/MPEG-4/VP8/MJPEG, 352x288 to 1080p), vtest.avi
//! (a busy square) and the violation suite's `parked` composite (a mostly still street).
//!
//! Each row runs the worker's own path (`index::job_config` → `pipeline::run`: the template
//! camera reading each file as fast as the box allows, events published to a real broker and stored by the hub's ingest
//! into SQLite), with `workers` threads taking videos from one queue (as that many worker
//! processes would), each with 2 / workers ONNX Runtime threads: this box has 2 cores.
//! Row 1 analyses every frame: the reference whose tracks the others are scored against. A
//! reference track (at least 1 s long) is kept when a track of the same class on the same video
//! overlaps it in time by at least a third of the shorter one.
//!
//! cargo bench -p matthan-benches --bench index

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use edge_node::config::EdgeConfig;
use matthan_benches::{Broker, cached, repo};
use matthan_schema::{Body, Event, TrackPhase};

const CORES: f64 = 2.0;

struct Row {
    name: &'static str,
    detect_fps: u32,
    gate: bool,
    workers: usize,
    /// The int8 model (`models/nanodet-m-416-int8.onnx`) instead of fp32.
    int8: bool,
    /// Motion windows (`[cameras.motion] windows`): fp32 through the any-size export.
    windows: bool,
}

/// (video, class, first, last) in seconds from the video's start.
type Track = (String, String, f64, f64);

fn main() {
    let ort = cached("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so");
    // SAFETY: single-threaded here, before ONNX Runtime is loaded.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &ort) };
    let videos = videos();
    let seconds: f64 = videos.iter().map(|(_, d)| d).sum();
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hub.db");
    let _hub = Ingest::start(broker.port, &db, dir.path());
    let rows = [
        Row {
            name: "every frame (reference)",
            detect_fps: 30,
            gate: false,
            workers: 1,
            int8: false,
            windows: false,
        },
        Row {
            name: "5 fps",
            detect_fps: 5,
            gate: false,
            workers: 1,
            int8: false,
            windows: false,
        },
        Row {
            name: "5 fps + motion gate",
            detect_fps: 5,
            gate: true,
            workers: 1,
            int8: false,
            windows: false,
        },
        Row {
            name: "5 fps + gate, 2 workers",
            detect_fps: 5,
            gate: true,
            workers: 2,
            int8: false,
            windows: false,
        },
        Row {
            name: "5 fps + gate, 4 workers",
            detect_fps: 5,
            gate: true,
            workers: 4,
            int8: false,
            windows: false,
        },
        Row {
            name: "5 fps + gate, int8",
            detect_fps: 5,
            gate: true,
            workers: 1,
            int8: true,
            windows: false,
        },
        Row {
            name: "2 fps + gate",
            detect_fps: 2,
            gate: true,
            workers: 1,
            int8: false,
            windows: false,
        },
        Row {
            name: "5 fps + gate + windows",
            detect_fps: 5,
            gate: true,
            workers: 1,
            int8: false,
            windows: true,
        },
        Row {
            name: "5 fps + gate + windows, int8",
            detect_fps: 5,
            gate: true,
            workers: 1,
            int8: true,
            windows: true,
        },
    ];
    println!(
        "{} videos, {:.1} min of video, on {CORES} cores; speed = seconds of video per wall second per core",
        videos.len(),
        seconds / 60.0
    );
    let decode = decode_only(&videos);
    println!(
        "{:<26} {:>6.1} s wall  {:>5.1}x real time  {:>5.1}x per core  (GStreamer decodes every frame, nothing else; one core)",
        "decode only",
        decode,
        seconds / decode,
        seconds / decode
    );
    // `cargo bench ... -- 2,5` runs those rows besides the reference (row 0).
    let only: Option<Vec<usize>> = std::env::args()
        .skip(1)
        .find(|a| a.chars().all(|c| c.is_ascii_digit() || c == ','))
        .map(|a| a.split(',').filter_map(|n| n.parse().ok()).collect());
    let mut reference: Vec<Track> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if i > 0 && only.as_ref().is_some_and(|o| !o.contains(&i)) {
            continue;
        }
        let site = format!("row{i}");
        let (wall, published, stages) = run_row(r, &site, &videos, broker.port, dir.path());
        let tracks = wait_tracks(&db, &site, published);
        if i == 0 {
            reference = tracks.clone();
        }
        let (kept, of, lost) = recall(&reference, &tracks, same_class);
        let (kept_kind, _, _) = recall(&reference, &tracks, same_kind);
        println!(
            "{:<26} {:>6.1} s wall  {:>5.1}x real time  {:>5.1}x per core  tracks {:>4}  reference tracks kept {kept}/{of} ({:.3}; {kept_kind} ({:.3}) counting car/bus/truck as one kind)",
            r.name,
            wall,
            seconds / wall,
            seconds / wall / CORES,
            tracks.len(),
            kept as f64 / of.max(1) as f64,
            kept_kind as f64 / of.max(1) as f64
        );
        let shown: Vec<String> = stages
            .iter()
            .filter(|(n, s)| **s >= 0.05 && **n != MODEL_MPX)
            .map(|(n, s)| format!("{n} {s:.1}"))
            .collect();
        println!(
            "{:<26} model input {:.0} Mpx (the detector's work, free of the VM's speed); stage CPU seconds: {}",
            "",
            stages.get(MODEL_MPX).copied().unwrap_or(0.0),
            shown.join(", ")
        );
        for (v, class, a, b) in lost {
            let name = Path::new(v)
                .file_name()
                .map_or(v.clone(), |n| n.to_string_lossy().into());
            let here: Vec<String> = tracks
                .iter()
                .filter(|t| &t.0 == v)
                .map(|t| format!("{} {:.1}-{:.1}", t.1, t.2, t.3))
                .collect();
            println!(
                "{:<26} lost: {name} {class} {a:.1}-{b:.1} s (this row there: {})",
                "",
                here.join(", ")
            );
        }
    }
}

/// Seconds GStreamer takes to decode every frame of every video, one after another on one
/// core (`gst-launch-1.0 … decodebin ! fakesink`): the floor of any run that decodes them all.
fn decode_only(videos: &[(PathBuf, f64)]) -> f64 {
    let started = Instant::now();
    for (p, _) in videos {
        let ok = std::process::Command::new("taskset")
            .args(["-c", "0", "gst-launch-1.0", "-q", "filesrc"])
            .arg(format!("location={}", p.display()))
            .args(["!", "decodebin", "!", "fakesink", "sync=false"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "{} does not decode", p.display());
    }
    started.elapsed().as_secs_f64()
}

/// The videos and their lengths (s).
fn videos() -> Vec<(PathBuf, f64)> {
    let case = matthan_test_support::generated_clips(
        "cases",
        &["test-videos/cases/make.py", "test-videos/traffic/make.py"],
        "case.json",
    );
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("case.json")).unwrap()).unwrap();
    let mut out: Vec<PathBuf> = truth["videos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["not_video"] != true)
        .map(|v| case.join(v["file"].as_str().unwrap()))
        .collect();
    out.push(cached("MATTHAN_VTEST", ".cache/media/vtest.avi"));
    out.push(
        matthan_test_support::generated_clips(
            "traffic",
            &["test-videos/traffic/make.py"],
            "scenarios.json",
        )
        .join("parked.mp4"),
    );
    out.into_iter()
        .map(|p| {
            let d = edge_node::ingest::probe::probe(&p)
                .unwrap()
                .duration
                .unwrap();
            (p, d.as_secs_f64())
        })
        .collect()
}

/// When the bench's videos were "filmed" (events are stamped from it): yesterday, within the
/// hub's `max_age_days`, the same for every row.
fn start() -> chrono::DateTime<chrono::Utc> {
    static START: std::sync::OnceLock<chrono::DateTime<chrono::Utc>> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        let ms = (chrono::Utc::now() - chrono::Duration::days(1)).timestamp_millis();
        chrono::DateTime::from_timestamp_millis(ms - ms % 1000).unwrap()
    })
}

/// The edge config of one worker of `r`: a template camera as `index-worker` is given.
fn config(
    r: &Row,
    site: &str,
    port: u16,
    dir: &Path,
    worker: usize,
    template: &Path,
) -> EdgeConfig {
    let threads = ((CORES as usize) / r.workers).max(1);
    let text = format!(
        "site = \"{site}\"\nedge_id = \"{site}-w{worker}\"\n[mqtt]\nhost = \"127.0.0.1\"\nport = {port}\n\
         [outbox]\npath = \"{}\"\nreceipts = false\n\
         [model]\npath = \"{}\"\nthreads = {threads}\nclasses = [\"person\", \"bicycle\", \"car\", \"motorcycle\", \"bus\", \"truck\"]\n\
         [[cameras]]\nid = \"template\"\nurl = \"file://{}\"\ndetect_fps = {}\n{}",
        dir.join(format!("{site}-w{worker}.outbox")).display(),
        repo()
            .join(match (r.int8, r.windows) {
                (true, _) => "models/nanodet-m-416-int8.onnx",
                (false, true) => "models/nanodet-m-416-dyn.onnx",
                (false, false) => "models/nanodet-m-416.onnx",
            })
            .display(),
        template.display(),
        r.detect_fps,
        match (r.gate, r.windows) {
            (true, true) => "[cameras.motion]\nwindows = true\n",
            (true, false) => "[cameras.motion]\n",
            _ => "",
        },
    );
    let p = dir.join(format!("{site}-w{worker}.toml"));
    std::fs::write(&p, text).unwrap();
    EdgeConfig::load(&p).unwrap()
}

/// CPU seconds per pipeline stage, summed over a row's videos (and `MODEL_MPX`).
type Stages = BTreeMap<&'static str, f64>;

/// The entry of `Stages` that holds the model input pixels run, in millions.
const MODEL_MPX: &str = "model input Mpx";

/// Runs the row's workers over every video; (wall seconds, events published, stage seconds).
fn run_row(
    r: &Row,
    site: &str,
    videos: &[(PathBuf, f64)],
    port: u16,
    dir: &Path,
) -> (f64, u64, Stages) {
    let queue = Mutex::new((0..videos.len()).collect::<Vec<_>>());
    let published = Mutex::new(0u64);
    let stages = Mutex::new(Stages::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for w in 0..r.workers {
            let (queue, published, stages) = (&queue, &published, &stages);
            s.spawn(move || {
                let base = config(r, site, port, dir, w, &videos[0].0);
                let opts = edge_node::index::WorkerOptions {
                    hub: String::new(),
                    token: String::new(),
                    ca: None,
                    id: format!("{site}-w{w}"),
                    work_dir: dir.join(format!("{site}-w{w}")),
                    once: true,
                    poll: std::time::Duration::from_secs(1),
                };
                std::fs::create_dir_all(&opts.work_dir).unwrap();
                while let Some(i) = queue.lock().unwrap().pop() {
                    let lease: edge_node::index::hub::Lease =
                        serde_json::from_value(serde_json::json!({
                            "job": {"id": i, "case_id": 1, "name": "v", "attempt": 1,
                                    "recorded_at": matthan_schema::format_ts(&start())},
                            "video_url": "", "lease_s": 60,
                        }))
                        .unwrap();
                    // A hash per row and video: rows must not share event ids.
                    let sha = format!(
                        "{}{:0>4}{i:04}",
                        "0".repeat(56),
                        site.trim_start_matches("row")
                    );
                    let cfg =
                        edge_node::index::job_config(&base, &opts, &lease, &videos[i].0, &sha);
                    let s =
                        edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false))).unwrap();
                    *published.lock().unwrap() += s.publish.published;
                    let mut st = stages.lock().unwrap();
                    for (name, frames, us) in &s.stages {
                        *st.entry(name).or_default() += *frames as f64 * us / 1e6;
                    }
                    *st.entry(MODEL_MPX).or_default() += s.model_input_px as f64 / 1e6;
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    (
        wall,
        published.into_inner().unwrap(),
        stages.into_inner().unwrap(),
    )
}

/// The row's tracks once the hub has stored what its workers published.
fn wait_tracks(db: &Path, site: &str, published: u64) -> Vec<Track> {
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let conn = rusqlite::Connection::open(db).unwrap();
    loop {
        let n: u64 = conn
            .query_row("SELECT COUNT(*) FROM events WHERE site = ?1", [site], |r| {
                r.get(0)
            })
            .unwrap();
        // Published counts edge status messages too, which the hub stores as events as well.
        if n >= published || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let start = start();
    let mut st = conn
        .prepare("SELECT body FROM events WHERE site = ?1 AND kind = 'track'")
        .unwrap();
    let mut ends = BTreeMap::new();
    for body in st.query_map([site], |r| r.get::<_, String>(0)).unwrap() {
        let e = Event::from_json(body.unwrap().as_bytes()).unwrap();
        if let Body::Track(t) = &e.body
            && t.phase == TrackPhase::End
        {
            let s = |ts: chrono::DateTime<chrono::Utc>| (ts - start).as_seconds_f64();
            ends.insert(
                (e.camera.clone(), t.track_id),
                (
                    e.camera.clone(),
                    t.class.clone(),
                    s(t.first_seen),
                    s(t.last_seen),
                ),
            );
        }
    }
    ends.into_values().collect()
}

/// Reference tracks of at least 1 s kept by `got` with a class `alike` theirs: (kept, counted,
/// the ones lost).
fn recall<'a>(
    reference: &'a [Track],
    got: &[Track],
    alike: fn(&str, &str) -> bool,
) -> (usize, usize, Vec<&'a Track>) {
    let long: Vec<&Track> = reference.iter().filter(|t| t.3 - t.2 >= 1.0).collect();
    let (kept, lost): (Vec<&Track>, Vec<&Track>) = long.iter().partition(|(v, class, a, b)| {
        got.iter().any(|(v2, c2, a2, b2)| {
            let overlap = b.min(*b2) - a.max(*a2);
            v == v2 && alike(class, c2) && overlap >= (b - a).min(b2 - a2) / 3.0
        })
    });
    (kept.len(), long.len(), lost)
}

fn same_class(a: &str, b: &str) -> bool {
    a == b
}

/// The detector's car and truck are a coin toss on a pickup (the case's vehicle): the full-rate
/// run and a faster one may each vote differently for the same vehicle, which the strict
/// figure counts as lost. The second figure counts four-wheelers as one kind.
fn same_kind(a: &str, b: &str) -> bool {
    let four = |c: &str| matches!(c, "car" | "bus" | "truck");
    a == b || (four(a) && four(b))
}

/// The hub's real ingest into SQLite, in this process (as the edge tests run it).
struct Ingest {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ingest {
    fn start(port: u16, db: &Path, dir: &Path) -> Self {
        use central_hub::ingest::{IngestConfig, IngestStats};
        let cfg = IngestConfig {
            host: "127.0.0.1".into(),
            port,
            client_id: "index-bench-hub".into(),
            group: "bench".into(),
            security: Default::default(),
            limits: Default::default(),
            watch: None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let store = central_hub::store::open(&db.display().to_string()).unwrap();
        let evidence = central_hub::evidence::EvidenceStore::new(&dir.join("evidence")).unwrap();
        let thread = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(central_hub::ingest::run(
                    cfg,
                    store,
                    evidence,
                    Arc::new(IngestStats::default()),
                    s,
                ))
                .unwrap();
        });
        std::thread::sleep(std::time::Duration::from_secs(1));
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
