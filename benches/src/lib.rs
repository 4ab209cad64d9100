//! Helpers shared by the bench binaries.

pub use matthan_test_support::{Broker, cached, repo};

pub mod density;

/// Up to `max` frames of one camera's source, decoded by the real ingest path.
pub fn decode_frames(
    cam: &edge_node::config::CameraConfig,
    max: usize,
) -> Vec<std::sync::Arc<edge_node::frame::RgbImage>> {
    use edge_node::{
        ingest,
        queue::{FrameQueues, Msg},
    };
    use std::sync::{Arc, atomic::AtomicBool};
    use std::time::Duration;
    ingest::init().expect("GStreamer initialises");
    let cam = cam.clone();
    let q = Arc::new(FrameQueues::new(vec![ingest::overflow_policy(&cam)], 2));
    let (q2, stop) = (q.clone(), Arc::new(AtomicBool::new(false)));
    let stop2 = stop.clone();
    let th = std::thread::spawn(move || ingest::run_camera(0, &cam, q2, stop2));
    let mut out = Vec::new();
    'outer: while out.len() < max {
        for m in q.pop_batch(8, Duration::from_millis(200)) {
            match m {
                Msg::Frame(f) if out.len() < max => out.push(f.image),
                Msg::End { .. } => break 'outer,
                _ => {}
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    q.close();
    th.join().unwrap();
    out
}

/// Runs the peer (`benches/peer/peer_pipeline.py`: OpenCV, onnxruntime, supervision ByteTrack)
/// once on `video` with `model` and `threads`, plus `extra` arguments; returns its result object.
pub fn peer_run(
    video: &std::path::Path,
    model: &std::path::Path,
    threads: usize,
    extra: &[&str],
) -> serde_json::Value {
    use std::process::Command;
    let py = Command::new("bash")
        .arg(repo().join("scripts/peer.sh"))
        .output()
        .expect("scripts/peer.sh");
    assert!(py.status.success(), "scripts/peer.sh failed");
    let py = String::from_utf8_lossy(&py.stdout).trim().to_string();
    let out = tempfile::NamedTempFile::new().unwrap();
    let st = Command::new(&py)
        .arg(repo().join("benches/peer/peer_pipeline.py"))
        .args(["--video", &video.display().to_string()])
        .args(["--model", &model.display().to_string()])
        .args(["--threads", &threads.to_string()])
        .args(["--result-json", &out.path().display().to_string()])
        .args(extra)
        .status()
        .expect("peer pipeline");
    assert!(st.success(), "the peer pipeline failed");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path()).unwrap()).unwrap();
    v.get("runs").and_then(|r| r.get(0)).unwrap_or(&v).clone()
}

/// CPU seconds this process has used so far, all threads (user + system).
pub fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at `state`; utime and stime
    // are the 14th and 15th fields, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

