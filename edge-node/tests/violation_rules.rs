//! Violation rules on synthetic track streams (no video), so edge cases are cheap: the red-light
//! grace time and a vehicle already in the box, controller messages out of order or from the
//! future, speeds from a calibrated homography with jittery boxes, a queue that stops and goes,
//! a parked car whose detection flickers, crops the classifier gets wrong now and then, and a
//! plate crop of 3×3 pixels.

#[path = "support/synthetic.rs"]
mod synthetic;

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use edge_node::analytics::CameraAnalytics;
use edge_node::config::EdgeConfig;
use edge_node::rules::History;
use edge_node::violations::{Hit, Lights, ViolationEngine, Vote};
use matthan_schema::{BBox, Body, ViolationRule};
use synthetic::SyntheticTracker;

/// A 50 m × 25 m road seen from above at 20 px per metre.
const PX_PER_M: f64 = 20.0;
const FRAME: (u32, u32) = (1000, 500);
const FPS: f64 = 10.0;
const CAR: usize = 2;
const BIKE: usize = 1;
const TRUCK: usize = 7;

fn config() -> EdgeConfig {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/nanodet-m-416.onnx");
    let dir = tempfile::tempdir().unwrap().keep();
    let key = dir.join("k.key");
    edge_node::signing::SigningKey::generate(&key).unwrap();
    let helmet = dir.join("helmet.onnx");
    // Starts like an ONNX file (config checks the first byte); these tests never load it.
    std::fs::write(&helmet, b"\x08not read by these tests").unwrap();
    let text = format!(
        r#"
site = "s"
[mqtt]
port = 1883
[model]
path = "{model}"
[evidence]
dir = "{dir}/ev"
key = "{key}"
[[classifiers]]
id = "helmet"
path = "{helmet}"
input = [32, 32]
labels = ["helmet", "no_helmet", "three_riders"]
[[junctions]]
id = "j1"
camera = "c1"
yellow_s = 3.0
all_red_s = 2.0
[junctions.plan]
greens_s = [20.0, 20.0]
[[junctions.approaches]]
id = "east"
line = "stop"
[[junctions.approaches]]
id = "north"
line = "stop-n"
[[junctions.phases]]
id = "ew"
approaches = ["east"]
[[junctions.phases]]
id = "ns"
approaches = ["north"]

[[cameras]]
id = "c1"
url = "rtsp://127.0.0.1:8554/x"
# the stop line at x = 30 m
[[cameras.lines]]
id = "stop"
points = [[0.6, 0.0], [0.6, 1.0]]
[[cameras.lines]]
id = "stop-n"
points = [[0.9, 0.1], [1.0, 0.1]]
# kerb lane y 0..5 m, x 10..25 m: no stopping
[[cameras.zones]]
id = "kerb"
polygon = [[0.2, 0.0], [0.5, 0.0], [0.5, 0.2], [0.2, 0.2]]
[cameras.ground]
id = "survey-7"
image = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
ground = [[0.0, 0.0], [50.0, 0.0], [50.0, 25.0], [0.0, 25.0]]
[[cameras.violations]]
kind = "red_light"
id = "red"
line = "stop"
direction = "in"
junction = "j1"
phase = "ew"
grace_s = 0.5
[[cameras.violations]]
kind = "speeding"
id = "speed"
limit_kmh = 50
tolerance_kmh = 5
[[cameras.violations]]
kind = "illegal_parking"
id = "park"
zone = "kerb"
max_stop_s = 10
[[cameras.violations]]
kind = "no_helmet"
id = "helmet"
classifier = "helmet"
"#,
        dir = dir.display(),
        key = key.display(),
        helmet = helmet.display()
    );
    EdgeConfig::parse(&text, Path::new("/synthetic/edge.toml")).unwrap()
}

/// Where a vehicle is at `t` (metres), or None while out of sight.
type PathFn = Box<dyn Fn(f64) -> Option<(f64, f64)>>;

struct Vehicle {
    id: u64,
    class: usize,
    path: PathFn,
    /// Pixels of box jitter (deterministic, alternating).
    jitter: f64,
    /// Half the box's width (pixels).
    half_w: f64,
    /// Pixels along x hidden by something standing in front (a bus in the near lane): the box
    /// is cut where it goes behind, gone while wholly behind.
    behind: Option<(f64, f64)>,
}

/// The part of `x1..x2` not behind `hide`, or none when too little shows to be detected.
fn visible(x1: f64, x2: f64, hide: Option<(f64, f64)>) -> Option<(f64, f64)> {
    let (a, b) = match hide {
        Some((h1, h2)) if x2 > h1 && x1 < h2 => match (x1 < h1, x2 > h2) {
            (true, _) => (x1, h1),
            (false, true) => (h2, x2),
            (false, false) => return None,
        },
        _ => (x1, x2),
    };
    (b - a >= 15.0).then_some((a, b))
}

