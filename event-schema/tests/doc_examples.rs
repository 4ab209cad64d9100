//! The contract: every JSON example in `docs/events.md` is accepted by the validator the hub
//! and the edge use, exactly as printed (no elisions a reader could copy and have refused).

use matthan_schema::{Event, Receipt};

const DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.md"));

/// The ```json blocks of the document, with the line each starts on.
fn examples() -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in DOC.lines().enumerate() {
        match (&mut current, line.trim()) {
            (None, "```json") => current = Some((i + 2, String::new())),
            (Some(_), "```") => out.push(current.take().expect("open block")),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_example_in_the_document_is_accepted() {
    let blocks = examples();
    assert!(blocks.len() >= 4, "examples found: {}", blocks.len());
    for (line, text) in blocks {
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("docs/events.md:{line}: not JSON: {e}"));
        let schema = v["schema"].as_str().unwrap_or_default();
        if schema.starts_with("matthan.event/") {
            if let Err(e) = Event::from_json(text.as_bytes()) {
                panic!("docs/events.md:{line}: refused: {e}");
            }
        } else if schema.starts_with("matthan.receipt/") {
            if let Err(e) = Receipt::from_json(text.as_bytes()) {
                panic!("docs/events.md:{line}: refused: {e}");
            }
        } else if schema.starts_with("matthan.watch-hit/") {
            // Published by the hub (central-hub/src/ingest), read by other systems: every
            // documented field present.
            for f in [
                "entry_id", "listed", "reason", "read", "exact", "event_id", "site", "camera", "ts",
            ] {
                assert!(
                    !v[f].is_null(),
                    "docs/events.md:{line}: watch-hit without {f}"
                );
            }
        } else {
            panic!("docs/events.md:{line}: unknown schema {schema:?}");
        }
    }
}
