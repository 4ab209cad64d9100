//! `edge-node index-worker`: analyses recorded video for the hub's forensic cases. It leases a
//! video from the hub's work queue, downloads it (hashing it on the way), checks GStreamer can
//! read it, and runs the same pipeline as a camera (detect → track → attributes → plates) as
//! fast as the box allows, with the config's one camera as the template. Events carry the case,
//! the video's sha256 and the offset in it, with ids derived from those: a job redelivered
//! after a worker died yields the same ids, which the hub stores once. A bad file fails its job
//! with GStreamer's reason; the worker goes on with the next.

pub mod hub;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::config::{EdgeConfig, RecordedVideo, Source};
use crate::pipeline::{self, PipelineError};
use hub::{HubClient, HubError, Lease};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(
        "{0}: an index worker's config has exactly one camera, the template for every video (found {1})"
    )]
    Template(PathBuf, usize),
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("work dir {path}: {source}")]
    WorkDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct WorkerOptions {
    pub hub: String,
    pub token: String,
    pub ca: Option<PathBuf>,
    /// This worker's name at the hub (with its token's name in front).
    pub id: String,
    /// Downloads and the outbox; one worker per folder.
    pub work_dir: PathBuf,
    /// Stop when every job has ended instead of waiting for more.
    pub once: bool,
    pub poll: Duration,
}

#[derive(Debug, Default)]
pub struct WorkerSummary {
    pub done: u64,
    pub failed: u64,
    /// Jobs given up because another worker holds them now (our lease ran out).
    pub lost: u64,
    pub seconds_of_video: f64,
    pub events: u64,
}

