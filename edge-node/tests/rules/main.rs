//! Behaviour rules on synthetic track streams (no video): scripted people and objects moving in
//! metres, turned into tracker output at 10 fps, through rules configured from TOML as a user
//! would. Each scenario says how many alerts each rule must raise; the test prints precision
//! and recall per rule and holds them to 0.95, and checks every episode has one start and one
//! end.

mod cases;
#[path = "../support/synthetic.rs"]
mod synthetic;

use std::collections::BTreeMap;
use std::path::Path;

use cases::{cases, loitering};
use chrono::{DateTime, Duration, Utc};
use edge_node::config::EdgeConfig;
use edge_node::rules::{History, RuleEngine};
use matthan_schema::{Alert, AlertPhase, BBox, Body};
use synthetic::SyntheticTracker;

/// The scene is 40 m × 20 m seen straight down at 100 px per metre (4000 × 2000 px), so the
/// uncalibrated estimate (typical height over box height) is exact for these boxes.
const PX_PER_M: f64 = 100.0;
const FRAME: (u32, u32) = (4000, 2000);
const FPS: f64 = 10.0;

pub const PERSON: usize = 0;
pub const CAR: usize = 2;
pub const BACKPACK: usize = 24;
pub const SUITCASE: usize = 28;

fn config(rules: &str) -> EdgeConfig {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/nanodet-m-416.onnx");
    let text = format!(
        r#"
site = "s"
[mqtt]
port = 1883
[model]
path = "{model}"
[[cameras]]
id = "c1"
url = "rtsp://127.0.0.1:8554/x"
# x 10..30 m, y 5..15 m
[[cameras.zones]]
id = "square"
polygon = [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]
# a corridor 0..40 m × 8..12 m
[[cameras.zones]]
id = "corridor"
polygon = [[0.0, 0.4], [1.0, 0.4], [1.0, 0.6], [0.0, 0.6]]
{rules}
"#
    );
    EdgeConfig::parse(&text, Path::new("/synthetic/edge.toml")).unwrap()
}

/// Where an actor is at `t` seconds (metres), or None while it is out of sight.
type PathFn = Box<dyn Fn(f64) -> Option<(f64, f64)>>;

pub struct Actor {
    id: u64,
    class: usize,
    height_m: f64,
    path: PathFn,
}

pub fn actor(id: u64, class: usize, path: impl Fn(f64) -> Option<(f64, f64)> + 'static) -> Actor {
    let height_m = match class {
        PERSON => 1.7,
        CAR => 1.5,
        BACKPACK => 0.5,
        SUITCASE => 0.65,
        _ => 1.0,
    };
    Actor {
        id,
        class,
        height_m,
        path: Box::new(path),
    }
}

/// Straight line from `a` to `b` (metres) over `t0..t1`, standing at the ends; visible within
/// `show`.
pub fn walk(a: (f64, f64), b: (f64, f64), t0: f64, t1: f64) -> impl Fn(f64) -> (f64, f64) {
    move |t| {
        let k = ((t - t0) / (t1 - t0)).clamp(0.0, 1.0);
        (a.0 + (b.0 - a.0) * k, a.1 + (b.1 - a.1) * k)
    }
}

pub fn between(t: f64, from: f64, to: f64) -> bool {
    (from..to).contains(&t)
}

/// Runs the actors through the rules for `secs`, starting at `start`; returns the alerts.
fn run(rules: &str, actors: &[Actor], secs: f64, start: DateTime<Utc>) -> Vec<Alert> {
    let cfg = config(rules);
    let cam = &cfg.cameras[0];
    let mut engine = RuleEngine::new(&cam.rules, &cam.zones, cam.ground.as_ref());
    let mut history = History::new(cam.ground.clone(), cfg.model.labels.clone());
    let mut tracker = SyntheticTracker::new(1.0);
    let mut alerts = Vec::new();
    let frames = (secs * FPS) as usize;
    let mut now = start;
    for f in 0..frames {
        let t = f as f64 / FPS;
        now = start + Duration::milliseconds((t * 1000.0) as i64);
        let sightings = actors.iter().filter_map(|a| {
            let (x, y) = (a.path)(t)?;
            let (cx, by) = (x * PX_PER_M, y * PX_PER_M);
            let h = a.height_m * PX_PER_M;
            let bbox = BBox {
                x1: (cx - h * 0.2) as f32,
                y1: (by - h) as f32,
                x2: (cx + h * 0.2) as f32,
                y2: by as f32,
            };
            Some((a.id, a.class, bbox))
        });
        let out = tracker.frame(t, now, sightings);
        history.observe(now, FRAME, &out);
        for (_, body) in engine.update(now, &history) {
            if let Body::Alert(a) = body {
                alerts.push(a);
            }
        }
    }
    for (_, body) in engine.finish(now, &history) {
        if let Body::Alert(a) = body {
            alerts.push(a);
        }
    }
    alerts
}

