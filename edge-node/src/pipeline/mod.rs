//! The one place the pipeline is wired together: camera threads → frame queues → detector
//! (batched across cameras) → each camera's stages in data-flow order (`stage`) → the emitter's
//! batch → outbox → publisher.

mod camera;
mod emit;
mod look;
mod resume;
mod stage;
mod stages;

pub use emit::Emitter;
pub use stage::{Board, CamState, Cx, End, Frame, Restart, Seen, Shared, Stage};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;

use self::camera::{CameraRun, STATUS_EVERY};
use self::look::{Looked, detect, regions};
use crate::config::{EdgeConfig, Source};
use crate::detect::{Classifier, DetectError, Detector};
use crate::evidence::Worker;
use crate::ingest::{self, IngestError};
use crate::metrics::Metrics;
use crate::motion::MotionGate;
use crate::outbox::OutboxError;
use crate::publish::{self, PublishStats, Publisher};
use crate::queue::{FrameQueues, Msg};
use crate::rules::History;
use crate::signal::{self, Controller, JunctionFeed};
use crate::snapshot::SnapshotKeeper;
use crate::stale::FrozenCheck;
use crate::violations::Lights;

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
    /// Frames analysed without the detector: nothing moved (`[cameras.motion]`).
    pub gated: u64,
    /// Frames detected only in a window around what moved (`[cameras.motion] windows`).
    pub windowed: u64,
    /// Model input pixels run, all cameras: the detector's work, free of the machine's speed.
    pub model_input_px: u64,
    /// Calls to the detector: fewer than the frames it saw when frames of several cameras
    /// went through one call (a dynamic-batch model).
    pub detector_calls: u64,
    /// Per camera (config order): frames the decoder delivered, and frames analysed. On a
    /// recorded file the two are equal: nothing between GStreamer and the stages may lose one.
    pub per_camera: Vec<(String, u64, u64)>,
    pub events: u64,
    pub elapsed: Duration,
    pub provider: &'static str,
    pub publish: PublishStats,
    /// Cameras whose source failed for good, with the reason.
    pub failed: Vec<(String, String)>,
    pub plates: PlateStats,
    /// Per stage: frames handled and mean microseconds per frame, over every camera.
    pub stages: Vec<(&'static str, u64, f64)>,
}

/// What the plate reader for every vehicle did (`[plates]`).
#[derive(Debug, Default, Clone, Copy)]
pub struct PlateStats {
    /// Sightings read, and skipped because the reader was behind.
    pub read: u64,
    pub skipped: u64,
    /// Milliseconds spent reading, in all.
    pub ms_total: u64,
}

impl PlateStats {
    fn of(m: &Metrics) -> Self {
        Self {
            read: m.plate_reads.load(Ordering::Relaxed),
            skipped: m.plate_skipped.load(Ordering::Relaxed),
            ms_total: m.plate_ms.sum_ms(),
        }
    }
}

/// How long a stop request may take in all (documented: SIGTERM ends within 30 s).
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(28);
/// A message from a junction controller: a signal state (for red-light rules) or a request to a
/// junction under live control, answered at once (`signal::live`).
fn from_controller(
    topic: &str,
    payload: &[u8],
    shared: &mut Shared,
    publisher: &Publisher,
    cfg: &EdgeConfig,
) {
    let now = Utc::now();
    match matthan_schema::parse_signal_request_topic(topic) {
        Some((site, junction)) if site == cfg.site => {
            let answer =
                signal::live::on_request(&mut shared.junctions, site, junction, payload, now);
            if let Some((topic, payload)) = answer {
                publisher.send_now(topic, payload);
            }
        }
        Some(_) => {}
        None => {
            if let Err(e) = shared.lights.apply(topic, payload, now) {
                tracing::warn!(error = %e, "signal state refused");
            }
        }
    }
}

/// Time left for the outbox at the very least, even when the pipeline took the whole budget.
const MIN_DRAIN: Duration = Duration::from_secs(1);

/// Runs every camera until its source ends (files) or `stop` is set: camera threads → frame
/// queues → detector (batched across cameras) → each camera's stages (`stage::stages`) → the
/// emitter's batch → outbox → MQTT.
pub fn run(cfg: &EdgeConfig, stop: Arc<AtomicBool>) -> Result<RunSummary, PipelineError> {
    run_watched(cfg, stop, &[])
}

