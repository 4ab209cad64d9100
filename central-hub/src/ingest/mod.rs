//! MQTT ingest: a shared subscription (several hubs split the load), a persistent session, and
//! manual acknowledgements sent only after the batch holding a message is committed, so a hub
//! crash between receipt and storage makes the broker redeliver rather than lose the event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use matthan_schema::{ALL_EVENTS_FILTER, Event, parse_event_topic};
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS, SubscribeReasonCode};
use tokio::sync::mpsc;

use crate::evidence::{EVIDENCE_FILTER, EvidenceStore};
use crate::store::{DeadLetter, EventStore, SetAside};

mod link;
pub mod nats;
mod quota;

pub use link::{Incoming, subject_to_topic, topic_to_subject};
use link::{Link, Outgoing};

#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    /// Shared-subscription group: hubs in one group each get a share of the events.
    pub group: String,
    /// TLS and account settings, validated at config load.
    pub security: matthan_mqtt::Security,
    pub limits: Limits,
    /// The watch list stored plates are checked against (none: no checks).
    pub watch: Option<Arc<crate::watch::Watch>>,
}

/// What the hub accepts beyond a message's own validity.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Events dated further back are quarantined.
    pub max_age: chrono::Duration,
    /// Per site, bytes of evidence blobs not yet named by a stored event.
    pub evidence_quota: u64,
}

impl Default for Limits {
    fn default() -> Self {
        let d = crate::config::IngestConfig::default();
        Self::from(&d)
    }
}

impl From<&crate::config::IngestConfig> for Limits {
    fn from(c: &crate::config::IngestConfig) -> Self {
        Self {
            max_age: chrono::Duration::days(c.max_age_days as i64),
            evidence_quota: c.evidence_quota_mib * 1024 * 1024,
        }
    }
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
    /// Valid events dated too far in the past, kept aside (see `store::SetAside`).
    pub quarantined: AtomicU64,
    /// Connected to the broker with every subscription acknowledged: events flow.
    pub subscribed: std::sync::atomic::AtomicBool,
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
    store: Box<dyn EventStore>,
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
    let (tx, rx) = mpsc::channel::<Incoming>(4096);
    let writer = spawn_writer(
        store,
        evidence,
        stats.clone(),
        (cfg.limits, cfg.watch.clone()),
        rx,
        Link::Mqtt(client.clone()),
    );

    let mut granted = 0;
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
                granted = 0;
                for f in &filters {
                    client.subscribe(f.clone(), QoS::AtLeastOnce).await?;
                }
            }
            Ok(Ok(MqttEvent::Incoming(Packet::SubAck(ack)))) => {
                // One filter per SUBSCRIBE. A refusal means the account lacks the right (see
                // configs/broker-accounts.toml): health must not say "subscribed" then.
                if ack
                    .return_codes
                    .iter()
                    .all(|c| matches!(c, SubscribeReasonCode::Success(_)))
                {
                    granted += 1;
                } else {
                    tracing::error!(filters = ?filters, "the broker refused this hub's subscription: does its account have the hub role?");
                }
                stats
                    .subscribed
                    .store(granted == filters.len(), Ordering::Relaxed);
            }
            Ok(Ok(MqttEvent::Incoming(Packet::Publish(p)))) => {
                stats.received.fetch_add(1, Ordering::Relaxed);
                if tx.send(Incoming::mqtt(p)).await.is_err() {
                    break;
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                stats.subscribed.store(false, Ordering::Relaxed);
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

/// The writer on a blocking thread (SQLite calls must not stall the network loop), storing
/// what `rx` brings and acknowledging and answering through `link`.
fn spawn_writer(
    mut store: Box<dyn EventStore>,
    evidence: EvidenceStore,
    st: Arc<IngestStats>,
    (limits, watch): (Limits, Option<Arc<crate::watch::Watch>>),
    mut rx: mpsc::Receiver<Incoming>,
    link: Link,
) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        let mut w = Writer {
            store: store.as_mut(),
            evidence: &evidence,
            st: &st,
            limits,
            quota: quota::Quota::new(limits.evidence_quota, crate::server::EVIDENCE_GRACE),
            watch,
        };
        store_loop(&mut rx, &mut w, &link)
    })
}

