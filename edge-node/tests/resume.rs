//! A recorded file goes on where it stopped: an edge killed with SIGKILL mid-file and started
//! again analyses only the rest (before, the file was analysed again from frame 0 with new
//! event ids, and 13 crossings were repeated), and a file analysed to its end is not analysed
//! again. The edge's own record of what it produced (the outbox's `produced` table) is compared
//! with an uninterrupted run of the same file.
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::Broker;

/// An edge config on the 20 s clip, in real time, recording what it produces.
fn config(dir: &Path, port: u16) -> PathBuf {
    let url = format!("file://{}", support::vtest_mp4().display());
    let p = support::edge_config(dir, port, &url, "realtime = true");
    let text = std::fs::read_to_string(&p).unwrap().replace(
        "receipts = false",
        "receipts = false\nrecord_produced = true",
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn outbox(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("outbox-edge-test.db")).unwrap()
}

/// Crossing events the edge produced, by its own record.
fn crossings(dir: &Path) -> i64 {
    outbox(dir)
        .query_row(
            "SELECT count(*) FROM produced WHERE topic LIKE '%/crossing'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

fn position(dir: &Path) -> Option<i64> {
    use rusqlite::OptionalExtension;
    outbox(dir)
        .query_row(
            "SELECT pts_ms FROM progress WHERE camera = 'cam-a'",
            [],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten()
}

fn run_to_end(cfg: &Path) {
    support::edge_cli(&["run", "--config", cfg.to_str().unwrap()]);
}

#[test]
fn a_file_resumes_after_sigkill_and_is_not_analysed_twice() {
    support::ort();
    let broker = Broker::start();

    // The same file without interruption: what a correct resumed run must add up to.
    let whole = tempfile::tempdir().unwrap();
    run_to_end(&config(whole.path(), broker.port));
    let reference = crossings(whole.path());
    assert_eq!(
        position(whole.path()),
        Some(i64::MAX),
        "marked analysed to its end"
    );

    // Killed with SIGKILL a third of the way in.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), broker.port);
    let mut child = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args(["run", "--config", cfg.to_str().unwrap()])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while position(dir.path()).unwrap_or(0) < 7_000 {
        assert!(Instant::now() < deadline, "no position saved");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at = position(dir.path()).unwrap();
    assert!((7_000..15_000).contains(&at), "killed mid-file at {at} ms");
    let before = crossings(dir.path());

    // Started again: only the rest of the file.
    run_to_end(&cfg);
    let total = crossings(dir.path());
    eprintln!(
        "crossings: uninterrupted {reference}; killed at {at} ms after {before}, {total} in all"
    );
    assert!(before >= 1, "the first part had crossings: {before}");
    // Tracks open at the kill start afresh, so one or two crossings may differ; analysing
    // the file again from the start would add every crossing of the first part.
    assert!(
        (total - reference).abs() <= 2,
        "{total} crossings over both runs, {reference} in one uninterrupted run"
    );
    assert_eq!(position(dir.path()), Some(i64::MAX));

    // A third start finds the file done and produces no observations.
    run_to_end(&cfg);
    assert_eq!(crossings(dir.path()), total, "analysed again");
}
