//! Where the hub's messages come from and where its receipts and watch hits go: an MQTT broker
//! (mosquitto, the single-box default) or a NATS JetStream stream (the cluster deployment,
//! `nats.rs`). The writer is the same for both; only acknowledging a stored message and
//! publishing differ.

use bytes::Bytes;
use rumqttc::{AsyncClient, QoS};

/// One message for the writer: its MQTT topic, its payload, and how to acknowledge it once the
/// batch holding it is committed.
pub struct Incoming {
    pub topic: String,
    pub payload: Bytes,
    pub(super) ack: Ack,
}

pub(super) enum Ack {
    Mqtt(rumqttc::Publish),
    Nats(Box<async_nats::jetstream::Message>),
}

impl Incoming {
    pub(super) fn mqtt(p: rumqttc::Publish) -> Self {
        Self {
            topic: p.topic.clone(),
            payload: p.payload.clone(),
            ack: Ack::Mqtt(p),
        }
    }

    pub(super) fn nats(m: async_nats::jetstream::Message) -> Self {
        Self {
            topic: subject_to_topic(m.subject.as_str()),
            payload: m.payload.clone(),
            ack: Ack::Nats(Box::new(m)),
        }
    }
}

#[derive(Clone)]
pub(super) enum Link {
    Mqtt(AsyncClient),
    Nats(async_nats::Client),
}

/// What the writer sends back through the link, in the order it was decided.
pub(super) enum Outgoing {
    /// A stored (or refused for good) message: the broker forgets it.
    Ack(Incoming),
    /// A receipt or a watch hit, on an MQTT topic (on NATS, its subject).
    Publish(String, Vec<u8>),
}

/// Acks and publishes the network loop has not taken yet.
///
/// Why: on MQTT they go through the network loop's request channel, which the loop drains only
/// while it polls; the loop in turn waits for the writer whenever the writer's channel is full.
/// A writer that waited for room there deadlocked both under a burst (50 edges flooding, found
/// by the cluster bench: 2,001 of 20,000 events stored, then nothing). So the writer only ever
/// tries, keeps what did not fit in order (MQTT wants acks in order of receipt), and tries again
/// after its next batch or within 50 ms.
#[derive(Default)]
pub(super) struct Owed(std::collections::VecDeque<Outgoing>);

impl Owed {
    pub fn push(&mut self, o: Outgoing) {
        self.0.push_back(o);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Hands over as much as the link takes now, in order.
    pub fn flush(&mut self, link: &Link, rt: &tokio::runtime::Handle) {
        while let Some(o) = self.0.pop_front() {
            if let Err(o) = link.try_send(o, rt) {
                self.0.push_front(o);
                break;
            }
        }
    }

    /// What could not be handed over before the writer stopped: the broker delivers those
    /// messages again (to this hub's next run or another) and the upsert stores them once.
    pub fn abandon(&mut self) -> usize {
        std::mem::take(&mut self.0).len()
    }
}

impl Link {
    /// Hands `o` to the link without waiting for room; gives it back when there is none. On
    /// NATS the client has its own connection task and buffers, so it is sent at once.
    fn try_send(&self, o: Outgoing, rt: &tokio::runtime::Handle) -> Result<(), Outgoing> {
        match (self, o) {
            (Link::Mqtt(c), Outgoing::Ack(m)) => match &m.ack {
                Ack::Mqtt(p) => match c.try_ack(p) {
                    Err(rumqttc::ClientError::TryRequest(_)) => Err(Outgoing::Ack(m)),
                    _ => Ok(()),
                },
                Ack::Nats(_) => Ok(()),
            },
            (Link::Mqtt(c), Outgoing::Publish(topic, body)) => {
                match c.try_publish(&topic, QoS::AtLeastOnce, false, body.clone()) {
                    Err(rumqttc::ClientError::TryRequest(_)) => Err(Outgoing::Publish(topic, body)),
                    Err(e) => {
                        tracing::warn!(error = %e, %topic, "not published (an edge sends again for a missing receipt)");
                        Ok(())
                    }
                    Ok(()) => Ok(()),
                }
            }
            (Link::Nats(c), Outgoing::Publish(topic, body)) => {
                if let Err(e) = rt.block_on(c.publish(topic_to_subject(&topic), Bytes::from(body)))
                {
                    tracing::warn!(error = %e, %topic, "not published (an edge sends again for a missing receipt)");
                }
                Ok(())
            }
            (Link::Nats(_), Outgoing::Ack(m)) => {
                if let Ack::Nats(msg) = m.ack
                    && let Err(e) = rt.block_on(msg.ack())
                {
                    // Not acknowledged: JetStream delivers it again and the upsert ignores it.
                    tracing::warn!(error = %e, "JetStream ack not sent");
                }
                Ok(())
            }
        }
    }
}

/// NATS's mapping of MQTT topics: `/` separates tokens (`.` on NATS) and a `.` inside a level
/// is written `//` (nats-server's MQTT implementation).
pub fn topic_to_subject(topic: &str) -> String {
    let mut out = String::with_capacity(topic.len() + 4);
    for c in topic.chars() {
        match c {
            '/' => out.push('.'),
            '.' => out.push_str("//"),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of `topic_to_subject`: `//` is a dot inside a level, `.` a level separator.
pub fn subject_to_topic(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    let mut chars = subject.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                chars.next();
                out.push('.');
            }
            '.' => out.push('/'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_subjects_map_both_ways_with_dots_in_levels() {
        for (topic, subject) in [
            ("matthan/hcmc/cam-1/track", "matthan.hcmc.cam-1.track"),
            ("matthan/hcmc/cam.2/track", "matthan.hcmc.cam//2.track"),
            ("matthan-receipt/hcmc", "matthan-receipt.hcmc"),
            ("matthan-evidence/s/ab", "matthan-evidence.s.ab"),
        ] {
            assert_eq!(topic_to_subject(topic), subject);
            assert_eq!(subject_to_topic(subject), topic);
        }
    }
}
