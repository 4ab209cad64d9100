//! One evidence blob over HTTP, streamed from its file, with its media type (read from its
//! first bytes) and byte ranges, so players can seek in a clip without fetching it whole.

use std::io::{Read, Seek, SeekFrom};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;

use super::{ApiError, Caller, Shared, blocking};
use crate::config::Role;
use crate::evidence::is_sha256;

/// The media type a blob's first bytes say it is.
pub(super) fn media_type(head: &[u8]) -> &'static str {
    // JPEG's start-of-image marker.
    if head.starts_with(&[0xff, 0xd8]) {
        "image/jpeg"
    } else if head.get(4..8) == Some(b"ftyp") {
        "video/mp4"
    } else if head.starts_with(b"\x89PNG") {
        "image/png"
    } else if head.starts_with(b"{") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` of a `len`-byte blob, as (first, last) inclusive;
/// None when absent or not one satisfiable range (then the whole blob is sent, or 416).
fn range(headers: &HeaderMap, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = headers
        .get(header::RANGE)?
        .to_str()
        .ok()?
        .strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // several ranges: answer with the whole blob, which is allowed
    }
    let (a, b) = spec.split_once('-')?;
    let parsed = match (a.trim(), b.trim()) {
        ("", n) => n
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| (len.saturating_sub(n), len - 1)),
        (a, "") => a.parse::<u64>().ok().map(|a| (a, len.saturating_sub(1))),
        (a, b) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b => Some((a, b.min(len.saturating_sub(1)))),
            _ => None,
        },
    };
    Some(
        parsed
            .filter(|(a, b)| len > 0 && a <= b && *a < len)
            .ok_or(()),
    )
}

pub(super) async fn evidence(
    State(s): State<Shared>,
    caller: Caller,
    Path(sha): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    if !is_sha256(&sha) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "evidence is named by a lower-case sha256".into(),
        ));
    }
    let (mut file, len, kind) = blocking(move || {
        caller.audit(s.conn()?.as_mut(), "view_evidence", &sha)?;
        let mut f = s
            .evidence
            .open(&sha)
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no evidence {sha}")))?;
        let io = |e: std::io::Error| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        let len = f.metadata().map_err(io)?.len();
        let mut head = [0u8; 8];
        let n = f.read(&mut head).map_err(io)?;
        f.rewind().map_err(io)?;
        Ok((f, len, media_type(&head[..n])))
    })
    .await?;
    let mut out = HeaderMap::new();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let (status, first, count) = match range(&headers, len) {
        None => (StatusCode::OK, 0, len),
        Some(Ok((a, b))) => {
            let v = format!("bytes {a}-{b}/{len}");
            out.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&v).expect("ascii"),
            );
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
        Some(Err(())) => {
            let v = format!("bytes */{len}");
            out.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&v).expect("ascii"),
            );
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, out).into_response());
        }
    };
    file.seek(SeekFrom::Start(first))
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    // Streamed from the file: a clip is never held whole in memory.
    let body = tokio::fs::File::from_std(file).take(count);
    let stream = tokio_util::io::ReaderStream::new(body);
    Ok((status, out, axum::body::Body::from_stream(stream)).into_response())
}
