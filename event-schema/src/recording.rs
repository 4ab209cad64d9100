//! Events from recorded video (forensic cases): the case and video they come from, the video
//! file's sha256 and the offset into it, and ids derived from those so that a video analysed
//! twice (a worker killed mid-video, its job redelivered) yields the same ids, which the hub
//! stores once.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Body, DecodeError, Event, SCHEMA, is_sha256};

/// Where in a recorded video an event was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// The hub's case id.
    pub case: u64,
    /// The hub's id of the video within its case's jobs.
    pub video: u64,
    /// sha256 of the video file as the worker read it (hex).
    pub sha256: String,
    /// Milliseconds from the video's first frame.
    pub offset_ms: u64,
}

/// No recorded video is longer than this (a recorder's 1-week file): a larger offset is a bug
/// or a forgery.
const MAX_OFFSET_MS: u64 = 7 * 24 * 3600 * 1000;

impl Recording {
    pub(crate) fn validate(&self) -> Result<(), DecodeError> {
        if !is_sha256(&self.sha256) {
            return Err(DecodeError::BadField {
                field: "recording.sha256",
                reason: "must be 64 lower-case hex digits".into(),
            });
        }
        if self.offset_ms > MAX_OFFSET_MS {
            return Err(DecodeError::BadField {
                field: "recording.offset_ms",
                reason: format!("{} is over a week", self.offset_ms),
            });
        }
        Ok(())
    }
}

/// Namespace of the name-based part of recorded events' ids (a fixed random UUID).
const NAMESPACE: Uuid = Uuid::from_u128(0x6d61_7474_6861_6e2d_7265_636f_7264_6564);

impl Event {
    /// An event seen in a recorded video. Its id keeps the UUIDv7 layout (the capture time in
    /// the first 48 bits, so ids still sort by time) with the rest derived from the video's
    /// hash, the offset, the kind and `ordinal` (the event's place among those of its kind at
    /// that offset): the same video analysed again gives the same ids.
    pub fn recorded(
        site: &str,
        camera: &str,
        ts: chrono::DateTime<chrono::Utc>,
        body: Body,
        recording: Recording,
        ordinal: u32,
    ) -> Self {
        let mut e = Event::new(site, camera, ts, body);
        let name = format!(
            "{}|{}|{}|{ordinal}",
            recording.sha256,
            recording.offset_ms,
            e.kind().as_str()
        );
        let hashed = Uuid::new_v5(&NAMESPACE, name.as_bytes());
        let mut tail = [0u8; 10];
        tail.copy_from_slice(&hashed.as_bytes()[6..]);
        let ms = e.ts.timestamp_millis().max(0) as u64;
        e.id = uuid::Builder::from_unix_timestamp_millis(ms, &tail).into_uuid();
        debug_assert_eq!(e.schema, SCHEMA);
        e.recording = Some(recording);
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Crossing, Direction};

    fn at(offset_ms: u64, sha: &str, ordinal: u32) -> Event {
        let ts = chrono::DateTime::parse_from_rfc3339("2026-11-26T01:02:03.456Z")
            .unwrap()
            .into();
        Event::recorded(
            "cases",
            "case1-v2",
            ts,
            Body::Crossing(Crossing {
                line: "north".into(),
                direction: Direction::In,
                class: "car".into(),
                track_id: 3,
            }),
            Recording {
                case: 1,
                video: 2,
                sha256: sha.into(),
                offset_ms,
            },
            ordinal,
        )
    }

    #[test]
    fn ids_repeat_for_the_same_moment_of_the_same_video_and_only_then() {
        let a = "ab".repeat(32);
        let b = "cd".repeat(32);
        assert_eq!(at(1000, &a, 0).id, at(1000, &a, 0).id);
        assert_ne!(at(1000, &a, 0).id, at(1000, &a, 1).id);
        assert_ne!(at(1000, &a, 0).id, at(1001, &a, 0).id);
        assert_ne!(at(1000, &a, 0).id, at(1000, &b, 0).id);
        let e = at(1000, &a, 0);
        assert_eq!(e.id.get_version_num(), 7);
        let (secs, _) = e.id.get_timestamp().unwrap().to_unix();
        assert_eq!(secs as i64, e.ts.timestamp());
    }

    #[test]
    fn round_trips_and_refuses_a_bad_hash_or_offset() {
        let e = at(1000, &"ab".repeat(32), 0);
        let json = e.to_json();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["recording"]["offset_ms"], 1000);
        assert_eq!(Event::from_json(&json).unwrap(), e);
        for (field, value) in [
            ("sha256", serde_json::json!("../x")),
            ("offset_ms", serde_json::json!(MAX_OFFSET_MS + 1)),
        ] {
            let mut bad = v.clone();
            bad["recording"][field] = value;
            let err = Event::from_json(bad.to_string().as_bytes()).unwrap_err();
            assert!(
                err.to_string().contains(&format!("recording.{field}")),
                "{err}"
            );
        }
        // Live events carry no `recording` at all.
        let live = Event::new("hcmc", "cam-1", e.ts, e.body.clone()).to_json();
        assert!(!String::from_utf8(live).unwrap().contains("recording"));
    }
}
