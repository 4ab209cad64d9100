//! The stages themselves, each a thin owner of one component (see `stage::stages` for the
//! order they run in).

use std::collections::HashMap;

use matthan_schema::{Body, TrackEvent, TrackPhase};

use super::stage::{Board, Cx, End, Frame, Restart, Seen, Stage};
use crate::analytics::{CameraAnalytics, MovementTracker, Zone};
use crate::config::{CameraConfig, EdgeConfig, TrackerConfig};
use crate::evidence::{Collector, EvidenceConfig};
use crate::plate::tracks::{PlatesConfig, Settled, TrackPlates};
use crate::rules::RuleEngine;
use crate::signal::Sighting;
use crate::track::Tracker;
use crate::violations::{ViolationEngine, Vote};

/// Detections → tracks; with motion windows, the tracks' boxes for the next frame's window.
pub struct TrackStage(Tracker, bool);

impl TrackStage {
    pub fn new(cfg: TrackerConfig, windows: bool) -> Self {
        Self(Tracker::new(cfg), windows)
    }
}

impl Stage for TrackStage {
    fn on_frame(&mut self, cx: &mut Cx, f: &Frame, b: &mut Board) {
        b.out = match f.seen {
            Seen::Detected(dets) => self.0.update(dets, f.captured),
            Seen::Within(dets, windows) => self.0.update_within(dets, f.captured, windows),
            Seen::Still => self.0.still(f.captured),
        };
        if self.1 {
            cx.cam.tracks = self.0.boxes(f.size);
        }
    }

    fn finish(&mut self, _cx: &mut Cx, end: &mut End) {
        end.ended = self.0.finish();
    }
}

/// Keeps each track's best crop (snapshot, colours) for the events that name it.
pub struct SnapshotStage {
    person: Option<usize>,
}

impl SnapshotStage {
    pub fn new(labels: &[String]) -> Self {
        Self {
            person: labels.iter().position(|l| l == "person"),
        }
    }
}

impl Stage for SnapshotStage {
    fn on_frame(&mut self, cx: &mut Cx, f: &Frame, b: &mut Board) {
        for s in &b.out.seen {
            let person = Some(s.class) == self.person;
            cx.cam
                .snapshots
                .offer(s.id, s.score, &s.bbox, f.image, person);
        }
    }
}

/// Plates on every vehicle track: sightings to the reader thread, settled plates onto the
/// track's events (the next one is due at once, so a watch list hears of it).
pub struct PlateStage(TrackPlates);

impl PlateStage {
    /// `wait`: the camera is a recorded file (see `TrackPlates`).
    pub fn new(cfg: PlatesConfig, wait: bool) -> Self {
        Self(TrackPlates::new(cfg, wait))
    }
}

impl Stage for PlateStage {
    fn on_frame(&mut self, cx: &mut Cx, f: &Frame, b: &mut Board) {
        let Some(w) = cx.shared.plates.as_ref() else {
            return;
        };
        let settled = self
            .0
            .on_frame(w, f.captured, f.image, &b.out.seen, &b.out.ended);
        settle_plates(cx, settled, &mut b.plates_read);
    }

    fn finish(&mut self, cx: &mut Cx, end: &mut End) {
        let settled = self.0.finish(&end.ended);
        settle_plates(cx, settled, &mut Vec::new());
    }
}

/// Settled plates onto the tracks; a track that ended before its plate was read gets an
/// update event of its own.
fn settle_plates(cx: &mut Cx, settled: Vec<Settled>, read: &mut Vec<u64>) {
    for s in settled {
        cx.cam.snapshots.set_plate(s.track, s.plate);
        let Some(snap) = s.late else {
            read.push(s.track);
            continue;
        };
        let body = Body::Track(TrackEvent {
            phase: TrackPhase::Update,
            track_id: snap.id,
            class: cx
                .shared
                .labels
                .get(snap.class)
                .cloned()
                .unwrap_or_default(),
            score: snap.score,
            bbox: snap.bbox,
            first_seen: snap.first_seen,
            last_seen: snap.last_seen,
            zones: Vec::new(),
            path: Vec::new(),
            attributes: Default::default(),
            snapshot: None,
            plate_image: None,
        });
        cx.em
            .emit_tracked(&cx.cam.id, snap.last_seen, body, &mut cx.cam.snapshots);
        cx.cam.snapshots.forget(snap.id);
    }
}

