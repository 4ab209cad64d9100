//! The outbox against real SQLite files.
use super::*;

fn msg(topic: &str, bytes: usize, priority: Priority) -> Message {
    Message {
        key: format!("key-{topic}"),
        topic: topic.into(),
        payload: vec![b'x'; bytes],
        retain: false,
        priority,
    }
}

#[test]
fn keeps_order_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.db");
    let mut o = Outbox::open(&path, 1 << 20).unwrap();
    o.push(&[msg("a", 10, Priority::Track), msg("b", 10, Priority::Event)])
        .unwrap();
    o.push(&[msg("c", 10, Priority::Counts)]).unwrap();
    drop(o);
    let mut o = Outbox::open(&path, 1 << 20).unwrap();
    let rows = o.after(0, 10).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r.message.topic.as_str())
            .collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    o.ack(&[rows[0].seq]).unwrap();
    assert_eq!(o.after(0, 10).unwrap().len(), 2);
    assert_eq!(o.after(rows[1].seq, 10).unwrap()[0].message.topic, "c");
    assert_eq!(o.len().unwrap(), 2);
}

#[test]
fn over_budget_drops_counts_first_then_oldest_and_counts_the_drops() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Outbox::open(&dir.path().join("o.db"), 100).unwrap();
    o.push(&[
        msg("ev1", 30, Priority::Evidence),
        msg("counts1", 30, Priority::Counts),
        msg("track1", 30, Priority::Track),
    ])
    .unwrap();
    o.push(&[msg("track2", 30, Priority::Track)]).unwrap();
    let left: Vec<String> = o
        .after(0, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.message.topic)
        .collect();
    assert_eq!(left, ["ev1", "track1", "track2"], "counts dropped first");
    o.push(&[msg("ev2", 30, Priority::Evidence)]).unwrap();
    let left: Vec<String> = o
        .after(0, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.message.topic)
        .collect();
    assert_eq!(
        left,
        ["ev1", "track2", "ev2"],
        "then the oldest track; evidence last"
    );
    assert_eq!(
        o.dropped().unwrap(),
        vec![(Priority::Counts, 1), (Priority::Track, 1)]
    );
}

#[test]
fn rows_wait_for_receipts_and_overdue_ones_are_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Outbox::open(&dir.path().join("o.db"), 1 << 20).unwrap();
    o.push(&[msg("a", 10, Priority::Track), msg("b", 10, Priority::Event)])
        .unwrap();
    let rows = o.after(0, 10).unwrap();
    o.sent(&[rows[0].seq, rows[1].seq], 1_000).unwrap();
    assert_eq!(o.len().unwrap(), 2, "the broker's word is not enough");
    assert_eq!(o.awaiting_receipt().unwrap(), 2);
    assert_eq!(o.confirm(["key-a", "unknown"]).unwrap(), 1);
    assert_eq!(o.len().unwrap(), 1);
    assert!(
        o.overdue(1_000, 2_000, 10).unwrap().is_empty(),
        "not yet due"
    );
    let again = o.overdue(1_001, 2_000, 10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.key, "key-b");
    assert!(
        o.overdue(1_001, 2_500, 10).unwrap().is_empty(),
        "its clock restarted when it was sent again"
    );
    o.confirm(["key-b"]).unwrap();
    assert!(o.is_empty().unwrap());
    assert_eq!(o.bytes().unwrap(), 0);
}
