//! Property tests (bounded, run in CI): the description parser never panics and never turns
//! typed text into anything but values (filters are fixed words; the rest stays plain terms).

use central_hub::query::{MAX_QUERY_BYTES, parse};
use chrono::{DateTime, Utc};
use proptest::prelude::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T10:30:00+07:00")
        .unwrap()
        .with_timezone(&Utc)
}

proptest! {
    #![proptest_config(matthan_test_support::proptest_config(3000))]

    #[test]
    fn any_text_parses(text in "\\PC{0,300}") {
        let cams = vec!["ben-thanh-1".to_string()];
        let q = parse(&text, now(), &cams);
        if let (Some(f), Some(t)) = (q.from, q.to) {
            prop_assert!(f < t, "time windows run forward");
        }
        let words: usize = q.terms.iter().map(|t| t.len()).sum();
        prop_assert!(words <= MAX_QUERY_BYTES * 4);
    }

    #[test]
    fn vocabulary_soup_parses(words in proptest::collection::vec(prop::sample::select(vec![
        "xe", "máy", "đỏ", "red", "8-9am", "từ", "8h", "đến", "9h", "áo", "trắng", "quần", "shirt", "plate", "59X1",
        "hôm", "qua", "tối", "last", "night", "-", "pm", "am", "12", "24", "0", "99", "biển", "số", "in", "out",
        "ben", "thanh", "'", ";", "--", "OR", "1=1",
    ]), 0..20)) {
        let q = parse(&words.join(" "), now(), &["ben-thanh-1".to_string()]);
        if let (Some(f), Some(t)) = (q.from, q.to) {
            prop_assert!(f < t);
        }
    }
}
