//! The hub's ingest against a real mosquitto, on both store engines: valid events are stored
//! once each however often they arrive; malformed payloads and forged evidence are counted and
//! never stop ingest.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use central_hub::evidence::EvidenceStore;
use central_hub::ingest::{IngestConfig, IngestStats};
use chrono::DateTime;
use matthan_schema::{Body, Crossing, Direction, Event};
use rumqttc::{Client, MqttOptions, QoS};
use support::{Broker, Obj, Receipts, publisher, spawn_hub, track, ts, wait_stored};

fn ingest_once(label: &str, loc: &str) {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(IngestStats::default());
    let hub = spawn_hub(
        broker.port,
        &format!("hub-{label}"),
        loc,
        dir.path(),
        &stop,
        &stats,
    );

    let red = Obj {
        camera: "ben-thanh-1",
        class: "motorcycle",
        color: Some("red"),
        ..Obj::default()
    };
    let t0: DateTime<chrono::Utc> = ts("2026-11-26T08:15:00+07:00");
    let events = vec![
        track(&red, 1, t0),
        Event::new(
            "hcmc",
            "ben-thanh-1",
            t0,
            Body::Crossing(Crossing {
                line: "l1".into(),
                direction: Direction::In,
                class: "motorcycle".into(),
                track_id: 1,
            }),
        ),
    ];
    let receipts = Receipts::listen(broker.port, "hcmc");
    let client = publisher(broker.port);
    let publish = |topic: &str, payload: Vec<u8>| {
        client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .unwrap()
    };
    for e in &events {
        publish(&e.topic(), e.to_json());
        publish(&e.topic(), e.to_json()); // a redelivery
    }
    let good = events[0].to_json();
    let text = String::from_utf8(good.clone()).unwrap();
    publish("matthan/hcmc/ben-thanh-1/track", vec![0xff, 0xfe, 0x00]);
    publish("matthan/hcmc/ben-thanh-1/track", b"{not json".to_vec());
    publish(
        "matthan/hcmc/ben-thanh-1/track",
        text.replace("matthan.event/1", "matthan.event/9")
            .into_bytes(),
    );
    publish("matthan/hcmc/other-cam/track", good.clone());
    publish("matthan/hcmc/ben-thanh-1/teleport", good.clone());
    publish("matthan/hcmc/ben-thanh-1/track", vec![b'x'; 300 * 1024]);
    let blob = b"a JPEG, say".to_vec();
    let sha = central_hub::config::sha256_hex(&blob);
    publish(&format!("matthan-evidence/hcmc/{sha}"), blob.clone());
    publish(
        &format!("matthan-evidence/hcmc/{}", "0".repeat(64)),
        blob.clone(),
    ); // forged name
    let future = Event::new(
        "hcmc",
        "ben-thanh-1",
        chrono::Utc::now() + chrono::Duration::days(365 * 7),
        Body::Crossing(Crossing {
            line: "l1".into(),
            direction: Direction::In,
            class: "car".into(),
            track_id: 9,
        }),
    );
    publish(&future.topic(), future.to_json());
    // An edge whose clock was reset to 1970: valid, but kept out of search.
    let ancient = Event::new(
        "hcmc",
        "ben-thanh-1",
        ts("1970-01-01T00:00:05Z"),
        Body::Crossing(Crossing {
            line: "l1".into(),
            direction: Direction::Out,
            class: "car".into(),
            track_id: 10,
        }),
    );
    publish(&ancient.topic(), ancient.to_json());
    // A number no camera measures (it would be stored as null and the event lost).
    let zone = Event::new(
        "hcmc",
        "ben-thanh-1",
        t0,
        Body::Zone(matthan_schema::ZoneEvent {
            zone: "plaza".into(),
            action: matthan_schema::ZoneAction::Exit,
            class: "person".into(),
            track_id: 11,
            duration_s: 42.0,
        }),
    );
    let zone_json = String::from_utf8(zone.to_json())
        .unwrap()
        .replace("42.0", "1e39");
    publish(&zone.topic(), zone_json.into_bytes());

    let deadline = Instant::now() + Duration::from_secs(20);
    while stats.received.load(Ordering::Relaxed) < 15 {
        assert!(Instant::now() < deadline, "{label}: received {stats:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    hub.join().unwrap();
    assert_eq!(
        stats.stored.load(Ordering::Relaxed),
        2,
        "{label}: {stats:?}"
    );
    assert_eq!(
        stats.duplicates.load(Ordering::Relaxed),
        2,
        "{label}: {stats:?}"
    );
    assert_eq!(
        stats.rejected.load(Ordering::Relaxed),
        9,
        "{label}: {stats:?}"
    );
    assert_eq!(stats.quarantined.load(Ordering::Relaxed), 1, "{label}");
    // The edges of the site are told what is stored and what was refused for good.
    let mut keys: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    keys.extend([sha.clone(), "0".repeat(64)]);
    let (stored, refused) = receipts.settled(&keys);
    for e in &events {
        assert!(stored.contains(&e.id.to_string()), "{label}: {stored:?}");
    }
    assert!(stored.contains(&sha), "{label}: the blob is confirmed");
    assert!(refused.contains(&"0".repeat(64)), "{label}: {refused:?}");
    assert!(
        refused.contains(&future.id.to_string()),
        "{label}: an event dated years ahead is refused: {refused:?}"
    );
    assert!(!stored.contains(&future.id.to_string()));
    assert_eq!(
        stats.evidence.load(Ordering::Relaxed),
        1,
        "{label}: {stats:?}"
    );
    let mut store = central_hub::store::open(loc).unwrap();
    assert_eq!(store.count().unwrap(), 2);
    assert_eq!(
        store.get(&events[0].id.to_string()).unwrap().as_ref(),
        Some(&events[0])
    );
    let ev = EvidenceStore::new(&dir.path().join("evidence")).unwrap();
    assert_eq!(ev.get(&sha), Some(blob));
    assert_eq!(ev.get(&"0".repeat(64)), None);
    // Everything acknowledged without being stored left a row saying why.
    use central_hub::store::SetAside;
    let refused = store.dead_letters(Some(SetAside::Refused), 100).unwrap();
    assert_eq!(refused.len(), 9, "{label}: {refused:?}");
    let reasons: Vec<&str> = refused.iter().map(|d| d.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("body.duration_s")),
        "{label}: the field is named: {reasons:?}"
    );
    let big = refused
        .iter()
        .find(|d| d.bytes == 300 * 1024)
        .expect("oversize row");
    assert_eq!(
        big.payload.len(),
        central_hub::store::DEAD_LETTER_KEEP,
        "{label}"
    );
    let quarantined = store
        .dead_letters(Some(SetAside::Quarantined), 100)
        .unwrap();
    assert_eq!(quarantined.len(), 1, "{label}");
    assert_eq!(
        Event::from_json(&quarantined[0].payload).unwrap(),
        ancient,
        "{label}: a quarantined event is kept whole"
    );
    assert!(refused_has(&receipts, &ancient.id.to_string()), "{label}");
    assert_eq!(store.dead_letters(None, 100).unwrap().len(), 10);
    // Retention keeps what is newer than its cut-off and deletes the rest.
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(store.expire_dead_letters(hour_ago).unwrap(), 0, "{label}");
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(store.expire_dead_letters(later).unwrap(), 10, "{label}");
    assert!(store.dead_letters(None, 100).unwrap().is_empty());
}

fn refused_has(r: &Receipts, key: &str) -> bool {
    r.keys().1.iter().any(|k| k == key)
}

#[test]
fn stores_each_event_once_and_survives_garbage() {
    let dir = tempfile::tempdir().unwrap();
    for (label, loc) in support::engines(dir.path()) {
        ingest_once(label, &loc);
    }
}

#[test]
fn unacknowledged_events_are_redelivered_after_a_hub_restart() {
    // The hub acknowledges only after commit; a hub that stops and comes back with the same
    // client id (persistent session) receives what was published while it was away.
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let loc = dir.path().join("hub.db").display().to_string();
    let run_hub = |stop: Arc<AtomicBool>, stats: Arc<IngestStats>| {
        let cfg = IngestConfig {
            host: "127.0.0.1".into(),
            port: broker.port,
            client_id: "hub-restart".into(),
            group: "g1".into(),
            security: Default::default(),
            limits: Default::default(),
            watch: None,
        };
        let (store, ev) = (
            central_hub::store::open(&loc).unwrap(),
            EvidenceStore::new(&dir.path().join("ev")).unwrap(),
        );
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(central_hub::ingest::run(cfg, store, ev, stats, stop))
                .unwrap();
        })
    };
    let (stop, stats) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(IngestStats::default()),
    );
    let h = run_hub(stop.clone(), stats.clone());
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();

    let client = publisher(broker.port);
    let red = Obj {
        camera: "c1",
        class: "car",
        ..Obj::default()
    };
    let events: Vec<Event> = (0..50)
        .map(|i| track(&red, i, ts("2026-11-26T08:15:00+07:00")))
        .collect();
    for e in &events {
        client
            .publish(e.topic(), QoS::AtLeastOnce, false, e.to_json())
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));

    let (stop, stats) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(IngestStats::default()),
    );
    let h = run_hub(stop.clone(), stats.clone());
    wait_stored(&stats, 50);
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
    assert_eq!(central_hub::store::open(&loc).unwrap().count().unwrap(), 50);
}

