//! Signal timing without a simulator: junction validation, Webster's numbers, the delay
//! estimate, the adaptive green, the fixed plan's clock, and the controller's interval output
//! from synthetic stop-line crossings. The SUMO evaluation is `tests/sumo.rs`.

use std::path::Path;

use edge_node::config::EdgeConfig;
use edge_node::signal::{Controller, Junction, Load, RawJunction, clearance_green, delay, webster};

fn junction(extra: &str) -> Result<Junction, String> {
    // Defaults, each left out when `extra` sets the same key.
    let defaults: String = [
        "yellow_s = 3",
        "all_red_s = 2",
        "cycle_min_s = 40",
        "cycle_max_s = 120",
    ]
    .iter()
    .filter(|d| {
        let key = d.split(" = ").next().unwrap();
        !extra.lines().any(|e| e.starts_with(&format!("{key} = ")))
    })
    .map(|d| format!("{d}\n"))
    .collect();
    // Plain keys must come before any table header in TOML.
    let (keys, tables) = match extra.find('[') {
        Some(i) => (&extra[..i], &extra[i..]),
        None => (extra, ""),
    };
    let text = format!(
        r#"
id = "ben-thanh"
camera = "cam"
{defaults}
{keys}
[[approaches]]
id = "north"
line = "n"
[[approaches]]
id = "south"
line = "s"
[[approaches]]
id = "east"
line = "e"
[[phases]]
id = "ns"
approaches = ["north", "south"]
min_green_s = 10
[[phases]]
id = "ew"
approaches = ["east"]
min_green_s = 10
{tables}
"#
    );
    let raw: RawJunction = toml::from_str(&text).map_err(|e| e.to_string())?;
    Junction::validate(raw, |_, _| true, |_, _| true)
        .map_err(|e| format!("{}: {}", e.key, e.reason))
}

fn load(flow: f64) -> Load {
    Load {
        flow,
        saturation: 1800.0,
        queue: 0.0,
    }
}

#[test]
fn webster_cycle_and_split_match_the_textbook() {
    let j = junction("").unwrap();
    // y = 0.3 (north), 0.25 (south), 0.2 (east): Y = 0.3 + 0.2 = 0.5, L = 2 × 5 = 10 s.
    let loads = [load(540.0), load(450.0), load(360.0)];
    let (plan, y, over) = webster(&j, &loads);
    assert!((y - 0.5).abs() < 1e-9 && !over);
    // C0 = (1.5 × 10 + 5) / (1 − 0.5) = 40 s; greens split 3:2 of the 30 s effective green.
    assert!((plan.cycle_s - 40.0).abs() < 1e-9, "{plan:?}");
    assert!(
        (plan.greens[0] - 18.0).abs() < 1e-9 && (plan.greens[1] - 12.0).abs() < 1e-9,
        "{plan:?}"
    );
}

#[test]
fn oversaturation_caps_the_cycle_serves_the_longest_queue_and_keeps_minimum_greens() {
    let j = junction("").unwrap();
    let mut loads = [load(900.0), load(800.0), load(800.0)];
    loads[2].queue = 40.0; // a long queue on the east approach
    let (plan, y, over) = webster(&j, &loads);
    assert!(over && y >= 0.9, "Y {y}");
    assert!((plan.cycle_s - 120.0).abs() < 1e-9, "{plan:?}");
    assert!(
        plan.greens[1] > plan.greens[0],
        "the long queue gets more green: {plan:?}"
    );
    // Nearly no demand on one phase: it still gets its minimum.
    let (plan, _, _) = webster(&j, &[load(1500.0), load(1500.0), load(1.0)]);
    assert!(plan.greens[1] >= 10.0, "{plan:?}");
}

