//! The generated-corpus evaluation (#14): `eval/corpus/generate.py` writes, from
//! docs/events.md alone, the messages an outside publisher would send (`events.tsv`) and the
//! labels of every query of `eval/corpus/queries.toml` (`labels.json`). Each message goes
//! through the hub's own decoding (`ingest::decode`, what MQTT ingest runs), so a message the
//! documentation allows but the hub refuses shows as a contract failure; then every query is
//! searched and scored.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::embed::Embedder;
use crate::search::SearchError;
use crate::store::EventStore;

#[derive(Deserialize)]
struct Labels {
    now: String,
    /// label → (camera, track id)
    objects: HashMap<String, (String, i64)>,
    queries: Vec<Labelled>,
}

#[derive(Deserialize)]
struct Labelled {
    q: String,
    relevant: Vec<String>,
    /// Objects only in a query's loose time band: neither right nor wrong.
    ignore: Vec<String>,
}

#[derive(Debug)]
pub struct Scored {
    pub query: String,
    pub relevant: usize,
    /// Relevant results in the top 10 over min(10 less the loose-band results shown,
    /// relevant); for a query whose right answer is nothing, 1 when nothing came back.
    pub recall_at_10: f64,
    /// Relevant results over results not ignored; 1 for no results when nothing is relevant.
    pub precision_at_10: f64,
}

#[derive(Debug)]
pub struct CorpusReport {
    pub messages: usize,
    /// (line, reason) of documented messages the hub refused.
    pub refused: Vec<(usize, String)>,
    pub queries: Vec<Scored>,
    pub recall_at_10: f64,
    pub precision_at_10: f64,
}

/// Stores the messages of `dir/events.tsv` (after the hub's own checks), embeds their captions
/// as the hub's maintenance does, and scores every query of `dir/labels.json`.
pub fn run(
    dir: &Path,
    store: &mut dyn EventStore,
    embedder: &mut Embedder,
) -> Result<CorpusReport, SearchError> {
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
    };
    let tsv = read("events.tsv");
    let (mut events, mut refused) = (Vec::new(), Vec::new());
    for (i, line) in tsv.lines().enumerate() {
        let (topic, payload) = line.split_once('\t').unwrap_or((line, ""));
        match crate::ingest::decode(topic, payload.as_bytes()) {
            Ok(e) => events.push(e),
            Err(reason) => refused.push((i + 1, reason)),
        }
    }
    for chunk in events.chunks(1000) {
        store.insert(chunk)?;
    }
    while crate::maintenance::embed_pending(store, embedder, 256)? > 0 {}
    let labels: Labels = serde_json::from_str(&read("labels.json")).expect("valid labels.json");
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(&labels.now)
        .expect("labels.json: now is RFC 3339")
        .to_utc();
    let by_key: HashMap<&(String, i64), &str> = labels
        .objects
        .iter()
        .map(|(l, k)| (k, l.as_str()))
        .collect();
    let mut scored = Vec::new();
    for l in &labels.queries {
        let (_, hits) = crate::search::search(store, embedder, &l.q, now, 10)?;
        let got: Vec<&str> = hits
            .iter()
            .filter_map(|h| {
                let key = (h.row.camera.clone(), h.row.track_id?);
                by_key.get(&key).copied()
            })
            .collect();
        scored.push(score(l, &got));
    }
    let n = scored.len().max(1) as f64;
    Ok(CorpusReport {
        messages: tsv.lines().count(),
        refused,
        recall_at_10: scored.iter().map(|s| s.recall_at_10).sum::<f64>() / n,
        precision_at_10: scored.iter().map(|s| s.precision_at_10).sum::<f64>() / n,
        queries: scored,
    })
}

fn score(l: &Labelled, got: &[&str]) -> Scored {
    let relevant: HashSet<&str> = l.relevant.iter().map(String::as_str).collect();
    let ignore: HashSet<&str> = l.ignore.iter().map(String::as_str).collect();
    let right = got.iter().filter(|g| relevant.contains(*g)).count();
    let judged = got.iter().filter(|g| !ignore.contains(*g)).count();
    let (recall, precision) = if relevant.is_empty() {
        let clean = if judged == 0 { 1.0 } else { 0.0 };
        (clean, clean)
    } else {
        // Results in the loose band take no place among the ten: as if not shown.
        let slots = relevant.len().min(10 - (got.len() - judged));
        (
            if slots == 0 {
                1.0
            } else {
                right as f64 / slots as f64
            },
            match (got.len(), judged) {
                (0, _) => 0.0,
                // Everything shown was in the loose band: nothing wrong was shown.
                (_, 0) => 1.0,
                _ => right as f64 / judged as f64,
            },
        )
    };
    Scored {
        query: l.q.clone(),
        relevant: relevant.len(),
        recall_at_10: recall,
        precision_at_10: precision,
    }
}
