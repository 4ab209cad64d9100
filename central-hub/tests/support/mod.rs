//! Helpers for the hub tests: both real store engines, the embedding model, seeded events.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use central_hub::embed::Embedder;
use central_hub::store::EventStore;
use chrono::{DateTime, Utc};
use matthan_schema::{Attributes, BBox, Body, Event, TrackEvent, TrackPhase};
pub use matthan_test_support::{Broker, cached, free_port, repo};

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
    let admin = std::env::var("MATTHAN_PG_URL")
        .expect("MATTHAN_PG_URL is not set: the PostgreSQL tests need `bash scripts/pg.sh start` (scripts/test.sh does it)");
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "matthan_t_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut c =
        postgres::Client::connect(&admin, postgres::NoTls).expect("connect to test PostgreSQL");
    // Separate statements: a multi-statement batch runs as one transaction, which CREATE DATABASE refuses.
    c.execute(&format!("DROP DATABASE IF EXISTS {name}"), &[])
        .unwrap();
    c.execute(&format!("CREATE DATABASE {name}"), &[]).unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
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
        }),
    )
}
