//! The signal-timing controller in SUMO (Debian `sumo`, `sumo-tools`), through the real
//! `edge-node signal-sim` binary and TraCI: `benches/sumo/evaluate.py` on three motorbike-heavy
//! demand profiles, three seeds each. The goal is at least 25 % less waiting than SUMO's
//! fixed 90 s plan everywhere and never more than 5 % worse than actuated control; the table and
//! what is met are printed, and docs/benchmarks.md keeps the figures. Both goals are held here on
//! every profile (the closest is the unbalanced profile, about +0.3 % against actuated).

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
