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
}

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

/// Stores what the MQTT loop hands over, in batches, and acknowledges each batch only after it
/// is committed (an error leaves it unacknowledged, so the broker redelivers it).
fn store_loop(
    rx: &mut mpsc::Receiver<Publish>,
    store: &mut dyn EventStore,
    evidence: &EvidenceStore,
    st: &IngestStats,
    client: &AsyncClient,
) {
    let rt = tokio::runtime::Handle::current();
    let mut batch: Vec<Publish> = Vec::new();
    loop {
        match rx.blocking_recv() {
            Some(p) => batch.push(p),
            None => break,
        }
        while batch.len() < 1000 {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let mut events = Vec::with_capacity(batch.len());
        for p in &batch {
            if p.topic.starts_with("matthan-evidence/") {
                match evidence.put(&p.topic, &p.payload) {
                    Ok(_) => st.evidence.fetch_add(1, Ordering::Relaxed),
                    Err(reason) => {
                        tracing::warn!(topic = %p.topic, %reason, "rejected evidence blob");
                        st.rejected.fetch_add(1, Ordering::Relaxed)
                    }
                };
                continue;
            }
            match decode(&p.topic, &p.payload) {
                Ok(e) => events.push(e),
                Err(reason) => {
                    st.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(topic = %p.topic, bytes = p.payload.len(), %reason, "rejected MQTT payload");
                }
            }
        }
        match store.insert(&events) {
            Ok(new) => {
                st.stored.fetch_add(new as u64, Ordering::Relaxed);
                st.duplicates
                    .fetch_add((events.len() - new) as u64, Ordering::Relaxed);
            }
            Err(e) => {
                // Unacknowledged, so the broker redelivers once storage is back.
                tracing::error!(error = %e, "cannot store events; leaving them unacknowledged");
                batch.clear();
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        }
        for p in batch.drain(..) {
            let _ = rt.block_on(client.ack(&p));
        }
    }
}