fn starts(alerts: &[Alert]) -> Vec<&Alert> {
    alerts
        .iter()
        .filter(|a| a.phase == AlertPhase::Start)
        .collect()
}

/// Every start has exactly one end with the same rule id, start time and main track.
fn assert_paired(name: &str, alerts: &[Alert]) {
    for s in starts(alerts) {
        let ends = alerts
            .iter()
            .filter(|e| {
                e.phase == AlertPhase::End
                    && e.rule_id == s.rule_id
                    && e.started == s.started
                    && e.track_ids.first() == s.track_ids.first()
            })
            .count();
        assert_eq!(ends, 1, "{name}: start {s:?} has {ends} ends");
    }
    let n_end = alerts.iter().filter(|a| a.phase == AlertPhase::End).count();
    assert_eq!(
        n_end,
        starts(alerts).len(),
        "{name}: unpaired ends in {alerts:#?}"
    );
}

pub fn noon() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T12:00:00+07:00")
        .unwrap()
        .to_utc()
}

#[test]
fn synthetic_cases_meet_the_precision_and_recall_goal() {
    let mut per_rule: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for c in cases() {
        let alerts = run(&c.rules, &c.actors, c.secs, c.start);
        assert_paired(c.name, &alerts);
        let got = starts(&alerts)
            .iter()
            .filter(|a| a.rule.as_str() == c.rule)
            .count();
        let e = per_rule.entry(c.rule).or_default();
        e.0 += got.min(c.expected);
        e.1 += got.saturating_sub(c.expected);
        e.2 += c.expected.saturating_sub(got);
        if got != c.expected {
            failures.push(format!(
                "{}: {} alerts, expected {}: {:#?}",
                c.name,
                got,
                c.expected,
                starts(&alerts)
            ));
        }
    }
    println!(
        "{:<18} {:>4} {:>4} {:>4} {:>9} {:>7}",
        "rule", "TP", "FP", "FN", "precision", "recall"
    );
    let mut worst: f64 = 1.0;
    for (rule, (tp, fp, fn_)) in &per_rule {
        let p = if tp + fp == 0 {
            1.0
        } else {
            *tp as f64 / (tp + fp) as f64
        };
        let r = if tp + fn_ == 0 {
            1.0
        } else {
            *tp as f64 / (tp + fn_) as f64
        };
        worst = worst.min(p).min(r);
        println!("{rule:<18} {tp:>4} {fp:>4} {fn_:>4} {p:>9.3} {r:>7.3}");
    }
    assert_eq!(
        per_rule.len(),
        edge_node::rules::REGISTRY.len(),
        "every rule is covered"
    );
    assert!(
        worst >= 0.95,
        "precision/recall below 0.95:\n{}",
        failures.join("\n")
    );
}

#[test]
fn alerts_carry_what_was_measured() {
    let alerts = run(
        &loitering(),
        &[actor(7, PERSON, |_| Some((20.0, 10.0)))],
        30.0,
        noon(),
    );
    let s = starts(&alerts)[0];
    assert_eq!(s.track_ids, vec![7]);
    assert_eq!(s.zone.as_deref(), Some("square"));
    assert_eq!(s.class.as_deref(), Some("person"));
    assert!((s.duration_s - 20.0).abs() < 0.5, "{s:?}");
    assert!(!s.calibrated);
    let end = alerts.iter().find(|a| a.phase == AlertPhase::End).unwrap();
    assert!(
        end.duration_s > 29.0,
        "the end covers the whole stay: {end:?}"
    );

    let w = walk((2.0, 10.0), (38.0, 10.0), 2.0, 9.2);
    let alerts = run(
        "[[cameras.rules]]\nkind = \"running\"\nid = \"run\"\n",
        &[actor(1, PERSON, move |t| Some(w(t)))],
        12.0,
        noon(),
    );
    let s = starts(&alerts)[0];
    assert_eq!(s.unit.as_deref(), Some("m/s"));
    let v = s.measure.unwrap();
    assert!((4.5..5.5).contains(&v), "speed {v} m/s for a 5 m/s sprint");
}

