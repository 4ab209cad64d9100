//! The HTTP API (JSON) and the operator web UI. Every route but health, the OpenAPI document and
//! the UI's static page needs a bearer token; each role sees only its routes; every search and
//! every look at an event or its evidence is written to the audit log first.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use crate::config::{Role, TokenConfig};
use crate::embed::Embedders;
use crate::evidence::EvidenceStore;
use crate::ingest::IngestStats;
use crate::store::{AuditEntry, EventStore, Pool};

mod admin;
mod blob;
mod candidates;
mod cases;
mod export;
mod filters;
mod holds;
mod junctions;
mod movements;
mod session;
mod trace;
mod ui;
mod watchlist;
mod work;

pub use cases::{Progress, progress};
pub use session::{Caller, Failures, Token};

/// Every route, as the OpenAPI document lists them (a test holds the two together).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/ui/{file}"),
    ("get", "/openapi.yaml"),
    ("get", "/api/health"),
    ("get", "/api/whoami"),
    ("get", "/api/search"),
    ("get", "/api/cameras"),
    ("get", "/api/events/{id}"),
    ("get", "/api/events/{id}/export"),
    ("post", "/api/events/{id}/hold"),
    ("delete", "/api/events/{id}/hold"),
    ("get", "/api/evidence/{sha256}"),
    ("get", "/api/junctions"),
    ("get", "/api/junctions/history"),
    ("get", "/api/junctions/movements"),
    ("get", "/vendor/uplot.js"),
    ("get", "/vendor/uplot.css"),
    ("get", "/api/audit"),
    ("get", "/api/admin/dead-letters"),
    ("get", "/api/trace"),
    ("get", "/api/trace/candidates"),
    ("get", "/api/watchlist"),
    ("post", "/api/watchlist"),
    ("delete", "/api/watchlist/{id}"),
    ("get", "/api/watchlist/hits"),
    ("get", "/api/watchlist/stream"),
    ("get", "/api/cases"),
    ("post", "/api/cases"),
    ("get", "/api/cases/{id}"),
    ("post", "/api/cases/{id}/videos"),
    ("get", "/api/cases/{id}/videos/{video}/file"),
    ("post", "/api/work/lease"),
    ("get", "/api/work/{job}/video"),
    ("post", "/api/work/{job}/progress"),
    ("post", "/api/work/{job}/finish"),
    ("get", "/metrics"),
];

pub const OPENAPI: &str = include_str!("../../openapi.yaml");
/// Sent with every response. The console runs only its own script (no inline script, no
/// eval), is never framed, and content types are never sniffed: a value a publisher put in an
/// event can at worst be shown as text.
const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

async fn security_headers(mut r: axum::response::Response) -> axum::response::Response {
    for (k, v) in SECURITY_HEADERS {
        r.headers_mut().insert(k, HeaderValue::from_static(v));
    }
    r
}

/// Search latency histogram bucket bounds, milliseconds.
const BUCKETS_MS: [u64; 8] = [5, 10, 25, 50, 100, 250, 500, 1000];

#[derive(Default)]
pub struct ApiMetrics {
    searches: AtomicU64,
    denied: AtomicU64,
    search_ms_sum: AtomicU64,
    search_buckets: [AtomicU64; BUCKETS_MS.len()],
}

pub struct AppState {
    /// One connection per request from the pool: searches, views and exports run side by side.
    pub store: Pool,
    pub embedder: Embedders,
    pub evidence: EvidenceStore,
    /// Configured tokens by their sha256.
    pub tokens: HashMap<String, Token>,
    /// Failed logins per address (lockout).
    pub failures: Failures,
    pub ingest: Arc<IngestStats>,
    pub metrics: ApiMetrics,
    /// Edge keys whose evidence signatures count as verified.
    pub keys: crate::keys::KeyRegister,
    /// The watch list: changed here, checked by ingest, hits pushed to consoles.
    pub watch: Arc<crate::watch::Watch>,
    /// Where cameras are, for judging a traced vehicle's hops.
    pub positions: Vec<crate::config::CameraPosition>,
    /// Forensic cases: uploads, import roots, lease length.
    pub cases: crate::cases::CasesConfig,
}

