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
use support::{Broker, Obj, track, ts};

fn publisher(port: u16) -> Client {
    let mut opts = MqttOptions::new(format!("pub-{}", support::free_port()), "127.0.0.1", port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut conn) = Client::new(opts, 100);
    std::thread::spawn(move || for _ in conn.iter() {});
    client
}

fn ingest_once(label: &str, loc: &str) {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(IngestStats::default());
    let cfg = IngestConfig {
        host: "127.0.0.1".into(),
        port: broker.port,
        client_id: format!("hub-{label}"),
        group: "g1".into(),
        security: Default::default(),
    };
    let store = central_hub::store::open(loc).unwrap();
    let evidence = EvidenceStore::new(&dir.path().join("evidence")).unwrap();
    let (s2, st2) = (stop.clone(), stats.clone());
    let hub = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(central_hub::ingest::run(cfg, store, evidence, st2, s2))
            .unwrap();
    });
    std::thread::sleep(Duration::from_millis(500)); // let the hub subscribe

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

    let deadline = Instant::now() + Duration::from_secs(20);
    while stats.received.load(Ordering::Relaxed) < 12 {
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
        7,
        "{label}: {stats:?}"
    );
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
    let deadline = Instant::now() + Duration::from_secs(20);
    while stats.stored.load(Ordering::Relaxed) < 50 {
        assert!(Instant::now() < deadline, "only {stats:?} after restart");
        std::thread::sleep(Duration::from_millis(50));
    }
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
