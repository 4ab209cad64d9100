//! JetStream ingest, for the cluster deployment (`docs/deployment.md`): edges keep speaking
//! MQTT, to nats-server's MQTT listener, which turns each topic into a subject; a JetStream
//! stream (replicated across the cluster) keeps every event and evidence message, and all hubs
//! pull from one durable consumer, each getting a share. A message is acknowledged only after
//! the batch holding it is committed, so a hub killed mid-batch leaves its messages to be
//! delivered again (to another hub, after `ack_wait`), and the upsert by event id stores each
//! once. Receipts and watch hits go back as NATS messages on the receipt topics' subjects,
//! which the server delivers to the edges' MQTT subscriptions.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::{Incoming, IngestStats, Limits, Link, spawn_writer};
use crate::evidence::EvidenceStore;
use crate::store::EventStore;

/// `[nats]` in the hub's config: present, the hub ingests from JetStream instead of MQTT.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// Servers of the cluster (`nats://host:4222`), the nearest first; the hub moves to the
    /// next when one fails.
    pub servers: Vec<String>,
    /// The stream holding edges' messages; created when missing.
    #[serde(default = "d_stream")]
    pub stream: String,
    /// Copies of each message across the cluster (3 survives one node lost).
    #[serde(default = "d_replicas")]
    pub replicas: usize,
    /// The durable consumer every hub of the deployment shares.
    #[serde(default = "d_consumer")]
    pub consumer: String,
    /// Seconds a delivered message may go unacknowledged before JetStream delivers it again
    /// (a hub that died holding it).
    #[serde(default = "d_ack_wait")]
    pub ack_wait_s: u64,
}

impl NatsConfig {
    /// Key and reason of the first bad setting.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.servers.is_empty() || self.servers.iter().any(|s| !s.starts_with("nats://")) {
            return Err(("nats.servers", "one or more nats://host:port URLs".into()));
        }
        if !(1..=5).contains(&self.replicas) {
            return Err(("nats.replicas", "1 to 5 (JetStream's limit)".into()));
        }
        if self.ack_wait_s < 5 {
            return Err(("nats.ack_wait_s", "at least 5 seconds".into()));
        }
        for (key, v) in [
            ("nats.stream", &self.stream),
            ("nats.consumer", &self.consumer),
        ] {
            if v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err((key, format!("{v:?}: letters, digits, '-' and '_' only")));
            }
        }
        Ok(())
    }
}

fn d_stream() -> String {
    "MATTHAN".into()
}
fn d_replicas() -> usize {
    1
}
fn d_consumer() -> String {
    "hubs".into()
}
fn d_ack_wait() -> u64 {
    30
}

/// Event topics are `matthan/{site}/{camera}/{kind}`, evidence `matthan-evidence/{site}/{sha}`:
/// exactly these levels (signal states and requests are deeper and are not the hub's).
const SUBJECTS: [&str; 2] = ["matthan.*.*.*", "matthan-evidence.*.*"];
/// Evidence clips are larger than events; the server's `max_payload` must allow it too.
const MAX_MESSAGE: i32 = 16 * 1024 * 1024;

/// Runs until `stop`: connects (retrying while the cluster is down), makes sure the stream and
/// the durable consumer exist, and feeds the same writer as MQTT ingest.
pub async fn run(
    cfg: NatsConfig,
    store: Box<dyn EventStore>,
    evidence: EvidenceStore,
    stats: Arc<IngestStats>,
    (limits, watch): (Limits, Option<Arc<crate::watch::Watch>>),
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let servers = cfg
        .servers
        .iter()
        .map(|s| s.parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()?;
    // Connects in the background and keeps reconnecting; the list's first server first (a hub
    // placed beside a node prefers it), then the others in turn.
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .retain_servers_order()
        .connect(servers.as_slice())
        .await?;
    let (tx, rx) = mpsc::channel::<Incoming>(4096);
    let writer = spawn_writer(
        store,
        evidence,
        stats.clone(),
        (limits, watch),
        rx,
        Link::Nats(client.clone()),
    );
    let js = jetstream::new(client);
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = consume(&cfg, &js, &tx, &stats, &stop).await {
            stats.subscribed.store(false, Ordering::Relaxed);
            tracing::warn!(error = %e, "JetStream consumer interrupted; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    stats.subscribed.store(false, Ordering::Relaxed);
    drop(tx);
    // Acks for the last batch go out before the connection closes.
    let _ = writer.await;
    Ok(())
}

/// Pulls from the durable consumer until `stop` or an error.
async fn consume(
    cfg: &NatsConfig,
    js: &jetstream::Context,
    tx: &mpsc::Sender<Incoming>,
    stats: &IngestStats,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let stream = js
        .get_or_create_stream(stream::Config {
            name: cfg.stream.clone(),
            subjects: SUBJECTS.iter().map(|s| s.to_string()).collect(),
            num_replicas: cfg.replicas,
            storage: stream::StorageType::File,
            // The hubs' one consumer takes each message once; its ack removes it, so the
            // nodes' disks hold the backlog only (with the default, limits, the stream grew
            // by every event the city ever sent). A stream made before keeps its policy.
            retention: stream::RetentionPolicy::WorkQueue,
            max_message_size: MAX_MESSAGE,
            ..Default::default()
        })
        .await?;
    let consumer: jetstream::consumer::PullConsumer = stream
        .get_or_create_consumer(
            &cfg.consumer,
            pull::Config {
                durable_name: Some(cfg.consumer.clone()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(cfg.ack_wait_s),
                max_ack_pending: 20_000,
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer.messages().await?;
    stats.subscribed.store(true, Ordering::Relaxed);
    tracing::info!(stream = %cfg.stream, consumer = %cfg.consumer, "hub consuming from JetStream");
    while !stop.load(Ordering::Relaxed) {
        let next = tokio::time::timeout(Duration::from_millis(200), messages.next()).await;
        match next {
            Err(_) => continue,
            Ok(None) => anyhow::bail!("the consumer's message stream ended"),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(Some(Ok(m))) => {
                stats.received.fetch_add(1, Ordering::Relaxed);
                if tx.send(Incoming::nats(m)).await.is_err() {
                    break;
                }
            }
        }
    }
    Ok(())
}