/// `run`, telling `positions[i]` how far camera `i` got (the PTS, in milliseconds, of its last
/// analysed frame): `index-worker` reports it to the hub as the job's progress.
pub fn run_watched(
    cfg: &EdgeConfig,
    stop: Arc<AtomicBool>,
    positions: &[std::sync::atomic::AtomicU64],
) -> Result<RunSummary, PipelineError> {
    ingest::init()?;
    ingest::rank_decoders(cfg.cameras[0].decoder)?;
    let mut detector = Detector::new(&cfg.model)?;
    let regions = regions(cfg, &mut detector)?;
    let metrics = start_metrics(cfg)?;
    let mut publisher = Publisher::start(cfg, metrics.clone())?;
    let incoming = publisher.take_incoming();
    let mut shared = shared(cfg, &metrics)?;
    let started = Instant::now();
    let queues = Arc::new(FrameQueues::new(
        cfg.cameras.iter().map(ingest::overflow_policy).collect(),
        2,
    ));
    let _ = metrics.queues.set(queues.clone());
    let resume = resume::Resume::start(cfg, &publisher, &queues);
    let threads = spawn_cameras(cfg, &queues, &stop);
    let mut cams = cameras(cfg, &shared);
    let mut gates: Vec<_> = cfg.cameras.iter().map(MotionGate::of).collect();
    let mut summary = RunSummary {
        provider: detector.provider(),
        ..RunSummary::default()
    };
    let mut em = Emitter::new(cfg);
    let mut result = Ok(());
    let mut edge_status_at = Instant::now();
    // A stop request (SIGTERM) bounds the whole shutdown, draining included.
    let mut stopped_at: Option<Instant> = None;
    while cams.iter().any(|c| !c.ended) {
        if stopped_at.is_none() && stop.load(Ordering::Relaxed) {
            stopped_at = Some(Instant::now());
        }
        let batch = queues.pop_batch(detector.max_batch(), Duration::from_millis(200));
        let detections = match detect(&mut detector, &batch, &mut gates, &regions, &cams, &metrics)
        {
            Ok(d) => d,
            Err(e) => {
                // An inference error is not a camera's fault and will not heal: stop cleanly.
                tracing::error!(error = %e, "detector failed; stopping");
                stop.store(true, Ordering::Relaxed);
                queues.close();
                result = Err(PipelineError::Detect(e));
                break;
            }
        };
        let mut detections = detections.into_iter();
        for msg in batch {
            let mut io = Io {
                queues: &queues,
                shared: &mut shared,
                em: &mut em,
                resume: &resume,
                positions,
            };
            dispatch(
                msg,
                &mut detections,
                &mut cams,
                &mut io,
                &metrics,
                &mut summary,
                cfg,
            );
        }
        for c in &mut cams {
            c.status_if_due(&queues, &mut em);
        }
        if let Some(rx) = &incoming {
            for (topic, payload) in rx.try_iter() {
                from_controller(&topic, &payload, &mut shared, &publisher, cfg);
            }
        }
        if let Some(w) = &shared.evidence {
            for d in w.ready() {
                emit_violation(d, &mut cams, &mut em);
            }
        }
        if edge_status_at.elapsed() >= STATUS_EVERY {
            edge_status_at = Instant::now();
            crate::memory::release_free_heap();
            edge_status(cfg, &publisher, &metrics, &mut em);
        }
        if let Err(e) = em.flush(&mut publisher) {
            // Without a durable outbox, events would be lost: stop rather than pretend.
            tracing::error!(error = %e, "outbox write failed; stopping");
            stop.store(true, Ordering::Relaxed);
            queues.close();
            result = Err(PipelineError::Outbox(e));
            break;
        }
    }
    if let Some(w) = shared.evidence.take() {
        for d in w.finish() {
            emit_violation(d, &mut cams, &mut em);
        }
    }
    if !stop.load(Ordering::Relaxed) {
        files_done(&cams, &summary, &resume, &mut em);
    }
    if let Err(e) = em.flush(&mut publisher) {
        result = Err(PipelineError::Outbox(e));
    }
    queues.close();
    for t in threads {
        let _ = t.join();
    }
    summary.events = em.events;
    count_frames(&mut summary, cfg, &cams, &queues);
    count_work(&mut summary, &metrics);
    summary.elapsed = started.elapsed();
    summary.publish = match stopped_at {
        Some(t) => publisher.finish_by((t + SHUTDOWN_BUDGET).max(Instant::now() + MIN_DRAIN)),
        None => publisher.finish(),
    };
    result.map(|_| summary)
}

