//! Forensic cases over HTTP: an investigator (operator role) opens a case from a folder on the
//! hub's disk, a list of URLs, or uploads; follows its progress (videos done, hours processed,
//! rate, ETA); and plays a video from the moment a search hit points at. Workers' routes are in
//! `work.rs`. Every change and every video opened is audited.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::{ApiError, Caller, Shared, blocking};
use crate::config::Role;
use crate::store::{Case, JobState, Video, VideoSource};

const MAX_NAME: usize = 200;
const MAX_URLS: usize = 10_000;

fn bad(m: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, m)
}

#[derive(Deserialize)]
pub(super) struct NewCase {
    name: String,
    /// When the videos were filmed (RFC 3339); default now. Events are stamped from it.
    recorded_at: Option<String>,
    /// A folder under one of the hub's import roots.
    folder: Option<String>,
    /// Videos a worker fetches itself (http/https).
    #[serde(default)]
    urls: Vec<String>,
}

/// What a case has done so far, for its progress bar.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Progress {
    pub videos: usize,
    pub queued: usize,
    pub running: usize,
    pub done: usize,
    pub failed: usize,
    /// Seconds of video analysed, and in the videos whose length is known.
    pub processed_s: f64,
    pub duration_s: f64,
    /// Seconds of video per second of wall time since the first job started.
    pub rate: Option<f64>,
    /// Seconds until every video is done at that rate (unknown lengths taken as the mean).
    pub eta_s: Option<f64>,
}

/// Progress from the jobs, as of `now`.
pub fn progress(videos: &[Video], now: DateTime<Utc>) -> Progress {
    let mut p = Progress {
        videos: videos.len(),
        ..Default::default()
    };
    let known: Vec<f64> = videos.iter().filter_map(|v| v.duration_s).collect();
    let mean = (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64);
    let mut remaining = 0.0;
    for v in videos {
        match v.state {
            JobState::Queued => p.queued += 1,
            JobState::Running => p.running += 1,
            JobState::Done => p.done += 1,
            JobState::Failed => p.failed += 1,
        }
        p.processed_s += v.processed_s;
        p.duration_s += v.duration_s.unwrap_or(0.0);
        if matches!(v.state, JobState::Queued | JobState::Running) {
            remaining += (v.duration_s.or(mean).unwrap_or(0.0) - v.processed_s).max(0.0);
        }
    }
    let first = videos.iter().filter_map(|v| v.started_at).min();
    let open = p.queued + p.running > 0;
    let last = if open {
        Some(now)
    } else {
        videos.iter().filter_map(|v| v.finished_at).max()
    };
    if let (Some(a), Some(b)) = (first, last) {
        let wall = (b - a).num_milliseconds() as f64 / 1000.0;
        if wall > 0.0 && p.processed_s > 0.0 {
            let rate = p.processed_s / wall;
            p.rate = Some(rate);
            p.eta_s = Some(if open { remaining / rate } else { 0.0 });
        }
    }
    p
}

fn case_json(c: &Case, videos: &[Video]) -> serde_json::Value {
    json!({ "case": c, "progress": progress(videos, Utc::now()) })
}

pub(super) async fn create(
    State(s): State<Shared>,
    caller: Caller,
    Json(n): Json<NewCase>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    caller.require(&s, &[Role::Operator])?;
    let name = n.name.trim().to_string();
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(bad(format!("name: 1 to {MAX_NAME} bytes")));
    }
    let recorded_at = match &n.recorded_at {
        None => Utc::now(),
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map_err(|e| bad(format!("recorded_at: {t:?} is not an RFC 3339 time: {e}")))?
            .with_timezone(&Utc),
    };
    if n.urls.len() > MAX_URLS {
        return Err(bad(format!("urls: at most {MAX_URLS}")));
    }
    let mut videos = Vec::new();
    if let Some(f) = &n.folder {
        let found = s.cases.import(f).map_err(bad)?;
        videos.extend(found.into_iter().map(|(n, p)| (n, VideoSource::File(p))));
    }
    for (i, u) in n.urls.iter().enumerate() {
        crate::cases::check_url(u).map_err(|r| bad(format!("urls[{i}]: {r}")))?;
        let last = u.rsplit('/').next().unwrap_or(u);
        let name: String = last
            .split(['?', '#'])
            .next()
            .unwrap_or(last)
            .chars()
            .take(100)
            .collect();
        videos.push((name, VideoSource::Url(u.clone())));
    }
    blocking(move || {
        let mut store = s.conn()?;
        let detail = format!(
            "{name}: {} videos{}",
            videos.len(),
            n.folder
                .as_deref()
                .map(|f| format!(" from {f}"))
                .unwrap_or_default()
        );
        caller.audit(store.as_mut(), "case_create", &detail)?;
        let id = store.create_case(&name, &caller.name, recorded_at, &videos)?;
        Ok((
            StatusCode::CREATED,
            Json(json!({ "id": id, "videos": videos.len() })),
        ))
    })
    .await
}

