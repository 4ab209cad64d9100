//! Watch lists (danh sách theo dõi): plates operators want to know about at once. Every plate
//! an event carries (a track's reading, a violation's) is checked as the event is stored; a
//! reading that is the listed plate, or differs from it in one character OCR confuses (0/O/D,
//! 1/I, 5/S, 8/B, 2/Z, 6/G; marked as a look-alike), is a hit: recorded, audited and pushed to
//! every open console. A plate one other character away is not a hit.

use std::sync::RwLock;

use chrono::{DateTime, Utc};
use matthan_schema::{Body, Event};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::store::{EventStore, StoreError, fold_plate, plate_norm};

/// One listed plate. Entries end at `expires` or when removed; expired ones never hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchEntry {
    pub id: i64,
    /// Upper-case alphanumerics ("51F12345").
    pub plate: String,
    pub reason: String,
    pub added_by: String,
    #[serde(with = "matthan_schema::rfc3339_ms")]
    pub added: DateTime<Utc>,
    #[serde(with = "matthan_schema::rfc3339_ms")]
    pub expires: DateTime<Utc>,
}

/// A stored event whose plate matched a listed one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchHit {
    pub entry_id: i64,
    pub listed: String,
    pub reason: String,
    /// The plate as the camera read it.
    pub read: String,
    /// Read exactly as listed, or through one OCR look-alike character.
    pub exact: bool,
    pub event_id: String,
    pub site: String,
    pub camera: String,
    #[serde(with = "matthan_schema::rfc3339_ms")]
    pub ts: DateTime<Utc>,
    /// The track the plate was read on (live hits only): its later events (the update as its
    /// plate firms up, its end) are the same pass and raise no second hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<u64>,
}

/// A pass of one track before one camera, for one watch-list entry: (entry, site, camera, track).
type PassKey = (i64, String, String, u64);

/// Events of one track this far apart are two passes (the edge restarted, ids began again).
const SAME_PASS_MIN: i64 = 10;

/// Whether a reading is the listed plate: `Some(true)` exactly, `Some(false)` through one
/// confusable character, `None` otherwise.
pub fn matches(listed: &str, read: &str) -> Option<bool> {
    let read = plate_norm(read);
    if read == listed {
        return Some(true);
    }
    let differ = read
        .chars()
        .zip(listed.chars())
        .filter(|(a, b)| a != b)
        .count();
    (read.len() == listed.len() && differ == 1 && fold_plate(&read) == fold_plate(listed))
        .then_some(false)
}

/// The plate an event carries, if any.
pub fn plate_of(e: &Event) -> Option<&str> {
    match &e.body {
        Body::Track(t) => t.attributes.plate.as_deref(),
        Body::Violation(v) => v.plate.as_deref(),
        _ => None,
    }
}

/// The active list, shared by ingest (which checks) and the API (which changes it), and the
/// channel hits are pushed on.
pub struct Watch {
    entries: RwLock<Vec<WatchEntry>>,
    /// The last hit per (entry, site, camera, track), so a pass hits once.
    passes: std::sync::Mutex<std::collections::HashMap<PassKey, DateTime<Utc>>>,
    pub hits: broadcast::Sender<WatchHit>,
    /// Set when the hub stops, so open hit streams end instead of holding the shutdown.
    closing: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.read().map_or(0, |e| e.len());
        write!(f, "Watch({n} entries)")
    }
}

impl Default for Watch {
    fn default() -> Self {
        Self {
            entries: RwLock::new(Vec::new()),
            passes: Default::default(),
            // A console that falls this far behind misses hits live (they stay listed).
            hits: broadcast::channel(256).0,
            closing: tokio::sync::watch::channel(false).0,
        }
    }
}

impl Watch {
    /// Ends every open hit stream (the hub is stopping).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves when the hub stops.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + use<> {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// Reads the active entries from the store (at start and after every change).
    pub fn reload(&self, store: &mut dyn EventStore) -> Result<(), StoreError> {
        let now = Utc::now();
        let active = store.watch_entries(now)?;
        *self.entries.write().unwrap_or_else(|p| p.into_inner()) = active;
        Ok(())
    }