#[test]
fn ingests_over_tls_with_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    support::make_test_pki(dir.path());
    let (mut broker, tls_port, plain_port) = support::tls_broker(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(IngestStats::default());
    let d = dir.path().to_path_buf();
    let cfg = IngestConfig {
        host: "127.0.0.1".into(),
        port: tls_port,
        client_id: "hub-tls".into(),
        group: "g1".into(),
        security: matthan_mqtt::Security {
            tls_ca: Some(d.join("ca.crt")),
            tls_client_cert: Some(d.join("client.crt")),
            tls_client_key: Some(d.join("client.key")),
            ..Default::default()
        },
        limits: Default::default(),
        watch: None,
    };
    let loc = d.join("hub.db").display().to_string();
    let (store, ev) = (
        central_hub::store::open(&loc).unwrap(),
        EvidenceStore::new(&d.join("ev")).unwrap(),
    );
    let (s2, st2) = (stop.clone(), stats.clone());
    let hub = std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(central_hub::ingest::run(cfg, store, ev, st2, s2))
            .unwrap();
    });
    std::thread::sleep(Duration::from_millis(1500));
    let client = publisher(plain_port);
    let e = track(
        &Obj {
            camera: "c1",
            class: "car",
            ..Obj::default()
        },
        1,
        ts("2026-11-26T08:15:00+07:00"),
    );
    client
        .publish(e.topic(), QoS::AtLeastOnce, false, e.to_json())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while stats.stored.load(Ordering::Relaxed) < 1 {
        assert!(
            Instant::now() < deadline,
            "nothing arrived over TLS: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    hub.join().unwrap();
    let _ = broker.kill();
    let _ = broker.wait();
}

/// A message too large for any hub is refused by the broker itself, so it can never become a
/// poison message that drops the hub's connection on every redelivery; what follows is stored.
#[test]
fn an_oversize_message_never_blocks_ingest() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let loc = dir.path().join("hub.db").display().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(IngestStats::default());
    let hub = spawn_hub(broker.port, "hub-oversize", &loc, dir.path(), &stop, &stats);
    // A hostile publisher with no size limit of its own.
    let mut opts = MqttOptions::new("big-pub", "127.0.0.1", broker.port);
    opts.set_max_packet_size(128 << 20, 128 << 20);
    let (big, mut conn) = Client::new(opts, 10);
    std::thread::spawn(move || for _ in conn.iter() {});
    big.publish(
        "matthan/hcmc/ben-thanh-1/track",
        QoS::AtLeastOnce,
        false,
        vec![b'x'; 70 << 20],
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    support::publish_tracks(broker.port, 50);
    wait_stored(&stats, 50);
    stop.store(true, Ordering::Relaxed);
    hub.join().unwrap();
    assert_eq!(central_hub::store::open(&loc).unwrap().count().unwrap(), 50);
}

/// A burst from many edges at once (an uplink back after an outage, every outbox flushing)
/// never stalls ingest. Before, the writer waited for room in the MQTT client's request channel
/// to acknowledge a batch while the network loop, which drains that channel, waited for room in
/// the writer's channel: on PostgreSQL the cluster bench stored 2,001 of 20,000 events, then
/// nothing.
#[test]
fn a_burst_from_many_edges_never_stalls_ingest() {
    const EDGES: u64 = 20;
    const EACH: u64 = 1000;
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let loc = support::pg_url();
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(IngestStats::default());
    let hub = spawn_hub(broker.port, "hub-burst", &loc, dir.path(), &stop, &stats);
    let t0 = chrono::Utc::now() - chrono::Duration::hours(1);
    let edges: Vec<_> = (0..EDGES)
        .map(|k| {
            let port = broker.port;
            std::thread::spawn(move || {
                let camera = format!("cam-{k}");
                let o = Obj {
                    camera: &camera,
                    class: "motorcycle",
                    ..Obj::default()
                };
                let client = publisher(port);
                for i in 0..EACH {
                    let e = track(&o, i, t0 + chrono::Duration::milliseconds(i as i64));
                    client
                        .publish(e.topic(), QoS::AtLeastOnce, false, e.to_json())
                        .unwrap();
                }
                // Until the broker has them all (the client's queue empties on its thread).
                std::thread::sleep(Duration::from_secs(2));
            })
        })
        .collect();
    for e in edges {
        e.join().unwrap();
    }
    let (mut last, mut moved) = (0, Instant::now());
    while last < EDGES * EACH {
        std::thread::sleep(Duration::from_millis(100));
        let n = stats.stored.load(Ordering::Relaxed);
        if n > last {
            (last, moved) = (n, Instant::now());
        }
        assert!(
            moved.elapsed() < Duration::from_secs(20),
            "ingest stalled: {last} of {} stored, none for 20 s ({stats:?})",
            EDGES * EACH
        );
    }
    stop.store(true, Ordering::Relaxed);
    hub.join().unwrap();
    let mut store = central_hub::store::open(&loc).unwrap();
    assert_eq!(store.count().unwrap() as u64, EDGES * EACH);
}
