//! Publishing from the outbox to the broker, on a thread of its own (a small tokio runtime).
//!
//! The pipeline writes events into the outbox (durably) and returns; this thread drains the
//! outbox over MQTT at QoS 1. A broker acknowledges QoS 1 messages in the order it received them
//! (MQTT 3.1.1 §4.6), so PUBACKs map to rows through one FIFO per connection. A PUBACK only
//! means the broker has the message, and a broker can lose it (a restart before its save, a hub
//! subscription it did not restore), so by default a row is deleted when a hub's receipt on
//! `matthan-receipt/{site}` says the message is committed; one the broker acknowledged but no
//! hub confirmed within `outbox.receipt_timeout_s` is sent again. Each connection gets a fresh
//! client, so nothing is retransmitted behind our back: after a reconnect, everything
//! unconfirmed is sent again from the outbox (a duplicate at worst, which the hub ignores by
//! event id and evidence hash).
//!
//! After an outage, messages produced since the reconnect go first and the backlog drains in
//! order at `outbox.backlog_rate` messages per second, so live events are not stuck behind hours
//! of old ones.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use matthan_schema::{Body, EdgeState, EdgeStatus, Event, Kind};
use rumqttc::{AsyncClient, LastWill, MqttOptions, QoS};
use tokio::sync::mpsc;

use self::poller::{Notice, spawn_poller};

use crate::config::EdgeConfig;
use crate::metrics::Metrics;
use crate::outbox::{Message, Outbox, OutboxError, Priority};

mod poller;

/// Largest message sent: an evidence clip with room to spare (the hub accepts up to 64 MiB).
pub const MAX_PACKET: usize = 16 * 1024 * 1024;
/// Messages in flight on one connection (under rumqttc's own limit of 100).
const WINDOW: usize = 64;
/// How long `finish` keeps trying to empty the outbox before leaving the rest for next start.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Default, Clone, Copy)]
pub struct PublishStats {
    pub published: u64,
    /// Acknowledged by the broker.
    pub acked: u64,
    /// Sent again because no hub confirmed them in time.
    pub resent: u64,
    pub reconnects: u64,
    /// Left in the outbox at exit (sent on the next start).
    pub pending: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("cannot start the publisher thread: {0}")]
    Thread(std::io::Error),
    #[error("MQTT TLS: {0}")]
    Tls(String),
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn retained(kind: Kind) -> bool {
    matches!(kind, Kind::CameraStatus | Kind::EdgeStatus)
}

/// An event as an outbox message.
pub fn message(e: &Event) -> Message {
    Message {
        key: e.id.to_string(),
        topic: e.topic(),
        payload: e.to_json(),
        retain: retained(e.kind()),
        priority: Priority::of(e.kind()),
    }
}

/// An evidence blob as an outbox message.
pub fn blob(site: &str, sha256: &str, payload: &[u8]) -> Message {
    Message {
        key: sha256.to_string(),
        topic: matthan_schema::evidence_topic(site, sha256),
        payload: payload.to_vec(),
        retain: false,
        priority: Priority::Evidence,
    }
}

/// An edge status event carrying the outbox's backlog and drop counts.
pub fn edge_status(cfg: &EdgeConfig, state: EdgeState, dropped: u64, pending: u64) -> Event {
    Event::new(
        &cfg.site,
        &cfg.edge_id,
        Utc::now(),
        Body::EdgeStatus(EdgeStatus {
            state,
            cameras: cfg.cameras.iter().map(|c| c.id.clone()).collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            outbox_dropped: dropped,
            outbox_pending: pending,
        }),
    )
}

pub struct Publisher {
    outbox: Outbox,
    closing: Arc<AtomicBool>,
    /// When draining must end, set by `finish_by` before `closing`.
    drain_by: Arc<std::sync::Mutex<Option<Instant>>>,
    thread: std::thread::JoinHandle<PublishStats>,
    status: (EdgeConfig, u64),
    incoming: Option<Incoming>,
    /// Messages sent at once, at most once, never stored (`send_now`).
    direct: std::sync::mpsc::Sender<(String, Vec<u8>)>,
}

