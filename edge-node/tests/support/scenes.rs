//! The composite scenario clips (`test-videos/traffic/`, `test-videos/occlusion/`): their ground
//! truth, the edge config that runs them on the drawn road, and the scoring the violation and
//! occlusion suites share (violations one to one against the expected ones; track ids per
//! vehicle driven behind a larger one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::DateTime;
use matthan_schema::{Body, Event, Violation};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Truth {
    pub name: String,
    pub start_at: String,
    pub objects: Vec<Object>,
    pub violations: Vec<Expected>,
    pub note: String,
    /// Seconds the occluded vehicle is wholly hidden (the occlusion scenarios).
    #[serde(default)]
    pub hidden_s: f64,
}

#[derive(Deserialize)]
pub struct Object {
    pub id: String,
    pub plate: Option<String>,
    /// Keyframes (t, x, y): y is the lane the object drives in.
    pub path: Vec<(f64, f64, f64)>,
    /// Driven behind a larger vehicle: its track ids are counted.
    #[serde(default)]
    pub occluded: bool,
}

#[derive(Deserialize)]
pub struct Expected {
    pub rule: String,
    pub object: String,
    pub t: f64,
}

/// A violation's time depends on when the tracker confirmed the vehicle and on the rule's own
/// clock (min seconds, median speed window); a few seconds either way.
pub const TOLERANCE_S: f64 = 4.0;
pub const RULES: [&str; 7] = [
    "red_light",
    "wrong_way",
    "forbidden_zone",
    "illegal_parking",
    "speeding",
    "no_helmet",
    "too_many_riders",
];

/// Reads `<name>.json` for each name.
pub fn truths(clips: &Path, names: &[String]) -> BTreeMap<String, Truth> {
    names
        .iter()
        .map(|n| {
            let p = clips.join(format!("{n}.json"));
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            let t: Truth = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            (n.clone(), t)
        })
        .collect()
}

/// The top of an edge config for the drawn road: identity, the broker, the detector and tracker
/// as the composites need them (the corridor's sections), and the junction whose fixed plan the
/// clips' traffic light shows (`test-videos/traffic/junction.toml`).
pub fn edge_head(port: u16, truths: &BTreeMap<String, Truth>) -> String {
    let junction = std::fs::read_to_string(super::repo().join("test-videos/traffic/junction.toml"))
        .unwrap()
        .replace("{CAMERA}", truths.keys().next().unwrap());
    format!(
        "site = \"test-site\"\nedge_id = \"edge-test\"\n[mqtt]\nhost = \"127.0.0.1\"\nport = {port}\n{}{junction}\n",
        matthan_test_support::corridor_edge_sections(false)
    )
}

/// One `[[cameras]]` per clip with the drawn road's camera body (`camera_body`, from
/// `test-videos/traffic/camera.toml`), appended to the rest of an edge config.
pub fn cameras(clips: &Path, truths: &BTreeMap<String, Truth>, camera_body: &str) -> String {
    let mut text = String::new();
    for (n, truth) in truths {
        text += &format!(
            "\n[[cameras]]\nid = \"{n}\"\nurl = \"file://{}\"\nstart_at = \"{}\"\n{camera_body}",
            clips.join(format!("{n}.mp4")).display(),
            truth.start_at
        );
    }
    text
}

fn norm_plate(p: &str) -> String {
    p.replace(' ', "-")
}

/// True and false positives and negatives per rule, and the plates read on the true ones.
#[derive(Default)]
pub struct Score {
    pub tp: BTreeMap<&'static str, usize>,
    pub fp: BTreeMap<&'static str, usize>,
    pub fnn: BTreeMap<&'static str, usize>,
    /// Read exactly, of the violations found.
    pub plates: (usize, usize),
    pub problems: Vec<String>,
}

fn rule_name(rule: &str) -> &'static str {
    RULES
        .iter()
        .find(|r| **r == rule)
        .unwrap_or_else(|| panic!("unknown rule {rule}"))
}

/// A found violation matches an expected one of the same clip and rule within the tolerance,
/// one to one.
pub fn score(truths: &BTreeMap<String, Truth>, violations: &[Event]) -> Score {
    let mut s = Score::default();
    for (name, truth) in truths {
        let t0 = DateTime::parse_from_rfc3339(&truth.start_at)
            .unwrap()
            .to_utc();
        let found: Vec<&Violation> = violations
            .iter()
            .filter(|e| &e.camera == name)
            .filter_map(|e| match &e.body {
                Body::Violation(v) => Some(v),
                _ => None,
            })
            .collect();
        let mut used = vec![false; truth.violations.len()];
        for v in &found {
            let rule = v.rule.as_str();
            let t = (v.at - t0).as_seconds_f64();
            let m = truth
                .violations
                .iter()
                .enumerate()
                .find(|(i, x)| !used[*i] && x.rule == rule && (x.t - t).abs() <= TOLERANCE_S);
            let Some((i, x)) = m else {
                *s.fp.entry(rule_name(rule)).or_default() += 1;
                s.problems.push(format!(
                    "{name} ({}): unexpected {rule} at {t:.1} s",
                    truth.note
                ));
                continue;
            };
            used[i] = true;
            *s.tp.entry(rule_name(rule)).or_default() += 1;
            let want = truth
                .objects
                .iter()
                .find(|o| o.id == x.object)
                .and_then(|o| o.plate.as_deref())
                .map(norm_plate);
            s.plates.1 += 1;
            if v.plate.as_deref() == want.as_deref() {
                s.plates.0 += 1;
            } else {
                eprintln!("  {name}: plate read {:?}, painted {want:?}", v.plate);
            }
        }
        for (i, x) in truth.violations.iter().enumerate() {
            if !used[i] {
                *s.fnn.entry(rule_name(&x.rule)).or_default() += 1;
                s.problems.push(format!(
                    "{name} ({}): missed {} at {:.1} s",
                    truth.note, x.rule, x.t
                ));
            }
        }
    }
    s
}

