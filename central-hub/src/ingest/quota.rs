//! Per-site quota on evidence blobs no stored event names yet. Blobs travel just before the
//! events naming them, so a few are always "early"; a site whose early blobs pass the quota is
//! sending blobs nothing refers to (a fault, or a stolen edge account filling the disk). Its
//! further blobs are not stored and not confirmed: the edge keeps them and sends them again,
//! by which time its events have named the earlier ones and freed the quota.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::store::{EventStore, StoreError};

pub struct Quota {
    limit: u64,
    /// After this long an unnamed blob is the sweep's to delete, and stops counting.
    window: Duration,
    sites: HashMap<String, Site>,
}

#[derive(Default)]
struct Site {
    /// Blobs stored and not yet seen named, oldest first.
    early: VecDeque<(String, u64, Instant)>,
    bytes: u64,
}

impl Quota {
    pub fn new(limit: u64, window: Duration) -> Self {
        Self {
            limit,
            window,
            sites: HashMap::new(),
        }
    }

    /// Whether `site` may store `bytes` more; asks the store which early blobs are named by now
    /// only when the quota would otherwise be passed.
    pub fn admits(
        &mut self,
        site: &str,
        bytes: u64,
        store: &mut dyn EventStore,
    ) -> Result<bool, StoreError> {
        let window = self.window;
        let s = self.sites.entry(site.to_string()).or_default();
        while let Some((_, len, at)) = s.early.front() {
            if at.elapsed() < window {
                break;
            }
            s.bytes -= len;
            s.early.pop_front();
        }
        if s.bytes + bytes <= self.limit {
            return Ok(true);
        }
        let shas: Vec<String> = s.early.iter().map(|(sha, _, _)| sha.clone()).collect();
        let named = store.referenced(&shas)?;
        s.early.retain(|(sha, _, _)| !named.contains(sha));
        s.bytes = s.early.iter().map(|(_, len, _)| len).sum();
        Ok(s.bytes + bytes <= self.limit)
    }

    /// Notes a blob stored for `site`.
    pub fn stored(&mut self, site: &str, sha: String, bytes: u64) {
        let s = self.sites.entry(site.to_string()).or_default();
        s.early.push_back((sha, bytes, Instant::now()));
        s.bytes += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matthan_schema::{Body, Event, TrackEvent};

    fn track_naming(sha: &str) -> Event {
        let now = chrono::Utc::now();
        Event::new(
            "site-a",
            "cam-1",
            now,
            Body::Track(TrackEvent {
                phase: matthan_schema::TrackPhase::End,
                track_id: 1,
                class: "car".into(),
                score: 0.9,
                bbox: Default::default(),
                first_seen: now,
                last_seen: now,
                zones: vec![],
                path: vec![],
                attributes: Default::default(),
                snapshot: Some(sha.into()),
                plate_image: None,
            }),
        )
    }

    #[test]
    fn a_site_over_its_quota_waits_until_its_events_name_its_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::store::SqliteStore::open(&dir.path().join("hub.db")).unwrap();
        let mut q = Quota::new(1000, Duration::from_secs(3600));
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        assert!(q.admits("site-a", 600, &mut store).unwrap());
        q.stored("site-a", a.clone(), 600);
        // Another site has its own quota.
        assert!(q.admits("site-b", 900, &mut store).unwrap());
        assert!(!q.admits("site-a", 600, &mut store).unwrap());
        store.insert(&[track_naming(&a)]).unwrap();
        assert!(q.admits("site-a", 600, &mut store).unwrap());
        q.stored("site-a", b, 600);
        assert!(!q.admits("site-a", 600, &mut store).unwrap());
        // After the window an unnamed blob is the sweep's, and no longer counts.
        let mut q = Quota::new(1000, Duration::from_millis(1));
        q.stored("site-a", "c".repeat(64), 900);
        std::thread::sleep(Duration::from_millis(5));
        assert!(q.admits("site-a", 900, &mut store).unwrap());
    }
}
