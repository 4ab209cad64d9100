//! The work queue over HTTP, for index workers (worker role): lease the next video, fetch it,
//! report progress (which renews the lease) and finish it. A worker is named by its token and
//! the id it gives (several processes may share a token); only the holder of a lease may report
//! on its job, so a worker that was presumed dead and comes back is told it lost the job (409).

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Caller, Shared, blocking};
use crate::config::Role;
use crate::store::{Outcome, VideoSource};

/// On an empty lease: how many jobs are still queued or running on other workers.
pub const OPEN_JOBS_HEADER: &str = "x-matthan-open-jobs";

#[derive(Deserialize)]
pub(super) struct LeaseRequest {
    worker: String,
}

fn worker_name(caller: &Caller, worker: &str) -> Result<String, ApiError> {
    if worker.is_empty() || worker.len() > 100 || worker.chars().any(|c| c.is_control()) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "worker: 1 to 100 printable characters".into(),
        ));
    }
    Ok(format!("{}/{worker}", caller.name))
}

fn lost(job: i64) -> ApiError {
    ApiError(
        StatusCode::CONFLICT,
        format!(
            "job {job} is not leased to this worker (its lease ran out and it was given to another, or it ended)"
        ),
    )
}

pub(super) async fn lease(
    State(s): State<Shared>,
    caller: Caller,
    Json(r): Json<LeaseRequest>,
) -> Result<Response, ApiError> {
    caller.require(&s, &[Role::Worker])?;
    let worker = worker_name(&caller, &r.worker)?;
    let lease_s = s.cases.lease_s;
    blocking(move || {
        let mut store = s.conn()?;
        let now = Utc::now();
        let until = now + chrono::Duration::seconds(lease_s as i64);
        let Some(job) = store.lease(&worker, now, until)? else {
            // Jobs still running elsewhere may come back (a worker dies): a worker told to stop
            // when the work is done waits for those.
            let open = store.open_jobs()?;
            return Ok((StatusCode::NO_CONTENT, [(OPEN_JOBS_HEADER, open.to_string())]).into_response());
        };
        tracing::info!(job = job.id, case = job.case_id, worker = %worker, attempt = job.attempt, "job leased");
        let url = match &job.source {
            VideoSource::File(_) => format!("/api/work/{}/video", job.id),
            VideoSource::Url(u) => u.clone(),
        };
        Ok(Json(json!({ "job": job, "video_url": url, "lease_s": lease_s })).into_response())
    })
    .await
}

/// The leased job's video, from any offset (HTTP ranges: a worker resumes a broken download).
pub(super) async fn video(
    State(s): State<Shared>,
    caller: Caller,
    Path(job): Path<i64>,
    req: Request,
) -> Result<Response, ApiError> {
    caller.require(&s, &[Role::Worker])?;
    let path = blocking(move || {
        let mut store = s.conn()?;
        match store.job_source(job)? {
            Some(VideoSource::File(p)) => Ok(p),
            Some(VideoSource::Url(u)) => Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("job {job}'s video is at {u}"),
            )),
            None => Err(ApiError(StatusCode::NOT_FOUND, format!("no job {job}"))),
        }
    })
    .await?;
    Ok(super::cases::serve_file(path, req).await)
}

#[derive(Deserialize)]
pub(super) struct ProgressReport {
    worker: String,
    processed_s: f64,
    duration_s: Option<f64>,
    sha256: Option<String>,
}

pub(super) async fn progress(
    State(s): State<Shared>,
    caller: Caller,
    Path(job): Path<i64>,
    Json(r): Json<ProgressReport>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Worker])?;
    let worker = worker_name(&caller, &r.worker)?;
    let finite = |x: f64| x.is_finite() && x >= 0.0;
    if !finite(r.processed_s) || !r.duration_s.is_none_or(finite) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "processed_s, duration_s: seconds, not negative".into(),
        ));
    }
    if let Some(h) = &r.sha256
        && !matthan_schema::is_sha256(h)
    {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "sha256: 64 lower-case hex digits".into(),
        ));
    }
    let lease_s = s.cases.lease_s;
    blocking(move || {
        let until = Utc::now() + chrono::Duration::seconds(lease_s as i64);
        let held = s.conn()?.progress(
            job,
            &worker,
            r.processed_s,
            r.duration_s,
            r.sha256.as_deref(),
            until,
        )?;
        if !held {
            return Err(lost(job));
        }
        Ok(Json(json!({ "lease_s": lease_s })))
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct Finish {
    worker: String,
    /// Done: the events it published. Failed: why (shown to the investigator).
    events: Option<i64>,
    error: Option<String>,
}

pub(super) async fn finish(
    State(s): State<Shared>,
    caller: Caller,
    Path(job): Path<i64>,
    Json(f): Json<Finish>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Worker])?;
    let worker = worker_name(&caller, &f.worker)?;
    blocking(move || {
        let reason = f.error.as_deref().map(|e| e.chars().take(1000).collect::<String>());
        let outcome = match &reason {
            Some(r) => Outcome::Failed { reason: r },
            None => Outcome::Done { events: f.events.unwrap_or(0).max(0) },
        };
        if !s.conn()?.finish(job, &worker, outcome)? {
            return Err(lost(job));
        }
        tracing::info!(job, worker = %worker, failed = reason.as_deref().unwrap_or(""), "job finished");
        Ok(Json(json!({ "ok": true })))
    })
    .await
}
