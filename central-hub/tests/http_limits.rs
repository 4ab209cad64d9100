//! The hub under hostile clients: idle and half-open connections are closed, the connection
//! cap holds without locking anyone out for good, and what ingest acknowledged without
//! storing is visible to admins.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{ADMIN, Hub, OPERATOR};

/// True once the server has closed `s` (read gives end of file or a reset).
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn idle_and_half_open_connections_are_closed_and_the_cap_holds() {
    let hub = Hub::start_with("[http]\nmax_connections = 4\nidle_timeout_s = 2\n");
    let addr = hub.url.trim_start_matches("http://").to_string();
    // Four clients take every slot: three say nothing, one stops halfway through its headers.
    let mut idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    idle[3]
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // A fifth client waits for a slot (in the listen backlog, holding no descriptor of the
    // hub's) and is served once the idle ones are closed.
    let started = Instant::now();
    let (status, _) = hub.get("/api/health", None);
    assert_eq!(status, 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1000),
        "served after {waited:?}: the cap of 4 connections did not hold"
    );
    for (i, s) in idle.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(15)),
            "idle connection {i} still open"
        );
    }
    // A client that keeps its connection busy is not cut off by the idle timer.
    let (status, _) = hub.get("/api/health", None);
    assert_eq!(status, 200);
}

#[test]
fn what_ingest_set_aside_is_listed_for_admins_only() {
    let hub = Hub::start();
    let mut opts = rumqttc::MqttOptions::new("poison", "127.0.0.1", hub.broker.port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut conn) = rumqttc::Client::new(opts, 10);
    std::thread::spawn(move || for _ in conn.iter() {});
    client
        .publish(
            "matthan/hcmc/cam-1/track",
            rumqttc::QoS::AtLeastOnce,
            false,
            b"{\"schema\":\"matthan.event/1\",\"id\":42}".to_vec(),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let letters = loop {
        let v = hub.json("/api/admin/dead-letters?why=refused", ADMIN);
        if v["letters"].as_array().is_some_and(|l| !l.is_empty()) {
            break v;
        }
        assert!(Instant::now() < deadline, "nothing set aside: {v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let first = &letters["letters"][0];
    assert_eq!(first["topic"], "matthan/hcmc/cam-1/track");
    assert_eq!(first["site"], "hcmc");
    assert_eq!(first["why"], "refused");
    assert!(first["preview"].as_str().unwrap().contains("\"id\":42"));
    assert!(!first["reason"].as_str().unwrap().is_empty());
    assert_eq!(letters["refused_total"], 1);
    assert_eq!(
        hub.get("/api/admin/dead-letters", Some(OPERATOR)).0,
        403,
        "operators do not see raw messages"
    );
    assert_eq!(
        hub.get("/api/admin/dead-letters?why=lost", Some(ADMIN)).0,
        400
    );
    let q = hub.json("/api/admin/dead-letters?why=quarantined", ADMIN);
    assert_eq!(q["letters"].as_array().unwrap().len(), 0);
}
