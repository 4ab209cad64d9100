//! Forensic cases (migration 12): an investigator's recorded videos, each a job in a durable
//! work queue that index workers lease, report progress on and finish. A lease that runs out
//! (a worker killed mid-video) puts the job back for the next worker; after `MAX_ATTEMPTS`
//! lost leases the job fails with that reason instead of going round for ever.
//!
//! The SQL is written once with `$n` placeholders; SQLite reads them as `?n`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{PgStore, SqliteStore, StoreError};

/// Leases a job may lose (worker gone) before it is failed.
pub const MAX_ATTEMPTS: i64 = 3;

/// A job's state. `Running` always has a worker and a lease deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    fn parse(s: &str) -> Self {
        match s {
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            _ => Self::Queued,
        }
    }
}

/// Where a job's video is: a file on the hub's disk (uploaded or imported from a folder), served
/// to workers by the hub, or a URL the worker fetches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    File(std::path::PathBuf),
    Url(String),
}

impl VideoSource {
    fn encode(&self) -> String {
        match self {
            Self::File(p) => format!("file:{}", p.display()),
            Self::Url(u) => format!("url:{u}"),
        }
    }

    fn decode(s: &str) -> Self {
        match s.strip_prefix("url:") {
            Some(u) => Self::Url(u.to_string()),
            None => Self::File(s.strip_prefix("file:").unwrap_or(s).into()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Video {
    pub id: i64,
    pub case_id: i64,
    pub name: String,
    #[serde(skip)]
    pub source: VideoSource,
    pub state: JobState,
    pub attempts: i64,
    pub worker: Option<String>,
    pub duration_s: Option<f64>,
    pub processed_s: f64,
    pub sha256: Option<String>,
    pub error: Option<String>,
    pub events: i64,
    #[serde(with = "matthan_schema::rfc3339_ms::option")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "matthan_schema::rfc3339_ms::option")]
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub id: i64,
    pub name: String,
    pub created_by: String,
    #[serde(with = "matthan_schema::rfc3339_ms")]
    pub created_at: DateTime<Utc>,
    /// When the case's videos were filmed, as the investigator gave it: events are stamped
    /// from it plus their offset in the video.
    #[serde(with = "matthan_schema::rfc3339_ms")]
    pub recorded_at: DateTime<Utc>,
}

/// A leased job: what a worker needs to analyse the video.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: i64,
    pub case_id: i64,
    pub name: String,
    #[serde(skip)]
    pub source: VideoSource,
    pub attempt: i64,
    #[serde(with = "matthan_schema::rfc3339_ms")]
    pub recorded_at: DateTime<Utc>,
}

/// How a worker ended its job.
pub enum Outcome<'a> {
    Done { events: i64 },
    Failed { reason: &'a str },
}

pub trait CaseStore {
    /// A new case and a queued job per video; returns the case id.
    fn create_case(
        &mut self,
        name: &str,
        by: &str,
        recorded_at: DateTime<Utc>,
        videos: &[(String, VideoSource)],
    ) -> Result<i64, StoreError>;
    /// One more video for a case (an upload); None when there is no such case.
    fn add_video(
        &mut self,
        case: i64,
        name: &str,
        source: &VideoSource,
    ) -> Result<Option<i64>, StoreError>;
    fn cases(&mut self) -> Result<Vec<Case>, StoreError>;
    /// Jobs not yet ended (queued, or running on some worker).
    fn open_jobs(&mut self) -> Result<i64, StoreError>;
    /// Where a job's video is; None when there is no such job.
    fn job_source(&mut self, job: i64) -> Result<Option<VideoSource>, StoreError>;
    fn case(&mut self, id: i64) -> Result<Option<(Case, Vec<Video>)>, StoreError>;
    /// The oldest queued job, or one whose lease ran out, leased to `worker` until `until`.
    fn lease(
        &mut self,
        worker: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Job>, StoreError>;
    /// Progress on a job `worker` holds, extending the lease; false when it no longer holds it.
    #[allow(clippy::too_many_arguments)]
    fn progress(
        &mut self,
        job: i64,
        worker: &str,
        processed_s: f64,
        duration_s: Option<f64>,
        sha256: Option<&str>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Ends a job `worker` holds; false when it no longer holds it.
    fn finish(&mut self, job: i64, worker: &str, outcome: Outcome) -> Result<bool, StoreError>;
}

const OPEN_JOBS: &str = "SELECT COUNT(*) FROM case_videos WHERE state IN ('queued', 'running')";
const CASE_COLUMNS: &str = "id, name, created_by, created_ms, recorded_ms";
const VIDEO_COLUMNS: &str = "id, case_id, name, source, state, attempts, worker, duration_ms, processed_ms, sha256, error, events, started_ms, finished_ms";

/// Fails jobs whose leases ran out `MAX_ATTEMPTS` times: no worker could finish them.
const GIVE_UP: &str = "UPDATE case_videos SET state = 'failed', worker = NULL, finished_ms = $1,
       error = 'abandoned: ' || attempts || ' workers took it and stopped reporting'
     WHERE state = 'running' AND lease_ms < $1 AND attempts >= $2";
/// The pick is a sub-select so both engines take one row; PostgreSQL skips rows another hub
/// is leasing at the same moment (`SKIP`, appended there).
const LEASE: &str = "UPDATE case_videos SET state = 'running', worker = $1, lease_ms = $2,
       attempts = attempts + 1, started_ms = COALESCE(started_ms, $3)
     WHERE id = (SELECT id FROM case_videos
                 WHERE state = 'queued' OR (state = 'running' AND lease_ms < $3)
                 ORDER BY id LIMIT 1 SKIP)
     RETURNING id, case_id, name, source, attempts";
const PROGRESS: &str =
    "UPDATE case_videos SET processed_ms = $3, duration_ms = COALESCE($4, duration_ms),
       sha256 = COALESCE($5, sha256), lease_ms = $6
     WHERE id = $1 AND worker = $2 AND state = 'running'";
const FINISH: &str = "UPDATE case_videos SET state = $3, events = $4, error = $5, finished_ms = $6,
       processed_ms = CASE WHEN $3 = 'done' THEN COALESCE(duration_ms, processed_ms) ELSE processed_ms END
     WHERE id = $1 AND worker = $2 AND state = 'running'";

fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?").replace(" SKIP)", ")")
}

fn pg_sql(sql: &str) -> String {
    sql.replace(" SKIP)", " FOR UPDATE SKIP LOCKED)")
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn seconds(ms: Option<i64>) -> Option<f64> {
    ms.map(|m| m as f64 / 1000.0)
}

fn outcome_columns(o: &Outcome) -> (&'static str, i64, Option<String>) {
    match o {
        Outcome::Done { events } => ("done", *events, None),
        Outcome::Failed { reason } => ("failed", 0, Some(reason.to_string())),
    }
}

/// Columns of `VIDEO_COLUMNS` as read from either engine.
type VideoRow = (
    i64,
    i64,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
    i64,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
);

fn video(r: VideoRow) -> Video {
    Video {
        id: r.0,
        case_id: r.1,
        name: r.2,
        source: VideoSource::decode(&r.3),
        state: JobState::parse(&r.4),
        attempts: r.5,
        worker: r.6,
        duration_s: seconds(r.7),
        processed_s: r.8 as f64 / 1000.0,
        sha256: r.9,
        error: r.10,
        events: r.11,
        started_at: r.12.map(at),
        finished_at: r.13.map(at),
    }
}

fn case(r: (i64, String, String, i64, i64)) -> Case {
    Case {
        id: r.0,
        name: r.1,
        created_by: r.2,
        created_at: at(r.3),
        recorded_at: at(r.4),
    }
}

mod pg;
mod sqlite;
