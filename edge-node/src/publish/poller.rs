//! The MQTT event loop of one connection: connection, acknowledgement, receipt and drop
//! notices go to the connection task; messages on the other subscribed topics (junction
//! controllers' signal states and requests) go to the pipeline.

use rumqttc::{Event as MqttEvent, Outgoing, Packet};
use tokio::sync::mpsc;

use super::Forward;

pub(super) enum Notice {
    Connected,
    Acked,
    /// A hub committed (or refused for good) these keys.
    Receipt(Vec<String>),
    Down(String),
}

/// Drives the MQTT event loop: connection, acknowledgement and drop notices go to the
/// connection task; messages on subscribed topics go to `forward`.
pub(super) fn spawn_poller(
    mut eventloop: rumqttc::EventLoop,
    forward: Option<Forward>,
    receipts: Option<String>,
    ntx: mpsc::UnboundedSender<Notice>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let n = match eventloop.poll().await {
                Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => Notice::Connected,
                Ok(MqttEvent::Incoming(Packet::PubAck(_))) => Notice::Acked,
                Ok(MqttEvent::Incoming(Packet::Publish(p)))
                    if receipts.as_deref() == Some(&*p.topic) =>
                {
                    match matthan_schema::Receipt::from_json(&p.payload) {
                        Ok(r) => Notice::Receipt(r.keys().map(String::from).collect()),
                        Err(e) => {
                            tracing::warn!(error = %e, "unreadable receipt ignored");
                            continue;
                        }
                    }
                }
                Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                    if let Some(tx) = &forward {
                        let _ = tx.send((p.topic.to_string(), p.payload.to_vec()));
                    }
                    continue;
                }
                Ok(MqttEvent::Incoming(Packet::SubAck(a)))
                    if a.return_codes
                        .contains(&rumqttc::SubscribeReasonCode::Failure) =>
                {
                    // Without receipts nothing is ever deleted from the outbox; say why.
                    tracing::error!(
                        "the broker refused a subscription (receipts, signal states or signal requests): this \
                         box's account lacks the right (configs/broker-accounts.toml)"
                    );
                    continue;
                }
                // Our own clean DISCONNECT is on the wire: the broker will not fire the will.
                Ok(MqttEvent::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => continue,
                Err(e) => Notice::Down(e.to_string()),
            };
            let down = matches!(n, Notice::Down(_));
            if ntx.send(n).is_err() || down {
                break;
            }
        }
    })
}