/// The camera's track history in metres, shared by behaviour and violation rules.
pub struct HistoryStage;

impl Stage for HistoryStage {
    fn on_frame(&mut self, cx: &mut Cx, f: &Frame, b: &mut Board) {
        cx.cam.history.observe(f.captured, f.size, &b.out);
    }
}

/// Behaviour rules → alerts. They run before analytics: an alert closed by a track's end must
/// name the snapshot the track's end event is about to release.
pub struct RulesStage(RuleEngine);

impl RulesStage {
    pub fn new(cam: &CameraConfig) -> Self {
        Self(RuleEngine::new(&cam.rules, &cam.zones, cam.ground.as_ref()))
    }
}

impl Stage for RulesStage {
    fn on_frame(&mut self, cx: &mut Cx, f: &Frame, _b: &mut Board) {
        for (ts, body) in self.0.update(f.captured, &cx.cam.history) {
            cx.em
                .emit_tracked(&cx.cam.id, ts, body, &mut cx.cam.snapshots);
        }
    }

    fn finish(&mut self, cx: &mut Cx, end: &mut End) {
        for (ts, body) in self.0.finish(end.at, &cx.cam.history) {
            cx.em
                .emit_tracked(&cx.cam.id, ts, body, &mut cx.cam.snapshots);
        }
    }
}

/// Track lifecycle, line crossings, zone events and counts.
pub struct AnalyticsStage(CameraAnalytics);

impl AnalyticsStage {
    pub fn new(cfg: &EdgeConfig, cam: &CameraConfig) -> Self {
        Self(
            CameraAnalytics::new(
                cam.lines.clone(),
                cam.zones.clone(),
                cfg.model.labels.clone(),
                cfg.analytics.count_interval_s,
                cfg.tracker.update_interval_s,
            )
            .with_bearing(cam.bearing_deg)
            .with_movements(
                cam.movements
                    .clone()
                    .map(|m| MovementTracker::new(m, cam.ground.clone())),
            ),
        )
    }
}

impl Stage for AnalyticsStage {
    fn on_frame(&mut self, cx: &mut Cx, f: &Frame, b: &mut Board) {
        self.0.update_soon(&b.plates_read);
        for (ts, body) in self.0.update(f.captured, f.size, &b.out) {
            if let Body::Crossing(x) = &body {
                b.crossings.push((ts, x.clone()));
            }
            cx.em
                .emit_tracked(&cx.cam.id, ts, body, &mut cx.cam.snapshots);
        }
    }

    fn finish(&mut self, cx: &mut Cx, end: &mut End) {
        let bodies = match end.why {
            Restart::EndOfStream => self.0.finish(&end.ended, end.at),
            // The count interval stays open: the camera goes on.
            Restart::Resized => self.0.end_tracks(&end.ended, end.at),
        };
        for (ts, body) in bodies {
            cx.em
                .emit_tracked(&cx.cam.id, ts, body, &mut cx.cam.snapshots);
        }
    }
}

/// Secondary classifiers on vehicle crops, every n-th sighting of a track → votes.
#[derive(Default)]
pub struct ClassifyStage {
    sightings: HashMap<u64, u32>,
}

impl Stage for ClassifyStage {
    fn on_frame(&mut self, cx: &mut Cx, f: &Frame, b: &mut Board) {
        let labels = &cx.shared.labels;
        for s in &b.out.seen {
            let n = self.sightings.entry(s.id).or_default();
            *n += 1;
            let class = labels.get(s.class).map_or("", String::as_str);
            for k in cx.shared.classifiers.iter_mut() {
                if !k.cfg.classes.iter().any(|c| c == class)
                    || !(*n - 1).is_multiple_of(k.cfg.every_n)
                {
                    continue;
                }
                match k.classify(f.image, &s.bbox) {
                    Ok(Some(scores)) => b.votes.push(Vote {
                        track: s.id,
                        classifier: k.cfg.id.clone(),
                        scores,
                    }),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(classifier = %k.cfg.id, error = %e, "classifier failed on a crop")
                    }
                }
            }
        }
        for t in &b.out.ended {
            self.sightings.remove(&t.id);
        }
    }
}

