//! Publishes events to the broker at QoS 1 from a thread of its own (a small tokio runtime),
//! so a slow broker never stalls decode: the bounded channel in front of it makes analytics wait
//! instead, and frames drop upstream of that, never events.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use matthan_schema::{Body, EdgeState, EdgeStatus, Event, Kind};
use rumqttc::{AsyncClient, Event as MqttEvent, LastWill, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::mpsc;

use crate::config::EdgeConfig;

#[derive(Debug, Default, Clone, Copy)]
pub struct PublishStats {
    pub published: u64,
    pub acked: u64,
}

/// What goes to the broker: events, and evidence blobs named by their sha256.
enum ToBroker {
    // Boxed: the queue holds up to `mqtt.event_queue` of these.
    Event(Box<Event>),
    Blob {
        topic: String,
        payload: Arc<Vec<u8>>,
    },
}

pub struct Publisher {
    tx: mpsc::Sender<ToBroker>,
    thread: std::thread::JoinHandle<PublishStats>,
}

#[derive(Debug, thiserror::Error)]
#[error("the publisher has stopped")]
pub struct Closed;

fn retained(kind: Kind) -> bool {
    matches!(kind, Kind::CameraStatus | Kind::EdgeStatus)
}

fn edge_status(cfg: &EdgeConfig, state: EdgeState) -> Event {
    Event::new(
        &cfg.site,
        &cfg.edge_id,
        Utc::now(),
        Body::EdgeStatus(EdgeStatus {
            state,
            cameras: cfg.cameras.iter().map(|c| c.id.clone()).collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }),
    )
}

impl Publisher {
    pub fn start(cfg: &EdgeConfig) -> std::io::Result<Self> {
        let (tx, mut rx) = mpsc::channel::<ToBroker>(cfg.mqtt.event_queue);
        let mut opts = MqttOptions::new(cfg.client_id(), cfg.mqtt.host.clone(), cfg.mqtt.port);
        opts.set_keep_alive(Duration::from_secs(cfg.mqtt.keep_alive_s));
        // A persistent session: the broker keeps our in-flight QoS 1 state across reconnects.
        opts.set_clean_session(false);
        opts.set_max_packet_size(
            matthan_schema::MAX_PAYLOAD_BYTES + 1024,
            matthan_schema::MAX_PAYLOAD_BYTES + 1024,
        );
        let will = edge_status(cfg, EdgeState::Offline);
        opts.set_last_will(LastWill::new(
            will.topic(),
            will.to_json(),
            QoS::AtLeastOnce,
            true,
        ));
        let online = edge_status(cfg, EdgeState::Online);
        let offline = edge_status(cfg, EdgeState::Offline);
        let endpoint = format!("{}:{}", cfg.mqtt.host, cfg.mqtt.port);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new().name("mqtt-publish".into()).spawn(move || {
            rt.block_on(async move {
                let (client, mut eventloop) = AsyncClient::new(opts, 256);
                let acked = Arc::new(AtomicU64::new(0));
                let stop = Arc::new(AtomicBool::new(false));
                let (acked2, stop2) = (acked.clone(), stop.clone());
                let poller = tokio::spawn(async move {
                    let mut backoff = Duration::from_millis(250);
                    let mut connected = false;
                    while !stop2.load(Ordering::Relaxed) {
                        match eventloop.poll().await {
                            Ok(MqttEvent::Incoming(Packet::PubAck(_))) => {
                                acked2.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                                tracing::info!(broker = %endpoint, "connected to MQTT broker");
                                connected = true;
                                backoff = Duration::from_millis(250);
                            }
                            Ok(MqttEvent::Outgoing(Outgoing::Disconnect)) => break,
                            Ok(_) => {}
                            Err(e) => {
                                if connected {
                                    tracing::warn!(broker = %endpoint, error = %e, "MQTT connection lost; reconnecting");
                                } else {
                                    tracing::warn!(broker = %endpoint, error = %e, retry_in = ?backoff, "cannot reach MQTT broker");
                                }
                                connected = false;
                                tokio::time::sleep(backoff).await;
                                backoff = (backoff * 2).min(Duration::from_secs(10));
                            }
                        }
                    }
                });
                let mut published = 0u64;
                let mut publish = async |o: ToBroker| {
                    let sent = match o {
                        ToBroker::Event(e) => client.publish(e.topic(), QoS::AtLeastOnce, retained(e.kind()), e.to_json()).await,
                        ToBroker::Blob { topic, payload } => client.publish(topic, QoS::AtLeastOnce, false, payload.to_vec()).await,
                    };
                    if sent.is_ok() {
                        published += 1;
                    }
                };
                publish(ToBroker::Event(Box::new(online))).await;
                while let Some(o) = rx.recv().await {
                    publish(o).await;
                }
                publish(ToBroker::Event(Box::new(offline))).await;
                // Every event handed to us must be acknowledged before we let go of the session.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                while acked.load(Ordering::Relaxed) < published && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let acked_n = acked.load(Ordering::Relaxed);
                if acked_n < published {
                    tracing::error!(published, acked = acked_n, "broker did not acknowledge every event before shutdown");
                }
                let _ = client.disconnect().await;
                let _ = tokio::time::timeout(Duration::from_secs(2), poller).await;
                stop.store(true, Ordering::Relaxed);
                PublishStats { published, acked: acked_n }
            })
        })?;
        Ok(Self { tx, thread })
    }

    /// Hands one event over, waiting while the queue to the broker is full.
    pub fn send(&self, e: Event) -> Result<(), Closed> {
        self.tx
            .blocking_send(ToBroker::Event(Box::new(e)))
            .map_err(|_| Closed)
    }

    /// Hands one evidence blob over (published on `topic` at QoS 1, not retained).
    pub fn send_blob(&self, topic: String, payload: Arc<Vec<u8>>) -> Result<(), Closed> {
        self.tx
            .blocking_send(ToBroker::Blob { topic, payload })
            .map_err(|_| Closed)
    }

    /// Publishes what is queued, waits for the broker's acknowledgements and disconnects.
    pub fn finish(self) -> PublishStats {
        drop(self.tx);
        self.thread.join().unwrap_or_default()
    }
}
