//! Helpers shared by the bench binaries.

pub use matthan_test_support::{Broker, cached, repo};

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
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
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
