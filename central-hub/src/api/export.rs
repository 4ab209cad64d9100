//! An incident's export: the event, every evidence file it names and a manifest, as one zip.
//! The zip is written to an unnamed temporary file and streamed from there, so memory stays
//! bounded whatever the incident's size (eight parallel exports of a 320 MB incident held
//! 2.47 GB when the zip was built in memory).

use std::io::{Seek, Write};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::{ApiError, Caller, Shared, blocking, load_event};
use crate::config::{Role, sha256_hex};

pub(super) async fn export(
    State(s): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    let file = blocking(move || {
        let (e, refs) = load_event(&s, &caller, &id, "export")?;
        write_zip(&s, &caller.name, &id, &e, &refs)
    })
    .await?;
    let (file, id) = file;
    let len = file.metadata().map(|m| m.len()).ok();
    let stream =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 64 * 1024);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Some(len) = len {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"incident-{id}.zip\""))
            .expect("id is a uuid"),
    );
    Ok((headers, Body::from_stream(stream)).into_response())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Writes the zip to a temporary file (gone when the last handle closes) and rewinds it.
fn write_zip(
    s: &super::AppState,
    exported_by: &str,
    id: &str,
    e: &matthan_schema::Event,
    refs: &[String],
) -> Result<(std::fs::File, String), ApiError> {
    let mut zip = zip::ZipWriter::new(tempfile::tempfile().map_err(internal)?);
    // Images and video are compressed already; storing keeps exports fast.
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let event_json = serde_json::to_vec_pretty(e).expect("events serialise");
    zip.start_file("event.json", opts).map_err(internal)?;
    zip.write_all(&event_json).map_err(internal)?;
    let mut files = vec![json!({ "file": "event.json", "sha256": sha256_hex(&event_json) })];
    for r in refs {
        match s.evidence.open(r) {
            Some(mut blob) => {
                let name = format!("evidence/{r}");
                zip.start_file(name.as_str(), opts).map_err(internal)?;
                // Copied through a small buffer: a blob is never held whole.
                std::io::copy(&mut blob, &mut zip).map_err(internal)?;
                files.push(json!({ "file": name, "sha256": r }));
            }
            None => files.push(json!({ "file": null, "sha256": r, "missing": true })),
        }
    }
    let manifest = json!({
        "event": id,
        "exported_by": exported_by,
        "exported_at": matthan_schema::format_ts(&Utc::now()),
        "files": files,
    });
    zip.start_file("manifest.json", opts).map_err(internal)?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest).expect("serialises"))
        .map_err(internal)?;
    let mut file = zip.finish().map_err(internal)?;
    file.rewind().map_err(internal)?;
    Ok((file, id.to_string()))
}