#[test]
fn delay_estimate_prefers_the_better_plan_and_stays_finite_when_oversaturated() {
    let j = junction("").unwrap();
    let loads = [load(540.0), load(450.0), load(360.0)];
    let (best, _, _) = webster(&j, &loads);
    let lopsided = edge_node::signal::Plan {
        cycle_s: 90.0,
        greens: vec![20.0, 60.0],
    };
    let (d_best, d_bad) = (delay(&j, &best, &loads), delay(&j, &lopsided, &loads));
    assert!(d_best < d_bad, "{d_best} vs {d_bad}");
    let d_over = delay(&j, &best, &[load(3000.0), load(3000.0), load(3000.0)]);
    assert!(d_over.is_finite() && d_over > d_bad, "{d_over}");
}

#[test]
fn adaptive_green_clears_the_queue_and_the_arrivals_within_bounds() {
    let j = junction("").unwrap();
    let mut loads = [load(360.0), load(0.0), load(0.0)];
    loads[0].queue = 10.0;
    // h = 2 s per PCU, λh = 0.2: (10 × 2) / 0.8 + 2 s start-up = 27 s.
    let g = clearance_green(&j, 0, &loads, 2.0);
    assert!((g - 27.0).abs() < 1e-9, "{g}");
    loads[0].queue = 0.0;
    assert_eq!(
        clearance_green(&j, 0, &loads, 2.0),
        10.0,
        "never below the minimum"
    );
    loads[0].queue = 500.0;
    assert_eq!(
        clearance_green(&j, 0, &loads, 2.0),
        90.0,
        "never above the maximum"
    );
}

#[test]
fn the_fixed_plan_clock_says_which_phase_is_green() {
    let j = junction("[plan]\ngreens_s = [40, 30]\noffset_s = 100").unwrap();
    assert_eq!(j.plan_cycle_s(), Some(80.0));
    assert_eq!(j.plan_green_at(100.0), Some((0, 100.0)));
    assert_eq!(j.plan_green_at(139.0), Some((0, 100.0)));
    assert_eq!(j.plan_green_at(142.0), None, "yellow");
    assert_eq!(j.plan_green_at(150.0), Some((1, 145.0)));
    assert_eq!(j.plan_green_at(181.0), Some((0, 180.0)), "next cycle");
}

#[test]
fn controller_recommends_every_interval_from_what_crossed() {
    let j = junction("interval_s = 300\nmotorbike_pcu = 0.25").unwrap();
    let mut c = Controller::new(j, None);
    c.start_at(0.0);
    // Five minutes: 60 motorbikes and 15 cars north (30 PCU → 360 PCU/h), 20 cars east.
    for k in 0..60 {
        c.crossing(0, k as f64 * 5.0, "motorcycle");
    }
    for k in 0..15 {
        c.crossing(0, k as f64 * 20.0, "car");
    }
    for k in 0..20 {
        c.crossing(2, k as f64 * 15.0, "car");
    }
    let at = chrono::Utc::now();
    assert!(c.tick(299.0, at, false, 0.0).is_none(), "interval not over");
    let (rec, warnings) = c.tick(300.0, at, false, 0.0).expect("a recommendation");
    assert_eq!(rec.inputs[0].flow_pcu_h, 360.0);
    assert_eq!(rec.inputs[2].flow_pcu_h, 240.0);
    assert!(!rec.inputs[0].saturation_measured);
    assert_eq!(rec.phases.len(), 2);
    assert!(rec.cycle_s >= 40.0 && rec.cycle_s <= 120.0);
    // The plan in force was unknown (even split of the longest cycle): the recommendation is
    // expected to cut the delay.
    assert!(rec.delay_expected_s < rec.delay_current_s, "{rec:?}");
    assert!(warnings.is_empty(), "light traffic: {warnings:?}");
    // An assumed plan is not shown to the traffic centre as the one in force; a reported one is.
    assert!(rec.in_force.is_none());
    c.set_current(edge_node::signal::Plan {
        cycle_s: 90.0,
        greens: vec![40.0, 40.0],
    });
    let (rec, _) = c.tick(600.0, at, false, 0.0).expect("the next interval");
    let in_force = rec.in_force.expect("the reported plan");
    assert_eq!(in_force.cycle_s, 90.0);
    assert_eq!(
        in_force
            .phases
            .iter()
            .map(|p| p.green_s)
            .collect::<Vec<_>>(),
        [40.0, 40.0]
    );
}