impl AppState {
    pub fn new(
        store: Pool,
        embedder: Embedders,
        evidence: EvidenceStore,
        tokens: &[TokenConfig],
        ingest: Arc<IngestStats>,
    ) -> Self {
        Self {
            store,
            embedder,
            evidence,
            tokens: session::tokens(tokens),
            failures: Failures::default(),
            ingest,
            metrics: ApiMetrics::default(),
            keys: Default::default(),
            watch: Default::default(),
            positions: Vec::new(),
            cases: Default::default(),
        }
    }
}

type Shared = Arc<AppState>;

pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the event store is unavailable".into(),
        )
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(e: r2d2::Error) -> Self {
        tracing::error!(error = %e, "no store connection");
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the event store is unavailable".into(),
        )
    }
}

impl AppState {
    /// A store connection for this request (waits at most the pool's timeout).
    fn conn(&self) -> Result<r2d2::PooledConnection<crate::store::Manager>, ApiError> {
        Ok(self.store.get()?)
    }
}

impl From<crate::search::SearchError> for ApiError {
    fn from(e: crate::search::SearchError) -> Self {
        tracing::error!(error = %e, "search error");
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "search is unavailable".into(),
        )
    }
}

impl Caller {
    fn require(&self, state: &AppState, roles: &[Role]) -> Result<(), ApiError> {
        if self.role == Role::Admin || roles.contains(&self.role) {
            Ok(())
        } else {
            state.metrics.denied.fetch_add(1, Ordering::Relaxed);
            Err(ApiError(
                StatusCode::FORBIDDEN,
                format!("role {} may not use this", self.role.as_str()),
            ))
        }
    }

    fn audit(
        &self,
        store: &mut dyn EventStore,
        action: &str,
        detail: &str,
    ) -> Result<(), ApiError> {
        let mut detail = detail.to_string();
        if detail.len() > 512 {
            let mut cut = 512;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        store.audit(&AuditEntry {
            ts: Utc::now(),
            who: self.name.clone(),
            role: self.role.as_str().into(),
            action: action.into(),
            detail,
        })?;
        Ok(())
    }
}

pub fn router(state: Shared) -> axum::Router {
    axum::Router::new()
        .route("/", get(ui::index))
        .route("/ui/{file}", get(ui::file))
        .route("/vendor/uplot.js", get(ui::uplot_js))
        .route("/vendor/uplot.css", get(ui::uplot_css))
        .route(
            "/openapi.yaml",
            get(|| async { ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI) }),
        )
        .route("/api/health", get(health))
        .route("/api/whoami", get(session::whoami))
        .route("/api/search", get(search))
        .route("/api/cameras", get(filters::cameras))
        .route("/api/events/{id}", get(event))
        .route("/api/events/{id}/export", get(export::export))
        .route(
            "/api/events/{id}/hold",
            axum::routing::post(holds::hold).delete(holds::release),
        )
        .route("/api/evidence/{sha256}", get(blob::evidence))
        .route("/api/junctions", get(junctions::latest))
        .route("/api/junctions/history", get(junctions::history))
        .route("/api/junctions/movements", get(movements::movements))
        .route("/api/audit", get(audit_log))
        .route("/api/admin/dead-letters", get(admin::dead_letters))
        .route("/api/trace", get(trace::trace))
        .route("/api/trace/candidates", get(candidates::candidates))
        .route("/api/watchlist", get(watchlist::list).post(watchlist::add))
        .route(
            "/api/watchlist/{id}",
            axum::routing::delete(watchlist::remove),
        )
        .route("/api/watchlist/hits", get(watchlist::hits))
        .route("/api/watchlist/stream", get(watchlist::stream))
        .route("/api/cases", get(cases::list).post(cases::create))
        .route("/api/cases/{id}", get(cases::show))
        .route(
            "/api/cases/{id}/videos",
            // Uploads stream to disk; `[cases] max_upload_mib` bounds them, not axum's 2 MB.
            axum::routing::post(cases::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/api/cases/{id}/videos/{video}/file",
            get(cases::video_file),
        )
        .route("/api/work/lease", axum::routing::post(work::lease))
        .route("/api/work/{job}/video", get(work::video))
        .route(
            "/api/work/{job}/progress",
            axum::routing::post(work::progress),
        )
        .route("/api/work/{job}/finish", axum::routing::post(work::finish))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Runs store and model work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "worker failed".into()))?
}