fn vehicle(id: u64, class: usize, path: impl Fn(f64) -> Option<(f64, f64)> + 'static) -> Vehicle {
    Vehicle {
        id,
        class,
        path: Box::new(path),
        jitter: 0.0,
        half_w: 40.0,
        behind: None,
    }
}

/// Piecewise-linear path through (t, x, y) keyframes; out of sight outside them.
fn keyframes(k: Vec<(f64, f64, f64)>) -> impl Fn(f64) -> Option<(f64, f64)> {
    move |t| {
        if t < k[0].0 || t > k[k.len() - 1].0 {
            return None;
        }
        k.windows(2).find(|w| t >= w[0].0 && t <= w[1].0).map(|w| {
            let a = if w[1].0 > w[0].0 {
                (t - w[0].0) / (w[1].0 - w[0].0)
            } else {
                0.0
            };
            (
                w[0].1 + a * (w[1].1 - w[0].1),
                w[0].2 + a * (w[1].2 - w[0].2),
            )
        })
    }
}

/// Local 08:00:00 in Ho Chi Minh City, where a cycle of the plan starts (28800 s = 576 cycles of
/// 50 s after midnight): "ew" green 0-20 s, yellow 20-23 s, red from 23 s.
fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T08:00:00+07:00")
        .unwrap()
        .to_utc()
}

/// Runs the vehicles for `secs`; `votes(t, id)` gives the classifier's scores for a crop.
fn run(
    vehicles: &[Vehicle],
    secs: f64,
    lights: &Lights,
    votes: &dyn Fn(f64, u64) -> Option<Vec<(String, f32)>>,
) -> Vec<(f64, Hit)> {
    let cfg = config();
    let cam = &cfg.cameras[0];
    let mut engine = ViolationEngine::new(&cam.violations, &cam.zones, cam.ground.as_ref());
    let mut history = History::new(cam.ground.clone(), cfg.model.labels.clone());
    let mut analytics = CameraAnalytics::new(
        cam.lines.clone(),
        cam.zones.clone(),
        cfg.model.labels.clone(),
        10,
        1.0,
    );
    let mut tracker = SyntheticTracker::new(1.0);
    let mut hits = Vec::new();
    for f in 0..(secs * FPS) as usize {
        let t = f as f64 / FPS;
        let now = start() + Duration::milliseconds((t * 1000.0) as i64);
        let mut frame_votes = Vec::new();
        let mut sightings = Vec::new();
        for v in vehicles {
            let Some((x, y)) = (v.path)(t) else { continue };
            let j = if f % 2 == 0 { v.jitter } else { -v.jitter };
            let (cx, by) = (x * PX_PER_M + j, y * PX_PER_M);
            let Some((x1, x2)) = visible(cx - v.half_w, cx + v.half_w, v.behind) else {
                continue;
            };
            let bbox = BBox {
                x1: x1 as f32,
                y1: (by - 30.0) as f32,
                x2: x2 as f32,
                y2: by as f32,
            };
            if let Some(scores) = votes(t, v.id) {
                frame_votes.push(Vote {
                    track: v.id,
                    classifier: "helmet".into(),
                    scores,
                });
            }
            sightings.push((v.id, v.class, bbox));
        }
        let out = tracker.frame(t, now, sightings);
        history.observe(now, FRAME, &out);
        let crossings: Vec<_> = analytics
            .update(now, FRAME, &out)
            .into_iter()
            .filter_map(|(ts, b)| match b {
                Body::Crossing(c) => Some((ts, c)),
                _ => None,
            })
            .collect();
        for h in engine.update(now, &history, &crossings, lights, &frame_votes) {
            hits.push((t, h));
        }
    }
    hits
}

fn no_votes(_: f64, _: u64) -> Option<Vec<(String, f32)>> {
    None
}

fn lights() -> Lights {
    Lights::new(&config().junctions)
}

fn of(hits: &[(f64, Hit)], rule: ViolationRule) -> Vec<(f64, u64)> {
    hits.iter()
        .filter(|(_, h)| h.rule == rule)
        .map(|(t, h)| (*t, h.track))
        .collect()
}

/// Eastbound at 8 m/s (29 km/h), crossing the stop line (x = 30 m) at `t_cross`.
fn eastbound(id: u64, t_cross: f64, y: f64) -> Vehicle {
    vehicle(
        id,
        CAR,
        keyframes(vec![(t_cross - 3.0, 6.0, y), (t_cross + 2.0, 46.0, y)]),
    )
}