/// The metrics, served on `metrics_listen` when configured.
fn start_metrics(cfg: &EdgeConfig) -> Result<Arc<Metrics>, PipelineError> {
    let metrics = Arc::new(Metrics::new(
        cfg.cameras.iter().map(|c| c.id.clone()).collect(),
    ));
    if let Some(addr) = cfg.metrics_listen {
        crate::metrics::serve(addr, metrics.clone())
            .map_err(|e| PipelineError::Metrics(addr, e))?;
    }
    Ok(metrics)
}

/// Files read to their end (not stopped, not failed) are not analysed again on a restart.
fn files_done(cams: &[CameraRun], summary: &RunSummary, resume: &resume::Resume, em: &mut Emitter) {
    for (i, c) in cams.iter().enumerate() {
        let failed = summary.failed.iter().any(|(id, _)| *id == c.state.id);
        if c.ended && !failed {
            resume.ended(i, c.state.evidence_in_flight, em);
        }
    }
}

/// Plates read, frames the motion gate kept from the detector, detector calls.
fn count_work(summary: &mut RunSummary, metrics: &Metrics) {
    summary.plates = PlateStats::of(metrics);
    summary.gated = metrics
        .gated
        .iter()
        .map(|g| g.load(Ordering::Relaxed))
        .sum();
    summary.windowed = metrics
        .windowed
        .iter()
        .map(|g| g.load(Ordering::Relaxed))
        .sum();
    summary.model_input_px = metrics.model_input_px.load(Ordering::Relaxed);
    summary.detector_calls = metrics.inference_ms.count();
    summary.stages = metrics
        .stages
        .lock()
        .expect("stage metrics lock")
        .iter()
        .map(|(n, (frames, ns))| (*n, *frames, *ns as f64 / 1000.0 / (*frames).max(1) as f64))
        .collect();
}

/// Frames analysed and dropped, in all and per camera.
fn count_frames(summary: &mut RunSummary, cfg: &EdgeConfig, cams: &[CameraRun], q: &FrameQueues) {
    summary.frames = cams.iter().map(|c| c.frames).sum();
    summary.per_camera = cfg
        .cameras
        .iter()
        .zip(cams)
        .zip(&q.pushed)
        .map(|((cfg, c), pushed)| (cfg.id.clone(), pushed.load(Ordering::Relaxed), c.frames))
        .collect();
    summary.dropped = q.dropped.iter().map(|d| d.load(Ordering::Relaxed)).sum();
}

/// Each camera's run: its shared state and its stages.
fn cameras(cfg: &EdgeConfig, shared: &Shared) -> Vec<CameraRun> {
    cfg.cameras
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let state = CamState {
                id: c.id.clone(),
                snapshots: SnapshotKeeper::default(),
                history: History::new(c.ground.clone(), cfg.model.labels.clone()),
                evidence_in_flight: 0,
                tracks: Vec::new(),
            };
            let frozen = (!matches!(c.source, Source::File(_)))
                .then(|| FrozenCheck::new(cfg.analytics.frozen_after_s));
            CameraRun::new(i, state, stage::stages(cfg, c, shared), frozen)
        })
        .collect()
}

/// What handling a message needs besides the cameras.
struct Io<'a> {
    queues: &'a FrameQueues,
    shared: &'a mut Shared,
    em: &'a mut Emitter,
    resume: &'a resume::Resume,
    positions: &'a [std::sync::atomic::AtomicU64],
}

