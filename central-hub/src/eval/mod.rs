//! The labelled search evaluation: seeds the events of `eval/seed.toml` into a store, runs the
//! queries of a labelled set (`eval/queries.toml`, `eval/queries-times-typos-plates.toml`), and
//! reports recall@10, precision@10 and mean reciprocal rank. Run it with
//! `cargo run --release -p central-hub --example search_eval`; the tests hold it to its goal.

pub mod corpus;

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use matthan_schema::{
    Alert, AlertPhase, AlertRule, Attributes, BBox, Body, Crossing, Direction, Event, TrackEvent,
    TrackPhase, ZoneAction, ZoneEvent,
};
use serde::Deserialize;

use crate::embed::Embedder;
use crate::search::SearchError;
use crate::store::EventStore;

#[derive(Deserialize)]
struct Seed {
    now: String,
    object: Vec<Object>,
}

#[derive(Deserialize)]
struct Object {
    label: String,
    camera: String,
    class: String,
    #[serde(default)]
    color: Option<String>,
    #[serde(default)]
    upper: Option<String>,
    #[serde(default)]
    lower: Option<String>,
    #[serde(default)]
    plate: Option<String>,
    at: String,
    #[serde(default)]
    crossing: Option<String>,
    #[serde(default)]
    zones: Vec<String>,
    #[serde(default)]
    dwell: bool,
    /// Alert rules (`loitering`, `crowding`, ...) raised on the object in its first zone.
    #[serde(default)]
    alerts: Vec<String>,
}

#[derive(Deserialize)]
struct Queries {
    query: Vec<Labelled>,
}

#[derive(Deserialize)]
struct Labelled {
    q: String,
    relevant: Vec<String>,
}

#[derive(Debug)]
pub struct QueryResult {
    pub query: String,
    /// 1-based rank of the first relevant result, if any in the results.
    pub first_rank: Option<usize>,
    pub recall_at_10: f64,
    /// Share of the results that are relevant; with nothing relevant, 1 only for no results.
    pub precision_at_10: f64,
}

#[derive(Debug)]
pub struct Report {
    pub queries: Vec<QueryResult>,
    pub recall_at_10: f64,
    pub precision_at_10: f64,
    pub mrr: f64,
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("seed times are RFC 3339")
        .with_timezone(&Utc)
}

/// The seed's events, and each object's (camera, track id) by label.
fn seed_events(seed: &Seed) -> (Vec<Event>, HashMap<String, (String, i64)>) {
    let mut events = Vec::new();
    let mut ids = HashMap::new();
    for (i, o) in seed.object.iter().enumerate() {
        let track_id = 100 + i as u64;
        let at = time(&o.at);
        ids.insert(o.label.clone(), (o.camera.clone(), track_id as i64));
        events.push(Event::new(
            "hcmc",
            &o.camera,
            at,
            Body::Track(TrackEvent {
                phase: TrackPhase::End,
                track_id,
                class: o.class.clone(),
                score: 0.8,
                bbox: BBox {
                    x1: 10.0,
                    y1: 10.0,
                    x2: 60.0,
                    y2: 120.0,
                },
                first_seen: at - chrono::Duration::seconds(20),
                last_seen: at,
                zones: o.zones.clone(),
                path: vec![],
                attributes: Attributes {
                    color: o.color.clone(),
                    upper_color: o.upper.clone(),
                    lower_color: o.lower.clone(),
                    plate: o.plate.clone(),
                    ..Attributes::default()
                },
                snapshot: None,
                plate_image: None,
            }),
        ));
        if let Some(d) = &o.crossing {
            let direction = if d == "in" {
                Direction::In
            } else {
                Direction::Out
            };
            events.push(Event::new(
                "hcmc",
                &o.camera,
                at - chrono::Duration::seconds(10),
                Body::Crossing(Crossing {
                    line: "le-loi".into(),
                    direction,
                    class: o.class.clone(),
                    track_id,
                }),
            ));
        }
        for rule in &o.alerts {
            events.push(alert_event(o, track_id, rule));
        }
        for z in &o.zones {
            let zone = |action, duration_s| {
                Event::new(
                    "hcmc",
                    &o.camera,
                    at - chrono::Duration::seconds(15),
                    Body::Zone(ZoneEvent {
                        zone: z.clone(),
                        action,
                        class: o.class.clone(),
                        track_id,
                        duration_s,
                    }),
                )
            };
            events.push(zone(ZoneAction::Enter, 0.0));
            if o.dwell {
                events.push(zone(ZoneAction::Dwell, 300.0));
            }
        }
    }
    (events, ids)
}

