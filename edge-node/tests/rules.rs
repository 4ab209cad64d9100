//! Behaviour rules on synthetic track streams (no video): scripted people and objects moving in
//! metres, turned into tracker output at 10 fps, through rules configured from TOML as a user
//! would. Each scenario says how many alerts each rule must raise; the test prints precision
//! and recall per rule and holds them to 0.95, and checks every episode has one start and one
//! end.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use edge_node::config::EdgeConfig;
use edge_node::rules::RuleEngine;
use edge_node::track::{TrackSnapshot, TrackerOutput};
use matthan_schema::{Alert, AlertPhase, BBox, Body};

/// The scene is 40 m × 20 m seen straight down at 100 px per metre (4000 × 2000 px), so the
/// uncalibrated estimate (typical height over box height) is exact for these boxes.
const PX_PER_M: f64 = 100.0;
const FRAME: (u32, u32) = (4000, 2000);
const FPS: f64 = 10.0;

const PERSON: usize = 0;
const CAR: usize = 2;
const BACKPACK: usize = 24;
const SUITCASE: usize = 28;

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

struct Actor {
    id: u64,
    class: usize,
    height_m: f64,
    path: PathFn,
}

fn actor(id: u64, class: usize, path: impl Fn(f64) -> Option<(f64, f64)> + 'static) -> Actor {
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
fn walk(a: (f64, f64), b: (f64, f64), t0: f64, t1: f64) -> impl Fn(f64) -> (f64, f64) {
    move |t| {
        let k = ((t - t0) / (t1 - t0)).clamp(0.0, 1.0);
        (a.0 + (b.0 - a.0) * k, a.1 + (b.1 - a.1) * k)
    }
}

fn between(t: f64, from: f64, to: f64) -> bool {
    (from..to).contains(&t)
}

/// Runs the actors through the rules for `secs`, starting at `start`; returns the alerts.
fn run(rules: &str, actors: &[Actor], secs: f64, start: DateTime<Utc>) -> Vec<Alert> {
    let cfg = config(rules);
    let cam = &cfg.cameras[0];
    let mut engine = RuleEngine::new(
        &cam.rules,
        &cam.zones,
        cam.ground.clone(),
        cfg.model.labels.clone(),
    );
    // Like the tracker: a track missed for a frame or two lives on; gone for a second, it ends.
    let mut visible: BTreeMap<u64, (TrackSnapshot, f64)> = BTreeMap::new();
    let mut alerts = Vec::new();
    let frames = (secs * FPS) as usize;
    let mut now = start;
    for f in 0..frames {
        let t = f as f64 / FPS;
        now = start + Duration::milliseconds((t * 1000.0) as i64);
        let mut out = TrackerOutput::default();
        let mut still = BTreeMap::new();
        for a in actors {
            if let Some((x, y)) = (a.path)(t) {
                let (cx, by) = (x * PX_PER_M, y * PX_PER_M);
                let h = a.height_m * PX_PER_M;
                let snap = TrackSnapshot {
                    id: a.id,
                    class: a.class,
                    score: 0.8,
                    bbox: BBox {
                        x1: (cx - h * 0.2) as f32,
                        y1: (by - h) as f32,
                        x2: (cx + h * 0.2) as f32,
                        y2: by as f32,
                    },
                    first_seen: visible.get(&a.id).map_or(now, |s| s.0.first_seen),
                    last_seen: now,
                    hits: 1,
                };
                out.seen.push(snap.clone());
                still.insert(a.id, (snap, t));
            }
        }
        for (id, (s, last)) in visible {
            if still.contains_key(&id) {
                continue;
            }
            if t - last > 1.0 {
                out.ended.push(s);
            } else {
                still.insert(id, (s, last));
            }
        }
        visible = still;
        for (_, body) in engine.update(now, FRAME, &out) {
            if let Body::Alert(a) = body {
                alerts.push(a);
            }
        }
    }
    for (_, body) in engine.finish(now) {
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

fn noon() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T12:00:00+07:00")
        .unwrap()
        .to_utc()
}

struct Case {
    name: &'static str,
    rule: &'static str,
    rules: String,
    actors: Vec<Actor>,
    secs: f64,
    start: DateTime<Utc>,
    expected: usize,
}

fn loitering() -> String {
    r#"
[[cameras.rules]]
kind = "loitering"
id = "loiter"
zone = "square"
min_s = 20
revisits = 3
window_s = 120
"#
    .into()
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut case = |name, rule, rules: String, actors, secs, start, expected| {
        v.push(Case {
            name,
            rule,
            rules,
            actors,
            secs,
            start,
            expected,
        })
    };
    // Loitering.
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 30.0);
    case(
        "walks through the square",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        35.0,
        noon(),
        0,
    );
    case(
        "stands in the square 40 s",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, |t| {
            Some((20.0 + 0.05 * (t * 3.0).sin(), 10.0))
        })],
        45.0,
        noon(),
        1,
    );
    case(
        "stays 19 s, just under the limit",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, |t| {
            Some(if between(t, 2.0, 21.0) {
                (20.0, 10.0)
            } else {
                (35.0, 10.0)
            })
        })],
        30.0,
        noon(),
        0,
    );
    case(
        "jitters on the boundary for 40 s: one stay, one alert",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, |t| {
            Some((
                if ((t * 10.0) as i64) % 6 < 3 {
                    9.9
                } else {
                    10.1
                },
                10.0,
            ))
        })],
        45.0,
        noon(),
        1,
    );
    case(
        "comes back three times in a minute",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, |t| {
            Some(if ((t / 10.0) as i64) % 2 == 0 {
                (20.0, 10.0)
            } else {
                (35.0, 10.0)
            })
        })],
        55.0,
        noon(),
        1,
    );
    case(
        "detector misses every third frame",
        "loitering",
        loitering(),
        vec![actor(1, PERSON, |t| {
            let f = (t * 10.0).round() as i64;
            (f % 3 != 0).then_some((20.0, 10.0))
        })],
        40.0,
        noon(),
        1,
    );
    case(
        "a parked car is not a loiterer",
        "loitering",
        loitering(),
        vec![actor(1, CAR, |_| Some((20.0, 10.0)))],
        60.0,
        noon(),
        0,
    );

    // Crowding: more than 5 people for 5 s.
    let crowd = r#"