#[test]
fn red_light_respects_grace_and_the_box() {
    let vs = vec![
        eastbound(1, 10.0, 8.0),  // green
        eastbound(2, 23.3, 10.0), // 0.3 s into red: within the grace time
        eastbound(3, 25.0, 12.0), // 2 s into red: violation
        // In the box at red: crossed in yellow at 21.5 s, waits past the line until 30 s.
        vehicle(
            4,
            CAR,
            keyframes(vec![
                (18.0, 10.0, 14.0),
                (21.5, 30.5, 14.0),
                (22.0, 33.0, 14.0),
                (30.0, 33.0, 14.0),
                (33.0, 46.0, 14.0),
            ]),
        ),
        // Stops before the line at red and never crosses.
        vehicle(
            5,
            CAR,
            keyframes(vec![
                (20.0, 5.0, 16.0),
                (24.0, 28.0, 16.0),
                (34.0, 28.0, 16.0),
            ]),
        ),
    ];
    let hits = run(&vs, 34.0, &lights(), &no_votes);
    let red = of(&hits, ViolationRule::RedLight);
    assert_eq!(
        red.iter().map(|r| r.1).collect::<Vec<_>>(),
        vec![3],
        "{red:?}"
    );
    let h = &hits
        .iter()
        .find(|(_, h)| h.rule == ViolationRule::RedLight)
        .unwrap()
        .1;
    let s = h.context.signal.as_ref().unwrap();
    assert!((s.into_red_s - 2.0).abs() < 0.3, "{s:?}");
    assert_eq!(s.yellow_s, 3.0);
    assert_eq!(s.red_s, Some(27.0));
    assert_eq!(s.source, matthan_schema::SignalSource::FixedPlan);
}

#[test]
fn controller_feed_overrides_the_plan_and_bad_messages_change_nothing() {
    let mut l = lights();
    let topic = "matthan/s/j1/signal/state";
    let at = |s: f64| {
        matthan_schema::format_ts(&(start() + Duration::milliseconds((s * 1000.0) as i64)))
    };
    let msg = |colour: &str, since: f64| {
        format!(
            r#"{{"phase":"ew","colour":"{colour}","since":"{}"}}"#,
            at(since)
        )
        .into_bytes()
    };
    // The controller turns "ew" red at 5 s (the plan would show green until 20 s).
    let now = start() + Duration::seconds(40);
    l.apply(topic, &msg("yellow", 2.0), now).unwrap();
    l.apply(topic, &msg("red", 5.0), now).unwrap();
    // Out of order, and from the future: refused, the red stands.
    assert!(l.apply(topic, &msg("green", 1.0), now).is_err());
    assert!(l.apply(topic, &msg("green", 60.0), now).is_err());
    assert!(l.apply(topic, b"{\"phase\":", now).is_err());
    let hits = run(&[eastbound(7, 8.0, 8.0)], 12.0, &l, &no_votes);
    let red: Vec<_> = hits
        .iter()
        .filter(|(_, h)| h.rule == ViolationRule::RedLight)
        .collect();
    assert_eq!(red.len(), 1);
    let s = red[0].1.context.signal.as_ref().unwrap();
    assert_eq!(s.source, matthan_schema::SignalSource::Controller);
    assert!((s.into_red_s - 3.0).abs() < 0.3, "{s:?}");
    assert_eq!(s.yellow_s, 3.0);
}

#[test]
fn speeding_needs_the_smoothed_speed_over_limit_plus_tolerance() {
    // Westbound (no stop line that way), in green anyway. 17 m/s = 61 km/h; 14.5 m/s = 52 km/h
    // (over the limit, under limit + tolerance) with 6 px of box jitter.
    let mut slow = vehicle(
        2,
        CAR,
        keyframes(vec![(1.0, 48.0, 20.0), (1.0 + 44.0 / 14.5, 4.0, 20.0)]),
    );
    slow.jitter = 6.0;
    let vs = vec![
        vehicle(
            1,
            CAR,
            keyframes(vec![(1.0, 48.0, 22.0), (1.0 + 44.0 / 17.0, 4.0, 22.0)]),
        ),
        slow,
    ];
    let hits = run(&vs, 6.0, &lights(), &no_votes);
    let sp: Vec<_> = hits
        .iter()
        .filter(|(_, h)| h.rule == ViolationRule::Speeding)
        .collect();
    assert_eq!(
        sp.len(),
        1,
        "{:?}",
        sp.iter().map(|h| &h.1.context).collect::<Vec<_>>()
    );
    let c = &sp[0].1.context;
    assert_eq!(sp[0].1.track, 1);
    assert!((c.speed_kmh.unwrap() - 61.2).abs() < 3.0, "{c:?}");
    assert_eq!(c.calibration.as_deref(), Some("survey-7"));
}