    /// The hits among stored events, against the entries active at `now`.
    pub fn check(&self, events: &[Event], now: DateTime<Utc>) -> Vec<WatchHit> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        if entries.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for e in events {
            let Some(read) = plate_of(e) else { continue };
            for w in entries.iter().filter(|w| w.expires > now) {
                if let Some(exact) = matches(&w.plate, read) {
                    out.push(WatchHit {
                        entry_id: w.id,
                        listed: w.plate.clone(),
                        reason: w.reason.clone(),
                        read: read.to_string(),
                        exact,
                        event_id: e.id.to_string(),
                        site: e.site.clone(),
                        camera: e.camera.clone(),
                        ts: e.ts,
                        track: match &e.body {
                            Body::Track(t) => Some(t.track_id),
                            _ => None,
                        },
                    });
                }
            }
        }
        out
    }

    /// Records the hits (each once, however often its event is delivered), audits and pushes
    /// the new ones; returns the new ones (for MQTT).
    pub fn raise(
        &self,
        store: &mut dyn EventStore,
        hits: Vec<WatchHit>,
    ) -> Result<Vec<WatchHit>, StoreError> {
        let mut new = Vec::new();
        for h in hits {
            if self.same_pass(&h) {
                continue;
            }
            if store.record_watch_hit(&h)? {
                self.passed(&h);
                store.audit(&crate::store::AuditEntry {
                    ts: Utc::now(),
                    who: "hub".into(),
                    role: "system".into(),
                    action: "watchlist_hit".into(),
                    detail: format!(
                        "{} read {} ({}) at {}/{} event {}",
                        h.listed,
                        h.read,
                        if h.exact { "exact" } else { "OCR look-alike" },
                        h.site,
                        h.camera,
                        h.event_id
                    ),
                })?;
                tracing::warn!(plate = %h.listed, read = %h.read, camera = %h.camera, "watch-list hit");
                // No console open is not an error: the hit is recorded.
                let _ = self.hits.send(h.clone());
                new.push(h);
            }
        }
        Ok(new)
    }
}

impl Watch {
    fn pass_key(h: &WatchHit) -> Option<PassKey> {
        h.track
            .map(|t| (h.entry_id, h.site.clone(), h.camera.clone(), t))
    }

    /// Whether this pass of the track already hit this entry.
    fn same_pass(&self, h: &WatchHit) -> bool {
        let Some(k) = Self::pass_key(h) else {
            return false;
        };
        let passes = self.passes.lock().unwrap_or_else(|p| p.into_inner());
        passes
            .get(&k)
            .is_some_and(|at| (h.ts - *at).abs() <= chrono::Duration::minutes(SAME_PASS_MIN))
    }

    fn passed(&self, h: &WatchHit) {
        let Some(k) = Self::pass_key(h) else { return };
        let mut passes = self.passes.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: passes older than the window are forgotten as new ones come.
        if passes.len() > 10_000 {
            let horizon = h.ts - chrono::Duration::minutes(SAME_PASS_MIN);
            passes.retain(|_, at| *at >= horizon);
        }
        passes.insert(k, h.ts);
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn a_pass_hits_once_and_the_next_pass_again() {
        let w = super::Watch::default();
        let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let hit = |track: Option<u64>, ts: &str| super::WatchHit {
            entry_id: 1,
            listed: "51F12345".into(),
            reason: "r".into(),
            read: "51F-123.45".into(),
            exact: true,
            event_id: format!("{track:?}{ts}"),
            site: "s".into(),
            camera: "c".into(),
            ts: at(ts),
            track,
        };
        let first = hit(Some(7), "2026-12-01T08:00:00Z");
        assert!(!w.same_pass(&first));
        w.passed(&first);
        assert!(
            w.same_pass(&hit(Some(7), "2026-12-01T08:00:04Z")),
            "its end event"
        );
        assert!(
            !w.same_pass(&hit(Some(8), "2026-12-01T08:00:04Z")),
            "another track"
        );
        assert!(
            !w.same_pass(&hit(Some(7), "2026-12-01T08:30:00Z")),
            "ids began again"
        );
        assert!(
            !w.same_pass(&hit(None, "2026-12-01T08:00:04Z")),
            "a violation"
        );
    }

    #[test]
    fn one_confusable_character_is_a_look_alike_and_any_other_is_nothing() {
        assert_eq!(matches("51F12345", "51F-123.45"), Some(true));
        assert_eq!(matches("51F12345", "51F-I23.45"), Some(false), "I for 1");
        assert_eq!(matches("51S23232", "515-232.32"), Some(false), "5 for S");
        assert_eq!(matches("51F12345", "51F-123.46"), None, "6 is not 5");
        assert_eq!(matches("51F12345", "51E-123.45"), None, "E is not F");
        assert_eq!(matches("51F12345", "5IF-I23.45"), None, "two look-alikes");
        assert_eq!(matches("51F12345", "51F-123.4"), None, "shorter");
    }
}