[[cameras.rules]]
kind = "crowding"
id = "crowd"
zone = "square"
max_people = 5
min_s = 5
clear_s = 5
"#;
    let group = |n: u64, until: f64| -> Vec<Actor> {
        (0..n)
            .map(|i| {
                actor(10 + i, PERSON, move |t| {
                    (t < until).then_some((15.0 + i as f64, 10.0 + (i % 2) as f64))
                })
            })
            .collect()
    };
    case(
        "eight people gather for 20 s",
        "crowding",
        crowd.into(),
        group(8, 20.0),
        30.0,
        noon(),
        1,
    );
    case(
        "exactly at the limit for a minute",
        "crowding",
        crowd.into(),
        group(5, 60.0),
        60.0,
        noon(),
        0,
    );
    case(
        "seven people for only 3 s",
        "crowding",
        crowd.into(),
        group(7, 3.0),
        10.0,
        noon(),
        0,
    );
    case(
        "twelve people for half a minute",
        "crowding",
        crowd.into(),
        group(12, 30.0),
        40.0,
        noon(),
        1,
    );
    {
        // Six people, then one keeps stepping in and out every 2 s for 40 s: one episode.
        let mut a: Vec<Actor> = (0..5)
            .map(|i| {
                actor(10 + i, PERSON, move |t| {
                    (t < 60.0).then_some((15.0 + i as f64, 10.0))
                })
            })
            .collect();
        a.push(actor(20, PERSON, |t| {
            Some(if t < 10.0 || ((t / 2.0) as i64) % 2 == 0 {
                (21.0, 12.0)
            } else {
                (21.0, 17.0)
            })
        }));
        case(
            "a crowd hovering around the limit",
            "crowding",
            crowd.into(),
            a,
            70.0,
            noon(),
            1,
        );
    }

    // Running: above 3 m/s for 1 s.
    let running = r#"
