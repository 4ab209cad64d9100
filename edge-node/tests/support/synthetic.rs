//! A stand-in for the tracker on scripted scenes (no video): each frame's sightings become
//! `TrackerOutput` the way ByteTrack reports them. A track missed for a frame or two lives on;
//! unseen for longer than `end_after_s`, it ends.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use edge_node::track::{TrackSnapshot, TrackerOutput};
use matthan_schema::BBox;

pub struct SyntheticTracker {
    /// Each live track's last snapshot and the scene time it was last seen.
    visible: BTreeMap<u64, (TrackSnapshot, f64)>,
    end_after_s: f64,
}

impl SyntheticTracker {
    pub fn new(end_after_s: f64) -> Self {
        Self {
            visible: BTreeMap::new(),
            end_after_s,
        }
    }

    /// One frame at scene time `t` (seconds) and wall time `now`: `(id, class, box)` per object
    /// in sight.
    pub fn frame(
        &mut self,
        t: f64,
        now: DateTime<Utc>,
        sightings: impl IntoIterator<Item = (u64, usize, BBox)>,
    ) -> TrackerOutput {
        let mut out = TrackerOutput::default();
        let mut still = BTreeMap::new();
        for (id, class, bbox) in sightings {
            let snap = TrackSnapshot {
                id,
                class,
                score: 0.8,
                bbox,
                first_seen: self.visible.get(&id).map_or(now, |s| s.0.first_seen),
                last_seen: now,
                hits: 1,
            };
            out.seen.push(snap.clone());
            still.insert(id, (snap, t));
        }
        for (id, (s, last)) in std::mem::take(&mut self.visible) {
            if still.contains_key(&id) {
                continue;
            }
            if t - last > self.end_after_s {
                out.ended.push(s);
            } else {
                still.insert(id, (s, last));
            }
        }
        self.visible = still;
        out
    }
}
