//! An incident's export: a case zip (`matthan_evidence::case`) that verifies offline with
//! `edge-node verify`: a violation's signed bundle under its own file names, the printable
//! summary and key derived from the signed manifest, the stored event, and the hub's record of
//! who exported it. The zip is written to an unnamed temporary file and streamed from there, so
//! memory stays bounded whatever the incident's size (eight parallel exports of a 320 MB
//! incident held 2.47 GB when the zip was built in memory).

use std::io::Seek;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use matthan_evidence::case::{CASE_SCHEMA, CaseWriter, ExportInfo};
use matthan_schema::{Body as EventBody, Event};

use super::{ApiError, Caller, Shared, blocking, load_event};
use crate::config::Role;

pub(super) async fn export(
    State(s): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    let file = blocking(move || {
        let (e, refs) = load_event(&s, &caller, &id, "export")?;
        // What was handed out is kept: the export puts the event (and so its files) on hold.
        s.conn()?.hold(
            &id,
            &format!("case export by {}", caller.name),
            &caller.name,
        )?;
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

/// A name for a file the camera did not sign: its hash and what its first bytes say it is.
fn unsigned_name(sha: &str, head: &[u8]) -> String {
    let ext = match super::blob::media_type(head) {
        "image/jpeg" => "jpg",
        "video/mp4" => "mp4",
        "image/png" => "png",
        "application/json" => "json",
        _ => "bin",
    };
    format!("{sha}.{ext}")
}

/// Writes the zip to a temporary file (gone when the last handle closes) and rewinds it.
fn write_zip(
    s: &super::AppState,
    exported_by: &str,
    id: &str,
    e: &Event,
    refs: &[String],
) -> Result<(std::fs::File, String), ApiError> {
    let mut zip = CaseWriter::new(tempfile::tempfile().map_err(internal)?);
    let check = crate::signature::check(e, &s.evidence, &s.keys);
    let signed = signed_bundle(s, e);
    let mut in_bundle = std::collections::HashSet::new();
    if let Some((manifest_bytes, sig, m)) = &signed {
        // A name that is not a plain file name (only a hostile box signs one) is left out
        // of the bundle; the verifier then reports it missing.
        for f in m
            .files
            .iter()
            .filter(|f| matthan_evidence::plain_name(&f.name))
        {
            if let Some(blob) = s.evidence.open(&f.sha256) {
                zip.signed_file(&f.name, blob).map_err(internal)?;
                in_bundle.insert(f.sha256.clone());
            }
        }
        zip.bundle(manifest_bytes, sig).map_err(internal)?;
        in_bundle.insert(matthan_evidence::sha256_hex(manifest_bytes));
    }
    for r in refs.iter().filter(|r| !in_bundle.contains(*r)) {
        if let Some(mut blob) = s.evidence.open(r) {
            let mut head = [0u8; 8];
            let n = std::io::Read::read(&mut blob, &mut head).map_err(internal)?;
            blob.rewind().map_err(internal)?;
            zip.unsigned_file(&unsigned_name(r, &head[..n]), blob)
                .map_err(internal)?;
        }
    }
    let info = ExportInfo {
        schema: CASE_SCHEMA.into(),
        event_id: id.into(),
        exported_by: exported_by.into(),
        exported_at: matthan_schema::format_ts(&Utc::now()),
        hub_check: serde_json::to_value(&check.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        files: Vec::new(),
    };
    let event_json = serde_json::to_vec_pretty(e).expect("events serialise");
    let mut file = zip
        .finish(signed.as_ref().map(|(_, _, m)| m), &event_json, info)
        .map_err(internal)?;
    file.rewind().map_err(internal)?;
    Ok((file, id.to_string()))
}

/// A violation's signed manifest (as stored), its signature and the parsed manifest, when the
/// hub holds them; files are then taken by the names the camera signed.
fn signed_bundle(
    s: &super::AppState,
    e: &Event,
) -> Option<(Vec<u8>, String, matthan_evidence::Manifest)> {
    let EventBody::Violation(v) = &e.body else {
        return None;
    };
    let bytes = s.evidence.get(v.manifest.as_deref()?)?;
    let m: matthan_evidence::Manifest = serde_json::from_slice(&bytes).ok()?;
    Some((bytes, v.signature.clone()?, m))
}
