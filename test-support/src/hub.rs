//! The hub as its own process (`central-hub serve`, the binary operators run), for fault tests
//! and soaks that kill it with SIGKILL.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// `central-hub serve` on its own SQLite file in `dir`, as a child process.
pub struct HubProcess {
    binary: PathBuf,
    config: PathBuf,
    pub db: PathBuf,
    pub evidence: PathBuf,
    /// Where its HTTP API listens (127.0.0.1).
    pub http: u16,
    child: Option<Child>,
}

impl HubProcess {
    /// Starts the hub binary `binary` against the broker on `mqtt`; returns once it is up.
    pub fn start(binary: &Path, dir: &Path, mqtt: u16) -> Self {
        Self::start_with(binary, dir, mqtt, "")
    }

    /// As `start`, with `extra` TOML appended to the hub's configuration (tokens, cameras).
    pub fn start_with(binary: &Path, dir: &Path, mqtt: u16, extra: &str) -> Self {
        assert!(
            binary.is_file(),
            "{} is missing: build it first (cargo build --release -p central-hub)",
            binary.display()
        );
        let models = crate::repo().join("models");
        let config = dir.join("hub.toml");
        let http = crate::free_port();
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
{extra}
"#,
                model = models.join("minilm-l6-v2-int8.onnx").display(),
                tok = models.join("minilm-l6-v2-tokenizer.json").display(),
            ),
        )
        .unwrap();
        let mut h = Self {
            binary: binary.to_path_buf(),
            config,
            db: dir.join("hub.db"),
            evidence: dir.join("evidence"),
            http,
            child: None,
        };
        h.spawn();
        h
    }

    /// Starts the process (again); returns once its database exists and it has subscribed.
    pub fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .args(["serve", "--config", self.config.to_str().unwrap()])
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.db.exists() {
            assert!(Instant::now() < deadline, "hub did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(2));
    }

    /// SIGKILL: no goodbye, nothing flushed.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Every event id in the hub's database, and how many rows hold them.
    pub fn stored(&self) -> (BTreeSet<String>, usize) {
        stored_ids(&self.db)
    }

    /// Whether the hub holds the evidence blob `sha`.
    pub fn has_blob(&self, sha: &str) -> bool {
        sha.len() > 2 && self.evidence.join(&sha[..2]).join(sha).is_file()
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM so the hub closes cleanly; the test is over.
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }
}

/// Every event id in a hub's SQLite database, and how many rows hold them (equal when nothing
/// is doubled).
pub fn stored_ids(db: &Path) -> (BTreeSet<String>, usize) {
    let db = rusqlite::Connection::open(db).unwrap();
    let mut st = db.prepare("SELECT id FROM events").unwrap();
    let ids: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let rows = ids.len();
    (ids.into_iter().collect(), rows)
}

/// Waits until `stored()` holds every id in `want`; returns the ones still missing on timeout.
pub fn wait_for_ids(
    stored: impl Fn() -> BTreeSet<String>,
    want: &BTreeSet<String>,
    secs: u64,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = stored();
        let missing: Vec<String> = want.difference(&got).cloned().collect();
        if missing.is_empty() || Instant::now() > deadline {
            return missing;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
