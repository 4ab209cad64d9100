//! The signal-timing controller in SUMO (Debian `sumo`, `sumo-tools`), through the real
//! `edge-node signal-sim` binary and TraCI: `benches/sumo/evaluate.py` on three motorbike-heavy
//! demand profiles, three seeds each. The goal is at least 25 % less waiting than SUMO's
//! fixed 90 s plan everywhere and never more than 5 % worse than actuated control; the table and
//! what is met are printed, and docs/benchmarks.md keeps the figures. Both goals are held here on
//! every profile (the closest is the unbalanced profile, about +1.4 % against actuated).
//! `held_out_junction_harness_runs` keeps the held-out harness (`benches/sumo/junctions.py`)
//! working on one junction, profile and seed; its figures are a bench, in docs/benchmarks.md.

use std::process::Command;

#[test]
fn sumo_evaluation_against_fixed_and_actuated_control() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("ratios.json");
    let run = Command::new("python3")
        .arg(repo.join("benches/sumo/evaluate.py"))
        .args(["--edge-node", env!("CARGO_BIN_EXE_edge-node"), "--json"])
        .arg(&json)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    assert!(
        json.exists(),
        "evaluate.py produced no result (is sumo installed? scripts/setup.sh installs it):\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(rows.len(), 3, "three profiles");
    assert!(
        !stdout.contains("demand exceeds what the network admits"),
        "{stdout}"
    );
    for r in &rows {
        let name = r["profile"].as_str().unwrap();
        let vs_fixed = r["waiting_cut_vs_fixed"].as_f64().unwrap();
        let vs_act = r["waiting_vs_actuated"].as_f64().unwrap();
        assert!(
            vs_fixed >= 0.25,
            "{name}: only {:.1} % less waiting than the fixed 90 s plan",
            vs_fixed * 100.0
        );
        assert!(
            vs_act <= 0.05,
            "{name}: {:.1} % more waiting than actuated control",
            vs_act * 100.0
        );
    }
}

#[test]
fn held_out_junction_harness_runs() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("held-out.json");
    let run = Command::new("python3")
        .arg(repo.join("benches/sumo/junctions.py"))
        .args(["--edge-node", env!("CARGO_BIN_EXE_edge-node")])
        .args([
            "--junctions",
            "t-left-pocket",
            "--profiles",
            "balanced",
            "--seeds",
            "1",
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .expect("python3 runs");
    println!("{}", String::from_utf8_lossy(&run.stdout));
    assert!(
        json.exists(),
        "junctions.py produced no result:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let runs = rows[0]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    for c in ["fixed", "actuated", "webster", "tca", "ours"] {
        let r = &runs[0][c];
        assert_eq!(r["unfinished"], 0, "{c}: {r}");
        let w = r["waiting"].as_f64().unwrap();
        assert!(w > 0.5 && w < 60.0, "{c}: waiting {w}");
        assert!(r["movements"].as_object().unwrap().len() >= 6, "{c}: {r}");
    }
    // Ours is within reach of the others on light demand (a broken controller is not).
    let ours = runs[0]["ours"]["waiting"].as_f64().unwrap();
    let fixed = runs[0]["fixed"]["waiting"].as_f64().unwrap();
    assert!(ours < fixed, "ours {ours} s vs fixed {fixed} s");
}

/// The flow forecast on the reported week (`benches/sumo/forecast.py`, seed 2): better than
/// both the last value and the historical profile at every horizon. The goal (20 %
/// under the better one) is not met and is recorded in docs/benchmarks.md.
#[test]
fn flow_forecast_beats_last_value_and_the_profile() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("forecast.json");
    let run = Command::new("python3")
        .arg(repo.join("benches/sumo/forecast.py"))
        .args([
            "--edge-node",
            env!("CARGO_BIN_EXE_edge-node"),
            "--seed",
            "2",
        ])
        .arg("--json")
        .arg(&json)
        .output()
        .expect("python3 runs");
    println!("{}", String::from_utf8_lossy(&run.stdout));
    let table: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&json)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&run.stderr))),
    )
    .unwrap();
    for h in [5, 10, 15] {
        let mape = |m: &str| table[format!("{m}@{h}")][0].as_f64().unwrap();
        let ours = mape("ours");
        for base in ["last value", "profile"] {
            assert!(
                ours < 0.95 * mape(base),
                "{h} min: ours {ours:.1} % vs {base} {:.1} %",
                mape(base)
            );
        }
    }
}