pub(super) async fn list(
    State(s): State<Shared>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    blocking(move || {
        let mut store = s.conn()?;
        let mut out = Vec::new();
        for c in store.cases()? {
            let videos = store.case(c.id)?.map(|(_, v)| v).unwrap_or_default();
            out.push(case_json(&c, &videos));
        }
        Ok(Json(json!({ "cases": out })))
    })
    .await
}

pub(super) async fn show(
    State(s): State<Shared>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    blocking(move || {
        let mut store = s.conn()?;
        let (c, videos) = store
            .case(id)?
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no case {id}")))?;
        let mut v = case_json(&c, &videos);
        v["videos"] = json!(videos);
        Ok(Json(v))
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct UploadParams {
    name: String,
}

/// Streams an upload to `[cases] dir/{case}/{video name}`, then queues it. A name already used
/// in the case gets a numbered one; a body over the limit is refused and its file removed.
pub(super) async fn upload(
    State(s): State<Shared>,
    caller: Caller,
    Path(case): Path<i64>,
    Query(p): Query<UploadParams>,
    req: Request,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    caller.require(&s, &[Role::Operator])?;
    let name = crate::cases::safe_name(&p.name).ok_or_else(|| {
        bad(format!(
            "name: {:?} is not a video file name (mp4, mov, avi, mkv…)",
            p.name
        ))
    })?;
    let dir = s.cases.dir.join(case.to_string());
    let io = |e: std::io::Error| {
        tracing::error!(error = %e, "case upload");
        ApiError(
            StatusCode::INSUFFICIENT_STORAGE,
            format!("cannot store the upload: {e}"),
        )
    };
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    let (path, mut file) = create_unique(&dir, &name).await.map_err(io)?;
    let limit = s.cases.max_upload_mib * 1024 * 1024;
    let mut stream = req.into_body().into_data_stream();
    let mut written = 0u64;
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                failure = Some(bad(format!("upload interrupted: {e}")));
                break;
            }
        };
        written += chunk.len() as u64;
        if written > limit {
            failure = Some(ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "over [cases] max_upload_mib ({} MiB)",
                    s.cases.max_upload_mib
                ),
            ));
            break;
        }
        if let Err(e) = file.write_all(&chunk).await {
            failure = Some(io(e));
            break;
        }
    }
    if failure.is_none()
        && let Err(e) = file.sync_all().await
    {
        failure = Some(io(e));
    }
    if let Some(f) = failure {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(f);
    }
    let stored = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or(name);
    blocking(move || {
        let mut store = s.conn()?;
        caller.audit(
            store.as_mut(),
            "case_upload",
            &format!("case {case}: {stored} ({written} bytes)"),
        )?;
        match store.add_video(case, &stored, &VideoSource::File(path.clone()))? {
            Some(id) => Ok((
                StatusCode::CREATED,
                Json(json!({ "id": id, "name": stored, "bytes": written })),
            )),
            None => {
                let _ = std::fs::remove_file(&path);
                Err(ApiError(StatusCode::NOT_FOUND, format!("no case {case}")))
            }
        }
    })
    .await
}

async fn create_unique(
    dir: &std::path::Path,
    name: &str,
) -> std::io::Result<(std::path::PathBuf, tokio::fs::File)> {
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    for n in 0..1000 {
        let candidate = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{stem}-{n}.{ext}"))
        };
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
            .await
        {
            Ok(f) => return Ok((candidate, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("1000 uploads of the same name"))
}

/// Serves a file with ranges (the player seeks by asking for byte ranges).
pub(super) async fn serve_file(path: std::path::PathBuf, req: Request) -> Response {
    use tower::ServiceExt;
    match tower_http::services::ServeFile::new(path)
        .oneshot(req)
        .await
    {
        Ok(r) => r.map(Body::new).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A case's video for the player, from any offset (HTTP ranges). Audited: opening a video is
/// looking at evidence.
pub(super) async fn video_file(
    State(s): State<Shared>,
    caller: Caller,
    Path((case, video)): Path<(i64, i64)>,
    req: Request,
) -> Result<Response, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    // A player asks for many ranges of one video: the first (no Range, or from byte 0) is
    // audited, the rest are the same look.
    let first = req
        .headers()
        .get(axum::http::header::RANGE)
        .is_none_or(|r| r.as_bytes().starts_with(b"bytes=0-"));
    let path = blocking(move || {
        let mut store = s.conn()?;
        let v = store
            .case(case)?
            .and_then(|(_, vs)| vs.into_iter().find(|v| v.id == video))
            .ok_or_else(|| {
                ApiError(
                    StatusCode::NOT_FOUND,
                    format!("no video {video} in case {case}"),
                )
            })?;
        if first {
            caller.audit(
                store.as_mut(),
                "case_video",
                &format!("case {case} video {video}"),
            )?;
        }
        match v.source {
            VideoSource::File(p) => Ok(p),
            VideoSource::Url(u) => Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("video {video} is not kept by the hub; it is at {u}"),
            )),
        }
    })
    .await?;
    Ok(serve_file(path, req).await)
}