#[test]
fn a_calibrated_camera_measures_density_in_square_metres() {
    // The calibration maps the frame to the same 40 m × 20 m ground as the boxes assume.
    let rules = r#"
[cameras.ground]
id = "survey-1"
image = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
ground = [[0.0, 0.0], [40.0, 0.0], [40.0, 20.0], [0.0, 20.0]]
[[cameras.rules]]
kind = "crowding"
id = "dense"
zone = "square"
max_density = 0.05
min_s = 2
"#;
    // The square is 20 m × 10 m = 200 m²: 11 people are 0.055 per m².
    let people: Vec<Actor> = (0..11)
        .map(|i| actor(i, PERSON, move |_| Some((12.0 + i as f64, 10.0))))
        .collect();
    let alerts = run(rules, &people, 10.0, noon());
    let s = starts(&alerts);
    assert_eq!(s.len(), 1, "{alerts:?}");
    assert!(s[0].calibrated);
    assert_eq!(s[0].unit.as_deref(), Some("people/m2"));
    assert!((s[0].measure.unwrap() - 0.055).abs() < 1e-3, "{:?}", s[0]);
    let ten: Vec<Actor> = (0..10)
        .map(|i| actor(i, PERSON, move |_| Some((12.0 + i as f64, 10.0))))
        .collect();
    assert!(
        starts(&run(rules, &ten, 10.0, noon())).is_empty(),
        "10 people are exactly 0.05 per m²"
    );
}

#[test]
fn broken_rule_configs_name_the_key() {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/nanodet-m-416.onnx");
    let base = format!(
        "site = \"s\"\n[mqtt]\nport = 1883\n[model]\npath = \"{model}\"\n[[cameras]]\nid = \"c1\"\nurl = \"rtsp://127.0.0.1:8554/x\"\n[[cameras.zones]]\nid = \"z\"\npolygon = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]\n"
    );
    for (extra, want) in [
        (
            "[[cameras.rules]]\nkind = \"loitering\"\nid = \"l\"\nzone = \"nowhere\"\n",
            "cameras[0].rules[0].zone",
        ),
        (
            "[[cameras.rules]]\nkind = \"loitering\"\nid = \"l\"\nzone = \"z\"\nmin_s = -1\n",
            "cameras[0].rules[0].min_s",
        ),
        (
            "[[cameras.rules]]\nkind = \"loitering\"\nid = \"l\"\nzone = \"z\"\nrevisits = 1\n",
            "revisits",
        ),
        (
            "[[cameras.rules]]\nkind = \"crowding\"\nid = \"c\"\nzone = \"z\"\n",
            "max_people",
        ),
        (
            "[[cameras.rules]]\nkind = \"crowding\"\nid = \"c\"\nzone = \"z\"\nmax_density = 2.0\n",
            "calibration",
        ),
        (
            "[[cameras.rules]]\nkind = \"intrusion\"\nid = \"i\"\nzone = \"z\"\nhours = [\"22:00-25:00\"]\n",
            "hours[0]",
        ),
        (
            "[[cameras.rules]]\nkind = \"intrusion\"\nid = \"i\"\nzone = \"z\"\ntz = \"Saigon\"\n",
            "tz",
        ),
        (
            "[[cameras.rules]]\nkind = \"abandoned_object\"\nid = \"a\"\nclasses = [\"bagpipe\"]\n",
            "cameras[0].rules[0].classes[0]",
        ),
        (
            "[[cameras.rules]]\nkind = \"wrong_direction\"\nid = \"w\"\nzone = \"z\"\ndirection = [[0.1, 0.1]]\n",
            "direction",
        ),
        (
            "[[cameras.rules]]\nkind = \"teleporting\"\nid = \"t\"\n",
            "teleporting",
        ),
        (
            "[[cameras.rules]]\nkind = \"stopped_in_box\"\nid = \"b\"\nzone = \"z\"\nmax_s = 0\n",
            "cameras[0].rules[0].max_s",
        ),
        (
            "[[cameras.rules]]\nkind = \"stopped_in_box\"\nid = \"b\"\n",
            "missing field `zone`",
        ),
        (
            "[[cameras.rules]]\nkind = \"running\"\nid = \"r\"\nspeed = 3\n",
            "speed",
        ),
        (
            "[[cameras.rules]]\nkind = \"running\"\nid = \"r\"\n[[cameras.rules]]\nkind = \"running\"\nid = \"r\"\n",
            "duplicate rule id",
        ),
        (
            "[cameras.ground]\nid = \"g\"\nimage = [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.9, 0.1]]\nground = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n",
            "degenerate",
        ),
    ] {
        let text = format!("{base}{extra}");
        let err = EdgeConfig::parse(&text, Path::new("/etc/matthan/edge.toml"))
            .err()
            .unwrap_or_else(|| panic!("accepted:\n{extra}"))
            .to_string();
        assert!(
            err.contains("/etc/matthan/edge.toml") && err.contains(want),
            "{want:?} not in: {err}"
        );
    }
}
