//! The public-order rules on the one real clip: vtest.avi through the whole edge pipeline
//! (GStreamer → NanoDet through ONNX Runtime → ByteTrack → lines, zones, rules → mosquitto),
//! scored against the hand-labelled ground truth in `test-videos/vtest/`. Prints precision and
//! recall for the line and per rule.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use edge_node::config::EdgeConfig;
use matthan_schema::{AlertPhase, Body, CameraState, Direction};
use matthan_test_support::matched;
use serde::Deserialize;

#[derive(Deserialize)]
struct Truth {
    sha256: String,
    crossings: Vec<LabelledCrossing>,
    ambiguous: Vec<Span>,
    alert: Vec<LabelledAlert>,
    quiet: Vec<String>,
}

#[derive(Deserialize)]
struct LabelledCrossing {
    t: f64,
    direction: String,
}

#[derive(Deserialize)]
struct Span {
    from: f64,
    to: f64,
}

#[derive(Deserialize)]
struct LabelledAlert {
    rule_id: String,
    t: f64,
}

/// Labels are to about half a second, and the tracker's anchor crosses the line a little before
/// or after a person's feet seem to.
const CROSSING_TOLERANCE_S: f64 = 1.5;
/// A rule's start time depends on when the tracker confirmed the track; a few seconds either way.
const ALERT_TOLERANCE_S: f64 = 6.0;

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// One run of the clip scored against the labels: per line or rule (TP, FP, FN), and what was
/// found (crossings and alert starts, seconds from the first frame).
struct Scored {
    table: BTreeMap<String, (usize, usize, usize)>,
    crossings: Vec<(String, f64)>,
    alerts: Vec<(String, f64)>,
}

fn truth() -> Truth {
    let dir_gt = support::repo().join("test-videos/vtest");
    let truth: Truth =
        toml::from_str(&std::fs::read_to_string(dir_gt.join("ground-truth.toml")).unwrap())
            .unwrap();
    let clip = support::vtest();
    use sha2::Digest;
    let sha = format!("{:x}", sha2::Sha256::digest(std::fs::read(&clip).unwrap()));
    assert_eq!(
        sha,
        truth.sha256,
        "{} is not the clip the labels describe",
        clip.display()
    );
    truth
}

/// Runs vtest.avi through the whole edge with `camera.toml`, after `adjust` edits the config
/// (another model, the motion gate), and scores it.
fn scored(truth: &Truth, adjust: impl FnOnce(&mut EdgeConfig)) -> Scored {
    support::ort();
    let dir_gt = support::repo().join("test-videos/vtest");
    let camera = std::fs::read_to_string(dir_gt.join("camera.toml")).unwrap();
    let broker = support::Broker::start();
    let sub = support::Subscriber::start(broker.port);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", support::vtest().display());
    let mut cfg = EdgeConfig::load(&support::edge_config(
        dir.path(),
        broker.port,
        &url,
        &camera,
    ))
    .unwrap();
    adjust(&mut cfg);
    let summary = edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false))).unwrap();
    let want = summary.publish.published as usize;
    let evs = sub.wait_for(Duration::from_secs(20), "every event", |e| {
        e.len() + sub.blobs.lock().unwrap().len() >= want
    });
    println!(
        "{} frames, {} without the detector (motion gate)",
        summary.frames, summary.gated
    );
    score(truth, &evs)
}