[[cameras.rules]]
kind = "running"
id = "run"
"#;
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.7);
    case(
        "walks at 1.4 m/s",
        "running",
        running.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        30.0,
        noon(),
        0,
    );
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 14.4);
    case(
        "brisk walk at 2.5 m/s",
        "running",
        running.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        16.0,
        noon(),
        0,
    );
    let w = walk((2.0, 10.0), (38.0, 10.0), 2.0, 9.2);
    case(
        "sprints at 5 m/s",
        "running",
        running.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        12.0,
        noon(),
        1,
    );
    let d = walk((38.0, 12.0), (5.0, 6.0), 1.0, 9.5);
    case(
        "sprints diagonally at 4 m/s",
        "running",
        running.into(),
        vec![actor(1, PERSON, move |t| Some(d(t)))],
        12.0,
        noon(),
        1,
    );
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.7);
    case(
        "walks with a jittery box",
        "running",
        running.into(),
        vec![actor(1, PERSON, move |t| {
            let (x, y) = w(t);
            let f = (t * 10.0).round() as i64;
            Some((
                x + 0.06 * ((f * 7919) % 5 - 2) as f64,
                y + 0.06 * ((f * 104729) % 5 - 2) as f64,
            ))
        })],
        30.0,
        noon(),
        0,
    );

    // Dispersal: at least 4 people faster than 2 m/s, away from where they were.
    let dispersal = r#"
[[cameras.rules]]
kind = "dispersal"
id = "scatter"
zone = "square"
"#;
    let scatter = |speed: f64, radial: bool| -> Vec<Actor> {
        (0..6)
            .map(|i| {
                let ang = i as f64 * std::f64::consts::TAU / 6.0;
                let start = (20.0 + 1.5 * ang.cos(), 10.0 + 1.5 * ang.sin());
                let dir = if radial {
                    (ang.cos(), ang.sin())
                } else {
                    (1.0, 0.0)
                };
                actor(30 + i, PERSON, move |t| {
                    let k = (t - 10.0).clamp(0.0, 2.5) * speed;
                    Some((start.0 + dir.0 * k, start.1 + dir.1 * k))
                })
            })
            .collect()
    };
    case(
        "a group scatters at 4 m/s",
        "dispersal",
        dispersal.into(),
        scatter(4.0, true),
        16.0,
        noon(),
        1,
    );
    case(
        "a group scatters at 3 m/s",
        "dispersal",
        dispersal.into(),
        scatter(3.0, true),
        16.0,
        noon(),
        1,
    );
    case(
        "a group jogs off together",
        "dispersal",
        dispersal.into(),
        scatter(4.0, false),
        16.0,
        noon(),
        0,
    );
    case(
        "a group drifts apart at 1.2 m/s",
        "dispersal",
        dispersal.into(),
        scatter(1.2, true),
        16.0,
        noon(),
        0,
    );

    // Intrusion: the square is closed 22:00-05:00 local time.
    let intrusion = r#"
[[cameras.rules]]
kind = "intrusion"
id = "closed"
zone = "square"
classes = ["person"]
hours = ["22:00-05:00"]
"#;
    let night = DateTime::parse_from_rfc3339("2026-11-26T23:00:00+07:00")
        .unwrap()
        .to_utc();
    let before = DateTime::parse_from_rfc3339("2026-11-26T21:59:50+07:00")
        .unwrap()
        .to_utc();
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.0);
    case(
        "walks in at 23:00",
        "intrusion",
        intrusion.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        30.0,
        night,
        1,
    );
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.0);
    case(
        "walks in at 14:00",
        "intrusion",
        intrusion.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        30.0,
        noon(),
        0,
    );
    case(
        "inside when the zone arms at 22:00",
        "intrusion",
        intrusion.into(),
        vec![actor(1, PERSON, |_| Some((20.0, 10.0)))],
        40.0,
        before,
        1,
    );
    case(
        "edge flicker one frame at a time",
        "intrusion",
        intrusion.into(),
        vec![actor(1, PERSON, |t| {
            Some((
                if ((t * 10.0).round() as i64) % 2 == 0 {
                    9.9
                } else {
                    10.1
                },
                10.0,
            ))
        })],
        30.0,
        night,
        0,
    );

    // Abandoned object: a backpack still for 30 s with nobody within 2 m.
    let abandoned = r#"