/// One message from the camera threads: a frame to its camera's stages (with its detections),
/// a status, or the end of a source.
fn dispatch(
    msg: Msg,
    detections: &mut impl Iterator<Item = Looked>,
    cams: &mut [CameraRun],
    io: &mut Io,
    metrics: &Metrics,
    summary: &mut RunSummary,
    cfg: &EdgeConfig,
) {
    match msg {
        Msg::Frame(f) => {
            let dets = detections.next().expect("one result per frame");
            metrics.processed[f.camera].fetch_add(1, Ordering::Relaxed);
            let frame = stage::Frame {
                captured: f.captured,
                image: &f.image,
                size: (f.image.width, f.image.height),
                seen: match &dets {
                    Looked::Whole(d) => Seen::Detected(d),
                    Looked::Within(d, windows) => Seen::Within(d, windows),
                    Looked::Still => Seen::Still,
                },
            };
            let c = &mut cams[f.camera];
            c.on_frame(&frame, io.queues, io.shared, io.em);
            metrics.stage_times(&c.stage_times);
            io.resume
                .analysed(f.camera, f.pts, c.state.evidence_in_flight, io.em);
            if let Some(p) = io.positions.get(f.camera) {
                p.store(f.pts.as_millis() as u64, Ordering::Relaxed);
            }
        }
        Msg::Status {
            camera,
            state,
            detail,
        } => {
            let c = &mut cams[camera];
            let at = c.last_capture.unwrap_or_else(Utc::now);
            c.status(io.queues, state, detail, at, io.em);
        }
        Msg::End { camera, error } => {
            if let Some(e) = &error {
                summary
                    .failed
                    .push((cfg.cameras[camera].id.clone(), e.clone()));
            }
            cams[camera].on_end(error, io.queues, io.shared, io.em);
        }
    }
}

/// What every camera's stages share; only the classifiers some rule reads are loaded.
fn shared(cfg: &EdgeConfig, metrics: &Arc<Metrics>) -> Result<Shared, PipelineError> {
    let has_violations = cfg.cameras.iter().any(|c| !c.violations.is_empty());
    let ort_lib = cfg.model.ort_library.as_deref();
    let classifiers: Vec<Classifier> = cfg
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
    let plates = match &cfg.plates {
        Some(p) => Some(crate::plate::tracks::PlateWorker::start(
            p,
            ort_lib,
            metrics.clone(),
        )?),
        None => None,
    };
    Ok(Shared {
        plates,
        labels: cfg.model.labels.clone(),
        lights: Lights::new(&cfg.junctions),
        classifiers,
        evidence,
        junctions: cfg
            .junctions
            .iter()
            .map(|j| JunctionFeed::new(Controller::new(j.clone(), None)))
            .collect(),
    })
}

fn spawn_cameras(
    cfg: &EdgeConfig,
    queues: &Arc<FrameQueues>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    cfg.cameras
        .iter()
        .enumerate()
        .map(|(i, cam)| {
            let (cam, q, s) = (cam.clone(), queues.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("cam-{}", cam.id))
                .spawn(move || ingest::run_camera(i, &cam, q, s))
                .expect("spawn camera thread")
        })
        .collect()
}

/// The edge's own status, with the outbox's backlog.
fn edge_status(cfg: &EdgeConfig, publisher: &Publisher, metrics: &Metrics, em: &mut Emitter) {
    let (pending_n, dropped_n) = publisher.backlog();
    metrics.outbox_pending.store(pending_n, Ordering::Relaxed);
    metrics
        .outbox_awaiting
        .store(publisher.awaiting_receipt(), Ordering::Relaxed);
    metrics.outbox_dropped.store(dropped_n, Ordering::Relaxed);
    em.push(&publish::edge_status(
        cfg,
        matthan_schema::EdgeState::Online,
        dropped_n,
        pending_n,
    ));
}

/// A finished violation into the batch; its plate goes onto the track's later events.
fn emit_violation(d: crate::evidence::Done, cams: &mut [CameraRun], em: &mut Emitter) {
    if let Some(c) = cams.iter_mut().find(|c| c.state.id == d.camera) {
        c.state.evidence_in_flight = c.state.evidence_in_flight.saturating_sub(1);
        if let Some((track, text, score)) = d.plate.clone() {
            let plate = crate::snapshot::TrackPlate::new(text, score, None);
            c.state.snapshots.set_plate(track, plate);
        }
    }
    em.emit_violation(d);
}