#[test]
fn speeding_is_judged_on_a_truck_passing_behind_a_bus() {
    // A 9.5 m truck at 17 m/s (61 km/h) eastbound, seen whole for 0.6 s, then going behind a
    // bus standing at x 400-800 px (its box shrinking by a fifth of the truck per sighting),
    // wholly hidden 0.6 s, and coming out cut the other way. Its speed must be measured on the
    // cut boxes (the whole vehicle's centre) too: the uncut ones alone are too few to judge.
    let mut truck = vehicle(
        1,
        TRUCK,
        keyframes(vec![(1.0, 6.0, 22.0), (1.0 + 38.0 / 17.0, 44.0, 22.0)]),
    );
    truck.half_w = 95.0;
    truck.behind = Some((400.0, 800.0));
    let hits = run(&[truck], 5.0, &lights(), &no_votes);
    let sp = of(&hits, ViolationRule::Speeding);
    assert_eq!(sp.len(), 1, "{sp:?}");
    let c = &hits
        .iter()
        .find(|(_, h)| h.rule == ViolationRule::Speeding)
        .unwrap()
        .1
        .context;
    assert!((c.speed_kmh.unwrap() - 61.2).abs() < 4.0, "{c:?}");
}

#[test]
fn parking_one_violation_per_stay_not_per_flicker_nor_per_queue_stop() {
    // Parked at x = 15 m for 40 s; its detection drops out for 0.5 s every 4 s.
    let parked = vehicle(1, CAR, move |t| {
        (t >= 1.0 && (t % 4.0) > 0.5).then_some((15.0, 3.0))
    });
    // A queue: moves 3 m every 6 s, so no stop reaches 10 s.
    let queue = vehicle(2, CAR, move |t| {
        let step = (t / 6.0).floor();
        (t < 36.0).then_some((24.0 - 3.0 * step, 4.5))
    });
    let hits = run(&[parked, queue], 40.0, &lights(), &no_votes);
    let p = of(&hits, ViolationRule::IllegalParking);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].1, 1);
    assert!((p[0].0 - 11.0).abs() <= 1.0, "{p:?}");
}

#[test]
fn crop_votes_need_enough_agreeing_crops() {
    let nh = |s: f32| {
        Some(vec![
            ("helmet".to_string(), 1.0 - s),
            ("no_helmet".to_string(), s),
            ("three_riders".to_string(), 0.0),
        ])
    };
    // Bike 1: bare-headed, the classifier is wrong on every fourth crop. Bike 2: helmeted, two
    // crops in twenty look bare (a shadow). Both westbound at walking pace.
    let vs = vec![
        vehicle(
            1,
            BIKE,
            keyframes(vec![(0.0, 40.0, 18.0), (4.0, 30.0, 18.0)]),
        ),
        vehicle(
            2,
            BIKE,
            keyframes(vec![(0.0, 40.0, 21.0), (4.0, 30.0, 21.0)]),
        ),
    ];
    let votes = move |t: f64, id: u64| {
        let f = (t * FPS).round() as u64;
        match id {
            1 => nh(if f.is_multiple_of(4) { 0.1 } else { 0.9 }),
            _ => nh(if f % 10 == 3 { 0.9 } else { 0.05 }),
        }
    };
    let hits = run(&vs, 4.0, &lights(), &votes);
    let h = of(&hits, ViolationRule::NoHelmet);
    assert_eq!(h.iter().map(|x| x.1).collect::<Vec<_>>(), vec![1], "{h:?}");
}

#[test]
fn a_tiny_plate_crop_is_no_plate_not_a_panic() {
    let dir = edge_node_models();
    let Some((det, rec)) = dir else {
        panic!("PP-OCRv4 models missing: run scripts/setup.sh");
    };
    unsafe {
        std::env::set_var(
            "ORT_DYLIB_PATH",
            matthan_test_support::cached("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so"),
        )
    };
    let mut r = edge_node::plate::PlateReader::new(&det, &rec, None).unwrap();
    let tiny = edge_node::frame::RgbImage::filled(3, 3, [255, 255, 255]);
    assert!(r.read(&tiny).unwrap().is_none());
    let blank = edge_node::frame::RgbImage::filled(200, 100, [90, 90, 90]);
    assert!(r.read(&blank).unwrap().is_none());
}

fn edge_node_models() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let d = matthan_test_support::repo().join("models/ppocr");
    let (a, b) = (
        d.join("ch_PP-OCRv4_det_infer.onnx"),
        d.join("ch_PP-OCRv4_rec_infer.onnx"),
    );
    (a.is_file() && b.is_file()).then_some((a, b))
}