#[test]
fn rising_demand_raises_a_congestion_warning() {
    let j = junction("interval_s = 60").unwrap();
    let mut c = Controller::new(j, None);
    c.start_at(0.0);
    let at = chrono::Utc::now();
    let (mut warned, mut forecasts) = (false, 0);
    for minute in 0..20 {
        // North flow grows by 120 PCU/h every minute, from 300 to 2580.
        let n = 5 + 2 * minute;
        for k in 0..n {
            c.crossing(0, minute as f64 * 60.0 + k as f64 * 60.0 / n as f64, "car");
        }
        if let Some((rec, w)) = c.tick((minute + 1) as f64 * 60.0, at, false, 0.0) {
            // Every forecast made is published (for the forecast-against-actual chart), one
            // per approach and horizon at most.
            let mut keys: Vec<(String, u32)> = rec
                .forecasts
                .iter()
                .map(|f| (f.approach.clone(), f.horizon_min))
                .collect();
            let n = keys.len();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), n, "{:?}", rec.forecasts);
            forecasts += n;
            warned |= w
                .iter()
                .any(|w| w.approach == "north" && w.forecast_degree >= 0.9);
        }
    }
    assert!(warned, "a forecast crossing 0.9 warns");
    assert!(forecasts > 0, "forecasts published");
}

#[test]
fn broken_junctions_are_refused_with_the_key() {
    let e = junction("").and_then(|_| {
        let raw: RawJunction = toml::from_str(
            "id = \"j\"\ncamera = \"c\"\n[[approaches]]\nid = \"a\"\nline = \"l\"\n[[approaches]]\nid = \"b\"\nline = \"m\"\n[[phases]]\nid = \"p1\"\napproaches = [\"a\"]\n[[phases]]\nid = \"p2\"\napproaches = [\"a\"]\n",
        )
        .unwrap();
        Junction::validate(raw, |_, _| true, |_, _| true).map_err(|e| format!("{}: {}", e.key, e.reason))
    });
    let e = e.unwrap_err();
    assert!(
        e.contains("approaches[1]") && e.contains("served by no phase"),
        "{e}"
    );
    let e = junction("cycle_min_s = 20\ncycle_max_s = 25").unwrap_err();
    assert!(
        e.contains("phases") && e.contains("more than cycle_max_s"),
        "{e}"
    );
    let e = junction("mode = \"psychic\"").unwrap_err();
    assert!(e.starts_with("mode"), "{e}");
    let e = junction("[plan]\ngreens_s = [40]").unwrap_err();
    assert!(e.starts_with("plan.greens_s"), "{e}");
    let e = junction("cycle_min_s = 200").unwrap_err();
    assert!(e.starts_with("cycle_min_s"), "{e}");
}

#[test]
fn edge_config_checks_junction_lines_and_zones_against_its_cameras() {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/nanodet-m-416.onnx");
    let base = format!(
        "site = \"s\"\n[mqtt]\nport = 1883\n[model]\npath = \"{model}\"\n[[cameras]]\nid = \"cam\"\nurl = \"rtsp://127.0.0.1:8554/x\"\n[[cameras.lines]]\nid = \"stop-n\"\npoints = [[0.1, 0.5], [0.9, 0.5]]\n"
    );
    let j = |line: &str| {
        format!(
            "[[junctions]]\nid = \"j1\"\ncamera = \"cam\"\n[[junctions.approaches]]\nid = \"n\"\nline = \"{line}\"\n[[junctions.phases]]\nid = \"p1\"\napproaches = [\"n\"]\n[[junctions.phases]]\nid = \"p2\"\napproaches = [\"n\"]\n"
        )
    };
    let ok = EdgeConfig::parse(&format!("{base}{}", j("stop-n")), Path::new("/e.toml")).unwrap();
    assert_eq!(ok.junctions.len(), 1);
    let err = EdgeConfig::parse(&format!("{base}{}", j("nowhere")), Path::new("/e.toml"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("junctions[0].approaches[0].line") && err.contains("no line"),
        "{err}"
    );
}
