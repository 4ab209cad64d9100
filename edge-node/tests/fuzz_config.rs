//! Property tests (bounded, run in CI): the config parser never panics, whatever the text;
//! broken configs fail with a message naming the file.

use std::path::Path;

use edge_node::config::EdgeConfig;
use proptest::prelude::*;

const VALID: &str = r#"
site = "s"
[mqtt]
port = 1883
[model]
path = "MODEL"
classes = ["person", "car"]
[[cameras]]
id = "c1"
url = "rtsp://127.0.0.1:8554/x"
[[cameras.lines]]
id = "l"
points = [[0.1, 0.5], [0.9, 0.5]]
[[cameras.zones]]
id = "z"
polygon = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]
dwell_s = 3
"#;

/// The seed config, pointing at the real model so mutations reach the deeper checks.
fn valid() -> String {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/nanodet-m-416.onnx");
    VALID.replace("MODEL", model)
}

#[test]
fn the_seed_config_is_valid() {
    EdgeConfig::parse(&valid(), Path::new("/fuzz/edge.toml")).unwrap();
}

proptest! {
    #![proptest_config(matthan_test_support::proptest_config(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        if let Err(e) = EdgeConfig::parse(&text, Path::new("/fuzz/edge.toml")) {
            prop_assert!(e.to_string().contains("/fuzz/edge.toml"));
        }
    }

    #[test]
    fn mutated_valid_config_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<char>(), 0u8..3), 1..6)) {
        let mut chars: Vec<char> = valid().chars().collect();
        for (at, c, op) in edits {
            let i = at % (chars.len() + 1);
            match op {
                0 if i < chars.len() => { chars.remove(i); }
                1 => chars.insert(i, c),
                _ if i < chars.len() => chars[i] = c,
                _ => {}
            }
        }
        let text: String = chars.into_iter().collect();
        if let Err(e) = EdgeConfig::parse(&text, Path::new("/fuzz/edge.toml")) {
            prop_assert!(e.to_string().contains("/fuzz/edge.toml"));
        }
    }
}