/// The real ingest on the first camera with its frames thrown away: (frames, seconds).
pub fn decode_only(cfg: &edge_node::config::EdgeConfig) -> (u64, f64) {
    use edge_node::{
        ingest,
        queue::{FrameQueues, Msg},
    };
    use std::sync::{Arc, atomic::AtomicBool};
    use std::time::{Duration, Instant};
    let cam = cfg.cameras[0].clone();
    let q = Arc::new(FrameQueues::new(vec![ingest::overflow_policy(&cam)], 2));
    let (q2, stop) = (q.clone(), Arc::new(AtomicBool::new(false)));
    let t = Instant::now();
    let th = std::thread::spawn(move || ingest::run_camera(0, &cam, q2, stop));
    let mut frames = 0;
    'outer: loop {
        for m in q.pop_batch(8, Duration::from_millis(200)) {
            match m {
                Msg::Frame(_) => frames += 1,
                Msg::End { .. } => break 'outer,
                Msg::Status { .. } => {}
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    q.close();
    th.join().unwrap();
    (frames, secs)
}

/// An edge config's head for benches: broker acknowledgements end a message's wait (no hub),
/// and the six road classes. Cameras follow.
pub fn edge_toml_head(port: u16, model: &std::path::Path, threads: usize) -> String {
    edge_toml_head_on(port, model, threads, &bench_provider())
}

/// [`edge_toml_head`] on execution provider `ep`.
pub fn edge_toml_head_on(port: u16, model: &std::path::Path, threads: usize, ep: &str) -> String {
    format!(
        r#"site = "bench"
[mqtt]
port = {port}
[outbox]
receipts = false
[model]
path = "{model}"
threads = {threads}
classes = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
execution_provider = "{ep}"
"#,
        model = model.display(),
    )
}

/// The execution provider the benches ask for: `MATTHAN_BENCH_EP` (cpu, cuda, tensorrt,
/// openvino), cpu when unset. A bench that asked for one checks it got it, since the detector
/// falls back to the CPU with only a log line, and a CPU figure must never pass for a GPU one.
pub fn bench_provider() -> String {
    std::env::var("MATTHAN_BENCH_EP").unwrap_or_else(|_| "cpu".to_string())
}

/// Panics unless the detector runs on the provider the bench asked for.
pub fn assert_provider(got: &str) {
    assert_provider_is(got, &bench_provider());
}

/// Panics unless the detector runs on `want`.
pub fn assert_provider_is(got: &str, want: &str) {
    assert_eq!(
        got, want,
        "asked for execution provider {want} (MATTHAN_BENCH_EP) but the detector runs on {got}: \
         is ORT_DYLIB_PATH the GPU build of ONNX Runtime, with its CUDA libraries on LD_LIBRARY_PATH?"
    );
}

/// The head plus one camera playing `video` with every frame of a 10 fps clip analysed; its
/// lines, zones and rules follow.
pub fn one_camera_toml(
    port: u16,
    model: &std::path::Path,
    threads: usize,
    video: &std::path::Path,
) -> String {
    format!(
        "{}[[cameras]]\nid = \"vtest\"\nurl = \"file://{}\"\ndetect_fps = 10\n",
        edge_toml_head(port, model, threads),
        video.display()
    )
}

/// The `p` quantile (0..=1) of `v`, sorting it; NaN when empty.
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Peak resident set size of this process so far, in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> f64 {
    vm_hwm_mib("/proc/self/status").unwrap_or(f64::NAN)
}

/// `VmHWM` of a `/proc/<pid>/status` file, in MiB; none once the process is gone.
fn vm_hwm_mib(status: &str) -> Option<f64> {
    std::fs::read_to_string(status)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

/// The bearer token the benches' API server accepts (role operator).
pub const OPERATOR_TOKEN: &str = "bench-operator-token";

/// The hub's real HTTP listener and API router over a database, in this process.
pub struct ApiServer {
    pub url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    rt: tokio::runtime::Runtime,
}

impl ApiServer {
    /// Serves `db` and the evidence in `evidence` with `connections` store connections and
    /// `embedders` embedders (as `central-hub serve` sizes them: one of each per core).
    pub fn start(
        db: &std::path::Path,
        evidence: &std::path::Path,
        connections: u32,
        embedders: usize,
    ) -> Self {
        use central_hub::config::{Role, TokenConfig, sha256_hex};
        let rt = tokio::runtime::Runtime::new().unwrap();
        let models = repo().join("models");
        let state = central_hub::api::AppState::new(
            central_hub::store::pool(&db.display().to_string(), connections).unwrap(),
            central_hub::embed::Embedders::load(
                &models.join("minilm-l6-v2-int8.onnx"),
                &models.join("minilm-l6-v2-tokenizer.json"),
                None,
                embedders,
            )
            .unwrap(),
            central_hub::evidence::EvidenceStore::new(evidence).unwrap(),
            &[TokenConfig {
                name: "bench".into(),
                role: Role::Operator,
                sha256: sha256_hex(OPERATOR_TOKEN.as_bytes()),
                expires: None,
            }],
            std::sync::Arc::default(),
        );
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let limits = central_hub::http::Limits {
            max_connections: 512,
            idle_timeout: std::time::Duration::from_secs(60),
        };
        let server = rt.spawn(central_hub::http::serve(
            listener,
            central_hub::api::router(std::sync::Arc::new(state)),
            limits,
            None,
            stop.clone(),
        ));
        Self {
            url,
            stop,
            server,
            rt,
        }
    }

    pub fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.rt.block_on(self.server);
    }
}

/// Built binaries of the workspace (`target/release/...`, beside this bench's `deps` folder),
/// or from `MATTHAN_BIN_DIR` (a copy, so rebuilding during an hour-long soak cannot swap the
/// binaries it restarts).
pub fn binary(name: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("MATTHAN_BIN_DIR").map_or_else(
        || {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().to_path_buf()
        },
        std::path::PathBuf::from,
    );
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "{} is missing: cargo build --release -p central-hub -p edge-node",
        p.display()
    );
    p
}

/// Runs `edge-node run --config <config>` to its end and returns its peak resident set in MiB
/// (`VmHWM`, read every 50 ms while it runs: the last reading before it exits).
pub fn edge_run_peak_rss_mib(config: &std::path::Path) -> f64 {
    let mut child = std::process::Command::new(binary("edge-node"))
        .args(["run", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("edge-node run");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = f64::NAN;
    while child.try_wait().expect("edge-node run").is_none() {
        if let Some(mib) = vm_hwm_mib(&status) {
            peak = mib;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    peak
}
