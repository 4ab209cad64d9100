//! Property tests (bounded, run in CI): the MQTT payload decoder never panics on any bytes, and
//! every event it accepts survives a round trip.

use matthan_schema::{Event, SCHEMA};
use proptest::prelude::*;

fn valid() -> Vec<u8> {
    format!(
        r#"{{"schema":"{SCHEMA}","id":"01a2154e-5d6d-733e-9d5c-e763222c0c5a","site":"s","camera":"c","ts":"2026-11-26T00:43:06.989Z","kind":"crossing","body":{{"line":"l","direction":"in","class":"person","track_id":7}}}}"#
    )
    .into_bytes()
}

proptest! {
    #![proptest_config(matthan_test_support::proptest_config(3000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Event::from_json(&bytes);
    }

    #[test]
    fn mutated_valid_payloads_never_panic_and_accepted_ones_round_trip(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8)
    ) {
        let mut p = valid();
        for (at, byte, op) in edits {
            let i = at % (p.len() + 1);
            match op {
                0 if i < p.len() => { p.remove(i); }
                1 => p.insert(i, byte),
                _ if i < p.len() => p[i] = byte,
                _ => {}
            }
        }
        if let Ok(e) = Event::from_json(&p) {
            prop_assert_eq!(Event::from_json(&e.to_json()).unwrap(), e);
        }
    }
}
