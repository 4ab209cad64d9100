//! Soak with a fault injector: the edge (`edge-node run`), the hub (`central-hub serve`) and
//! mosquitto as separate processes, vtest.avi looped in real time, and every 60-150 s one of
//! them killed with SIGKILL and started again 2-8 s later (seeded, so a run can be repeated).
//! At the end the edge is stopped cleanly until its outbox is empty, and what it produced (its
//! own record: the outbox's `produced` table, written in the same commit as each message) is
//! compared with the hub's database and evidence folder. Not in CI.
//!
//! cargo build --release -p central-hub -p edge-node
//! cargo bench -p matthan-benches --bench soak_faults -- [SECONDS]   (default 3600)
//! (MATTHAN_BIN_DIR=folder runs copies of the two binaries instead of target/release's.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use matthan_benches::{Broker, binary, cached, repo};
use matthan_test_support::HubProcess;

/// A small deterministic generator (xorshift): the same seed gives the same fault schedule.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn edge_config(dir: &Path, port: u16) -> PathBuf {
    let vtest = cached("MATTHAN_VTEST", ".cache/media/vtest.avi");
    let p = dir.join("edge.toml");
    std::fs::write(
        &p,
        format!(
            "site = \"soak\"\nedge_id = \"soak-edge\"\n[mqtt]\nport = {port}\n[outbox]\nreceipts = true\nreceipt_timeout_s = 10\nrecord_produced = true\n[model]\npath = \"{}\"\nthreads = 1\nclasses = [\"person\", \"car\", \"truck\"]\n[analytics]\ncount_interval_s = 10\n[[cameras]]\nid = \"loop\"\nurl = \"file://{}\"\nloop_file = true\nrealtime = true\n[[cameras.lines]]\nid = \"mid\"\npoints = [[0.05, 0.55], [0.95, 0.55]]\n[[cameras.zones]]\nid = \"lawn\"\npolygon = [[0.0, 0.50], [0.29, 0.50], [0.53, 0.63], [0.93, 1.0], [0.0, 1.0]]\n",
            repo().join("models/nanodet-m-416.onnx").display(),
            vtest.display()
        ),
    )
    .unwrap();
    p
}

struct Edge {
    config: PathBuf,
    child: Option<Child>,
}

impl Edge {
    fn spawn(&mut self) {
        self.child = Some(
            Command::new(binary("edge-node"))
                .args(["run", "--config", self.config.to_str().unwrap()])
                .env("RUST_LOG", "warn")
                .spawn()
                .unwrap(),
        );
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: the edge stops within 30 s, keeping what it could not send.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }
}

/// (events, blobs) the edge produced, by its own record, and rows still in its outbox.
fn produced(outbox: &Path) -> (BTreeSet<String>, BTreeSet<String>, i64) {
    let db = rusqlite::Connection::open(outbox).unwrap();
    let mut st = db.prepare("SELECT key, topic FROM produced").unwrap();
    let (mut events, mut blobs) = (BTreeSet::new(), BTreeSet::new());
    for row in st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
    {
        let (key, topic) = row.unwrap();
        if topic.starts_with("matthan-evidence/") {
            blobs.insert(key);
        } else {
            events.insert(key);
        }
    }
    let left: i64 = db
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    (events, blobs, left)
}

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3600);
    let ort = cached("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so");
    // SAFETY: single-threaded here, before any child starts.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &ort) };
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start_persistent();
    let mut hub = HubProcess::start(&binary("central-hub"), dir.path(), broker.port);
    let mut edge = Edge {
        config: edge_config(dir.path(), broker.port),
        child: None,
    };
    edge.spawn();
    let started = Instant::now();
    let mut rng = Rng(0x6d61_7474_6861_6e21);
    let mut faults = [0u32; 3];
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(60 + rng.below(91)));
        let down = Duration::from_secs(2 + rng.below(7));
        let victim = rng.below(3) as usize;
        let name = ["broker", "hub", "edge"][victim];
        println!(
            "{:>5} s: kill -9 {name}, down {down:?}",
            started.elapsed().as_secs()
        );
        match victim {
            0 => broker.crash(),
            1 => hub.kill9(),
            _ => edge.kill9(),
        }
        std::thread::sleep(down);
        match victim {
            0 => broker.restart(),
            1 => hub.spawn(),
            _ => edge.spawn(),
        }
        faults[victim] += 1;
    }
    // Stop cleanly until the outbox is empty (each short run sends what the last left).
    let outbox = dir.path().join("outbox-soak-edge.db");
    for _ in 0..6 {
        edge.stop();
        if produced(&outbox).2 == 0 {
            break;
        }
        edge.spawn();
        std::thread::sleep(Duration::from_secs(20));
    }
    let (events, blobs, left) = produced(&outbox);
    let missing = matthan_test_support::wait_for_ids(|| hub.stored().0, &events, 120);
    let (ids, rows) = hub.stored();
    let lost_blobs = blobs.iter().filter(|b| !hub.has_blob(b)).count();
    println!(
        "soak with faults: {} s, faults broker {} hub {} edge {}",
        started.elapsed().as_secs(),
        faults[0],
        faults[1],
        faults[2]
    );
    println!(
        "produced {} events, {} blobs; hub stored {} of them, {} rows for {} ids; missing {} events, {} blobs; outbox left {left}",
        events.len(),
        blobs.len(),
        events.len() - missing.len(),
        rows,
        ids.len(),
        missing.len(),
        lost_blobs
    );
    println!(
        "goal: produced = stored (0 missing, 0 duplicate rows): {}",
        if missing.is_empty() && lost_blobs == 0 && rows == ids.len() {
            "met"
        } else {
            "NOT met"
        }
    );
}
