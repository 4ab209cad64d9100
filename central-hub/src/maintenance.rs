//! The hub's background work on its own store connection: retention (events past their
//! kind's days, old dead letters, evidence no event names), planner statistics, and embedding
//! captions as they arrive so that no search waits for them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::embed::Embedder;
use crate::evidence::EvidenceStore;
use crate::store::EventStore;

/// Days a dead letter (refused or quarantined message) is kept.
const DEAD_LETTER_DAYS: i64 = 30;
/// How often expired events are deleted and statistics refreshed.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// How old an evidence blob no event names must be before it is deleted: blobs travel before
/// the events that name them, from the same outbox.
pub const EVIDENCE_GRACE: Duration = Duration::from_secs(3600);
/// Captions embedded per pass (one model run each 64), so a burst of new ones cannot hold
/// the loop (and shutdown) for long.
const EMBED_PER_PASS: usize = 256;

pub struct Maintenance {
    pub retention: std::collections::BTreeMap<matthan_schema::Kind, u32>,
    pub blobs: EvidenceStore,
    pub embedder: Embedder,
}

impl Maintenance {
    /// Until `stop`: embeds new captions every 200 ms, the rest hourly (first at start).
    pub fn run(mut self, store: &mut dyn EventStore, stop: &AtomicBool) {
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if Instant::now() >= next {
                self.hourly(store);
                next = Instant::now() + RETENTION_EVERY;
            }
            match embed_pending(store, &mut self.embedder, EMBED_PER_PASS) {
                Ok(n) if n == EMBED_PER_PASS => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "embedding new captions failed; will retry"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn hourly(&mut self, store: &mut dyn EventStore) {
        expire(store, &self.retention, &self.blobs);
        if let Err(e) = self.blobs.remeasure() {
            tracing::warn!(error = %e, "measuring the evidence folder failed");
        }
        if let Some(b) = self.blobs.budget()
            && b.state() != crate::evidence::BudgetState::Ok
        {
            tracing::warn!(used = b.used(), budget = b.limit(), state = ?b.state(), "evidence store near or at its disk budget: shorten retention or add disk");
        }
        if let Err(e) = store.optimize() {
            tracing::warn!(error = %e, "refreshing planner statistics failed; will retry");
        }
    }
}

/// Embeds up to `limit` captions stored without an embedding; returns how many.
pub fn embed_pending(
    store: &mut dyn EventStore,
    embedder: &mut Embedder,
    limit: usize,
) -> Result<usize, crate::search::SearchError> {
    let texts = store.missing_embeddings(limit)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    crate::search::embed_and_store(store, embedder, &refs)?;
    Ok(texts.len())
}

/// One retention pass: expired events per kind, then the evidence no stored event names.
fn expire(
    store: &mut dyn EventStore,
    retention: &std::collections::BTreeMap<matthan_schema::Kind, u32>,
    blobs: &EvidenceStore,
) {
    for (kind, days) in retention {
        let before = Utc::now() - chrono::Duration::days(*days as i64);
        match store.expire(kind.as_str(), before) {
            Ok(0) => {}
            Ok(n) => tracing::info!(kind = %kind, deleted = n, days, "retention"),
            Err(e) => tracing::warn!(error = %e, "retention failed; will retry"),
        }
    }
    // Dead letters are for diagnosis, not records: kept a month, so a flood of junk cannot
    // grow the database for good.
    match store.expire_dead_letters(Utc::now() - chrono::Duration::days(DEAD_LETTER_DAYS)) {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "retention: dead letters"),
        Err(e) => tracing::warn!(error = %e, "dead-letter retention failed; will retry"),
    }
    match blobs.sweep(store, EVIDENCE_GRACE) {
        Ok(s) if s.files > 0 => {
            tracing::info!(
                files = s.files,
                bytes = s.bytes,
                "evidence no event names deleted"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "evidence sweep failed; will retry"),
    }
}
