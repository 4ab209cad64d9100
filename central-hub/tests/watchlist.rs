//! Watch lists and tracing through the real hub (MQTT ingest, HTTP API, SQLite): a listed
//! plate read exactly or through one OCR look-alike is a hit pushed on the stream within two
//! seconds of being published; one other character away is not; every change is audited; a
//! trace lists the sightings oldest first and flags a hop no car could drive.

mod support;

use std::io::BufRead;
use std::time::{Duration, Instant};

use support::{ADMIN, Hub, OPERATOR, Obj, TRAFFIC, track, ts};

fn car(camera: &'static str, plate: &'static str, id: u64, at: &str) -> matthan_schema::Event {
    let o = Obj {
        camera,
        class: "car",
        plate: Some(plate),
        ..Obj::default()
    };
    track(&o, id, ts(at))
}

fn post(hub: &Hub, path: &str, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    hub.send("POST", path, token, Some(body))
}

#[test]
fn listed_plates_hit_live_and_traces_flag_impossible_hops() {
    // Two cameras 2.2 km apart (Bến Thành market and the Opera House, roughly).
    let hub = Hub::start_with(
        "[[cameras]]\nsite = \"hcmc\"\nid = \"ben-thanh-1\"\nlat = 10.7725\nlon = 106.6980\n\
         [[cameras]]\nsite = \"hcmc\"\nid = \"le-loi-5\"\nlat = 10.7769\nlon = 106.7031\n",
    );
    let plate = serde_json::json!({"plate": "51F-123.45", "reason": "stolen car, report 2026/1187", "days": 7});
    assert_eq!(post(&hub, "/api/watchlist", TRAFFIC, plate.clone()).0, 403);
    for bad in [
        serde_json::json!({"plate": "hello", "reason": "x", "days": 7}),
        serde_json::json!({"plate": "51F-123.45", "reason": " ", "days": 7}),
        serde_json::json!({"plate": "51F-123.45", "reason": "x", "days": 0}),
    ] {
        assert_eq!(
            post(&hub, "/api/watchlist", OPERATOR, bad.clone()).0,
            400,
            "{bad}"
        );
    }
    let (status, added) = post(&hub, "/api/watchlist", OPERATOR, plate);
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["plate"], "51F12345");

    // A console listening for hits.
    let resp = ureq::get(&format!("{}/api/watchlist/stream", hub.url))
        .set("Authorization", &format!("Bearer {OPERATOR}"))
        .call()
        .unwrap();
    assert_eq!(resp.content_type(), "text/event-stream");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::io::BufReader::new(resp.into_reader());
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if let Some(data) = line.strip_prefix("data:") {
                let v: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
                let _ = tx.send((Instant::now(), v));
            }
        }
    });

    // A system (or the site's edge) listening on the broker for hits.
    let mut opts = rumqttc::MqttOptions::new("watch-listener", "127.0.0.1", hub.broker.port);
    opts.set_keep_alive(Duration::from_secs(5));
    let (listener, mut conn) = rumqttc::Client::new(opts, 16);
    listener
        .subscribe("matthan-watch/+", rumqttc::QoS::AtLeastOnce)
        .unwrap();
    let (mtx, mrx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for ev in conn.iter() {
            match ev {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
                    let _ = mtx.send((p.topic.clone(), v));
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                    let _ = mtx.send((String::new(), serde_json::Value::Null));
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    mrx.recv_timeout(Duration::from_secs(5))
        .expect("subscribed");

    let exact = car("ben-thanh-1", "51F-123.45", 1, "2026-11-26T08:00:00+07:00");
    let alike = car("le-loi-5", "51F-I23.45", 2, "2026-11-26T08:00:10+07:00");
    let other = car("le-loi-5", "51F-123.46", 3, "2026-11-26T08:00:20+07:00");
    let sent = Instant::now();
    hub.publish(&[exact.clone(), alike.clone(), other.clone()]);
    let mut got = Vec::new();
    while got.len() < 2 {
        let (at, v) = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("two hits on the stream");
        println!("hit on the stream {:?} after publishing", at - sent);
        assert!(
            at - sent < Duration::from_secs(2),
            "hit after {:?}",
            at - sent
        );
        got.push(v);
    }
    let mut seen: Vec<(String, bool)> = got
        .iter()
        .map(|h| {
            (
                h["event_id"].as_str().unwrap().to_string(),
                h["exact"].as_bool().unwrap(),
            )
        })
        .collect();
    seen.sort();
    let mut want = vec![(exact.id.to_string(), true), (alike.id.to_string(), false)];
    want.sort();
    assert_eq!(seen, want, "the 123.46 car is not a hit");
    let hits = hub.json("/api/watchlist/hits", OPERATOR);
    assert_eq!(hits["hits"].as_array().unwrap().len(), 2, "{hits}");
    // The same two hits on the broker, under the site.
    let mut on_mqtt: Vec<(String, String)> = (0..2)
        .map(|_| {
            let (topic, v) = mrx
                .recv_timeout(Duration::from_secs(5))
                .expect("two hits on MQTT");
            assert_eq!(v["schema"], "matthan.watch-hit/1", "{v}");
            (topic, v["event_id"].as_str().unwrap().to_string())
        })
        .collect();
    on_mqtt.sort();
    let mut want_mqtt: Vec<(String, String)> = [&exact, &alike]
        .iter()
        .map(|e| ("matthan-watch/hcmc".to_string(), e.id.to_string()))
        .collect();
    want_mqtt.sort();
    assert_eq!(on_mqtt, want_mqtt);

    // The trace: both sightings of the car, oldest first, the second 2.2 km in 10 s.
    let t = hub.json("/api/trace?plate=51F-123.45", OPERATOR);
    let s = t["sightings"].as_array().unwrap();
    assert_eq!(s.len(), 2, "{t}");
    assert_eq!(
        (s[0]["match"].as_str(), s[1]["match"].as_str()),
        (Some("exact"), Some("look-alike"))
    );
    assert_eq!(s[1]["hop"]["impossible"], true, "{}", s[1]["hop"]);
    let by_event = hub.json(&format!("/api/trace?event={}", exact.id), OPERATOR);
    assert_eq!(by_event["sightings"].as_array().unwrap().len(), 2);

    // Ending the entry: no more hits, and every step was audited.
    let id = added["id"].as_i64().unwrap();
    let del = ureq::delete(&format!("{}/api/watchlist/{id}", hub.url))
        .set("Authorization", &format!("Bearer {OPERATOR}"))
        .call()
        .unwrap();
    assert_eq!(del.status(), 204);
    assert!(
        hub.json("/api/watchlist", OPERATOR)["entries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    hub.publish(&[car(
        "ben-thanh-1",
        "51F-123.45",
        4,
        "2026-11-26T09:00:00+07:00",
    )]);
    assert_eq!(
        hub.json("/api/watchlist/hits", OPERATOR)["hits"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let audit = hub.json("/api/audit?limit=200", ADMIN);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "watchlist_add",
        "watchlist_hit",
        "watchlist_remove",
        "trace",
        "watchlist_stream",
    ] {
        assert!(actions.contains(&a), "{a} not audited: {actions:?}");
    }
    // A console still listening does not hold the hub's shutdown.
    let t = Instant::now();
    drop(hub);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        t.elapsed()
    );
}