/// Takes jobs until the queue is empty (`once`) or `stop`.
pub fn run(
    base: &EdgeConfig,
    opts: &WorkerOptions,
    stop: Arc<AtomicBool>,
) -> Result<WorkerSummary, WorkerError> {
    if base.cameras.len() != 1 {
        return Err(WorkerError::Template(base.file.clone(), base.cameras.len()));
    }
    std::fs::create_dir_all(&opts.work_dir).map_err(|source| WorkerError::WorkDir {
        path: opts.work_dir.clone(),
        source,
    })?;
    let client = HubClient::new(&opts.hub, &opts.token, opts.ca.as_deref(), &opts.id)?;
    let mut summary = WorkerSummary::default();
    while !stop.load(Ordering::Relaxed) {
        let lease = match client.lease() {
            Ok(Ok(l)) => l,
            // Nothing queued and nothing running elsewhere that could come back.
            Ok(Err(0)) if opts.once => break,
            Ok(Err(_)) => {
                sleep_unless(&stop, opts.poll);
                continue;
            }
            Err(e @ HubError::Transport { .. }) => {
                // The hub restarting or the uplink down: wait, as an edge waits for its broker.
                tracing::warn!(error = %e, "hub unreachable; retrying");
                sleep_unless(&stop, opts.poll);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(job = lease.job.id, case = lease.job.case_id, video = %lease.job.name, attempt = lease.job.attempt, "job");
        job(base, opts, &client, &lease, &stop, &mut summary)?;
    }
    Ok(summary)
}

fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let until = std::time::Instant::now() + d;
    while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The pipeline's config for one job: the template camera reading the downloaded file, named
/// after the case and video, stamped from the case's recording time.
pub fn job_config(
    base: &EdgeConfig,
    opts: &WorkerOptions,
    lease: &Lease,
    file: &Path,
    sha256: &str,
) -> EdgeConfig {
    let mut cfg = base.clone();
    let mut cam = base.cameras[0].clone();
    cam.id = format!("case{}-v{}", lease.job.case_id, lease.job.id);
    cam.source = Source::File(file.to_path_buf());
    cam.realtime = false;
    cam.loop_file = false;
    cam.start_at = Some(lease.job.recorded_at);
    cam.recorded = Some(RecordedVideo {
        case: lease.job.case_id,
        video: lease.job.id,
        sha256: sha256.to_string(),
    });
    cfg.cameras = vec![cam];
    // Each worker its own outbox and broker session.
    cfg.outbox.path = opts.work_dir.join("outbox.sqlite");
    cfg.mqtt.client_id = Some(format!("{}-{}", base.client_id(), opts.id));
    cfg
}

/// The downloaded file and its hash, kept until the job ends: the same worker taking the job
/// again (after its own crash) resumes from the outbox's saved position instead of starting over.
fn fetch(client: &HubClient, lease: &Lease, dir: &Path) -> Result<(PathBuf, String), HubError> {
    let name = lease
        .job
        .name
        .rsplit('/')
        .next()
        .unwrap_or("video")
        .replace(
            |c: char| !(c.is_alphanumeric() || matches!(c, '.' | '-' | '_')),
            "_",
        );
    let file = dir.join(format!("{}-{}", lease.job.id, name.trim_start_matches('.')));
    let sidecar = file.with_extension("sha256");
    if let (true, Ok(sha)) = (file.is_file(), std::fs::read_to_string(&sidecar)) {
        return Ok((file, sha.trim().to_string()));
    }
    let sha = client.download(lease, &file)?;
    std::fs::write(&sidecar, &sha).map_err(|source| HubError::Io {
        what: format!("writing {}", sidecar.display()),
        source,
    })?;
    Ok((file, sha))
}

fn job(
    base: &EdgeConfig,
    opts: &WorkerOptions,
    client: &HubClient,
    lease: &Lease,
    stop: &Arc<AtomicBool>,
    summary: &mut WorkerSummary,
) -> Result<(), WorkerError> {
    let id = lease.job.id;
    let (file, sha) = match fetch(client, lease, &opts.work_dir) {
        Ok(f) => f,
        Err(e) if e.is_permanent() => {
            summary.failed += 1;
            client.finish(id, Err(&e.to_string()))?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let forget = || {
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_file(file.with_extension("sha256"));
    };
    let probe = match crate::ingest::probe::probe(&file) {
        Ok(p) => p,
        Err(reason) => {
            tracing::warn!(job = id, %reason, "not readable as video");
            summary.failed += 1;
            client.finish(
                id,
                Err(&format!(
                    "{} cannot be read as video: {reason}",
                    lease.job.name
                )),
            )?;
            forget();
            return Ok(());
        }
    };
    let duration = probe.duration.map(|d| d.as_secs_f64());
    if !client.progress(id, 0.0, duration, &sha)? {
        summary.lost += 1;
        return Ok(());
    }
    let cfg = job_config(base, opts, lease, &file, &sha);
    let run = analyse(&cfg, client, lease, duration, &sha, stop)?;
    match run {
        Analysed::Lost => summary.lost += 1,
        Analysed::Stopped => {}
        Analysed::SourceFailed(reason) => {
            summary.failed += 1;
            client.finish(id, Err(&format!("{}: {reason}", lease.job.name)))?;
            forget();
        }
        Analysed::Done { events } => {
            if client.finish(id, Ok(events))? {
                summary.done += 1;
                summary.events += events;
                summary.seconds_of_video += duration.unwrap_or(0.0);
            } else {
                summary.lost += 1;
            }
            forget();
        }
    }
    Ok(())
}

enum Analysed {
    Done {
        events: u64,
    },
    SourceFailed(String),
    /// The hub gave the job to another worker.
    Lost,
    /// SIGTERM: the job is left to its lease (another worker, or this one on restart).
    Stopped,
}

/// Runs the pipeline over the file while a heartbeat reports how far it got; every event must
/// have left the outbox before the job counts as done (a worker that vanishes after "done"
/// would otherwise take events with it).
fn analyse(
    cfg: &EdgeConfig,
    client: &HubClient,
    lease: &Lease,
    duration: Option<f64>,
    sha: &str,
    stop: &Arc<AtomicBool>,
) -> Result<Analysed, WorkerError> {
    let positions = [AtomicU64::new(0)];
    let job_stop = Arc::new(AtomicBool::new(false));
    let finished = AtomicBool::new(false);
    let lost = AtomicBool::new(false);
    // Often enough for a progress bar, well within the lease.
    let every = Duration::from_secs((lease.lease_s / 3).clamp(1, 2));
    let mut events = 0u64;
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !finished.load(Ordering::Relaxed) {
                sleep_unless(&finished, every);
                if stop.load(Ordering::Relaxed) {
                    job_stop.store(true, Ordering::Relaxed);
                }
                let at = positions[0].load(Ordering::Relaxed) as f64 / 1000.0;
                match client.progress(lease.job.id, at, duration, sha) {
                    Ok(true) => {}
                    Ok(false) => {
                        lost.store(true, Ordering::Relaxed);
                        job_stop.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "progress not reported"),
                }
            }
        });
        let out = drain_run(cfg, &job_stop, &positions, &mut events);
        finished.store(true, Ordering::Relaxed);
        out
    });
    let outcome = result?;
    if lost.load(Ordering::Relaxed) {
        return Ok(Analysed::Lost);
    }
    Ok(match outcome {
        Some(reason) => Analysed::SourceFailed(reason),
        None if job_stop.load(Ordering::Relaxed) => Analysed::Stopped,
        None => Analysed::Done { events },
    })
}

/// Analyses, then runs again (the file marked done, so only the outbox drains) until nothing is
/// left to send; Some(reason) when the source failed.
fn drain_run(
    cfg: &EdgeConfig,
    stop: &Arc<AtomicBool>,
    positions: &[AtomicU64],
    events: &mut u64,
) -> Result<Option<String>, PipelineError> {
    loop {
        let s = pipeline::run_watched(cfg, stop.clone(), positions)?;
        *events += s.events;
        if let Some((_, reason)) = s.failed.into_iter().next() {
            return Ok(Some(reason));
        }
        if s.publish.pending == 0 || stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        tracing::warn!(
            pending = s.publish.pending,
            "events not yet acknowledged; draining again"
        );
    }
}
