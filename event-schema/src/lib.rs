//! The event schema and MQTT topic names shared by `edge-node` and `central-hub`.
//!
//! Every message is one JSON [`Event`] envelope: a schema version, a UUIDv7 id (time-ordered, and
//! the idempotency key the hub upserts on), the site and camera, the capture time, and a body
//! tagged by `kind`. `docs/events.md` documents every topic and payload; the tests here keep the
//! examples there honest.

mod body;
mod receipt;
mod recording;
mod topic;

pub use body::*;
pub use receipt::*;
pub use recording::Recording;
pub use topic::*;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The schema version this crate writes and accepts.
pub const SCHEMA: &str = "matthan.event/1";

/// Payloads larger than this are rejected before parsing: no legitimate event comes near it, and
/// a hub must not be made to allocate for a hostile one.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub schema: String,
    pub id: Uuid,
    pub site: String,
    pub camera: String,
    /// Capture time of the frame the event was derived from (never the time it was sent).
    #[serde(with = "rfc3339_ms")]
    pub ts: DateTime<Utc>,
    #[serde(flatten)]
    pub body: Body,
    /// Only on events from recorded video (forensic cases): where in which video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<Recording>,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("payload is {0} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("payload is not UTF-8: {0}")]
    NotUtf8(#[from] std::str::Utf8Error),
    #[error("payload is not a JSON object with a \"schema\" field: {0}")]
    NotAnEnvelope(serde_json::Error),
    #[error("unknown schema version {0:?} (this build reads {SCHEMA:?})")]
    UnknownSchema(String),
    #[error("invalid {SCHEMA} event: {0}")]
    Invalid(serde_json::Error),
    #[error("event field {field} is invalid: {reason}")]
    BadField { field: &'static str, reason: String },
}

impl Event {
    /// A new event with a fresh UUIDv7 whose timestamp part is the capture time, so ids sort like
    /// the events they name.
    pub fn new(site: &str, camera: &str, ts: DateTime<Utc>, body: Body) -> Self {
        // The wire carries milliseconds; keep no more, so an event equals its decoded copy.
        let ts = DateTime::from_timestamp_millis(ts.timestamp_millis()).unwrap_or(ts);
        let ms = ts.timestamp_millis().max(0) as u64;
        let uuid_ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            ms / 1000,
            ((ms % 1000) * 1_000_000) as u32,
        );
        Self {
            schema: SCHEMA.to_string(),
            id: Uuid::new_v7(uuid_ts),
            site: site.to_string(),
            camera: camera.to_string(),
            ts,
            body,
            recording: None,
        }
    }

    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// The topic this event is published on.
    pub fn topic(&self) -> String {
        event_topic(&self.site, &self.camera, self.kind())
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("events always serialise")
    }

    /// Decodes and validates one payload. Checks run cheapest first: size, UTF-8, version, shape.
    pub fn from_json(payload: &[u8]) -> Result<Self, DecodeError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(DecodeError::TooLarge(payload.len()));
        }
        let text = std::str::from_utf8(payload)?;
        #[derive(Deserialize)]
        struct Version<'a> {
            #[serde(borrow)]
            schema: std::borrow::Cow<'a, str>,
        }
        let version: Version = serde_json::from_str(text).map_err(DecodeError::NotAnEnvelope)?;
        if version.schema != SCHEMA {
            return Err(DecodeError::UnknownSchema(version.schema.into_owned()));
        }
        let event: Event = serde_json::from_str(text).map_err(DecodeError::Invalid)?;
        event.validate()?;
        Ok(event)
    }

    fn validate(&self) -> Result<(), DecodeError> {
        for (field, value) in [("site", &self.site), ("camera", &self.camera)] {
            validate_segment(value).map_err(|reason| DecodeError::BadField { field, reason })?;
        }
        if let Some(r) = &self.recording {
            r.validate()?;
        }
        self.body.validate()
    }
}

