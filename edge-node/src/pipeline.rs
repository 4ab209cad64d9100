//! The one place the stages are wired together:
//! camera threads → frame queues → detector (batched across cameras) → tracker and analytics
//! per camera → publisher.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use matthan_schema::{Body, CameraState, CameraStatus, Event};

use crate::analytics::CameraAnalytics;
use crate::config::EdgeConfig;
use crate::detect::{Classifier, DetectError, Detector};
use crate::evidence::{Collector, Worker};
use crate::ingest::{self, IngestError};
use crate::metrics::Metrics;
use crate::outbox::{Message, OutboxError};
use crate::publish::{self, PublishStats, Publisher};
use crate::queue::{FrameQueues, Msg};
use crate::rules::RuleEngine;
use crate::signal::{Controller, JunctionFeed, Sighting};
use crate::snapshot::SnapshotKeeper;
use crate::stale::{Change, FrozenCheck};
use crate::track::Tracker;
use crate::violations::{Lights, ViolationEngine, Vote};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error("cannot start the MQTT publisher: {0}")]
    Publisher(#[from] publish::PublishError),
    #[error("cannot write to the outbox: {0}")]
    Outbox(OutboxError),
    #[error("cannot serve metrics on {0}: {1}")]
    Metrics(std::net::SocketAddr, std::io::Error),
    #[error("evidence: {0}")]
    Evidence(#[from] crate::evidence::EvidenceError),
}

/// What a run did, for the CLI's last line and for benchmarks.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub frames: u64,
    pub dropped: u64,
    pub events: u64,
    pub elapsed: Duration,
    pub provider: &'static str,
    pub publish: PublishStats,
    /// Cameras whose source failed for good, with the reason.
    pub failed: Vec<(String, String)>,
}

struct CameraRun {
    id: String,
    /// Only live sources: a file may legitimately hold a still picture.
    frozen: Option<FrozenCheck>,
    tracker: Tracker,
    snapshots: SnapshotKeeper,
    analytics: CameraAnalytics,
    rules: RuleEngine,
    violations: ViolationEngine,
    evidence: Option<Collector>,
    /// Sightings per track, to run secondary classifiers on every n-th.
    sightings: HashMap<u64, u32>,
    frames: u64,
    last_capture: Option<DateTime<Utc>>,
    frame_size: (u32, u32),
    ended: bool,
    /// Counters at the last status, to report rates since then.
    status_at: Instant,
    status_pushed: u64,
    status_frames: u64,
    status_dropped: u64,
}

/// How often each camera reports fps and drops.
const STATUS_EVERY: Duration = Duration::from_secs(10);

