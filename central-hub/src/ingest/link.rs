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

impl Link {
    /// Publishes `body` on an MQTT topic (on NATS, its subject: MQTT subscribers get it there).
    pub async fn publish(&self, topic: &str, body: Vec<u8>) -> Result<(), String> {
        match self {
            Link::Mqtt(c) => c
                .publish(topic, QoS::AtLeastOnce, false, body)
                .await
                .map_err(|e| e.to_string()),
            Link::Nats(c) => c
                .publish(topic_to_subject(topic), Bytes::from(body))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Acknowledges a stored (or refused for good) message: the broker forgets it.
    pub async fn ack(&self, m: Incoming) {
        match (self, m.ack) {
            (Link::Mqtt(c), Ack::Mqtt(p)) => {
                let _ = c.ack(&p).await;
            }
            (_, Ack::Nats(msg)) => {
                if let Err(e) = msg.ack().await {
                    // Not acknowledged: JetStream delivers it again and the upsert ignores it.
                    tracing::warn!(error = %e, "JetStream ack not sent");
                }
            }
            (Link::Nats(_), Ack::Mqtt(_)) => {}
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