/// RFC 3339 with milliseconds and `Z`, the one timestamp format on the wire.
pub mod rfc3339_ms {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ts.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;
        pub fn serialize<S: Serializer>(
            ts: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match ts {
                Some(ts) => super::serialize(ts, s),
                None => s.serialize_none(),
            }
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<std::borrow::Cow<str>>::deserialize(d)?
                .map(|s| {
                    DateTime::parse_from_rfc3339(&s)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(serde::de::Error::custom)
                })
                .transpose()
        }
    }
}

/// Formats a timestamp the way the wire does, for logs and captions.
pub fn format_ts(ts: &DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event::new(
            "hcmc",
            "cam-1",
            DateTime::parse_from_rfc3339("2026-11-26T01:02:03.456Z")
                .unwrap()
                .into(),
            Body::Crossing(Crossing {
                line: "north".into(),
                direction: Direction::In,
                class: "motorcycle".into(),
                track_id: 7,
            }),
        )
    }

    #[test]
    fn round_trips_with_kind_and_body_on_the_envelope() {
        let e = sample();
        let json = e.to_json();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["kind"], "crossing");
        assert_eq!(v["body"]["direction"], "in");
        assert_eq!(v["ts"], "2026-11-26T01:02:03.456Z");
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(Event::from_json(&json).unwrap(), e);
        assert_eq!(e.topic(), "matthan/hcmc/cam-1/crossing");
    }

    #[test]
    fn id_is_v7_and_carries_capture_time() {
        let e = sample();
        assert_eq!(e.id.get_version_num(), 7);
        let (secs, _) = e.id.get_timestamp().unwrap().to_unix();
        assert_eq!(secs as i64, e.ts.timestamp());
    }

    #[test]
    fn rejects_hostile_payloads_with_reasons() {
        assert!(matches!(
            Event::from_json(&[0xff, 0xfe, b'{']),
            Err(DecodeError::NotUtf8(_))
        ));
        assert!(matches!(
            Event::from_json(&vec![b' '; MAX_PAYLOAD_BYTES + 1]),
            Err(DecodeError::TooLarge(_))
        ));
        assert!(matches!(
            Event::from_json(b"[1,2]"),
            Err(DecodeError::NotAnEnvelope(_))
        ));
        let mut v: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        v["schema"] = "matthan.event/99".into();
        let err = Event::from_json(v.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("matthan.event/99"), "{err}");
        v["schema"] = SCHEMA.into();
        v["kind"] = "teleport".into();
        assert!(matches!(
            Event::from_json(v.to_string().as_bytes()),
            Err(DecodeError::Invalid(_))
        ));
        v["kind"] = "crossing".into();
        v["camera"] = "cam/#".into();
        let err = Event::from_json(v.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("camera"), "{err}");
    }

    #[test]
    fn evidence_references_must_be_sha256_and_text_attributes_short() {
        let at = sample().ts;
        let track = |snapshot: &str, plate: String| {
            let mut e = Event::new(
                "hcmc",
                "cam-1",
                at,
                Body::Track(TrackEvent {
                    phase: TrackPhase::End,
                    track_id: 1,
                    class: "car".into(),
                    score: 0.9,
                    bbox: BBox::default(),
                    first_seen: at,
                    last_seen: at,
                    zones: vec![],
                    path: vec![],
                    attributes: Attributes::default(),
                    snapshot: Some(snapshot.into()),
                    plate_image: None,
                }),
            );
            if let Body::Track(t) = &mut e.body {
                t.attributes.plate = Some(plate);
            }
            Event::from_json(&e.to_json())
        };
        let good = "ab".repeat(32);
        assert!(track(&good, "51F12345".into()).is_ok());
        for hostile in ["../../api/search?q=X", &good.to_uppercase(), &good[..63]] {
            let err = track(hostile, "51F12345".into()).unwrap_err();
            assert!(
                err.to_string().contains("body.snapshot"),
                "{hostile}: {err}"
            );
        }
        let err = track(&good, "x".repeat(MAX_ATTRIBUTE_BYTES + 1)).unwrap_err();
        assert!(err.to_string().contains("body.attributes.plate"), "{err}");
    }
}
