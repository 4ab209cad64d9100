//! Helpers for the hub tests: both real store engines, the embedding model, seeded events.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;

use central_hub::embed::Embedder;
use central_hub::store::EventStore;
use chrono::{DateTime, Utc};
use matthan_schema::{Attributes, BBox, Body, Event, TrackEvent, TrackPhase};
pub use matthan_test_support::{Broker, cached, free_port, make_test_pki, repo, tls_broker};

mod events;
pub use events::*;

pub fn ort() {
    let lib = cached("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so");
    // SAFETY: every caller sets the same value before ONNX Runtime loads.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", lib) };
}

pub fn embedder() -> Embedder {
    ort();
    Embedder::load(
        &repo().join("models/minilm-l6-v2-int8.onnx"),
        &repo().join("models/minilm-l6-v2-tokenizer.json"),
        None,
    )
    .unwrap()
}

/// A fresh, empty PostgreSQL database on the server `scripts/pg.sh` started.
pub fn pg_url() -> String {
    matthan_test_support::pg_database("matthan_t")
}

/// Both engines, freshly made: (label, location to open).
pub fn engines(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("sqlite", dir.join("hub.db").display().to_string()),
        ("postgres", pg_url()),
    ]
}

pub fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[derive(Default, Clone)]
pub struct Obj<'a> {
    pub camera: &'a str,
    pub class: &'a str,
    pub color: Option<&'a str>,
    pub upper: Option<&'a str>,
    pub lower: Option<&'a str>,
    pub plate: Option<&'a str>,
    pub zones: Vec<&'a str>,
}

pub fn track(o: &Obj, id: u64, at: DateTime<Utc>) -> Event {
    Event::new(
        "hcmc",
        o.camera,
        at,
        Body::Track(TrackEvent {
            phase: TrackPhase::End,
            track_id: id,
            class: o.class.into(),
            score: 0.8,
            bbox: BBox {
                x1: 1.0,
                y1: 2.0,
                x2: 30.0,
                y2: 60.0,
            },
            first_seen: at,
            last_seen: at,
            zones: o.zones.iter().map(|z| z.to_string()).collect(),
            path: vec![],
            attributes: Attributes {
                color: o.color.map(Into::into),
                upper_color: o.upper.map(Into::into),
                lower_color: o.lower.map(Into::into),
                plate: o.plate.map(Into::into),
                ..Attributes::default()
            },
            snapshot: None,
            plate_image: None,
        }),
    )
}

pub const OPERATOR: &str = "op-secret-1";
pub const TRAFFIC: &str = "traffic-secret-1";
pub const ADMIN: &str = "admin-secret-1";