pub fn run(cfg: &EdgeConfig, stop: Arc<AtomicBool>) -> Result<RunSummary, PipelineError> {
    ingest::init()?;
    ingest::rank_decoders(cfg.cameras[0].decoder);
    let mut detector = Detector::new(&cfg.model)?;
    let metrics = Arc::new(Metrics::new(
        cfg.cameras.iter().map(|c| c.id.clone()).collect(),
    ));
    if let Some(addr) = cfg.metrics_listen {
        crate::metrics::serve(addr, metrics.clone())
            .map_err(|e| PipelineError::Metrics(addr, e))?;
    }
    let mut publisher = Publisher::start(cfg, metrics.clone())?;
    let signals = publisher.take_signals();
    let mut lights = Lights::new(&cfg.junctions);
    let has_violations = cfg.cameras.iter().any(|c| !c.violations.is_empty());
    let ort_lib = cfg.model.ort_library.as_deref();
    // Only the classifiers some rule reads are loaded.
    let mut classifiers: Vec<Classifier> = cfg
        .classifiers
        .iter()
        .filter(|k| {
            cfg.cameras
                .iter()
                .flat_map(|c| &c.violations)
                .any(|v| v.classifier() == Some(k.id.as_str()))
        })
        .map(|k| Classifier::new(k.clone(), ort_lib))
        .collect::<Result<_, _>>()?;
    let evidence = match &cfg.evidence {
        Some(e) if has_violations => Some(Worker::start(e, &cfg.site, ort_lib)?),
        _ => None,
    };
    let started = Instant::now();

    let queues = Arc::new(FrameQueues::new(
        cfg.cameras.iter().map(ingest::overflow_policy).collect(),
        2,
    ));
    let _ = metrics.queues.set(queues.clone());
    let mut threads = Vec::new();
    for (i, cam) in cfg.cameras.iter().enumerate() {
        let (cam, q, s) = (cam.clone(), queues.clone(), stop.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("cam-{}", cam.id))
                .spawn(move || ingest::run_camera(i, &cam, q, s))
                .expect("spawn camera thread"),
        );
    }
    let mut cams: Vec<CameraRun> = cfg
        .cameras
        .iter()
        .map(|c| CameraRun {
            id: c.id.clone(),
            frozen: (!matches!(c.source, crate::config::Source::File(_)))
                .then(|| FrozenCheck::new(cfg.analytics.frozen_after_s)),
            tracker: Tracker::new(cfg.tracker.clone()),
            snapshots: SnapshotKeeper::default(),
            analytics: CameraAnalytics::new(
                c.lines.clone(),
                c.zones.clone(),
                cfg.model.labels.clone(),
                cfg.analytics.count_interval_s,
                cfg.tracker.update_interval_s,
            ),
            rules: RuleEngine::new(
                &c.rules,
                &c.zones,
                c.ground.clone(),
                cfg.model.labels.clone(),
            ),
            violations: ViolationEngine::new(
                &c.violations,
                &c.zones,
                c.ground.clone(),
                cfg.model.labels.clone(),
            ),
            evidence: cfg
                .evidence
                .as_ref()
                .filter(|_| !c.violations.is_empty())
                .map(|e| Collector::new(&c.id, e)),
            sightings: HashMap::new(),
            frames: 0,
            last_capture: None,
            frame_size: (0, 0),
            ended: false,
            status_at: Instant::now(),
            status_pushed: 0,
            status_frames: 0,
            status_dropped: 0,
        })
        .collect();

    let mut summary = RunSummary {
        provider: detector.provider(),
        ..RunSummary::default()
    };
    // Each detector batch's events go into the outbox in one durable commit. Track events name
    // their snapshot; its blob is queued just before the first event naming it.
    let pending: RefCell<Vec<Message>> = RefCell::new(Vec::new());
    let emit_with = |camera: &str,
                     ts: DateTime<Utc>,
                     mut body: Body,
                     snaps: Option<&mut SnapshotKeeper>,
                     summary: &mut RunSummary| {
        let mut out = pending.borrow_mut();
        match (&mut body, snaps) {
            (Body::Track(t), Some(k)) => {
                if let Some(col) = k.colours(t.track_id) {
                    let a = &mut t.attributes;
                    a.color = a.color.take().or(col.body.map(String::from));
                    a.upper_color = a.upper_color.take().or(col.upper.map(String::from));
                    a.lower_color = a.lower_color.take().or(col.lower.map(String::from));
                }
                if a_plate_missing(t)
                    && let Some((p, s)) = k.plate(t.track_id)
                {
                    t.attributes.plate = Some(p.clone());
                    t.attributes.plate_score = Some(*s);
                }
                if let Some((sha, blob)) = k.take_for_event(t.track_id) {
                    if let Some(b) = blob {
                        out.push(publish::blob(&cfg.site, &sha, &b));
                    }
                    t.snapshot = Some(sha);
                    if t.phase == matthan_schema::TrackPhase::End {
                        k.forget(t.track_id);
                    }
                }
            }
            // An alert shows its main track; the crop is the same blob the track names.
            (Body::Alert(a), Some(k)) => {
                if let Some(&track) = a.track_ids.first()
                    && let Some((sha, blob)) = k.take_for_event(track)
                {
                    if let Some(b) = blob {
                        out.push(publish::blob(&cfg.site, &sha, &b));
                    }
                    a.snapshot = Some(sha);
                }
            }
            _ => {}
        }
        summary.events += 1;
        out.push(publish::message(&Event::new(&cfg.site, camera, ts, body)));
    };
    let emit = |camera: &str, ts: DateTime<Utc>, body: Body, summary: &mut RunSummary| {
        emit_with(camera, ts, body, None, summary)
    };
    let flush = |publisher: &mut Publisher| -> Result<(), PipelineError> {
        let batch = pending.take();
        publisher.push(&batch).map_err(PipelineError::Outbox)
    };
    let mut junctions: Vec<JunctionFeed> = cfg
        .junctions
        .iter()
        .map(|j| JunctionFeed::new(Controller::new(j.clone(), None)))
        .collect();
    let mut result = Ok(());
    let mut edge_status_at = Instant::now();
    while cams.iter().any(|c| !c.ended) {
        let batch = queues.pop_batch(detector.max_batch(), Duration::from_millis(200));
        let images: Vec<_> = batch
            .iter()
            .filter_map(|m| {
                if let Msg::Frame(f) = m {
                    Some(f.image.as_ref())
                } else {
                    None
                }
            })
            .collect();
        let inference_started = Instant::now();
        let detected = detector.detect(&images);
        if !images.is_empty() {
            metrics
                .inference_ms
                .observe_ms(inference_started.elapsed().as_millis() as u64);
        }
        let mut detections = match detected {
            Ok(d) => d.into_iter(),
            Err(e) => {
                // An inference error is not a camera's fault and will not heal: stop cleanly.
                tracing::error!(error = %e, "detector failed; stopping");
                stop.store(true, Ordering::Relaxed);
                queues.close();
                result = Err(PipelineError::Detect(e));
                break;
            }
        };
        for msg in batch {
            match msg {
                Msg::Frame(f) => {
                    let dets = detections.next().expect("one result per frame");
                    let c = &mut cams[f.camera];
                    c.frames += 1;
                    metrics.processed[f.camera].fetch_add(1, Ordering::Relaxed);
                    c.last_capture = Some(f.captured);
                    let size = (f.image.width, f.image.height);
                    if c.frame_size != (0, 0) && c.frame_size != size {
                        // Pixel boxes of the old size mean nothing in the new one: end the
                        // tracks (lines and zones are fractions of the frame, so they still hold).
                        let ended = c.tracker.finish();
                        c.violations.finish(f.captured);
                        if let (Some(col), Some(w)) = (c.evidence.as_mut(), evidence.as_ref()) {
                            col.flush().into_iter().for_each(|j| w.submit(j));
                        }
                        for (ts, body) in c.rules.finish(f.captured) {
                            emit_with(&c.id, ts, body, Some(&mut c.snapshots), &mut summary);
                        }
                        for (ts, body) in c.analytics.end_tracks(&ended, f.captured) {
                            emit_with(&c.id, ts, body, Some(&mut c.snapshots), &mut summary);
                        }
                        let detail = format!(
                            "resolution changed from {}x{} to {}x{}; tracks restarted",
                            c.frame_size.0, c.frame_size.1, size.0, size.1
                        );
                        tracing::warn!(camera = %c.id, %detail, "stream changed");
                        let body = status(&queues, f.camera, c, CameraState::Up, Some(detail));
                        emit(&c.id, f.captured, body, &mut summary);
                    }
                    c.frame_size = size;
                    if let Some(change) = c
                        .frozen
                        .as_mut()
                        .and_then(|fc| fc.observe(&f.image, f.captured))
                    {
                        let (state, detail) = match change {
                            Change::Froze => (
                                CameraState::Degraded,
                                "frozen picture: the same image keeps arriving",
                            ),
                            Change::Thawed => (CameraState::Up, "picture moving again"),
                        };
                        tracing::warn!(camera = %c.id, detail, "camera picture");
                        let body = status(&queues, f.camera, c, state, Some(detail.to_string()));
                        emit(&c.id, f.captured, body, &mut summary);
                    }
                    let out = c.tracker.update(&dets, f.captured);
                    for s in &out.seen {
                        let person = cfg.model.labels.get(s.class).is_some_and(|l| l == "person");
                        c.snapshots.offer(s.id, s.score, &s.bbox, &f.image, person);
                    }
                    // Rules first: an alert closed by a track's end must name the snapshot the
                    // track's end event is about to release.
                    for (ts, body) in c.rules.update(f.captured, c.frame_size, &out) {
                        emit_with(&c.id, ts, body, Some(&mut c.snapshots), &mut summary);
                    }
                    let judging = !c.violations.is_empty();
                    let mut crossings = Vec::new();
                    for (ts, body) in c.analytics.update(f.captured, c.frame_size, &out) {
                        if let Body::Crossing(x) = &body {
                            for j in &mut junctions {
                                j.on_crossing(&c.id, x, ts);
                            }
                            if judging {
                                crossings.push((ts, body.clone()));
                            }
                        }
                        emit_with(&c.id, ts, body, Some(&mut c.snapshots), &mut summary);
                    }
                    if judging {
                        let votes = classify(
                            &mut classifiers,
                            &cfg.model.labels,
                            &mut c.sightings,
                            &out,
                            &f.image,
                        );
                        for t in &out.ended {
                            c.sightings.remove(&t.id);
                        }
                        let hits = c.violations.update(
                            f.captured,
                            c.frame_size,
                            &out,
                            &crossings,
                            &lights,
                            &votes,
                        );
                        if let (Some(col), Some(w)) = (c.evidence.as_mut(), evidence.as_ref()) {
                            for job in col.on_frame(f.captured, &f.image, &out.seen) {
                                w.submit(job);
                            }
                            for mut h in hits {
                                h.color = c
                                    .snapshots
                                    .colours(h.track)
                                    .and_then(|k| k.body.map(String::from));
                                tracing::info!(camera = %c.id, rule = %h.rule_id, track = h.track, "violation");
                                col.hit(h);
                            }
                        }
                    }
                    if !junctions.is_empty() {
                        let (fw, fh) = (size.0.max(1) as f64, size.1.max(1) as f64);
                        let sightings: Vec<Sighting> = out
                            .seen
                            .iter()
                            .map(|s| Sighting {
                                id: s.id,
                                class: cfg
                                    .model
                                    .labels
                                    .get(s.class)
                                    .map_or("unknown", String::as_str),
                                anchor: [
                                    ((s.bbox.x1 + s.bbox.x2) as f64 / 2.0) / fw,
                                    s.bbox.y2 as f64 / fh,
                                ],
                                height: (s.bbox.y2 - s.bbox.y1) as f64 / fh,
                            })
                            .collect();
                        let zones = &cfg.cameras[f.camera].zones;
                        for j in &mut junctions {
                            j.on_frame(&c.id, zones, &sightings, f.captured);
                            let id = j.controller.junction.id.clone();
                            for body in j.on_time(f.captured) {
                                emit(&id, f.captured, body, &mut summary);
                            }
                        }
                    }
                }
                Msg::Status {
                    camera,
                    state,
                    detail,
                } => {
                    let c = &mut cams[camera];
                    let body = status(&queues, camera, c, state, detail);
                    emit(
                        &c.id,
                        c.last_capture.unwrap_or_else(Utc::now),
                        body,
                        &mut summary,
                    );
                }
                Msg::End { camera, error } => {
                    let c = &mut cams[camera];
                    let now = c.last_capture.unwrap_or_else(Utc::now);
                    let ended = c.tracker.finish();
                    c.violations.finish(now);
                    if let (Some(col), Some(w)) = (c.evidence.as_mut(), evidence.as_ref()) {
                        col.flush().into_iter().for_each(|j| w.submit(j));
                    }
                    for (ts, body) in c.rules.finish(now) {
                        emit_with(&c.id, ts, body, Some(&mut c.snapshots), &mut summary);
                    }
                    for (ts, body) in c.analytics.finish(&ended, now) {
                        emit_with(&c.id, ts, body, Some(&mut c.snapshots), &mut summary);
                    }
                    let detail = match &error {
                        Some(e) => {
                            summary.failed.push((c.id.clone(), e.clone()));
                            Some(e.clone())
                        }
                        None => Some("end of stream".to_string()),
                    };
                    let body = status(&queues, camera, c, CameraState::Down, detail);
                    emit(&c.id, now, body, &mut summary);
                    c.ended = true;
                }
            }
        }
        for (i, c) in cams.iter_mut().enumerate() {
            if !c.ended && c.status_at.elapsed() >= STATUS_EVERY {
                let dropped_now = queues.dropped[i].load(Ordering::Relaxed);
                let state = if dropped_now > c.status_dropped {
                    CameraState::Degraded
                } else {
                    CameraState::Up
                };
                let body = status(&queues, i, c, state, None);
                emit(
                    &c.id,
                    c.last_capture.unwrap_or_else(Utc::now),
                    body,
                    &mut summary,
                );
            }
        }
        if let Some(rx) = &signals {
            for (topic, payload) in rx.try_iter() {
                if let Err(e) = lights.apply(&topic, &payload, Utc::now()) {
                    tracing::warn!(error = %e, "signal state refused");
                }
            }
        }
        if let Some(w) = &evidence {
            for d in w.ready() {
                emit_violation(d, &mut cams, &pending, &cfg.site, &mut summary);
            }
        }
        if edge_status_at.elapsed() >= STATUS_EVERY {
            edge_status_at = Instant::now();
            let (pending_n, dropped_n) = publisher.backlog();
            metrics.outbox_pending.store(pending_n, Ordering::Relaxed);
            metrics.outbox_dropped.store(dropped_n, Ordering::Relaxed);
            let e =
                publish::edge_status(cfg, matthan_schema::EdgeState::Online, dropped_n, pending_n);
            summary.events += 1;
            pending.borrow_mut().push(publish::message(&e));
        }
        if let Err(e) = flush(&mut publisher) {
            // Without a durable outbox, events would be lost: stop rather than pretend.
            tracing::error!(error = %e, "outbox write failed; stopping");
            stop.store(true, Ordering::Relaxed);
            queues.close();
            result = Err(e);
            break;
        }
    }
    if let Some(w) = evidence {
        for d in w.finish() {
            emit_violation(d, &mut cams, &pending, &cfg.site, &mut summary);
        }
    }
    if let Err(e) = flush(&mut publisher) {
        result = Err(e);
    }
    queues.close();
    for t in threads {
        let _ = t.join();
    }
    summary.frames = cams.iter().map(|c| c.frames).sum();
    summary.dropped = queues
        .dropped
        .iter()
        .map(|d| d.load(Ordering::Relaxed))
        .sum();
    summary.elapsed = started.elapsed();
    summary.publish = publisher.finish();
    result.map(|_| summary)
}

