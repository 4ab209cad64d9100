//! MQTT ingest: a shared subscription (several hubs split the load), a persistent session, and
//! manual acknowledgements sent only after the batch holding a message is committed, so a hub
//! crash between receipt and storage makes the broker redeliver rather than lose the event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use matthan_schema::{ALL_EVENTS_FILTER, Event, parse_event_topic};
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;

use crate::evidence::{EVIDENCE_FILTER, EvidenceStore};
use crate::store::EventStore;

#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    /// Shared-subscription group: hubs in one group each get a share of the events.
    pub group: String,
    /// TLS and account settings, validated at config load.
    pub security: matthan_mqtt::Security,
}

#[derive(Debug, Default)]
pub struct IngestStats {
    pub received: AtomicU64,
    pub stored: AtomicU64,
    pub duplicates: AtomicU64,
    pub rejected: AtomicU64,
    pub evidence: AtomicU64,
    /// Transient failures (store down or locked, evidence not written) that were retried.
    pub retried: AtomicU64,
}

/// How far ahead of the hub's clock an event may be dated: edge clocks drift, but an event
/// from the future would sort above every real one in "newest first" and pin a camera's state.
pub const MAX_FUTURE: chrono::Duration = chrono::Duration::minutes(10);

/// Checks one message; the error says why it was refused.
pub fn decode(topic: &str, payload: &[u8]) -> Result<Event, String> {
    let (site, camera, kind) = parse_event_topic(topic)?;
    let e = Event::from_json(payload).map_err(|e| e.to_string())?;
    if (e.site.as_str(), e.camera.as_str(), e.kind()) != (site, camera, kind) {
        return Err(format!(
            "event says {}/{}/{} but came on {topic}",
            e.site,
            e.camera,
            e.kind()
        ));
    }
    let ahead = e.ts - chrono::Utc::now();
    if ahead > MAX_FUTURE {
        return Err(format!(
            "ts: {} is {} min ahead of the hub's clock (at most {} allowed)",
            matthan_schema::format_ts(&e.ts),
            ahead.num_minutes(),
            MAX_FUTURE.num_minutes()
        ));
    }
    Ok(e)
}