fn score(truth: &Truth, evs: &[matthan_schema::Event]) -> Scored {
    // Capture times start at the wall clock of the first frame, which the camera's first `up`
    // status is stamped with.
    let t0 = evs
        .iter()
        .find(|e| matches!(&e.body, Body::CameraStatus(s) if s.state == CameraState::Up))
        .expect("camera came up")
        .ts;
    let rel = |ts: chrono::DateTime<chrono::Utc>| (ts - t0).as_seconds_f64();
    let in_ambiguous = |t: f64| truth.ambiguous.iter().any(|s| (s.from..=s.to).contains(&t));

    let found: Vec<(String, f64)> = evs
        .iter()
        .filter_map(|e| match &e.body {
            Body::Crossing(c) if c.line == "east" => Some((
                match c.direction {
                    Direction::In => "in".to_string(),
                    Direction::Out => "out".to_string(),
                },
                rel(e.ts),
            )),
            _ => None,
        })
        .collect();
    let labels: Vec<(String, f64)> = truth
        .crossings
        .iter()
        .map(|c| (c.direction.clone(), c.t))
        .collect();
    let (tp, extra, missed) = matched(&found, &labels, CROSSING_TOLERANCE_S);
    let fp = extra.iter().filter(|(_, t)| !in_ambiguous(*t)).count();
    let mut table: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    table.insert("line east".into(), (tp, fp, missed));
    println!("crossings found: {found:?}");

    let starts: Vec<(String, f64)> = evs
        .iter()
        .filter_map(|e| match &e.body {
            Body::Alert(a) if a.phase == AlertPhase::Start => Some((a.rule_id.clone(), rel(e.ts))),
            _ => None,
        })
        .collect();
    println!("alerts found: {starts:?}");
    if std::env::var("MATTHAN_DEBUG_TRACKS").is_ok() {
        debug_tracks(evs, &rel);
    }
    let labelled: Vec<(String, f64)> = truth
        .alert
        .iter()
        .map(|a| (a.rule_id.clone(), a.t))
        .collect();
    let mut rules: Vec<String> = labelled.iter().map(|l| l.0.clone()).collect();
    rules.extend(truth.quiet.iter().cloned());
    rules.sort();
    rules.dedup();
    for r in &rules {
        let f: Vec<_> = starts.iter().filter(|s| &s.0 == r).cloned().collect();
        let l: Vec<_> = labelled.iter().filter(|s| &s.0 == r).cloned().collect();
        let (tp, extra, missed) = matched(&f, &l, ALERT_TOLERANCE_S);
        table.insert(format!("rule {r}"), (tp, extra.len(), missed));
    }
    // Every alert episode closes.
    let ends = evs
        .iter()
        .filter(|e| matches!(&e.body, Body::Alert(a) if a.phase == AlertPhase::End))
        .count();
    assert_eq!(ends, starts.len(), "every alert that starts also ends");
    Scored {
        table,
        crossings: found,
        alerts: starts,
    }
}