/// Stores what the network loop hands over, in batches. A batch is acknowledged to the broker only
/// after it is committed, and the edges of each site get a receipt naming every event and blob
/// committed (or refused for good), which is when they delete them from their outboxes.
/// Messages acknowledged without being stored as events are written to the dead-letter table
/// first, in the same wait-until-stored way.
fn store_loop(rx: &mut mpsc::Receiver<Incoming>, w: &mut Writer, link: &Link) {
    let rt = tokio::runtime::Handle::current();
    let mut batch: Vec<Incoming> = Vec::new();
    let mut owed = link::Owed::default();
    loop {
        let first = if owed.is_empty() {
            rx.blocking_recv()
        } else {
            // Something is still owed to the network loop: wake up to offer it again.
            match rt.block_on(tokio::time::timeout(Duration::from_millis(50), rx.recv())) {
                Ok(m) => m,
                Err(_) => {
                    owed.flush(link, &rt);
                    continue;
                }
            }
        };
        let Some(p) = first else { break };
        batch.push(p);
        while batch.len() < 1000 {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        store_batch(w, &mut batch, &mut owed);
        owed.flush(link, &rt);
    }
    let left = owed.abandon();
    if left > 0 {
        tracing::info!(
            left,
            "stopping with acks or receipts not handed over; the broker delivers those messages again"
        );
    }
}

/// Stores one batch; what to acknowledge and publish for it goes to `owed`, in order.
fn store_batch(w: &mut Writer, batch: &mut Vec<Incoming>, owed: &mut link::Owed) {
    let mut out = Outcome::default();
    let mut events = Vec::with_capacity(batch.len());
    for p in batch.iter() {
        if p.topic.starts_with("matthan-evidence/") {
            w.put_evidence(p, &mut out);
        } else if let Some(e) = w.admit(p, &mut out) {
            events.push(e);
        }
    }
    w.insert(&events, &mut out);
    for h in w.watch(&events) {
        // Also on the broker, for other systems and the site's edges (at least once: a
        // listener keys on entry and event).
        let topic = format!("{WATCH_ROOT}/{}", h.site);
        let mut body = serde_json::to_value(&h).expect("hits serialise");
        body["schema"] = WATCH_SCHEMA.into();
        owed.push(Outgoing::Publish(topic, body.to_string().into_bytes()));
    }
    w.set_aside(&out.letters);
    for (site, r) in out.receipts.by_site {
        let topic = matthan_schema::receipt_topic(&site);
        for part in r.split(RECEIPT_KEYS) {
            owed.push(Outgoing::Publish(topic.clone(), part.to_json()));
        }
    }
    for p in batch.drain(..) {
        owed.push(Outgoing::Ack(p));
    }
}

/// Watch-list hits go out on `matthan-watch/{site}` (JSON of `WatchHit`).
pub const WATCH_ROOT: &str = "matthan-watch";
pub const WATCH_SCHEMA: &str = "matthan.watch-hit/1";

/// What one batch produced besides stored events: receipts for the edges and dead letters.
#[derive(Default)]
struct Outcome {
    receipts: Receipts,
    letters: Vec<DeadLetter>,
}

impl Outcome {
    /// A message refused for good: the edge is told (when its id is known) and the message
    /// goes to the dead-letter table with the reason.
    fn refuse(&mut self, topic: &str, key: Option<String>, reason: String, payload: &[u8]) {
        if let Some(key) = key {
            self.receipts.refused(site_of(topic), key, reason.clone());
        }
        self.letters
            .push(DeadLetter::new(topic, SetAside::Refused, reason, payload));
    }
}

struct Writer<'a> {
    store: &'a mut dyn EventStore,
    evidence: &'a EvidenceStore,
    st: &'a IngestStats,
    limits: Limits,
    quota: quota::Quota,
    watch: Option<Arc<crate::watch::Watch>>,
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

impl Writer<'_> {
    /// Decodes one event message; refused and quarantined ones are set aside.
    fn admit(&mut self, p: &Incoming, out: &mut Outcome) -> Option<Event> {
        let e = match decode(&p.topic, &p.payload) {
            Ok(e) => e,
            Err(reason) => {
                self.st.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(topic = %p.topic, bytes = p.payload.len(), %reason, "rejected MQTT payload");
                out.refuse(&p.topic, event_id(&p.payload), reason, &p.payload);
                return None;
            }
        };
        let age = chrono::Utc::now() - e.ts;
        if age > self.limits.max_age {
            let reason = format!(
                "quarantined: ts {} is {} days old (at most {} accepted); is the edge's clock right?",
                matthan_schema::format_ts(&e.ts),
                age.num_days(),
                self.limits.max_age.num_days()
            );
            tracing::warn!(topic = %p.topic, id = %e.id, %reason, "event quarantined");
            self.st.quarantined.fetch_add(1, Ordering::Relaxed);
            out.receipts
                .refused(&e.site, e.id.to_string(), reason.clone());
            out.letters.push(DeadLetter::new(
                &p.topic,
                SetAside::Quarantined,
                reason,
                &p.payload,
            ));
            return None;
        }
        Some(e)
    }

    /// One evidence blob into the store. A blob whose bytes do not match its name is refused
    /// for good; a failed write (disk full, too many open files) or a site over its quota is
    /// not: no receipt, so the edge sends it again.
    fn put_evidence(&mut self, p: &Incoming, out: &mut Outcome) {
        let site = site_of(&p.topic);
        let sha = p.topic.rsplit('/').next().unwrap_or("").to_string();
        let len = p.payload.len() as u64;
        let known = self.evidence.has(&sha);
        if !known {
            match self.quota.admits(site, len, self.store) {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(%site, bytes = len, "site over its evidence quota; the edge keeps the blob");
                    self.st.retried.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "evidence quota unknown; the edge will send again");
                    self.st.retried.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
        match self.evidence.put(&p.topic, &p.payload) {
            Ok(_) => {
                self.st.evidence.fetch_add(1, Ordering::Relaxed);
                if !known {
                    self.quota.stored(site, sha.clone(), len);
                }
                out.receipts.stored(site, sha);
            }
            Err(crate::evidence::PutError::Invalid(reason)) => {
                tracing::warn!(topic = %p.topic, %reason, "rejected evidence blob");
                self.st.rejected.fetch_add(1, Ordering::Relaxed);
                out.refuse(&p.topic, Some(sha), reason, &p.payload);
            }
            Err(crate::evidence::PutError::Io(reason)) => {
                tracing::warn!(topic = %p.topic, %reason, "evidence blob not written; the edge will send it again");
                self.st.retried.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Commits the batch's events. A failing batch is tried again event by event: an event the
    /// store refuses for what it is (a permanent error) is refused for good; events that failed
    /// for the database's sake (locked, busy, down, read-only, full) wait and are tried again,
    /// so nothing is confirmed or acknowledged unstored, and nothing is refused for a fault
    /// that clears.
    fn insert(&mut self, events: &[Event], out: &mut Outcome) {
        let st = self.st;
        let mut backoff = Backoff::default();
        let mut todo: Vec<Event> = events.to_vec();
        loop {
            let err = match self.store.insert(&todo) {
                Ok(new) => {
                    st.stored.fetch_add(new as u64, Ordering::Relaxed);
                    st.duplicates
                        .fetch_add((todo.len() - new) as u64, Ordering::Relaxed);
                    for e in &todo {
                        out.receipts.stored(&e.site, e.id.to_string());
                    }
                    return;
                }
                Err(e) => e,
            };
            let mut again = Vec::new();
            if todo.len() == 1 {
                if err.is_permanent() {
                    self.refused_by_store(&todo[0], &err, out);
                } else {
                    again = todo;
                }
            } else {
                for e in todo {
                    match self.store.insert(std::slice::from_ref(&e)) {
                        Ok(new) => {
                            st.stored.fetch_add(new as u64, Ordering::Relaxed);
                            st.duplicates.fetch_add(1 - new as u64, Ordering::Relaxed);
                            out.receipts.stored(&e.site, e.id.to_string());
                        }
                        Err(err) if err.is_permanent() => self.refused_by_store(&e, &err, out),
                        Err(_) => again.push(e),
                    }
                }
            }
            if again.is_empty() {
                return;
            }
            // The store, not the events, is the problem: wait and try those again.
            backoff.wait(st, &err);
            todo = again;
        }
    }

    /// Checks the stored events' plates against the watch list, as they are stored (a hit is
    /// due within seconds of the reading). A hit that cannot be recorded now is logged; the
    /// event itself is stored and searchable.
    fn watch(&mut self, events: &[Event]) -> Vec<crate::watch::WatchHit> {
        let Some(watch) = &self.watch else {
            return Vec::new();
        };
        let hits = watch.check(events, chrono::Utc::now());
        if hits.is_empty() {
            return Vec::new();
        }
        watch.raise(self.store, hits).unwrap_or_else(|e| {
            tracing::error!(error = %e, "watch-list hits not recorded");
            Vec::new()
        })
    }

    fn refused_by_store(&self, e: &Event, err: &crate::store::StoreError, out: &mut Outcome) {
        tracing::warn!(id = %e.id, reason = %err, "event refused by the store");
        self.st.rejected.fetch_add(1, Ordering::Relaxed);
        out.refuse(
            &e.topic(),
            Some(e.id.to_string()),
            format!("refused by the store: {err}"),
            &e.to_json(),
        );
    }

    /// Writes the batch's dead letters before anything is confirmed, retrying while the store
    /// cannot take them (a refused message must leave a trace, not just a log line).
    fn set_aside(&mut self, letters: &[DeadLetter]) {
        if letters.is_empty() {
            return;
        }
        let mut backoff = Backoff::default();
        while let Err(err) = self.store.set_aside(letters) {
            backoff.wait(self.st, &err);
        }
    }
}

/// Exponential wait between tries while the store is unavailable, 200 ms up to 5 s.
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(Duration::from_millis(200))
    }
}

impl Backoff {
    fn wait(&mut self, st: &IngestStats, err: &crate::store::StoreError) {
        tracing::error!(error = %err, retry_in = ?self.0, "cannot store; retrying");
        st.retried.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(self.0);
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
    }
}