/// Runs until `stop`; stores every valid event and acknowledges it after commit.
pub async fn run(
    cfg: IngestConfig,
    mut store: Box<dyn EventStore>,
    evidence: EvidenceStore,
    stats: Arc<IngestStats>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
    opts.set_keep_alive(Duration::from_secs(10));
    opts.set_clean_session(false);
    opts.set_manual_acks(true);
    cfg.security
        .apply(&mut opts)
        .map_err(|r| anyhow::anyhow!("MQTT: {r}"))?;
    // Evidence clips are larger than events; the broker's own limit applies first.
    opts.set_max_packet_size(64 * 1024 * 1024, 64 * 1024);
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);
    let filters = [
        format!("$share/{}/{ALL_EVENTS_FILTER}", cfg.group),
        format!("$share/{}/{EVIDENCE_FILTER}", cfg.group),
    ];
    let (tx, mut rx) = mpsc::channel::<Publish>(4096);

    // Storage on a blocking thread: SQLite calls must not stall the MQTT event loop.
    let writer_client = client.clone();
    let st = stats.clone();
    let writer = tokio::task::spawn_blocking(move || {
        store_loop(&mut rx, store.as_mut(), &evidence, &st, &writer_client)
    });

    while !stop.load(Ordering::Relaxed) {
        let polled = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
        match polled {
            Err(_) => continue,
            Ok(Ok(MqttEvent::Incoming(Packet::ConnAck(ack)))) => {
                tracing::info!(broker = %format!("{}:{}", cfg.host, cfg.port), session_present = ack.session_present, "hub connected");
                // Always subscribe again, even when the broker says the session is present:
                // mosquitto restores a persistent session after its own restart without the
                // shared subscriptions in it, and everything published meanwhile would be
                // lost to this hub. Subscribing twice to the same filter is harmless.
                for f in &filters {
                    client.subscribe(f.clone(), QoS::AtLeastOnce).await?;
                }
            }
            Ok(Ok(MqttEvent::Incoming(Packet::Publish(p)))) => {
                stats.received.fetch_add(1, Ordering::Relaxed);
                if tx.send(p).await.is_err() {
                    break;
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "MQTT connection problem; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    drop(tx);
    // Let acks for the last batch go out before disconnecting.
    let _ = writer.await;
    for _ in 0..10 {
        if tokio::time::timeout(Duration::from_millis(50), eventloop.poll())
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = client.disconnect().await;
    Ok(())
}

/// Stores what the MQTT loop hands over, in batches. A batch is acknowledged to the broker only
/// after it is committed, and the edges of each site get a receipt naming every event and blob
/// committed (or refused for good), which is when they delete them from their outboxes.
fn store_loop(
    rx: &mut mpsc::Receiver<Publish>,
    store: &mut dyn EventStore,
    evidence: &EvidenceStore,
    st: &IngestStats,
    client: &AsyncClient,
) {
    let rt = tokio::runtime::Handle::current();
    let mut batch: Vec<Publish> = Vec::new();
    while let Some(p) = rx.blocking_recv() {
        batch.push(p);
        while batch.len() < 1000 {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let mut receipts = Receipts::default();
        let mut events = Vec::with_capacity(batch.len());
        for p in &batch {
            if p.topic.starts_with("matthan-evidence/") {
                put_evidence(evidence, p, st, &mut receipts);
                continue;
            }
            match decode(&p.topic, &p.payload) {
                Ok(e) => events.push(e),
                Err(reason) => {
                    st.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(topic = %p.topic, bytes = p.payload.len(), %reason, "rejected MQTT payload");
                    if let Some(key) = event_id(&p.payload) {
                        receipts.refused(site_of(&p.topic), key, reason);
                    }
                }
            }
        }
        insert(store, &events, st, &mut receipts);
        for (site, r) in receipts.by_site {
            let topic = matthan_schema::receipt_topic(&site);
            for part in r.split(RECEIPT_KEYS) {
                let sent = rt.block_on(client.publish(
                    topic.clone(),
                    QoS::AtLeastOnce,
                    false,
                    part.to_json(),
                ));
                if let Err(e) = sent {
                    tracing::warn!(error = %e, %site, "receipt not sent; the edge will send again");
                }
            }
        }
        for p in batch.drain(..) {
            let _ = rt.block_on(client.ack(&p));
        }
    }
}

/// Keys per receipt message: a receipt stays far below an edge's 256 KiB incoming limit
/// (a sha256 key and its JSON quoting take about 70 bytes).
const RECEIPT_KEYS: usize = 500;

/// Receipts of one batch, per site.
#[derive(Default)]
struct Receipts {
    by_site: std::collections::BTreeMap<String, matthan_schema::Receipt>,
}

impl Receipts {
    fn entry(&mut self, site: &str) -> &mut matthan_schema::Receipt {
        self.by_site
            .entry(site.to_string())
            .or_insert_with(|| matthan_schema::Receipt::new(Vec::new(), Vec::new()))
    }

    fn stored(&mut self, site: &str, key: String) {
        self.entry(site).stored.push(key);
    }

    fn refused(&mut self, site: &str, key: String, reason: String) {
        self.entry(site)
            .refused
            .push(matthan_schema::Refusal { key, reason });
    }
}

/// The site level of a topic (`matthan/{site}/...`, `matthan-evidence/{site}/...`).
fn site_of(topic: &str) -> &str {
    topic.split('/').nth(1).unwrap_or("")
}

/// The `id` of a payload that did not decode as an event, if it has one: the edge is told the
/// message was refused, so it stops sending it.
fn event_id(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    serde_json::from_slice::<Id>(payload).ok().map(|i| i.id)
}

/// One evidence blob into the store. A blob whose bytes do not match its name is refused for
/// good; a failed write (disk full, too many open files) is not: no receipt, so the edge sends
/// it again.
fn put_evidence(evidence: &EvidenceStore, p: &Publish, st: &IngestStats, r: &mut Receipts) {
    let site = site_of(&p.topic);
    let sha = p.topic.rsplit('/').next().unwrap_or("").to_string();
    match evidence.put(&p.topic, &p.payload) {
        Ok(_) => {
            st.evidence.fetch_add(1, Ordering::Relaxed);
            r.stored(site, sha);
        }
        Err(crate::evidence::PutError::Invalid(reason)) => {
            tracing::warn!(topic = %p.topic, %reason, "rejected evidence blob");
            st.rejected.fetch_add(1, Ordering::Relaxed);
            r.refused(site, sha, reason);
        }
        Err(crate::evidence::PutError::Io(reason)) => {
            tracing::warn!(topic = %p.topic, %reason, "evidence blob not written; the edge will send it again");
            st.retried.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Commits the batch's events. A failing batch is tried again event by event: an event that
/// fails alone while others commit is refused for good; when nothing commits (the database is
/// down, locked or read-only) the batch waits and tries again, so nothing is confirmed or
/// acknowledged unstored.
fn insert(store: &mut dyn EventStore, events: &[Event], st: &IngestStats, r: &mut Receipts) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let err = match store.insert(events) {
            Ok(new) => {
                st.stored.fetch_add(new as u64, Ordering::Relaxed);
                st.duplicates
                    .fetch_add((events.len() - new) as u64, Ordering::Relaxed);
                for e in events {
                    r.stored(&e.site, e.id.to_string());
                }
                return;
            }
            Err(e) => e,
        };
        let mut failed = Vec::new();
        if events.len() == 1 && err.is_permanent() {
            let e = &events[0];
            tracing::warn!(id = %e.id, reason = %err, "event refused by the store");
            st.rejected.fetch_add(1, Ordering::Relaxed);
            r.refused(&e.site, e.id.to_string(), err.to_string());
            return;
        }
        if events.len() > 1 {
            for e in events {
                match store.insert(std::slice::from_ref(e)) {
                    Ok(new) => {
                        st.stored.fetch_add(new as u64, Ordering::Relaxed);
                        st.duplicates.fetch_add(1 - new as u64, Ordering::Relaxed);
                        r.stored(&e.site, e.id.to_string());
                    }
                    Err(err) => failed.push((e, err)),
                }
            }
            if failed.len() < events.len() || failed.iter().all(|(_, e)| e.is_permanent()) {
                for (e, reason) in failed {
                    tracing::warn!(id = %e.id, %reason, "event refused by the store");
                    st.rejected.fetch_add(1, Ordering::Relaxed);
                    r.refused(&e.site, e.id.to_string(), reason.to_string());
                }
                return;
            }
        }
        // Nothing commits: the store, not the events, is the problem. Wait and try again.
        tracing::error!(error = %err, retry_in = ?backoff, "cannot store events; retrying");
        st.retried.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