/// Liveness from the hub's own counters: it never waits on the store (a long search or export
/// holds the store, and a health check that queued behind it would call a busy hub dead).
async fn health(State(s): State<Shared>) -> Json<serde_json::Value> {
    let i = &s.ingest;
    Json(json!({
        "status": "ok",
        "stored": i.stored.load(Ordering::Relaxed),
        "received": i.received.load(Ordering::Relaxed),
        "rejected": i.rejected.load(Ordering::Relaxed),
        "broker": if i.subscribed.load(Ordering::Relaxed) { "subscribed" } else { "disconnected" },
        "evidence": s.evidence.budget().map(|b| json!({
            "used_bytes": b.used(),
            "budget_bytes": b.limit(),
            "state": b.state(),
        })),
    }))
}

/// The search as audited: the text and every filter beside it.
fn audit_text(p: &filters::SearchParams) -> String {
    let mut t = p.q.clone();
    for (k, v) in [
        ("camera", &p.camera),
        ("class", &p.class),
        ("kind", &p.kind),
        ("rule", &p.rule),
        ("plate", &p.plate),
        ("from", &p.from),
        ("to", &p.to),
    ] {
        if let Some(v) = v {
            t += &format!(" [{k}={v}]");
        }
    }
    t
}

async fn search(
    State(s): State<Shared>,
    caller: Caller,
    Query(p): Query<filters::SearchParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    p.check()?;
    let limit = p.limit.unwrap_or(20).clamp(1, 100);
    let offset = p.offset.unwrap_or(0).min(1000);
    let sort = p.sort()?;
    let started = Instant::now();
    let s2 = s.clone();
    let out = blocking(move || {
        let mut store = s2.conn()?;
        caller.audit(store.as_mut(), "search", &audit_text(&p))?;
        let mut emb = s2.embedder.get();
        let (q, mut hits) = crate::search::search_refined(
            store.as_mut(),
            &mut emb,
            &p.q,
            Utc::now(),
            limit + offset,
            |q| p.apply(q),
        )?;
        if sort == filters::Sort::Newest {
            hits.sort_by_key(|h| std::cmp::Reverse(h.row.ts));
        }
        Ok((q, hits.into_iter().skip(offset).collect::<Vec<_>>()))
    })
    .await?;
    let ms = started.elapsed().as_millis() as u64;
    let m = &s.metrics;
    m.searches.fetch_add(1, Ordering::Relaxed);
    m.search_ms_sum.fetch_add(ms, Ordering::Relaxed);
    for (i, b) in BUCKETS_MS.iter().enumerate() {
        if ms <= *b {
            m.search_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }
    let (q, hits) = out;
    Ok(Json(json!({
        "understood": {
            "classes": q.classes, "color": q.color, "upper_color": q.upper_color, "lower_color": q.lower_color,
            "plate": q.plate.as_ref().map(|p| &p.text), "plate_at_start": q.plate.as_ref().map(|p| p.at_start),
            "direction": q.direction, "violation": q.violation, "alert": q.alert, "cameras": q.cameras,
            "places": q.places, "heading_deg": q.heading,
            "from": q.from.map(|t| matthan_schema::format_ts(&t)), "to": q.to.map(|t| matthan_schema::format_ts(&t)),
            "clock": q.clock.iter().map(|w| crate::query::clock_label(*w)).collect::<Vec<_>>(),
            // Words not understood: they only rank. With nothing else understood the query
            // selects nothing and says so.
            "words": q.terms,
            "nothing_understood": q.understood_nothing(),
            "corrected": q.corrected.iter().map(|(t, w)| json!({"typed": t, "read_as": w})).collect::<Vec<_>>(),
            // Unaccented words several Vietnamese words share: never a filter; the UI offers
            // the readings so the operator can retype with diacritics.
            "ambiguous": q.ambiguous.iter().map(|(w, r)| json!({"word": w, "readings": r})).collect::<Vec<_>>(),
        },
        "results": hits,
    })))
}

fn load_event(
    s: &AppState,
    caller: &Caller,
    id: &str,
    action: &str,
) -> Result<(matthan_schema::Event, Vec<String>), ApiError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("{id:?} is not an event id (UUID)"),
        ));
    }
    let mut store = s.conn()?;
    caller.audit(store.as_mut(), action, id)?;
    let e = store
        .get(id)?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no event {id}")))?;
    // The same list the store keeps for the evidence sweep: snapshots, files and the signed
    // manifest (a scan for `sha256` keys missed the last two).
    let refs = crate::store::evidence_refs(&e);
    Ok((e, refs))
}