impl Score {
    /// Prints the table; the worst precision or recall over the rules (1.0 for a rule with
    /// nothing expected and nothing found).
    pub fn print(&self) -> f64 {
        eprintln!(
            "\n{:<16} {:>3} {:>3} {:>3} {:>9} {:>7}",
            "rule", "TP", "FP", "FN", "precision", "recall"
        );
        let mut worst: f64 = 1.0;
        for r in RULES {
            let (a, b, c) = (self.tp(r), self.get(&self.fp, r), self.get(&self.fnn, r));
            let p = if a + b == 0 {
                1.0
            } else {
                a as f64 / (a + b) as f64
            };
            let rc = if a + c == 0 {
                1.0
            } else {
                a as f64 / (a + c) as f64
            };
            eprintln!("{r:<16} {a:>3} {b:>3} {c:>3} {p:>9.3} {rc:>7.3}");
            worst = worst.min(p).min(rc);
        }
        worst
    }

    pub fn tp(&self, rule: &str) -> usize {
        self.get(&self.tp, rule)
    }

    pub fn expected(&self, rule: &str) -> usize {
        self.tp(rule) + self.get(&self.fnn, rule)
    }

    fn get(&self, m: &BTreeMap<&'static str, usize>, rule: &str) -> usize {
        m.get(rule).copied().unwrap_or(0)
    }
}

/// The events of the clips named, violations only.
pub fn violations_of(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| matches!(e.body, Body::Violation(_)))
        .cloned()
        .collect()
}

/// Scenarios whose object drives behind a larger vehicle: the clips whose vehicle the tracker
/// followed under one id. A track is the vehicle's when its path runs in the vehicle's lane.
pub fn occlusion_kept(truths: &BTreeMap<String, Truth>, events: &[Event]) -> BTreeSet<String> {
    let mut kept = BTreeSet::new();
    for (name, truth) in truths {
        for o in truth.objects.iter().filter(|o| o.occluded) {
            let lane = o.path[0].2 as f32;
            let ids: BTreeSet<u64> = events
                .iter()
                .filter(|e| &e.camera == name)
                .filter_map(|e| match &e.body {
                    Body::Track(t) if !t.path.is_empty() => {
                        let mut ys: Vec<f32> = t.path.iter().map(|p| p[1]).collect();
                        ys.sort_by(f32::total_cmp);
                        ((ys[ys.len() / 2] - lane).abs() < 30.0).then_some(t.track_id)
                    }
                    _ => None,
                })
                .collect();
            if ids.len() == 1 {
                kept.insert(name.clone());
            } else {
                eprintln!(
                    "  {name} ({}): {} tracks for the occluded {}: {ids:?}",
                    truth.note,
                    ids.len(),
                    o.id
                );
                for line in track_lines(name, events) {
                    eprintln!("    {line}");
                }
            }
        }
    }
    kept
}

/// How many objects of these scenarios are driven behind a larger vehicle.
pub fn occluded_count(truths: &BTreeMap<String, Truth>) -> usize {
    truths
        .values()
        .map(|t| t.objects.iter().filter(|o| o.occluded).count())
        .sum()
}

/// Each finished track of one clip: id, class, seconds seen, median ground row, first and last
/// x of its anchor (for reading a failure).
fn track_lines(camera: &str, events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.camera == camera)
        .filter_map(|e| match &e.body {
            Body::Track(t) if t.phase == matthan_schema::TrackPhase::End && !t.path.is_empty() => {
                let mut ys: Vec<f32> = t.path.iter().map(|p| p[1]).collect();
                ys.sort_by(f32::total_cmp);
                Some(format!(
                    "track {} {} {}..{} y {:.0} x {:.0} -> {:.0} ({} points)",
                    t.track_id,
                    t.class,
                    t.first_seen.format("%S%.3f"),
                    t.last_seen.format("%S%.3f"),
                    ys[ys.len() / 2],
                    t.path[0][0],
                    t.path[t.path.len() - 1][0],
                    t.path.len()
                ))
            }
            _ => None,
        })
        .collect()
}

/// Runs the edge over the clips of `cfg` (files: no frame may be dropped) and returns every
/// event the hub stored once all the edge produced has arrived (or a minute has passed).
pub fn run_into_hub(
    cfg: &edge_node::config::EdgeConfig,
    clips: usize,
    hub: &super::Hub,
) -> Vec<Event> {
    // RUST_LOG=edge_node::violations::speeding=trace and the like, for looking into one case.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
    let started = std::time::Instant::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let summary = edge_node::pipeline::run(cfg, stop).unwrap();
    eprintln!(
        "pipeline: {} frames from {clips} clips in {:.1} s, {} events",
        summary.frames,
        started.elapsed().as_secs_f64(),
        summary.events
    );
    assert_eq!(summary.dropped, 0, "files are read without dropping frames");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let evs = hub.events();
        if evs.len() as u64 >= summary.events || std::time::Instant::now() > deadline {
            return evs;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