/// Where messages on subscribed topics go.
type Forward = std::sync::mpsc::Sender<(String, Vec<u8>)>;

/// Messages received on subscribed topics (junction controllers' signal states and requests).
pub type Incoming = std::sync::mpsc::Receiver<(String, Vec<u8>)>;

impl Publisher {
    pub fn start(cfg: &EdgeConfig, metrics: Arc<Metrics>) -> Result<Self, PublishError> {
        let path = cfg.outbox_path();
        let budget = cfg.outbox.budget_mb * 1024 * 1024;
        let mut outbox = Outbox::open(&path, budget)?;
        if cfg.outbox.record_produced {
            outbox.record_produced()?;
        }
        let dropped: u64 = outbox.dropped()?.iter().map(|(_, n)| n).sum();
        let pending = outbox.len()?;
        if pending > 0 {
            tracing::info!(pending, outbox = %path.display(), "outbox holds messages from an earlier run; sending them first");
        }
        outbox.push(&[message(&edge_status(
            cfg,
            EdgeState::Online,
            dropped,
            pending,
        ))])?;

        let mut opts = MqttOptions::new(cfg.client_id(), cfg.mqtt.host.clone(), cfg.mqtt.port);
        opts.set_keep_alive(Duration::from_secs(cfg.mqtt.keep_alive_s));
        // Evidence clips and full-resolution images are blobs of up to a few MB; rumqttc's
        // default 10 KB limit would refuse them and drop the connection on every retry.
        // Incoming: signal states and hubs' receipts (at most 500 keys, ~35 KiB).
        opts.set_max_packet_size(256 * 1024, MAX_PACKET);
        opts.set_clean_session(true);
        cfg.mqtt
            .security
            .apply(&mut opts)
            .map_err(PublishError::Tls)?;
        let will = edge_status(cfg, EdgeState::Offline, dropped, 0);
        opts.set_last_will(LastWill::new(
            will.topic(),
            will.to_json(),
            QoS::AtLeastOnce,
            true,
        ));
        let closing = Arc::new(AtomicBool::new(false));
        let drain_by = Arc::new(std::sync::Mutex::new(None));
        // Red-light rules judge crossings by the controllers' signal states, when they send them;
        // junctions under live control take their controller's requests.
        let wants_signals = cfg
            .cameras
            .iter()
            .any(|c| c.violations.iter().any(|v| v.build.reads_signals()));
        let answers = cfg.junctions.iter().any(|j| j.answer_requests);
        let subscribe: Vec<String> = [
            wants_signals.then(|| matthan_schema::signal_state_filter(&cfg.site)),
            answers.then(|| matthan_schema::signal_request_filter(&cfg.site)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let (stx, srx) = std::sync::mpsc::channel();
        let (dtx, drx) = std::sync::mpsc::channel();
        let incoming = (!subscribe.is_empty()).then_some(srx);
        let worker = Worker {
            subscribe,
            forward: stx,
            direct: std::sync::Mutex::new(drx),
            receipts: cfg
                .outbox
                .receipt_timeout
                .map(|t| (matthan_schema::receipt_topic(&cfg.site), t)),
            path,
            budget,
            opts,
            endpoint: cfg.mqtt.endpoint(),
            backlog_rate: cfg.outbox.backlog_rate as f64,
            closing: closing.clone(),
            drain_by: drain_by.clone(),
            metrics,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(PublishError::Thread)?;
        let thread = std::thread::Builder::new()
            .name("mqtt-publish".into())
            .spawn(move || rt.block_on(worker.run()))
            .map_err(PublishError::Thread)?;
        Ok(Self {
            outbox,
            closing,
            drain_by,
            thread,
            status: (cfg.clone(), dropped),
            incoming,
            direct: dtx,
        })
    }

    /// Messages from junction controllers (signal states, requests); None unless a red-light
    /// rule reads signal states or a junction answers requests.
    pub fn take_incoming(&mut self) -> Option<Incoming> {
        self.incoming.take()
    }

    /// Sends `m` now at QoS 0 without storing it: for answers that are worthless once late (a
    /// green decision past its deadline). Dropped, with a warning, while the broker is away.
    pub fn send_now(&self, topic: String, payload: Vec<u8>) {
        let _ = self.direct.send((topic, payload));
    }

    /// Makes messages durable in the outbox; once this returns they survive a crash.
    pub fn push(&mut self, messages: &[Message]) -> Result<(), OutboxError> {
        self.outbox.push(messages)
    }

    /// The same, with file cameras' positions in the same commit.
    pub fn push_with(
        &mut self,
        messages: &[Message],
        progress: &[crate::outbox::Progress],
    ) -> Result<(), OutboxError> {
        self.outbox.push_with(messages, progress)
    }

    /// Where a file camera got to in an earlier run.
    pub fn progress(&self, camera: &str) -> Result<Option<(String, i64)>, OutboxError> {
        self.outbox.progress(camera)
    }

    /// Messages waiting and messages dropped for lack of disk, for status reports.
    pub fn backlog(&self) -> (u64, u64) {
        let pending = self.outbox.len().unwrap_or(0);
        let dropped = self
            .outbox
            .dropped()
            .map(|d| d.iter().map(|(_, n)| n).sum())
            .unwrap_or(0);
        (pending, dropped)
    }

    /// Messages the broker acknowledged that no hub has confirmed yet.
    pub fn awaiting_receipt(&self) -> u64 {
        self.outbox.awaiting_receipt().unwrap_or(0)
    }

    /// Queues the offline status, then waits (at most `DRAIN_TIMEOUT`) for the outbox to empty.
    pub fn finish(self) -> PublishStats {
        self.finish_by(Instant::now() + DRAIN_TIMEOUT)
    }

    /// The same, waiting no later than `by` (a stop request's own deadline): what is left goes
    /// out on the next start.
    pub fn finish_by(mut self, by: Instant) -> PublishStats {
        *self.drain_by.lock().expect("drain lock") = Some(by);
        let (pending, dropped) = self.backlog();
        let offline = edge_status(
            &self.status.0,
            EdgeState::Offline,
            dropped.max(self.status.1),
            pending,
        );
        if let Err(e) = self.outbox.push(&[message(&offline)]) {
            tracing::error!(error = %e, "cannot queue the offline status");
        }
        self.closing.store(true, Ordering::Relaxed);
        let mut stats = self.thread.join().unwrap_or_default();
        stats.pending = self.outbox.len().unwrap_or(0);
        if stats.pending > 0 {
            tracing::warn!(
                pending = stats.pending,
                "outbox not empty at exit; the rest goes out on the next start"
            );
        }
        stats
    }
}

struct Worker {
    /// Topic filters to subscribe to on every connection, and where their messages go.
    subscribe: Vec<String>,
    forward: Forward,
    direct: std::sync::Mutex<std::sync::mpsc::Receiver<(String, Vec<u8>)>>,
    /// The site's receipt topic and how long to wait for a receipt before sending again; None
    /// when the broker's acknowledgement is enough.
    receipts: Option<(String, Duration)>,
    path: PathBuf,
    budget: u64,
    opts: MqttOptions,
    endpoint: String,
    backlog_rate: f64,
    closing: Arc<AtomicBool>,
    drain_by: Arc<std::sync::Mutex<Option<Instant>>>,
    metrics: Arc<Metrics>,
}

impl Worker {
    /// When draining must end (once closing).
    fn drain_deadline(&self) -> Instant {
        self.drain_by
            .lock()
            .expect("drain lock")
            .unwrap_or_else(|| Instant::now() + DRAIN_TIMEOUT)
    }

    async fn run(self) -> PublishStats {
        let mut stats = PublishStats::default();
        let mut outbox = match Outbox::open(&self.path, self.budget) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "publisher cannot open the outbox");
                return stats;
            }
        };
        let mut backoff = Duration::from_millis(250);
        let mut deadline: Option<Instant> = None;
        let acked = Arc::new(AtomicU64::new(0));
        loop {
            let closing = self.closing.load(Ordering::Relaxed);
            if closing {
                let d = *deadline.get_or_insert_with(|| self.drain_deadline());
                if outbox.is_empty().unwrap_or(true) || Instant::now() >= d {
                    break;
                }
            }
            match self
                .connection(&mut outbox, &mut stats, &acked, &mut deadline)
                .await
            {
                Ok(()) => break,
                Err(reason) => {
                    stats.reconnects += 1;
                    self.metrics.reconnects.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(broker = %self.endpoint, %reason, retry_in = ?backoff, "MQTT connection down; events wait in the outbox");
                    // Jitter keeps a fleet of edges from reconnecting in lockstep.
                    let jitter =
                        Duration::from_millis((Utc::now().timestamp_subsec_millis() % 250) as u64);
                    let until = Instant::now() + backoff + jitter;
                    self.back_off(until, closing, &mut deadline).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        stats.acked = acked.load(Ordering::Relaxed);
        stats
    }

    /// Waits out a reconnect backoff. A stop asked for during the wait ends it (the drain tries at
    /// once); later waits end at the drain deadline: retrying at once spun a core and logged
    /// ~25,000 warnings a second for the whole drain when the broker was down at shutdown.
    async fn back_off(&self, until: Instant, was_closing: bool, deadline: &mut Option<Instant>) {
        loop {
            let closing = self.closing.load(Ordering::Relaxed);
            if closing && !was_closing {
                return;
            }
            let end = if closing {
                until.min(*deadline.get_or_insert_with(|| self.drain_deadline()))
            } else {
                until
            };
            let now = Instant::now();
            if now >= end {
                return;
            }
            tokio::time::sleep((end - now).min(Duration::from_millis(100))).await;
        }
    }

    /// Publishes one outbox row and tracks it until its PUBACK.
    async fn send(
        &self,
        client: &AsyncClient,
        r: crate::outbox::Row,
        inflight: &mut VecDeque<(i64, Instant)>,
        stats: &mut PublishStats,
    ) -> Result<(), String> {
        let m = r.message;
        client
            .publish(m.topic, QoS::AtLeastOnce, m.retain, m.payload)
            .await
            .map_err(|e| e.to_string())?;
        stats.published += 1;
        self.metrics.published.fetch_add(1, Ordering::Relaxed);
        inflight.push_back((r.seq, Instant::now()));
        Ok(())
    }

    /// The broker has these rows: with receipts they now wait for a hub, without they go.
    fn acknowledged(
        &self,
        outbox: &mut Outbox,
        done: &[i64],
        acked: &AtomicU64,
    ) -> Result<(), String> {
        if done.is_empty() {
            return Ok(());
        }
        match &self.receipts {
            Some(_) => outbox.sent(done, now_ms()),
            None => outbox.ack(done),
        }
        .map_err(|e| e.to_string())?;
        acked.fetch_add(done.len() as u64, Ordering::Relaxed);
        self.metrics
            .acked
            .fetch_add(done.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Sends again what the broker acknowledged but no hub confirmed in time.
    async fn resend_overdue(
        &self,
        client: &AsyncClient,
        outbox: &mut Outbox,
        inflight: &mut VecDeque<(i64, Instant)>,
        stats: &mut PublishStats,
    ) -> Result<(), String> {
        let Some((_, timeout)) = &self.receipts else {
            return Ok(());
        };
        if inflight.len() >= WINDOW {
            return Ok(());
        }
        let due = now_ms() - timeout.as_millis() as i64;
        let rows = outbox
            .overdue(due, now_ms(), WINDOW - inflight.len())
            .map_err(|e| e.to_string())?;
        for r in rows {
            stats.resent += 1;
            self.send(client, r, inflight, stats).await?;
        }
        Ok(())
    }

    /// Messages from `send_now`: at QoS 0, so they take no place in the acknowledgement FIFO.
    async fn send_direct(&self, client: &AsyncClient, connected: bool) -> Result<(), String> {
        let waiting: Vec<(String, Vec<u8>)> = self
            .direct
            .lock()
            .expect("direct lock")
            .try_iter()
            .collect();
        for (topic, payload) in waiting {
            if !connected {
                tracing::warn!(%topic, "broker not connected; answer dropped");
                continue;
            }
            client
                .publish(topic, QoS::AtMostOnce, false, payload)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// One connection: Ok when closing and everything is acknowledged, Err when it drops.
    async fn connection(
        &self,
        outbox: &mut Outbox,
        stats: &mut PublishStats,
        acked: &AtomicU64,
        deadline: &mut Option<Instant>,
    ) -> Result<(), String> {
        let (client, eventloop) = AsyncClient::new(self.opts.clone(), 2 * WINDOW);
        let (ntx, mut notices) = mpsc::unbounded_channel();
        let forward = (!self.subscribe.is_empty()).then(|| self.forward.clone());
        let receipt_topic = self.receipts.as_ref().map(|(t, _)| t.clone());
        let mut poller = spawn_poller(eventloop, forward, receipt_topic, ntx);
        let result = async {
            let mut connected = false;
            let mut inflight: VecDeque<(i64, Instant)> = VecDeque::new();
            let backlog_end = outbox.max_seq().map_err(|e| e.to_string())?;
            let (mut live_next, mut backlog_next) = (backlog_end, 0i64);
            let mut tokens = self.backlog_rate;
            let mut last = Instant::now();
            loop {
                let first = tokio::select! {
                    n = notices.recv() => n,
                    _ = tokio::time::sleep(Duration::from_millis(20)) => None,
                };
                let mut done = Vec::new();
                for n in first
                    .into_iter()
                    .chain(std::iter::from_fn(|| notices.try_recv().ok()))
                {
                    match n {
                        Notice::Connected => {
                            connected = true;
                            for f in self
                                .subscribe
                                .iter()
                                .chain(self.receipts.iter().map(|(t, _)| t))
                            {
                                client
                                    .subscribe(f.clone(), QoS::AtLeastOnce)
                                    .await
                                    .map_err(|e| e.to_string())?;
                            }
                            tracing::info!(broker = %self.endpoint, "connected to MQTT broker");
                        }
                        Notice::Acked => {
                            if let Some((seq, sent)) = inflight.pop_front() {
                                self.metrics
                                    .publish_ms
                                    .observe_ms(sent.elapsed().as_millis() as u64);
                                done.push(seq);
                            }
                        }
                        Notice::Receipt(keys) => {
                            let n = outbox
                                .confirm(keys.iter().map(String::as_str))
                                .map_err(|e| e.to_string())?;
                            self.metrics
                                .confirmed
                                .fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Notice::Down(e) => return Err(e),
                    }
                }
                self.acknowledged(outbox, &done, acked)?;
                let now = Instant::now();
                tokens = (tokens + self.backlog_rate * (now - last).as_secs_f64())
                    .min(self.backlog_rate.max(1.0));
                last = now;
                if connected {
                    while inflight.len() < WINDOW {
                        let room = WINDOW - inflight.len();
                        let mut rows = outbox.after(live_next, room).map_err(|e| e.to_string())?;
                        let live = !rows.is_empty();
                        if !live && backlog_next < backlog_end && tokens >= 1.0 {
                            rows = outbox
                                .after(backlog_next, room.min(tokens as usize))
                                .map_err(|e| e.to_string())?;
                            rows.retain(|r| r.seq <= backlog_end);
                        }
                        if rows.is_empty() {
                            break;
                        }
                        for r in rows {
                            let seq = r.seq;
                            self.send(&client, r, &mut inflight, stats).await?;
                            if live {
                                live_next = seq;
                            } else {
                                backlog_next = seq;
                                tokens -= 1.0;
                            }
                        }
                    }
                }
                if connected {
                    self.resend_overdue(&client, outbox, &mut inflight, stats)
                        .await?;
                }
                self.send_direct(&client, connected).await?;
                if self.closing.load(Ordering::Relaxed) {
                    let d = *deadline.get_or_insert_with(|| self.drain_deadline());
                    let empty =
                        inflight.is_empty() && outbox.is_empty().map_err(|e| e.to_string())?;
                    if empty || Instant::now() >= d {
                        let _ = client.disconnect().await;
                        return Ok(());
                    }
                }
            }
        }
        .await;
        if result.is_ok() {
            // Let the DISCONNECT reach the broker; aborting first would make it send our will.
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut poller).await;
        }
        poller.abort();
        result
    }
}