async fn event(
    State(s): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[Role::Operator])?;
    blocking(move || {
        let (e, refs) = load_event(&s, &caller, &id, "view_event")?;
        let evidence: Vec<_> = refs
            .iter()
            .map(|r| json!({ "sha256": r, "present": s.evidence.get(r).is_some() }))
            .collect();
        let hold = s.conn()?.hold_of(&id)?;
        Ok(Json(json!({
            "event": e,
            "caption": crate::caption::caption(&e),
            "evidence": evidence,
            "signature": crate::signature::check(&e, &s.evidence, &s.keys),
            "hold": hold,
        })))
    })
    .await
}

#[derive(Deserialize)]
struct AuditParams {
    limit: Option<usize>,
}

async fn audit_log(
    State(s): State<Shared>,
    caller: Caller,
    Query(p): Query<AuditParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&s, &[])?;
    blocking(move || {
        let rows = s
            .conn()?
            .audit_log(p.limit.unwrap_or(100).clamp(1, 10_000))?;
        Ok(Json(json!({ "entries": rows })))
    })
    .await
}

async fn metrics(State(s): State<Shared>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(&s, &[])?;
    let i = &s.ingest;
    let m = &s.metrics;
    let mut out = String::new();
    for (name, help, v) in [
        (
            "matthan_hub_mqtt_received_total",
            "MQTT messages received",
            i.received.load(Ordering::Relaxed),
        ),
        (
            "matthan_hub_events_stored_total",
            "events stored (new)",
            i.stored.load(Ordering::Relaxed),
        ),
        (
            "matthan_hub_events_duplicate_total",
            "redelivered events ignored",
            i.duplicates.load(Ordering::Relaxed),
        ),
        (
            "matthan_hub_messages_rejected_total",
            "malformed payloads refused",
            i.rejected.load(Ordering::Relaxed),
        ),
        (
            "matthan_hub_evidence_stored_total",
            "evidence blobs stored",
            i.evidence.load(Ordering::Relaxed),
        ),
        (
            "matthan_hub_http_denied_total",
            "requests refused for token or role",
            m.denied.load(Ordering::Relaxed),
        ),
    ] {
        out += &format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n");
    }
    let n = m.searches.load(Ordering::Relaxed);
    out += "# HELP matthan_hub_search_duration_ms search request latency\n# TYPE matthan_hub_search_duration_ms histogram\n";
    for (b, c) in BUCKETS_MS.iter().zip(&m.search_buckets) {
        out += &format!(
            "matthan_hub_search_duration_ms_bucket{{le=\"{b}\"}} {}\n",
            c.load(Ordering::Relaxed)
        );
    }
    out += &format!(
        "matthan_hub_search_duration_ms_bucket{{le=\"+Inf\"}} {n}\nmatthan_hub_search_duration_ms_sum {}\nmatthan_hub_search_duration_ms_count {n}\n",
        m.search_ms_sum.load(Ordering::Relaxed)
    );
    if let Some(b) = s.evidence.budget() {
        for (name, help, v) in [
            (
                "matthan_hub_evidence_bytes",
                "bytes in the evidence folder",
                b.used(),
            ),
            (
                "matthan_hub_evidence_budget_bytes",
                "the evidence folder's disk budget",
                b.limit(),
            ),
        ] {
            out += &format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n");
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