fn debug_tracks(evs: &[matthan_schema::Event], rel: &dyn Fn(chrono::DateTime<chrono::Utc>) -> f64) {
    for e in evs {
        if let Body::Track(t) = &e.body
            && t.phase == matthan_schema::TrackPhase::End
        {
            println!(
                "track {} {} {:.1}-{:.1} zones {:?} path {:?}",
                t.track_id,
                t.class,
                rel(t.first_seen),
                rel(t.last_seen),
                t.zones,
                t.path
                    .iter()
                    .map(|p| [
                        (p[0] / 768.0 * 100.0).round() / 100.0,
                        (p[1] / 576.0 * 100.0).round() / 100.0
                    ])
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// Prints the table; returns the worst precision and recall in it.
fn print_table(name: &str, table: &BTreeMap<String, (usize, usize, usize)>) -> (f64, f64) {
    println!(
        "{:<22} {:>4} {:>4} {:>4} {:>9} {:>7}",
        name, "TP", "FP", "FN", "precision", "recall"
    );
    let (mut worst_p, mut worst_r) = (1.0f64, 1.0f64);
    for (k, (tp, fp, fn_)) in table {
        let (p, r) = (ratio(*tp, tp + fp), ratio(*tp, tp + fn_));
        worst_p = worst_p.min(p);
        worst_r = worst_r.min(r);
        println!("{k:<22} {tp:>4} {fp:>4} {fn_:>4} {p:>9.3} {r:>7.3}");
    }
    (worst_p, worst_r)
}

#[test]
fn rules_on_the_real_clip_against_hand_labels() {
    let truth = truth();
    let s = scored(&truth, |_| {});
    let (worst_p, worst_r) = print_table("vtest.avi", &s.table);
    assert!(
        worst_p >= 0.9 && worst_r >= 0.9,
        "below the 0.9 goal on the real clip (see the table above)"
    );
}

/// The faster paths of issue #20 must not change what users get: the int8 model, the motion
/// gate, both together, and motion windows (the gate detecting only around what moved) score
/// no worse than the fp32 model on every line and rule, and find the same crossings (same
/// direction, within the labels' tolerance). Exact times are not compared: int8 kernels
/// differ between CPUs (AVX2 vs AVX-512 VNNI), and on CI's machine one crossing came 0.56 s
/// later under int8 than under fp32 while scoring the same.
/// vtest frames 400-794 are held out from the int8 calibration; frames 0-399 are not
/// (models/nanodet-m-416-variants.md).
///
/// Detection on a region (`[cameras.detect_region]`) is held to the same crossings: the box
/// around the east line with the default margin (what `around = "geometry"` gives a camera
/// with only that line), 16 % of the model's input: every crossing it reports is one the
/// whole-frame run reports, and it scores no worse against the labels. The rules elsewhere in
/// the frame are outside it by design, so their rows are not compared, but none may fire
/// falsely inside it.
#[test]
fn faster_paths_keep_every_crossing_and_alert() {
    let truth = truth();
    let reference = scored(&truth, |_| {});
    print_table("fp32", &reference.table);
    let models = support::repo().join("models");
    let (int8, any_size) = (
        models.join("nanodet-m-416-int8.onnx"),
        models.join("nanodet-m-416-dyn.onnx"),
    );
    let m = edge_node::detect::DEFAULT_MARGIN;
    let east = edge_node::detect::Region::new([0.80 - m, 0.45 - m, 0.80 + m, 1.0]).unwrap();
    let gate = Some(edge_node::motion::MotionConfig::default());
    let windows = Some(edge_node::motion::MotionConfig {
        windows: true,
        ..Default::default()
    });
    let variants = [
        ("int8", Some(&int8), None, None),
        ("fp32 + motion gate", None, gate.clone(), None),
        ("int8 + motion gate", Some(&int8), gate, None),
        ("fp32 + motion windows", Some(&any_size), windows, None),
        (
            "fp32, region around the line",
            Some(&any_size),
            None,
            Some(east),
        ),
    ];
    for (name, model, motion, region) in variants {
        let s = scored(&truth, |cfg| {
            if let Some(m) = model {
                cfg.model.path = m.clone();
            }
            cfg.cameras[0].motion = motion.clone();
            cfg.cameras[0].detect_region = region;
        });
        print_table(name, &s.table);
        let (same, extra, missing) =
            matched(&s.crossings, &reference.crossings, CROSSING_TOLERANCE_S);
        if region.is_some() {
            // Measured: the same 19 labelled crossings; of the whole-frame run's others, two in
            // a stretch the labels call ambiguous and one false one are not reported.
            let row = "line east";
            let ((tp, fp, missed), (r_tp, r_fp, r_missed)) = (s.table[row], reference.table[row]);
            assert!(
                extra.is_empty() && tp >= r_tp && fp <= r_fp && missed <= r_missed,
                "{name}: {same} crossings as fp32, {extra:?} extra, {missing} missing; \
                 {row} {:?} vs fp32 {:?}",
                (tp, fp, missed),
                (r_tp, r_fp, r_missed)
            );
            assert_eq!(
                s.table["rule no-running"].1, 0,
                "{name}: cut boxes read as running"
            );
            continue;
        }
        assert!(
            extra.is_empty() && missing == 0,
            "{name}: {same} crossings as fp32, {extra:?} extra, {missing} missing"
        );
        for (row, &(tp, fp, missed)) in &reference.table {
            let (v_tp, v_fp, v_missed) = s.table[row];
            assert!(
                v_tp >= tp && v_fp <= fp && v_missed <= missed,
                "{name} scores worse than fp32 on {row}: {:?} vs {:?}",
                s.table[row],
                (tp, fp, missed)
            );
        }
        println!(
            "{name}: alerts {:?} (fp32 {:?})",
            s.alerts, reference.alerts
        );
    }
}
