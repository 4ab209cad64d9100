//! Nothing lost when whole processes die: the hub as its own process (`central-hub serve`,
//! the binary operators run) killed with SIGKILL mid-stream and started again, and a broker
//! restarted five times in quick succession while the edge publishes. The check compares what
//! the edge produced (a second, independent subscriber's copy) with the hub's own database.
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use edge_node::config::EdgeConfig;
use matthan_schema::{Body, EdgeState};
use support::{Broker, Subscriber};

/// The hub binary, built beside this package's binaries by `cargo test --workspace`.
fn hub_binary() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_edge-node")).with_file_name("central-hub");
    assert!(
        p.is_file(),
        "{} is missing: build the workspace (cargo test --workspace builds it)",
        p.display()
    );
    p
}

/// `central-hub serve` on its own SQLite file, as a child process.
struct HubProcess {
    config: PathBuf,
    db: PathBuf,
    child: Option<Child>,
}

impl HubProcess {
    fn start(dir: &Path, mqtt: u16) -> Self {
        let models = matthan_test_support::repo().join("models");
        let config = dir.join("hub.toml");
        std::fs::write(
            &config,
            format!(
                r#"db = "hub.db"
listen = "127.0.0.1:{http}"
evidence_dir = "evidence"
[mqtt]
port = {mqtt}
client_id = "hub-process"
[ingest]
group = "faults"
[embedding]
model = "{model}"
tokenizer = "{tok}"
"#,
                http = support::free_port(),
                model = models.join("minilm-l6-v2-int8.onnx").display(),
                tok = models.join("minilm-l6-v2-tokenizer.json").display(),
            ),
        )
        .unwrap();
        let mut h = Self {
            config,
            db: dir.join("hub.db"),
            child: None,
        };
        h.spawn();
        h
    }

    fn spawn(&mut self) {
        let child = Command::new(hub_binary())
            .args(["serve", "--config", self.config.to_str().unwrap()])
            .spawn()
            .unwrap();
        self.child = Some(child);
        // Subscribed once the database exists and the session is set up.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.db.exists() {
            assert!(Instant::now() < deadline, "hub did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(2));
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();
        }
    }

    fn stored(&self) -> (BTreeSet<String>, usize) {
        support::stored_ids(&self.db)
    }

    fn wait_for(&self, want: &BTreeSet<String>, secs: u64) -> Vec<String> {
        support::wait_for_ids(|| self.stored().0, want, secs)
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM first so the hub closes cleanly; the test is over.
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }
}

/// Runs the edge on the test clip with receipts on while `during` disturbs the system; returns
/// the ids the edge produced (as an independent subscriber saw them, its final offline
/// status left out: the broker may also send its last will).
fn produce_while(port: u16, tag: &str, during: impl FnOnce()) -> BTreeSet<String> {
    let sub = Subscriber::persistent(port, &format!("sub-{tag}"));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", support::vtest().display());
    let cfg = support::edge_config_receipts(dir.path(), port, &url, "", 3.0);
    let cfg = EdgeConfig::load(&cfg).unwrap();
    let run = std::thread::spawn(move || {
        edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false)))
    });
    during();
    let summary = run.join().unwrap().unwrap();
    assert_eq!(summary.publish.pending, 0, "{summary:?}");
    let want = summary.events as usize + 2;
    let deadline = Instant::now() + Duration::from_secs(60);
    while sub.decoded().len() < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    sub.decoded()
        .iter()
        .filter(|e| !matches!(&e.body, Body::EdgeStatus(s) if s.state == EdgeState::Offline))
        .map(|e| e.id.to_string())
        .collect()
}

fn assert_all_stored_once(hub: &HubProcess, produced: &BTreeSet<String>) {
    assert!(
        produced.len() > 20,
        "the clip produced events: {}",
        produced.len()
    );
    let missing = hub.wait_for(produced, 60);
    assert!(
        missing.is_empty(),
        "{} of {} events never reached the hub's database, e.g. {:?}",
        missing.len(),
        produced.len(),
        missing.first()
    );
    let (ids, rows) = hub.stored();
    assert_eq!(rows, ids.len(), "an event stored twice");
}

#[test]
fn hub_process_killed_with_sigkill_loses_nothing() {
    support::ort();
    let broker = Broker::start_persistent();
    let dir = tempfile::tempdir().unwrap();
    let mut hub = HubProcess::start(dir.path(), broker.port);
    let produced = produce_while(broker.port, "hub-kill", || {
        std::thread::sleep(Duration::from_secs(4));
        hub.kill9();
        std::thread::sleep(Duration::from_secs(4));
        hub.spawn();
    });
    assert_all_stored_once(&hub, &produced);
}

#[test]
fn five_quick_broker_restarts_lose_nothing() {
    support::ort();
    let mut broker = Broker::start_persistent();
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(dir.path(), broker.port);
    let produced = produce_while(broker.port, "broker-5x", || {
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(1500));
            broker.stop();
            std::thread::sleep(Duration::from_millis(300));
            broker.restart();
        }
    });
    assert_all_stored_once(&hub, &produced);
}
