//! Nothing lost when whole processes die: the hub as its own process (`central-hub serve`,
//! the binary operators run) killed with SIGKILL mid-stream and started again, and a broker
//! restarted five times in quick succession while the edge publishes. The check compares what
//! the edge produced (a second, independent subscriber's copy) with the hub's own database.
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use edge_node::config::EdgeConfig;
use matthan_schema::{Body, EdgeState};
use matthan_test_support::HubProcess;
use support::{Broker, Subscriber};

/// The hub binary, built beside this package's binaries by `cargo test --workspace`.
fn hub_binary() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_edge-node")).with_file_name("central-hub")
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
    let missing = support::wait_for_ids(|| hub.stored().0, produced, 60);
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
    let mut hub = HubProcess::start(&hub_binary(), dir.path(), broker.port);
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
    let hub = HubProcess::start(&hub_binary(), dir.path(), broker.port);
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
