//! Search: the parsed query's filters select candidates (placeholders only; typed text never
//! reaches SQL), then the leftover words rank them by embedding similarity to each event's
//! semantic caption, plus a small bonus per word found literally in the caption. One result
//! per tracked object: the best-ranked, latest event of each track.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::embed::{EmbedError, Embedder, cosine};
use crate::query::{Query, fold};
use crate::store::{EventStore, Filter, Row, StoreError};

/// Candidates fetched for ranking when the query has free words; without them the newest
/// matches are the answer and a few times `limit` (for per-track de-duplication) suffice.
const CANDIDATES: usize = 2000;
const DEDUP_FACTOR: usize = 8;
/// Captions a search embeds itself when the background pass has not reached them yet.
const EMBED_ON_DEMAND: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Hit {
    #[serde(flatten)]
    pub row: Row,
    pub score: f32,
    /// Why it matched, for the result card.
    pub reasons: Vec<String>,
}

pub fn search(
    store: &mut dyn EventStore,
    embedder: &mut Embedder,
    text: &str,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<(Query, Vec<Hit>), SearchError> {
    search_refined(store, embedder, text, now, limit, |_| {})
}

/// The same, with the reading of the text narrowed by `refine` (the console's filters).
pub fn search_refined(
    store: &mut dyn EventStore,
    embedder: &mut Embedder,
    text: &str,
    now: DateTime<Utc>,
    limit: usize,
    refine: impl FnOnce(&mut Query),
) -> Result<(Query, Vec<Hit>), SearchError> {
    let cameras: Vec<String> = store.cameras()?.into_iter().map(|(_, c)| c).collect();
    let places = store.places()?;
    let mut q = crate::query::parse_with(text, now, &cameras, &places);
    refine(&mut q);
    let hits = run(store, embedder, &q, limit)?;
    Ok((q, hits))
}

/// The filter a query implies, and the reasons to show for it.
pub fn filter(q: &Query) -> (Filter, Vec<String>) {
    let mut reasons = Vec::new();
    let kinds: Vec<String> = if let Some(v) = &q.violation {
        reasons.push(format!("violation {v}"));
        vec!["violation".into()]
    } else if let Some(a) = &q.alert {
        reasons.push(format!("alert {a}"));
        vec!["alert".into()]
    } else if !q.kinds.is_empty() {
        q.kinds.clone()
    } else if !q.places.is_empty() {
        // Whatever happened there: objects seen in the zone, entering it, rules raised in it.
        vec![
            "track".into(),
            "zone".into(),
            "violation".into(),
            "alert".into(),
        ]
    } else if q.color.is_some()
        || q.upper_color.is_some()
        || q.lower_color.is_some()
        || q.plate.is_some()
    {
        // Attributes live on track events, and plates and colours on violations too.
        vec!["track".into(), "violation".into()]
    } else {
        vec!["track".into(), "crossing".into(), "zone".into()]
    };
    if !q.classes.is_empty() {
        reasons.push(format!("class {}", q.classes.join("/")));
    }
    if !q.cameras.is_empty() {
        reasons.push(format!("camera {}", q.cameras.join("/")));
    }
    if !q.places.is_empty() {
        reasons.push(format!("place {}", q.places.join("/")));
    }
    if let Some(h) = q.heading {
        reasons.push(format!("heading {h}° ± {}°", crate::store::HEADING_SPREAD));
    }
    // Colours are measured from pixels (dusk, glare, a wet road); a plate names the vehicle.
    // With a plate, a colour only ranks: the right truck read as brown is still found.
    let soft = q.plate.is_some();
    for (label, v) in [
        ("colour", &q.color),
        ("top", &q.upper_color),
        ("bottom", &q.lower_color),
        ("direction", &q.direction),
    ] {
        if let Some(v) = v {
            let how = if soft && label != "direction" {
                " (ranks; the plate decides)"
            } else {
                ""
            };
            reasons.push(format!("{label} {}{how}", v.replace('|', "/")));
        }
    }
    if let Some(p) = &q.plate {
        let how = if p.at_start {
            "starts with"
        } else {
            "contains"
        };
        reasons.push(format!("plate {how} {}", p.text));
    }
    if let (Some(f), Some(t)) = (q.from, q.to) {
        let tz = crate::caption::local_tz();
        reasons.push(format!(
            "time {} to {}",
            f.with_timezone(&tz).format("%d/%m %H:%M"),
            t.with_timezone(&tz).format("%d/%m %H:%M")
        ));
    }
    if !q.clock.is_empty() {
        let w: Vec<String> = q
            .clock
            .iter()
            .map(|w| crate::query::clock_label(*w))
            .collect();
        reasons.push(format!("clock {}", w.join(", ")));
    }
    let f = Filter {
        kinds,
        classes: q.classes.clone(),
        cameras: q.cameras.clone(),
        places: q.places.clone(),
        heading: q.heading,
        color: q.color.clone().filter(|_| !soft),
        upper_color: q.upper_color.clone().filter(|_| !soft),
        lower_color: q.lower_color.clone().filter(|_| !soft),
        direction: q.direction.clone(),
        rule: q.violation.clone().or_else(|| q.alert.clone()),
        plate: q.plate.clone(),
        from: q.from,
        to: q.to,
        clock: q.clock.clone(),
    };
    (f, reasons)
}

pub fn run(
    store: &mut dyn EventStore,
    embedder: &mut Embedder,
    q: &Query,
    limit: usize,
) -> Result<Vec<Hit>, SearchError> {
    if q.understood_nothing() {
        return Ok(Vec::new());
    }
    let (f, reasons) = filter(q);
    let want = if q.terms.is_empty() {
        (limit * DEDUP_FACTOR).min(CANDIDATES)
    } else {
        CANDIDATES
    };
    let rows = store.select(&f, want)?;

    let terms: Vec<String> = q.terms.iter().map(|t| fold(t)).collect();
    let sims: HashMap<String, f32> = if terms.is_empty() || rows.is_empty() {
        HashMap::new()
    } else {
        let qv = embedder.embed(&[terms.join(" ").as_str()])?.remove(0);
        let texts: Vec<String> = rows
            .iter()
            .map(|r| r.semantic.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut known: HashMap<String, Vec<f32>> = store.embeddings(&texts)?.into_iter().collect();
        let missing: Vec<&str> = texts
            .iter()
            .filter(|t| !known.contains_key(*t))
            .map(String::as_str)
            .collect();
        // The hub's maintenance pass embeds captions as they arrive; a search straight after a
        // bulk ingest embeds only a few itself (bounded work per request), and the rest rank
        // by their words alone until the pass has them (within a second or so).
        if !missing.is_empty() {
            let now: Vec<&str> = missing.into_iter().take(EMBED_ON_DEMAND).collect();
            known.extend(embed_and_store(store, embedder, &now)?);
        }
        known
            .iter()
            .map(|(t, v)| (t.clone(), cosine(&qv, v)))
            .collect()
    };

    let mut hits: Vec<Hit> = rows
        .into_iter()
        .map(|row| {
            let mut why = reasons.clone();
            // A plate read exactly as typed ranks above one matched through OCR look-alikes.
            let lookalike = q.plate.as_ref().is_some_and(|p| {
                let read = crate::store::plate_norm(row.plate.as_deref().unwrap_or(""));
                !read.contains(&p.text)
            });
            if lookalike {
                why.push(format!(
                    "plate read {} (OCR look-alike)",
                    row.plate.as_deref().unwrap_or("")
                ));
            }
            let penalty = if lookalike { 0.5 } else { 0.0 };
            let score = -penalty
                + colour_bonus(q, &row)
                + if terms.is_empty() {
                    1.0
                } else {
                    let cap = fold(&row.caption);
                    let literal: Vec<&str> = terms
                        .iter()
                        .filter(|t| cap.contains(t.as_str()))
                        .map(String::as_str)
                        .collect();
                    let sim = sims.get(&row.semantic).copied().unwrap_or(0.0);
                    why.push(format!("similar to \"{}\" ({sim:.2})", terms.join(" ")));
                    if !literal.is_empty() {
                        why.push(format!("words {}", literal.join(", ")));
                    }
                    sim + 0.25 * literal.len() as f32 / terms.len() as f32
                };
            Hit {
                row,
                score,
                reasons: why,
            }
        })
        .collect();
    // Best score first; among equals the newest, since rows came newest first and the sort is stable.
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut seen: HashSet<(String, String, i64)> = HashSet::new();
    hits.retain(|h| match h.row.track_id {
        Some(t) => seen.insert((h.row.site.clone(), h.row.camera.clone(), t)),
        None => true,
    });
    hits.truncate(limit);
    Ok(hits)
}

/// Embeds captions (64 per model run) and stores their vectors: for a search's few and for
/// the maintenance pass's backlog alike.
pub fn embed_and_store(
    store: &mut dyn EventStore,
    embedder: &mut Embedder,
    texts: &[&str],
) -> Result<Vec<(String, Vec<f32>)>, SearchError> {
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(64) {
        let items: Vec<(String, Vec<f32>)> = chunk
            .iter()
            .map(|t| t.to_string())
            .zip(embedder.embed(chunk)?)
            .collect();
        store.put_embeddings(&items)?;
        out.extend(items);
    }
    Ok(out)
}

/// With a plate, the colours asked for rank instead of filtering: a bonus per one that matches.
fn colour_bonus(q: &Query, row: &Row) -> f32 {
    if q.plate.is_none() {
        return 0.0;
    }
    let hit = |want: &Option<String>, got: &Option<String>| match (want, got) {
        (Some(w), Some(g)) => w.split('|').any(|w| w == g),
        _ => false,
    };
    0.2 * [
        hit(&q.color, &row.color),
        hit(&q.upper_color, &row.upper_color),
        hit(&q.lower_color, &row.lower_color),
    ]
    .into_iter()
    .filter(|h| *h)
    .count() as f32
}