/// Violation rules → hits (the evidence stage turns them into bundles).
pub struct ViolationStage(ViolationEngine);

impl ViolationStage {
    pub fn new(cam: &CameraConfig) -> Self {
        Self(ViolationEngine::new(
            &cam.violations,
            &cam.zones,
            cam.ground.as_ref(),
        ))
    }
}

impl Stage for ViolationStage {
    fn on_frame(&mut self, cx: &mut Cx, f: &Frame, b: &mut Board) {
        b.hits = self.0.update(
            f.captured,
            &cx.cam.history,
            &b.crossings,
            &cx.shared.lights,
            &b.votes,
        );
    }

    fn finish(&mut self, cx: &mut Cx, end: &mut End) {
        self.0.finish(end.at, &cx.cam.history);
    }
}

/// Keeps recent frames for evidence and hands each hit, with its frames, to the bundle worker.
pub struct EvidenceStage(Collector);

impl EvidenceStage {
    pub fn new(camera: &str, cfg: &EvidenceConfig) -> Self {
        Self(Collector::new(camera, cfg))
    }
}

impl Stage for EvidenceStage {
    fn on_frame(&mut self, cx: &mut Cx, f: &Frame, b: &mut Board) {
        let Some(w) = cx.shared.evidence.as_ref() else {
            return;
        };
        for job in self.0.on_frame(f.captured, f.image, &b.out.seen) {
            w.submit(job);
        }
        for mut h in b.hits.drain(..) {
            h.color = cx
                .cam
                .snapshots
                .colours(h.track)
                .and_then(|k| k.body.map(String::from));
            tracing::info!(camera = %cx.cam.id, rule = %h.rule_id, track = h.track, "violation");
            cx.cam.evidence_in_flight += 1;
            self.0.hit(h);
        }
    }

    fn finish(&mut self, cx: &mut Cx, _end: &mut End) {
        if let Some(w) = cx.shared.evidence.as_ref() {
            self.0.flush().into_iter().for_each(|j| w.submit(j));
        }
    }
}

/// Feeds the junctions this camera watches (crossings, queued vehicles) and emits their
/// recommendations and warnings when due.
pub struct JunctionStage {
    zones: Vec<Zone>,
}

impl JunctionStage {
    pub fn new(cam: &CameraConfig) -> Self {
        Self {
            zones: cam.zones.clone(),
        }
    }
}

impl Stage for JunctionStage {
    fn on_frame(&mut self, cx: &mut Cx, f: &Frame, b: &mut Board) {
        let (fw, fh) = (f.size.0.max(1) as f64, f.size.1.max(1) as f64);
        let labels = &cx.shared.labels;
        let sightings: Vec<Sighting> = b
            .out
            .seen
            .iter()
            .map(|s| Sighting {
                id: s.id,
                class: labels.get(s.class).map_or("unknown", String::as_str),
                anchor: [
                    ((s.bbox.x1 + s.bbox.x2) as f64 / 2.0) / fw,
                    s.bbox.y2 as f64 / fh,
                ],
                height: (s.bbox.y2 - s.bbox.y1) as f64 / fh,
            })
            .collect();
        for j in &mut cx.shared.junctions {
            for (ts, x) in &b.crossings {
                j.on_crossing(&cx.cam.id, x, *ts);
            }
            j.on_frame(&cx.cam.id, &self.zones, &sightings, f.captured);
            let id = j.controller.junction.id.clone();
            for body in j.on_time(f.captured) {
                cx.em.emit(&id, f.captured, body);
            }
        }
    }
}
