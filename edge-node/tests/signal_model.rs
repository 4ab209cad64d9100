//! The junction model's finer parts: a permitted left turn's saturation flow from the gaps its
//! opposing flow leaves (HCM), per-approach survey saturation, PCU per class from config, and
//! realised cycles kept within the junction's cycle bounds whatever the queues ask.

use edge_node::signal::{Controller, Junction, RawJunction};

/// A T-junction: the main phase serves west and east through and the east left turn, which
/// yields to the west through; the side road has its own phase.
fn t_junction(extra: &str, approach_extra: &str) -> Result<Junction, String> {
    let text = format!(
        r#"
id = "t"
camera = "c"
cycle_min_s = 40
cycle_max_s = 100
{extra}
[[approaches]]
id = "west"
line = "w"
lanes = 2
[[approaches]]
id = "east"
line = "e"
lanes = 2
saturation_pcu_h = 3000
[[approaches]]
id = "east_left"
line = "el"
{approach_extra}
[[approaches]]
id = "side"
line = "s"
[[phases]]
id = "main"
approaches = ["west", "east", "east_left"]
[[phases]]
id = "side"
approaches = ["side"]
"#
    );
    let raw: RawJunction = toml::from_str(&text).map_err(|e| e.to_string())?;
    Junction::validate(raw, |_, _| true, |_, _| true)
        .map_err(|e| format!("{}: {}", e.key, e.reason))
}

#[test]
fn a_permitted_left_gets_the_capacity_its_opposing_flow_leaves() {
    let j = t_junction("", "opposed_by = [\"west\"]").unwrap();
    assert_eq!(j.approaches[2].opposed_by, vec![0]);
    // Nothing opposing: one vehicle per follow-up headway (2.5 s), capped by the lane's 1800.
    assert!((j.permitted_saturation(2, 0.0) - 1440.0).abs() < 1e-6);
    // 1000 PCU/h opposing: 3600 v e^(-4.5 v) / (1 - e^(-2.5 v)), v = 1000/3600 per s ≈ 572.
    let s = j.permitted_saturation(2, 1000.0);
    assert!((s - 572.0).abs() < 2.0, "{s}");
    assert!(
        j.permitted_saturation(2, 2500.0) < 150.0,
        "a heavy opposing flow leaves few gaps"
    );

    // The controller measures the opposing flow and uses it until the left's own discharges
    // are measured.
    let mut c = Controller::new(j, None);
    for k in 0..250 {
        c.crossing(0, k as f64 * 1.2, "car"); // 3000 PCU/h westbound over 300 s
    }
    let loads = c.loads(300.0, 300.0);
    assert!(loads[2].0.saturation < 100.0, "{:?}", loads[2]);
    assert!(!loads[2].1, "modelled, not measured");
    assert_eq!(loads[1].0.saturation, 3000.0, "the survey's figure");
    assert_eq!(loads[0].0.saturation, 3600.0, "2 lanes × the 1800 default");
}

#[test]
fn pcu_per_class_and_constants_come_from_config() {
    let j = t_junction("pcu = { truck = 3.0, bus = 2.5 }\nstartup_lost_s = 3", "").unwrap();
    assert_eq!(j.pcu("truck"), 3.0);
    assert_eq!(j.pcu("bus"), 2.5);
    assert_eq!(j.pcu("car"), 1.0);
    assert_eq!(j.pcu("motorcycle"), 0.3);
    assert_eq!(j.startup_lost_s, 3.0);
    for (extra, approach, key) in [
        ("pcu = { truck = -1.0 }", "", "pcu.truck"),
        ("busy_floor = 1.5", "", "busy_floor"),
        ("gap_follow_s = 0", "", "gap_follow_s"),
        (
            "",
            "opposed_by = [\"nowhere\"]",
            "approaches[2].opposed_by[0]",
        ),
        (
            "",
            "opposed_by = [\"east_left\"]",
            "approaches[2].opposed_by[0]",
        ),
        ("", "saturation_pcu_h = 0", "approaches[2].saturation_pcu_h"),
    ] {
        let e = t_junction(extra, approach).unwrap_err();
        assert!(e.starts_with(key), "{extra} {approach}: {e}");
    }
}

/// Runs cycles of decisions and returns each realised cycle (greens plus clearance).
fn cycles(c: &mut Controller, queue_pcu: [f64; 4], n: usize) -> Vec<f64> {
    let lost = c.junction.lost_time_s();
    let mut t = 0.0;
    let mut out = Vec::new();
    for _ in 0..n {
        let mut cycle = lost;
        for p in 0..2 {
            for (a, q) in queue_pcu.iter().enumerate() {
                let classes = vec!["car"; *q as usize];
                c.queue(a, t, &classes);
            }
            c.green(p, t);
            let g = c.decide_green(p, t);
            cycle += g;
            t += g + 5.0;
        }
        out.push(cycle);
    }
    out
}

#[test]
fn realised_cycles_keep_the_junction_bounds() {
    let j = t_junction("", "").unwrap();
    let mut c = Controller::new(j.clone(), None);
    // No traffic: queue-sized greens would be the 7 s minimums (a 24 s cycle); the cycle is
    // stretched to the 40 s minimum instead.
    for cyc in cycles(&mut c, [0.0; 4], 5) {
        assert!((cyc - 40.0).abs() < 1e-6, "{cyc}");
    }
    // Long queues everywhere: each phase would take its 90 s maximum; the cycle stays at 100 s
    // and the two share it as they need it instead of the first taking all but the minimum.
    let mut c = Controller::new(j, None);
    for cyc in cycles(&mut c, [80.0, 80.0, 10.0, 80.0], 5) {
        assert!((cyc - 100.0).abs() < 1e-6, "{cyc}");
    }
    let side = c.decide_green(1, 1e4);
    assert!(side > 30.0, "the side road is not starved: {side} s");
}