/// A finished violation into the outbox: its blobs first, then the event naming them; the plate
/// goes onto the track's later events.
fn emit_violation(
    d: crate::evidence::Done,
    cams: &mut [CameraRun],
    pending: &RefCell<Vec<Message>>,
    site: &str,
    summary: &mut RunSummary,
) {
    if let Some(c) = cams.iter_mut().find(|c| c.id == d.camera)
        && let Some((track, text, score)) = d.plate
    {
        c.snapshots.set_plate(track, text, score);
    }
    let mut out = pending.borrow_mut();
    for (sha, blob) in &d.blobs {
        // Over the MQTT limit it could never be sent and would hold up the outbox; it stays in
        // the bundle on disk and the hub shows the bundle as incomplete.
        if blob.len() + 1024 > publish::MAX_PACKET {
            tracing::error!(sha = %sha, bytes = blob.len(), "evidence file too large to publish; kept on disk only");
            continue;
        }
        out.push(publish::blob(site, sha, blob));
    }
    summary.events += 1;
    out.push(publish::message(&Event::new(site, &d.camera, d.at, d.body)));
}

/// Runs each secondary classifier on the crops of the tracks it applies to, every n-th sighting.
fn classify(
    classifiers: &mut [Classifier],
    labels: &[String],
    sightings: &mut HashMap<u64, u32>,
    out: &crate::track::TrackerOutput,
    image: &crate::frame::RgbImage,
) -> Vec<Vote> {
    let mut votes = Vec::new();
    if classifiers.is_empty() {
        return votes;
    }
    for s in &out.seen {
        let n = sightings.entry(s.id).or_default();
        *n += 1;
        let class = labels.get(s.class).map_or("", String::as_str);
        for k in classifiers.iter_mut() {
            if !k.cfg.classes.iter().any(|c| c == class) || !(*n - 1).is_multiple_of(k.cfg.every_n)
            {
                continue;
            }
            match k.classify(image, &s.bbox) {
                Ok(Some(scores)) => votes.push(Vote {
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
    votes
}

fn a_plate_missing(t: &matthan_schema::TrackEvent) -> bool {
    t.attributes.plate.is_none()
}

/// A status body with rates measured since this camera's previous status.
fn status(
    q: &FrameQueues,
    i: usize,
    c: &mut CameraRun,
    state: CameraState,
    detail: Option<String>,
) -> Body {
    let secs = c.status_at.elapsed().as_secs_f32().max(1e-3);
    let pushed = q.pushed[i].load(Ordering::Relaxed);
    let dropped = q.dropped[i].load(Ordering::Relaxed);
    let body = CameraStatus {
        state,
        fps_in: pushed.saturating_sub(c.status_pushed) as f32 / secs,
        fps_out: c.frames.saturating_sub(c.status_frames) as f32 / secs,
        dropped_frames: dropped,
        detail,
    };
    c.status_at = Instant::now();
    c.status_pushed = pushed;
    c.status_frames = c.frames;
    c.status_dropped = dropped;
    Body::CameraStatus(body)
}