/// A running hub (ingest + HTTP) on a SQLite file, with one token per role.
pub struct Hub {
    pub url: String,
    pub broker: Broker,
    pub db: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Hub {
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// A hub with `extra` TOML appended to its configuration.
    pub fn start_with(extra: &str) -> Self {
        ort();
        let broker = Broker::start();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let h = |t: &str| central_hub::config::sha256_hex(t.as_bytes());
        let text = format!(
            r#"db = "hub.db"
listen = "127.0.0.1:{port}"
evidence_dir = "evidence"
[mqtt]
port = {mqtt}
client_id = "hub-under-test"
[embedding]
model = "{model}"
tokenizer = "{tok}"
[retention_days]
camera_status = 30
[[tokens]]
name = "nguyen-van-a"
role = "operator"
sha256 = "{op}"
[[tokens]]
name = "tt-dieu-hanh"
role = "traffic"
sha256 = "{tr}"
[[tokens]]
name = "admin"
role = "admin"
sha256 = "{ad}"
[[keys]]
site = "hcmc"
edge = "hcmc-edge-1"
public_key = "{trusted}"
valid_from = "2026-01-01T00:00:00+07:00"
{extra}
"#,
            mqtt = broker.port,
            model = repo().join("models/minilm-l6-v2-int8.onnx").display(),
            tok = repo().join("models/minilm-l6-v2-tokenizer.json").display(),
            op = h(OPERATOR),
            tr = h(TRAFFIC),
            ad = h(ADMIN),
            trusted = edge_key_hex(&edge_key()),
        );
        let file = dir.path().join("hub.toml");
        std::fs::write(&file, text).unwrap();
        let cfg = central_hub::config::HubConfig::load(&file).unwrap();
        let db = cfg.db.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(central_hub::server::serve(cfg, s))
                .unwrap();
        });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        // Up and subscribed: what is published before the hub's first subscription is the
        // edge's to send again (receipts), but these tests publish once.
        let subscribed = || {
            ureq::get(&format!("{url}/api/health"))
                .call()
                .ok()
                .and_then(|r| r.into_string().ok())
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .is_some_and(|v| v["broker"] == "subscribed")
        };
        while !subscribed() {
            assert!(std::time::Instant::now() < deadline, "hub did not come up");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Self {
            url,
            broker,
            db,
            stop,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Publishes events over MQTT and waits until the hub has stored them all.
    pub fn publish(&self, events: &[Event]) {
        let mut opts = rumqttc::MqttOptions::new(
            format!("seed-{}", free_port()),
            "127.0.0.1",
            self.broker.port,
        );
        opts.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut conn) = rumqttc::Client::new(opts, 1000);
        std::thread::spawn(move || for _ in conn.iter() {});
        let before = self.events();
        for e in events {
            client
                .publish(e.topic(), rumqttc::QoS::AtLeastOnce, false, e.to_json())
                .unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.events() < before + events.len() as i64 {
            assert!(
                std::time::Instant::now() < deadline,
                "hub stored {} of {}",
                self.events() - before,
                events.len()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Publishes one evidence blob and waits until the hub can serve it.
    pub fn publish_blob(&self, topic: &str, data: &[u8]) {
        self.send_blob(topic, data);
        let sha = topic.rsplit('/').next().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.get(&format!("/api/evidence/{sha}"), Some(ADMIN)).0 != 200 {
            assert!(
                std::time::Instant::now() < deadline,
                "hub never stored blob {sha}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Publishes a blob without waiting for the hub to store it.
    pub fn send_blob(&self, topic: &str, data: &[u8]) {
        let mut opts = rumqttc::MqttOptions::new(
            format!("blob-{}", free_port()),
            "127.0.0.1",
            self.broker.port,
        );
        opts.set_max_packet_size(1 << 22, 1 << 22);
        let (client, mut conn) = rumqttc::Client::new(opts, 10);
        std::thread::spawn(move || for _ in conn.iter() {});
        client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, data.to_vec())
            .unwrap();
        // Until the broker has it: the connection thread ends with this client.
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    pub fn events(&self) -> i64 {
        let v: serde_json::Value =
            serde_json::from_slice(&self.get("/api/health", None).1).unwrap();
        // New events this hub process stored (each test starts a fresh hub and store).
        v["stored"].as_i64().unwrap()
    }

    /// (status, body) of a GET, with an optional bearer token.
    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Vec<u8>) {
        let mut req = ureq::get(&format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let status = resp.status();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
        (status, body)
    }

    /// Any method with an optional JSON body; the status and the JSON answer (Null if none).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let json = |r: ureq::Response| {
            serde_json::from_str(&r.into_string().unwrap_or_default()).unwrap_or_default()
        };
        let req = ureq::request(method, &format!("{}{path}", self.url))
            .set("Authorization", &format!("Bearer {token}"));
        let sent = match body {
            Some(b) => req
                .set("Content-Type", "application/json")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        match sent {
            Ok(r) => (r.status(), json(r)),
            Err(ureq::Error::Status(code, r)) => (code, json(r)),
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    /// A response header of an unauthenticated GET.
    pub fn header(&self, path: &str, name: &str) -> Option<String> {
        let resp = match ureq::get(&format!("{}{path}", self.url)).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        resp.header(name).map(str::to_string)
    }

    pub fn json(&self, path: &str, token: &str) -> serde_json::Value {
        let (status, body) = self.get(path, Some(token));
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn publisher(port: u16) -> rumqttc::Client {
    let mut opts = rumqttc::MqttOptions::new(format!("pub-{}", free_port()), "127.0.0.1", port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut conn) = rumqttc::Client::new(opts, 100);
    std::thread::spawn(move || for _ in conn.iter() {});
    client
}

/// The real hub ingest on `loc`, evidence under `dir`, subscribed when this returns.
pub fn spawn_hub(
    port: u16,
    client_id: &str,
    loc: &str,
    dir: &std::path::Path,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    stats: &std::sync::Arc<central_hub::ingest::IngestStats>,
) -> std::thread::JoinHandle<()> {
    let cfg = central_hub::ingest::IngestConfig {
        host: "127.0.0.1".into(),
        port,
        client_id: client_id.into(),
        group: "g1".into(),
        security: Default::default(),
        limits: Default::default(),
        watch: None,
    };
    let store = central_hub::store::open(loc).unwrap();
    let evidence = central_hub::evidence::EvidenceStore::new(&dir.join("evidence")).unwrap();
    let (s2, st2) = (stop.clone(), stats.clone());
    let hub = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(central_hub::ingest::run(cfg, store, evidence, st2, s2))
            .unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(500)); // let the hub subscribe
    hub
}

/// Waits (at most 20 s) until the hub has stored `n` new events.
pub fn wait_stored(stats: &central_hub::ingest::IngestStats, n: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while stats.stored.load(std::sync::atomic::Ordering::Relaxed) < n {
        assert!(std::time::Instant::now() < deadline, "only {stats:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Everything a hub says on a site's receipt topic.
pub struct Receipts(std::sync::Arc<std::sync::Mutex<Vec<matthan_schema::Receipt>>>);

impl Receipts {
    pub fn listen(port: u16, site: &str) -> Self {
        let mut opts =
            rumqttc::MqttOptions::new(format!("rcpt-{}", free_port()), "127.0.0.1", port);
        opts.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut conn) = rumqttc::Client::new(opts, 100);
        client
            .subscribe(
                matthan_schema::receipt_topic(site),
                rumqttc::QoS::AtLeastOnce,
            )
            .unwrap();
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            let _keep = client;
            for ev in conn.iter() {
                if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) = ev
                    && let Ok(r) = matthan_schema::Receipt::from_json(&p.payload)
                {
                    g.lock().unwrap().push(r);
                }
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        Self(got)
    }

    /// Waits (10 s at most) until every one of `keys` has been confirmed or refused: a receipt
    /// is published as its batch commits and reaches this listener a moment later.
    pub fn settled(&self, keys: &[String]) -> (Vec<String>, Vec<String>) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (stored, refused) = self.keys();
            let done = keys
                .iter()
                .all(|k| stored.contains(k) || refused.contains(k));
            if done || std::time::Instant::now() > deadline {
                return (stored, refused);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Keys confirmed stored, and keys refused.
    pub fn keys(&self) -> (Vec<String>, Vec<String>) {
        let rs = self.0.lock().unwrap();
        let stored = rs.iter().flat_map(|r| r.stored.clone()).collect();
        let refused = rs
            .iter()
            .flat_map(|r| r.refused.iter().map(|x| x.key.clone()))
            .collect();
        (stored, refused)
    }
}

/// Publishes `n` track events of one red motorbike's neighbours (ids 0..n, a second apart)
/// and returns them.
pub fn publish_tracks(port: u16, n: u64) -> Vec<Event> {
    let client = publisher(port);
    let red = Obj {
        camera: "ben-thanh-1",
        class: "motorcycle",
        ..Obj::default()
    };
    let t0 = ts("2026-11-26T08:15:00+07:00");
    let events: Vec<Event> = (0..n)
        .map(|i| track(&red, i, t0 + chrono::Duration::seconds(i as i64)))
        .collect();
    for e in &events {
        client
            .publish(e.topic(), rumqttc::QoS::AtLeastOnce, false, e.to_json())
            .unwrap();
    }
    events
}
