//! Wires the hub together: MQTT ingest, the HTTP API, and retention, until `stop`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;

use crate::api::{AppState, router};
use crate::config::HubConfig;
use crate::embed::Embedders;
use crate::evidence::EvidenceStore;
use crate::ingest::{IngestConfig, IngestStats};

pub use crate::maintenance::EVIDENCE_GRACE;

pub async fn serve(cfg: HubConfig, stop: Arc<AtomicBool>) -> anyhow::Result<Arc<IngestStats>> {
    let stats = Arc::new(IngestStats::default());
    crate::http::raise_fd_limit();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    // PostgreSQL's client is synchronous (it runs its own runtime): connecting must happen off
    // this runtime's worker, as every later query does (the writer and the API's blocking tasks).
    let ingest_store = tokio::task::block_in_place(|| crate::store::open(&cfg.db))?;
    // One store connection per core for the API, at least two: a search is CPU bound, so more
    // would only time-share the cores (measured: 16 connections on 2 cores doubled p95 against
    // FIFO), and each SQLite connection keeps its own page cache. Requests beyond wait in turn.
    let api_store =
        tokio::task::block_in_place(|| crate::store::pool(&cfg.db, cores.max(2) as u32))?;
    let embedder = Embedders::load(
        &cfg.embedding.model,
        &cfg.embedding.tokenizer,
        cfg.embedding.ort_library.as_deref(),
        cores,
    )?;
    let budget = cfg
        .ingest
        .evidence_budget_mib
        .map(|mib| Arc::new(crate::evidence::DiskBudget::new(mib * 1024 * 1024)));
    let evidence_dir = || {
        match &budget {
            Some(b) => EvidenceStore::with_budget(&cfg.evidence_dir, b.clone()),
            None => EvidenceStore::new(&cfg.evidence_dir),
        }
        .with_context(|| format!("evidence_dir {}", cfg.evidence_dir.display()))
    };
    let mut state = AppState::new(
        api_store,
        embedder,
        evidence_dir()?,
        &cfg.tokens,
        stats.clone(),
    );
    state.keys = cfg.keys.clone();
    state.positions = cfg.cameras.clone();
    state.cases = cfg.cases.clone();
    let watch = state.watch.clone();
    let watch_streams = watch.clone();
    tokio::task::block_in_place(|| -> anyhow::Result<()> {
        watch
            .reload(state.store.get()?.as_mut())
            .context("reading the watch list")
    })?;
    let state = Arc::new(state);
    if cfg.tokens.is_empty() {
        tracing::warn!("no [[tokens]] configured: every API route except health will refuse");
    }

    let work = crate::maintenance::Maintenance {
        retention: cfg.retention_days.clone(),
        blobs: evidence_dir()?,
        embedder: crate::embed::Embedder::load(
            &cfg.embedding.model,
            &cfg.embedding.tokenizer,
            cfg.embedding.ort_library.as_deref(),
        )?,
    };
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("listen {}", cfg.listen))?;
    let scheme = if cfg.http.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(url = %format!("{scheme}://{}/", cfg.listen), db = %shown(&cfg.db), "hub serving");
    let s = stop.clone();
    let limits = crate::http::Limits {
        max_connections: cfg.http.max_connections,
        idle_timeout: Duration::from_secs(cfg.http.idle_timeout_s),
    };
    let tls = match (&cfg.http.tls_cert, &cfg.http.tls_key) {
        (Some(c), Some(k)) => Some(crate::http::tls_config(c, k).map_err(anyhow::Error::msg)?),
        _ => None,
    };
    let http = tokio::spawn(crate::http::serve(listener, router(state), limits, tls, s));

    let db = cfg.db.clone();
    let s = stop.clone();
    let expiry = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        work.run(crate::store::open(&db)?.as_mut(), &s);
        Ok(())
    });

    ingest(
        &cfg,
        ingest_store,
        evidence_dir()?,
        stats.clone(),
        watch,
        stop.clone(),
    )
    .await?;
    stop.store(true, Ordering::Relaxed);
    watch_streams.close();
    http.await??;
    expiry.await??;
    Ok(stats)
}

/// Ingest until `stop`: from a NATS JetStream cluster when `[nats]` is set, else from MQTT.
async fn ingest(
    cfg: &HubConfig,
    store: Box<dyn crate::store::EventStore>,
    evidence: EvidenceStore,
    stats: Arc<IngestStats>,
    watch: Arc<crate::watch::Watch>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let limits = crate::ingest::Limits::from(&cfg.ingest);
    if let Some(n) = cfg.nats.clone() {
        let how = (limits, Some(watch));
        return crate::ingest::nats::run(n, store, evidence, stats, how, stop).await;
    }
    let ingest_cfg = IngestConfig {
        host: cfg.mqtt.host.clone(),
        port: cfg.mqtt.port,
        client_id: cfg
            .mqtt
            .client_id
            .clone()
            .unwrap_or_else(|| crate::config::DEFAULT_CLIENT_ID.into()),
        group: cfg.ingest.group.clone(),
        security: cfg.mqtt.security.clone(),
        limits,
        watch: Some(watch),
    };
    crate::ingest::run(ingest_cfg, store, evidence, stats, stop).await
}

fn shown(db: &str) -> &str {
    // Never log a PostgreSQL password.
    db.rsplit('@').next().unwrap_or(db)
}
