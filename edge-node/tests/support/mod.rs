//! Real components for the integration tests: a mosquitto broker on a free loopback port, an
//! MQTT subscriber that collects decoded events, an RTSP server, and the generated models.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use matthan_schema::Event;

pub mod frames;
pub mod scenes;

pub use matthan_test_support::{
    Broker, cached as cache_file, free_port, make_test_pki, repo, stored_ids, tls_broker,
    wait_for_ids,
};

/// Points ORT at the library setup installed, unless the caller already chose one.
pub fn ort() {
    let lib = cache_file("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so");
    // SAFETY: set before any test thread loads ONNX Runtime; every caller sets the same value.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", lib) };
}

pub fn vtest() -> PathBuf {
    cache_file("MATTHAN_VTEST", ".cache/media/vtest.avi")
}

pub fn vtest_mp4() -> PathBuf {
    cache_file("MATTHAN_VTEST_MP4", ".cache/media/vtest-20s.mp4")
}

pub fn nanodet() -> PathBuf {
    repo().join("models/nanodet-m-416.onnx")
}

/// Generates the small known-output models (see support/gen_models.py) into a temp dir.
pub fn gen_models() -> tempfile::TempDir {
    let python = cache_file("MATTHAN_PYTHON", ".venv/bin/python");
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/gen_models.py");
    let out = Command::new(python)
        .arg(script)
        .arg(dir.path())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "gen_models.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// A message as it arrived: its topic and the decoded event, or why it did not decode.
pub type Received = (String, Result<Event, String>);

/// An evidence blob as it arrived: its topic and bytes.
pub type Blob = (String, Vec<u8>);

/// Collects every message under `matthan/#`; payloads that fail to decode are kept as errors.
pub struct Subscriber {
    pub events: Arc<Mutex<Vec<Received>>>,
    /// Evidence blobs: (topic, bytes).
    pub blobs: Arc<Mutex<Vec<Blob>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Subscriber {
    pub fn start(port: u16) -> Self {
        Self::with_session(port, &format!("test-sub-{}", free_port()), true)
    }

    /// A subscriber whose session (subscriptions, queued messages) outlives disconnects, as the
    /// hub's does.
    pub fn persistent(port: u16, client_id: &str) -> Self {
        Self::with_session(port, client_id, false)
    }

    fn with_session(port: u16, client_id: &str, clean: bool) -> Self {
        use rumqttc::{Client, Event as E, MqttOptions, Packet, QoS};
        let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
        opts.set_max_packet_size(1 << 20, 1 << 20);
        opts.set_clean_session(clean);
        let (client, mut conn) = Client::new(opts, 64);
        client.subscribe("matthan/#", QoS::AtLeastOnce).unwrap();
        client
            .subscribe("matthan-evidence/#", QoS::AtLeastOnce)
            .unwrap();
        let events: Arc<Mutex<Vec<_>>> = Arc::default();
        let blobs: Arc<Mutex<Vec<Blob>>> = Arc::default();
        let bl = blobs.clone();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (ev, st) = (events.clone(), stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _client = client;
            for n in conn.iter() {
                if st.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                match n {
                    Ok(E::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(E::Incoming(Packet::Publish(p)))
                        if p.topic.starts_with("matthan-evidence/") =>
                    {
                        bl.lock()
                            .unwrap()
                            .push((p.topic.clone(), p.payload.to_vec()));
                    }
                    Ok(E::Incoming(Packet::Publish(p))) => {
                        let e = Event::from_json(&p.payload).map_err(|e| e.to_string());
                        ev.lock().unwrap().push((p.topic.clone(), e));
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("subscribed");
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("subscribed to evidence");
        Self {
            events,
            blobs,
            stop,
        }
    }

    pub fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// Waits until `pred` holds over the events so far, or panics after `timeout`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&[Event]) -> bool,
    ) -> Vec<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            let evs = self.decoded();
            if pred(&evs) {
                return evs;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; got {} events",
                evs.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every event so far; panics on a payload that failed to decode (the edge wrote it).
    pub fn decoded(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|(t, e)| match e {
                Ok(e) => {
                    assert_eq!(&e.topic(), t, "event published on the wrong topic");
                    e.clone()
                }
                Err(err) => panic!("malformed event on {t}: {err}"),
            })
            .collect()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// An RTSP server on 127.0.0.1 serving an MP4 (H.264) file at `/cam`, as a camera would.
pub struct RtspServer {
    pub url: String,
    main_loop: gstreamer::glib::MainLoop,
}

impl RtspServer {
    pub fn start(mp4: &Path) -> Self {
        Self::start_on(mp4, 0)
    }

    /// Serves on a given port (0 = any), so a test can stop a server and start another in its place.
    pub fn start_on(mp4: &Path, port: u16) -> Self {
        use gstreamer_rtsp_server::prelude::*;
        gstreamer::init().unwrap();
        let ctx = gstreamer::glib::MainContext::new();
        let main_loop = gstreamer::glib::MainLoop::new(Some(&ctx), false);
        let server = gstreamer_rtsp_server::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let factory = gstreamer_rtsp_server::RTSPMediaFactory::new();
        factory.set_launch(&format!(
            "( filesrc location=\"{}\" ! qtdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )",
            mp4.display()
        ));
        factory.set_shared(true);
        server.mount_points().unwrap().add_factory("/cam", factory);
        let (tx, rx) = std::sync::mpsc::channel();
        let ml = main_loop.clone();
        std::thread::spawn(move || {
            ctx.with_thread_default(|| {
                let _source = server.attach(Some(&ctx)).expect("attach rtsp server");
                tx.send(server.bound_port()).unwrap();
                ml.run();
            })
            .unwrap();
        });
        let port = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("rtsp server bound");
        Self {
            url: format!("rtsp://127.0.0.1:{port}/cam"),
            main_loop,
        }
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.main_loop.quit();
    }
}

/// Writes an edge config for one camera at `url`, with the vtest line and zone. No hub reads
/// these tests' events, so the broker's acknowledgement is enough (`receipts = false`).
pub fn edge_config(dir: &Path, port: u16, url: &str, extra_camera: &str) -> PathBuf {
    edge_config_outbox(dir, port, url, extra_camera, "receipts = false")
}

/// The same, with the hub's receipts on (a hub runs beside the edge): a message the broker
/// acknowledged but no hub confirmed within `timeout_s` is sent again.
pub fn edge_config_receipts(
    dir: &Path,
    port: u16,
    url: &str,
    extra_camera: &str,
    timeout_s: f64,
) -> PathBuf {
    let outbox = format!("receipts = true\nreceipt_timeout_s = {timeout_s}");
    edge_config_outbox(dir, port, url, extra_camera, &outbox)
}

fn edge_config_outbox(
    dir: &Path,
    port: u16,
    url: &str,
    extra_camera: &str,
    outbox: &str,
) -> PathBuf {
    let text = format!(
        r#"
site = "test-site"
edge_id = "edge-test"
[mqtt]
host = "127.0.0.1"
port = {port}
[outbox]
{outbox}
[model]
path = "{model}"
threads = 2
classes = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
[model.class_thresholds]
person = 0.4
[analytics]
count_interval_s = 10
[[cameras]]
id = "cam-a"
url = "{url}"
detect_fps = 10
{extra_camera}
[[cameras.lines]]
id = "mid"
points = [[0.05, 0.55], [0.95, 0.55]]
[[cameras.zones]]
id = "plaza"
polygon = [[0.0, 0.6], [0.5, 0.6], [0.5, 1.0], [0.0, 1.0]]
dwell_s = 5
classes = ["person"]
"#,
        model = nanodet().display()
    );
    let p = dir.join("edge.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The real hub ingest (persistent shared-subscription session, acks after commit) storing into
/// SQLite, run in-process so a test can stop and restart it and read what it stored.
pub struct Hub {
    port: u16,
    client_id: String,
    dir: tempfile::TempDir,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hub {
    pub fn start(port: u16, client_id: &str) -> Self {
        let mut hub = Hub {
            port,
            client_id: client_id.into(),
            dir: tempfile::tempdir().unwrap(),
            stop: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            thread: None,
        };
        hub.spawn();
        hub
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("hub.db")
    }

    fn spawn(&mut self) {
        use central_hub::ingest::{IngestConfig, IngestStats};
        let cfg = IngestConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            client_id: self.client_id.clone(),
            group: "faults".into(),
            security: Default::default(),
            limits: Default::default(),
            watch: None,
        };
        self.stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = self.stop.clone();
        let store = central_hub::store::open(&self.db().display().to_string()).unwrap();
        let evidence =
            central_hub::evidence::EvidenceStore::new(&self.dir.path().join("evidence")).unwrap();
        self.thread = Some(std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(central_hub::ingest::run(
                    cfg,
                    store,
                    evidence,
                    Arc::new(IngestStats::default()),
                    stop,
                ))
                .unwrap();
        }));
        // The first start must subscribe before the edge publishes anything.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.db().exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(700));
    }

    pub fn stop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Every event id in the store, and how many rows hold them (equal when nothing is doubled).
    pub fn stored(&self) -> (std::collections::BTreeSet<String>, usize) {
        stored_ids(&self.db())
    }

    pub fn events(&self) -> Vec<Event> {
        let db = rusqlite::Connection::open(self.db()).unwrap();
        let mut st = db.prepare("SELECT body FROM events").unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|j| Event::from_json(j.unwrap().as_bytes()).unwrap())
            .collect()
    }

    pub fn evidence_dir(&self) -> PathBuf {
        self.dir.path().join("evidence")
    }

    pub fn has_evidence(&self, sha: &str) -> bool {
        central_hub::evidence::EvidenceStore::new(&self.dir.path().join("evidence"))
            .unwrap()
            .get(sha)
            .is_some()
    }

    /// Waits until the store holds every id in `want`; returns the ones still missing on timeout.
    pub fn wait_for(&self, want: &std::collections::BTreeSet<String>, secs: u64) -> Vec<String> {
        wait_for_ids(|| self.stored().0, want, secs)
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the `edge-node` binary with `args` and waits; panics with its stderr if it fails.
pub fn edge_cli(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "edge-node {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
