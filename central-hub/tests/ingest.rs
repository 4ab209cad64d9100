//! The hub against a real mosquitto and a real SQLite file: valid events are stored once each
//! however often they arrive; malformed payloads are counted and never stop ingest.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use central_hub::ingest::{IngestConfig, IngestStats};
use central_hub::store::Store;
use chrono::{DateTime, Utc};
use matthan_schema::{Attributes, BBox, Body, Crossing, Direction, Event, TrackEvent, TrackPhase};
use matthan_test_support::Broker;
use rumqttc::{Client, MqttOptions, QoS};

fn track(
    id: u64,
    class: &str,
    color: Option<&str>,
    upper: Option<&str>,
    ts: DateTime<Utc>,
) -> Event {
    Event::new(
        "hcmc",
        "ben-thanh-1",
        ts,
        Body::Track(TrackEvent {
            phase: TrackPhase::End,
            track_id: id,
            class: class.into(),
            score: 0.8,
            bbox: BBox {
                x1: 1.0,
                y1: 2.0,
                x2: 30.0,
                y2: 60.0,
            },
            first_seen: ts,
            last_seen: ts,
            zones: vec![],
            path: vec![],
            attributes: Attributes {
                color: color.map(Into::into),
                upper_color: upper.map(Into::into),
                ..Attributes::default()
            },
        }),
    )
}

#[test]
fn stores_each_event_once_and_survives_garbage() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hub.db");
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(IngestStats::default());
    let cfg = IngestConfig {
        host: "127.0.0.1".into(),
        port: broker.port,
        client_id: "hub-test".into(),
        group: "g1".into(),
    };
    let (s2, st2, db2) = (stop.clone(), stats.clone(), db.clone());
    let hub = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(central_hub::ingest::run(
            cfg,
            Store::open(&db2).unwrap(),
            st2,
            s2,
        ))
        .unwrap();
    });
    std::thread::sleep(Duration::from_millis(500)); // let the hub subscribe

    let t0: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-26T01:15:00Z")
        .unwrap()
        .into(); // 08:15 local
    let events = vec![
        track(1, "motorcycle", Some("red"), None, t0),
        track(
            2,
            "person",
            None,
            Some("white"),
            t0 + chrono::Duration::minutes(5),
        ),
        track(
            3,
            "car",
            Some("black"),
            None,
            t0 + chrono::Duration::hours(3),
        ),
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
    let mut opts = MqttOptions::new("pub-test", "127.0.0.1", broker.port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut conn) = Client::new(opts, 100);
    std::thread::spawn(move || for _ in conn.iter() {});
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
    publish("matthan/hcmc/ben-thanh-1/track", vec![0xff, 0xfe, 0x00]);
    publish("matthan/hcmc/ben-thanh-1/track", b"{not json".to_vec());
    publish(
        "matthan/hcmc/ben-thanh-1/track",
        String::from_utf8(good.clone())
            .unwrap()
            .replace("matthan.event/1", "matthan.event/9")
            .into_bytes(),
    );
    publish("matthan/hcmc/other-cam/track", good.clone());
    publish("matthan/hcmc/ben-thanh-1/teleport", good.clone());
    publish("matthan/hcmc/ben-thanh-1/track", vec![b'x'; 300 * 1024]);

    let deadline = Instant::now() + Duration::from_secs(20);
    while stats.received.load(Ordering::Relaxed) < 14 {
        assert!(Instant::now() < deadline, "received {:?}", stats);
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    hub.join().unwrap();
    assert_eq!(stats.stored.load(Ordering::Relaxed), 4, "{stats:?}");
    assert_eq!(stats.duplicates.load(Ordering::Relaxed), 4, "{stats:?}");
    assert_eq!(stats.rejected.load(Ordering::Relaxed), 6, "{stats:?}");

    let store = Store::open(&db).unwrap();
    assert_eq!(store.count().unwrap(), 4);
    assert_eq!(
        store.get(&events[0].id.to_string()).unwrap().as_ref(),
        Some(&events[0])
    );

    let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-26T12:00:00+07:00")
        .unwrap()
        .into();
    let find = |q: &str| central_hub::search::search(&store, q, now, 10).unwrap().1;
    let hits = find("xe máy màu đỏ");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].row.track_id, Some(1));
    let hits = find("man in white shirt near Ben Thanh 8-9am");
    assert_eq!(
        hits.iter().map(|h| h.row.track_id).collect::<Vec<_>>(),
        vec![Some(2)]
    );
    assert!(
        hits[0].reasons.iter().any(|r| r.starts_with("camera")),
        "{:?}",
        hits[0].reasons
    );
    assert!(
        find("black car 8-9am").is_empty(),
        "the black car came at 11:15"
    );
    assert_eq!(find("motorbike inbound").len(), 1);
    assert!(find("'; DROP TABLE events; --").len() <= 4);
    assert_eq!(store.count().unwrap(), 4, "hostile text changed nothing");
}