[[cameras.rules]]
kind = "abandoned_object"
id = "bag"
"#;
    case(
        "bag left, owner walks away",
        "abandoned_object",
        abandoned.into(),
        vec![
            actor(1, PERSON, |t| {
                Some(if t < 5.0 {
                    (20.0, 10.0)
                } else {
                    (20.0 + (t - 5.0) * 1.4, 10.0)
                })
                .filter(|p| p.0 < 39.0)
            }),
            actor(2, BACKPACK, |_| Some((20.3, 10.0))),
        ],
        60.0,
        noon(),
        1,
    );
    case(
        "suitcase left at the square's edge",
        "abandoned_object",
        abandoned.into(),
        vec![
            actor(1, PERSON, |t| {
                Some(if t < 3.0 {
                    (12.0, 14.0)
                } else {
                    (12.0 - (t - 3.0) * 1.3, 14.0)
                })
                .filter(|p| p.0 > 0.5)
            }),
            actor(2, SUITCASE, |_| Some((12.4, 14.0))),
        ],
        50.0,
        noon(),
        1,
    );
    case(
        "bag beside a seated person",
        "abandoned_object",
        abandoned.into(),
        vec![
            actor(1, PERSON, |_| Some((20.0, 10.0))),
            actor(2, BACKPACK, |_| Some((21.0, 10.0))),
        ],
        120.0,
        noon(),
        0,
    );
    case(
        "owner comes back within 20 s",
        "abandoned_object",
        abandoned.into(),
        vec![
            actor(1, PERSON, |t| {
                Some(if !(5.0..=25.0).contains(&t) {
                    (20.0, 10.0)
                } else {
                    (30.0, 10.0)
                })
            }),
            actor(2, BACKPACK, |_| Some((20.3, 10.0))),
        ],
        60.0,
        noon(),
        0,
    );
    let w = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.0);
    let w2 = walk((2.0, 10.0), (38.0, 10.0), 0.0, 25.0);
    case(
        "bag carried across",
        "abandoned_object",
        abandoned.into(),
        vec![
            actor(1, PERSON, move |t| Some(w(t))),
            actor(2, BACKPACK, move |t| Some(w2(t))),
        ],
        30.0,
        noon(),
        0,
    );

    // Wrong direction: the corridor is one-way, left to right.
    let oneway = r#"
[[cameras.rules]]
kind = "wrong_direction"
id = "oneway"
zone = "corridor"
direction = [[0.1, 0.5], [0.9, 0.5]]
classes = ["person"]
"#;
    let w = walk((1.0, 10.0), (39.0, 10.0), 0.0, 27.0);
    case(
        "walks the right way",
        "wrong_direction",
        oneway.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        30.0,
        noon(),
        0,
    );
    let w = walk((39.0, 10.0), (1.0, 10.0), 0.0, 27.0);
    case(
        "walks against the flow",
        "wrong_direction",
        oneway.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        30.0,
        noon(),
        1,
    );
    let w = walk((30.0, 11.5), (8.0, 8.5), 0.0, 18.0);
    case(
        "cuts back diagonally against the flow",
        "wrong_direction",
        oneway.into(),
        vec![actor(1, PERSON, move |t| Some(w(t)))],
        20.0,
        noon(),
        1,
    );
    case(
        "hesitates, steps back 1 m, goes on",
        "wrong_direction",
        oneway.into(),
        vec![actor(1, PERSON, |t| {
            Some(if t < 10.0 {
                (5.0 + t * 1.2, 10.0)
            } else if t < 12.0 {
                (17.0 - (t - 10.0) * 0.5, 10.0)
            } else {
                (16.0 + (t - 12.0) * 1.2, 10.0)
            })
        })],
        30.0,
        noon(),
        0,
    );
    case(
        "stands still in the corridor",
        "wrong_direction",
        oneway.into(),
        vec![actor(1, PERSON, |t| {
            Some((20.0 + 0.05 * (t * 5.0).sin(), 10.0))
        })],
        30.0,
        noon(),
        0,
    );
    v
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
    assert_eq!(per_rule.len(), 7, "every rule is covered");
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