/// An alert start event, as the edge's rules engine publishes one, for a seeded object.
fn alert_event(o: &Object, track_id: u64, rule: &str) -> Event {
    let at = time(&o.at);
    let rule = crate::lexicon::alert_kinds()
        .find(|r| *r == rule)
        .and_then(|r| AlertRule::new(r).ok())
        .unwrap_or_else(|| panic!("seed.toml: unknown alert rule {rule:?}"));
    Event::new(
        "hcmc",
        &o.camera,
        at,
        Body::Alert(Alert {
            rule: rule.clone(),
            rule_id: format!(
                "{}-{}",
                o.zones.first().map_or("camera", String::as_str),
                rule.as_str()
            ),
            phase: AlertPhase::Start,
            started: at - chrono::Duration::seconds(90),
            duration_s: 90.0,
            zone: o.zones.first().cloned(),
            track_ids: vec![track_id],
            class: Some(o.class.clone()),
            count: None,
            measure: None,
            unit: None,
            calibrated: false,
            snapshot: None,
        }),
    )
}

/// Seeds `store` (empty) from `dir/seed.toml` and scores every query of `dir/{set}`.
pub fn run(
    dir: &Path,
    set: &str,
    store: &mut dyn EventStore,
    embedder: &mut Embedder,
) -> Result<Report, SearchError> {
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
    };
    let seed: Seed = toml::from_str(&read("seed.toml")).expect("valid seed.toml");
    let queries: Queries = toml::from_str(&read(set)).unwrap_or_else(|e| panic!("{set}: {e}"));
    let (events, ids) = seed_events(&seed);
    store.insert(&events)?;
    // As the hub's maintenance pass does in the background.
    while crate::maintenance::embed_pending(store, embedder, 256)? > 0 {}
    let now = time(&seed.now);
    let mut results = Vec::new();
    for l in &queries.query {
        let (_, hits) = crate::search::search(store, embedder, &l.q, now, 10)?;
        let keys: Vec<(String, i64)> = hits
            .iter()
            .filter_map(|h| h.row.track_id.map(|t| (h.row.camera.clone(), t)))
            .collect();
        let relevant: Vec<&(String, i64)> = l
            .relevant
            .iter()
            .map(|r| ids.get(r).unwrap_or_else(|| panic!("unknown label {r}")))
            .collect();
        let found = relevant.iter().filter(|r| keys.contains(r)).count();
        let first_rank = keys
            .iter()
            .position(|k| relevant.contains(&k))
            .map(|p| p + 1);
        let right = keys.iter().filter(|k| relevant.contains(k)).count();
        let share = |n: usize, of: usize| if of == 0 { 1.0 } else { n as f64 / of as f64 };
        results.push(QueryResult {
            query: l.q.clone(),
            first_rank,
            recall_at_10: if relevant.is_empty() {
                share(0, keys.len()).min(1.0)
            } else {
                share(found, relevant.len())
            },
            precision_at_10: if keys.is_empty() && !relevant.is_empty() {
                0.0
            } else {
                share(right, keys.len())
            },
        });
    }
    let n = results.len().max(1) as f64;
    let recall_at_10 = results.iter().map(|r| r.recall_at_10).sum::<f64>() / n;
    let precision_at_10 = results.iter().map(|r| r.precision_at_10).sum::<f64>() / n;
    // Reciprocal rank over the queries that have an answer.
    let answerable: Vec<&QueryResult> = queries
        .query
        .iter()
        .zip(&results)
        .filter(|(l, _)| !l.relevant.is_empty())
        .map(|(_, r)| r)
        .collect();
    let mrr = answerable
        .iter()
        .map(|r| r.first_rank.map_or(0.0, |k| 1.0 / k as f64))
        .sum::<f64>()
        / answerable.len().max(1) as f64;
    Ok(Report {
        queries: results,
        recall_at_10,
        precision_at_10,
        mrr,
    })
}
