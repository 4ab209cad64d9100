//! Transient failures are retried, never confirmed and never counted as refusals: a database
//! locked by another process for longer than the hub's busy timeout, and evidence writes that
//! fail on the filesystem. What arrived meanwhile is stored once the fault clears, and nothing
//! goes to the dead-letter table.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use central_hub::ingest::IngestStats;
use rumqttc::QoS;
use support::{Broker, Receipts, publisher, spawn_hub, wait_stored};

#[test]
fn a_database_locked_past_the_busy_timeout_loses_and_refuses_nothing() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hub.db");
    let loc = db.display().to_string();
    let (stop, stats) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(IngestStats::default()),
    );
    let hub = spawn_hub(broker.port, "hub-locked", &loc, dir.path(), &stop, &stats);
    let receipts = Receipts::listen(broker.port, "hcmc");
    // Another process holds the write lock for 12 s; the hub waits 5 s per try, so the batch
    // fails, then its first event alone fails while later ones get through once the lock goes.
    // That first event must be tried again, not refused.
    let locker = rusqlite::Connection::open(&db).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let events = support::publish_tracks(broker.port, 20);
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(
        stats.stored.load(Ordering::Relaxed),
        0,
        "stored while locked"
    );
    assert!(
        receipts.keys().0.is_empty(),
        "confirmed before it was stored"
    );
    locker.execute_batch("ROLLBACK").unwrap();
    wait_stored(&stats, 20);
    stop.store(true, Ordering::Relaxed);
    hub.join().unwrap();
    assert!(stats.retried.load(Ordering::Relaxed) >= 1, "{stats:?}");
    assert_eq!(stats.rejected.load(Ordering::Relaxed), 0, "{stats:?}");
    let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    let (stored, refused) = receipts.settled(&ids);
    assert!(refused.is_empty(), "{refused:?}");
    for e in &events {
        assert!(stored.contains(&e.id.to_string()));
    }
    let mut store = central_hub::store::open(&loc).unwrap();
    assert_eq!(store.count().unwrap(), 20);
    assert!(store.dead_letters(None, 10).unwrap().is_empty());
}

#[test]
fn a_failed_evidence_write_is_neither_confirmed_nor_refused() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let loc = dir.path().join("hub.db").display().to_string();
    let (stop, stats) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(IngestStats::default()),
    );
    let hub = spawn_hub(broker.port, "hub-disk", &loc, dir.path(), &stop, &stats);
    let receipts = Receipts::listen(broker.port, "hcmc");
    let blob = b"a JPEG that cannot be written yet".to_vec();
    let sha = central_hub::config::sha256_hex(&blob);
    // The blob's folder cannot be created: a file sits where it goes (as a full or failing
    // disk would, the write fails).
    let shard = dir.path().join("evidence").join(&sha[..2]);
    std::fs::write(&shard, b"in the way").unwrap();
    let client = publisher(broker.port);
    let topic = format!("matthan-evidence/hcmc/{sha}");
    client
        .publish(&topic, QoS::AtLeastOnce, false, blob.clone())
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stats.retried.load(Ordering::Relaxed) == 0 {
        assert!(std::time::Instant::now() < deadline, "{stats:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let (stored, refused) = receipts.keys();
    assert!(
        !stored.contains(&sha) && !refused.contains(&sha),
        "{stored:?} {refused:?}"
    );
    assert_eq!(stats.rejected.load(Ordering::Relaxed), 0);
    // The disk recovers and the edge sends the blob again (no receipt came): stored.
    std::fs::remove_file(&shard).unwrap();
    client
        .publish(&topic, QoS::AtLeastOnce, false, blob)
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !receipts.keys().0.contains(&sha) {
        assert!(std::time::Instant::now() < deadline, "{stats:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    hub.join().unwrap();
    let mut store = central_hub::store::open(&loc).unwrap();
    assert!(store.dead_letters(None, 10).unwrap().is_empty());
}
