//! Identity through occlusion, measured: the scenarios of `test-videos/occlusion/` (a truck or
//! a motorbike hidden 1-3 s behind a standing or slower bus, drawn from seeds: `tune`, `tune-b`
//! and `tune-c`, looked at while the tracker's re-link was set, and `held`, not) through
//! the whole edge pipeline (GStreamer → NanoDet → ByteTrack with its re-link → rules) into the
//! real hub ingest. Per set: how many hidden vehicles kept one track id, and whether the rules
//! that need the vehicle's path (speed over the ground, the stop line in red) still judged it.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use edge_node::config::EdgeConfig;
use support::scenes::{self, Truth};

fn clips() -> PathBuf {
    matthan_test_support::generated_clips(
        "occlusion",
        &[
            "test-videos/occlusion/make.py",
            "test-videos/traffic/make.py",
        ],
        "scenarios.json",
    )
}

/// The drawn road's camera (`test-videos/traffic/camera.toml`) without the helmet and riders
/// rules, which need a classifier these clips have nothing for.
fn camera_body() -> String {
    let text =
        std::fs::read_to_string(support::repo().join("test-videos/traffic/camera.toml")).unwrap();
    let cut = text
        .find("[[cameras.violations]]\nkind = \"no_helmet\"")
        .expect("camera.toml has the helmet rule last");
    text[..cut].to_string()
}

fn config(dir: &Path, port: u16, clips: &Path, truths: &BTreeMap<String, Truth>) -> PathBuf {
    let mut text = scenes::edge_head(port, truths);
    text += &format!(
        r#"
[evidence]
dir = "{dir}/evidence"
key = "{dir}/edge.key"
before_s = 1.0
after_s = 0.5
clip_fps = 2
"#,
        dir = dir.display(),
    );
    text += &scenes::cameras(clips, truths, &camera_body());
    let p = dir.join("edge.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn hidden_vehicles_keep_their_identity() {
    support::ort();
    // RUST_LOG=edge_node::track=debug shows each re-link the tracker weighs.
    if std::env::var("RUST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let clips = clips();
    let sets: BTreeMap<String, Vec<String>> =
        serde_json::from_str(&std::fs::read_to_string(clips.join("scenarios.json")).unwrap())
            .unwrap();
    // CI runs `held`; MATTHAN_OCCLUSION_SETS=tune,tune-b,tune-c,held-b,held-c runs the others.
    let wanted = std::env::var("MATTHAN_OCCLUSION_SETS").unwrap_or_else(|_| "held".into());
    let sets: BTreeMap<String, Vec<String>> = sets
        .into_iter()
        .filter(|(k, _)| wanted.split(',').any(|w| w == k))
        .collect();
    assert!(!sets.is_empty(), "no set named in {wanted:?}");
    // MATTHAN_SCENARIOS=a,b runs only those (for looking into one case).
    let only = std::env::var("MATTHAN_SCENARIOS").ok();
    let sets: BTreeMap<String, Vec<String>> = sets
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .into_iter()
                .filter(|n| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == n)))
                .collect();
            (k, v)
        })
        .collect();
    let names: Vec<String> = sets.values().flatten().cloned().collect();
    let truths = scenes::truths(&clips, &names);
    let tmp = tempfile::tempdir().unwrap();
    edge_node::signing::SigningKey::generate(&tmp.path().join("edge.key")).unwrap();
    let broker = support::Broker::start();
    let hub = support::Hub::start(broker.port, "hub-occlusion");
    let cfg = EdgeConfig::load(&config(tmp.path(), broker.port, &clips, &truths)).unwrap();
    let events = scenes::run_into_hub(&cfg, names.len(), &hub);

    let mut figures = BTreeMap::new();
    for (set, members) in &sets {
        let of_set: BTreeMap<String, Truth> = scenes::truths(&clips, members);
        eprintln!("\n== {set} ({} scenarios)", members.len());
        let kept = scenes::occlusion_kept(&of_set, &events);
        // The goal's figure: vehicles hidden 1-3 s (the fast ones are hidden 0.5-1 s).
        let long: Vec<&String> = of_set
            .keys()
            .filter(|k| of_set[*k].hidden_s >= 1.0)
            .collect();
        let long_kept = long.iter().filter(|k| kept.contains(**k)).count();
        let (kept, n) = (kept.len(), scenes::occluded_count(&of_set));
        let score = scenes::score(&of_set, &scenes::violations_of(&events));
        score.print();
        for p in &score.problems {
            eprintln!("  {p}");
        }
        let judged: usize = ["speeding", "red_light"].iter().map(|r| score.tp(r)).sum();
        let due: usize = ["speeding", "red_light"]
            .iter()
            .map(|r| score.expected(r))
            .sum();
        let wrong: usize = score.fp.values().sum();
        eprintln!(
            "{set}: one track id for {long_kept} of {} vehicles hidden 1-3 s ({:.3}), {kept} of \
             {n} in all; speeding and red light caught {judged} of {due}; {wrong} unexpected \
             violations",
            long.len(),
            long_kept as f64 / long.len().max(1) as f64
        );
        figures.insert(set.clone(), (long_kept, long.len(), judged, due, wrong));
    }
    // Measured on `held` (docs/benchmarks.md, "Occlusion"; read while tuning since, the figure
    // reported is `held-c`'s): one id for 13 of 15 vehicles hidden 1-3 s, speeding and red
    // light 5 of 8, nothing unexpected. The issue's goal (one id ≥ 95 %) is not met; these
    // hold the floor, with a case's margin.
    let Some(&(kept, n, judged, due, wrong)) = figures.get("held").filter(|_| only.is_none())
    else {
        return;
    };
    assert!(n >= 14, "{n} held-out scenarios hidden 1-3 s");
    assert!(
        kept as f64 >= 0.75 * n as f64,
        "held-out: one id for {kept} of {n} hidden 1-3 s"
    );
    assert!(
        judged >= 3 && due >= judged,
        "held-out: speeding and red light behind a bus {judged} of {due}"
    );
    assert_eq!(wrong, 0, "held-out: unexpected violations");
}
