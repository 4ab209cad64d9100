//! The traffic-violation scenario suite: the composite clips of `test-videos/traffic/` (made by
//! its make.py from real vehicle crops, with ground truth beside each) through the whole edge
//! pipeline (GStreamer → NanoDet through ONNX Runtime → ByteTrack → lines, zones → violation
//! rules → evidence bundles → mosquitto) into the real hub ingest. Prints precision and recall
//! per rule and the plate reading rate, checks every bundle's files and signature on the edge and
//! at the hub.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use edge_node::config::EdgeConfig;
use matthan_schema::Body;
use support::scenes::{self, Truth};

fn python() -> PathBuf {
    support::cache_file("MATTHAN_PYTHON", ".venv/bin/python")
}

/// The clips, made once per version of make.py and kept under target/.
fn clips() -> PathBuf {
    matthan_test_support::generated_clips(
        "traffic",
        &["test-videos/traffic/make.py"],
        "scenarios.json",
    )
}

fn config(
    dir: &Path,
    port: u16,
    clips: &Path,
    truths: &BTreeMap<String, Truth>,
    helmet: &Path,
) -> PathBuf {
    let repo = support::repo();
    let traffic = repo.join("test-videos/traffic");
    let camera = std::fs::read_to_string(traffic.join("camera.toml")).unwrap();
    let mut text = scenes::edge_head(port, truths);
    text += &format!(
        r#"
[evidence]
dir = "{dir}/evidence"
key = "{dir}/edge.key"
before_s = 2.0
after_s = 1.0
clip_fps = 5
[evidence.ocr]
det = "{ppocr}/ch_PP-OCRv4_det_infer.onnx"
rec = "{ppocr}/ch_PP-OCRv4_rec_infer.onnx"
[[classifiers]]
id = "helmet"
path = "{helmet}"
input = [32, 32]
labels = ["helmet", "no_helmet", "three_riders"]
classes = ["bicycle", "motorcycle"]
every_n = 1
"#,
        dir = dir.display(),
        ppocr = repo.join("models/ppocr").display(),
        helmet = helmet.display(),
    );
    text += &scenes::cameras(clips, truths, &camera);
    let p = dir.join("edge.toml");
    std::fs::write(&p, text).unwrap();
    p
}

struct Kept(PathBuf);

impl Kept {
    fn path(&self) -> &Path {
        &self.0
    }
}

#[test]
fn violation_scenarios_with_signed_evidence() {
    support::ort();
    let clips = clips();
    let names: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(clips.join("scenarios.json")).unwrap())
            .unwrap();
    assert!(names.len() >= 20, "{} scenarios", names.len());
    // MATTHAN_SCENARIOS=a,b runs only those (for looking into one case).
    let names: Vec<String> = match std::env::var("MATTHAN_SCENARIOS") {
        Ok(only) => names
            .into_iter()
            .filter(|n| only.split(',').any(|o| o == n))
            .collect(),
        Err(_) => names,
    };
    let truths = scenes::truths(&clips, &names);

    let tmp = tempfile::tempdir().unwrap();
    // MATTHAN_KEEP=1 keeps the config, bundles and keys for a look afterwards.
    let dir = if std::env::var("MATTHAN_KEEP").is_ok() {
        Kept(tmp.keep())
    } else {
        Kept(tmp.path().to_path_buf())
    };
    let helmet = dir.path().join("helmet.onnx");
    let out = Command::new(python())
        .arg(support::repo().join("test-videos/traffic/helmet_model.py"))
        .arg(&helmet)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = edge_node::signing::SigningKey::generate(&dir.path().join("edge.key")).unwrap();

    let broker = support::Broker::start();
    let hub = support::Hub::start(broker.port, "hub-violations");
    let cfg_path = config(dir.path(), broker.port, &clips, &truths, &helmet);
    if std::env::var("MATTHAN_KEEP").is_ok() {
        eprintln!("config kept at {}", cfg_path.display());
    }
    let cfg = EdgeConfig::load(&cfg_path).unwrap();
    // Everything the edge produced reaches the hub's store.
    let violations = scenes::violations_of(&scenes::run_into_hub(&cfg, names.len(), &hub));

    if std::env::var("MATTHAN_SCENARIOS").is_ok() {
        for e in hub.events() {
            match &e.body {
                Body::Track(t) if t.phase == matthan_schema::TrackPhase::End => eprintln!(
                    "{} track {} {} {}..{} plate {:?}",
                    e.camera,
                    t.track_id,
                    t.class,
                    t.first_seen.format("%H:%M:%S%.3f"),
                    t.last_seen.format("%H:%M:%S%.3f"),
                    t.attributes.plate
                ),
                Body::Crossing(c) => eprintln!(
                    "{} {} crossing {:?} {} {}",
                    e.camera,
                    e.ts.format("%H:%M:%S%.3f"),
                    c.direction,
                    c.class,
                    c.track_id
                ),
                Body::Violation(v) => eprintln!(
                    "{} {} violation {:?}",
                    e.camera,
                    e.ts.format("%H:%M:%S%.3f"),
                    v.rule
                ),
                _ => {}
            }
        }
    }
    let score = scenes::score(&truths, &violations);
    let worst = score.print();
    if std::env::var("MATTHAN_SCENARIOS").is_err() {
        for r in scenes::RULES {
            assert!(score.expected(r) > 0, "no scenario expects {r}");
        }
    }
    eprintln!(
        "plates read exactly: {}/{} violations",
        score.plates.0, score.plates.1
    );
    let occluded = scenes::occluded_count(&truths);
    let kept = scenes::occlusion_kept(&truths, &hub.events()).len();
    eprintln!("occlusion: {kept} of {occluded} vehicles kept one track id behind a bus");
    if std::env::var("MATTHAN_SCENARIOS").is_err() {
        assert!(occluded >= 4, "{occluded} occlusion scenarios");
        assert_eq!(
            kept, occluded,
            "every occluded vehicle keeps one id (the occlusion suite measures more)"
        );
    }
    for p in &score.problems {
        eprintln!("  {p}");
    }
    assert!(
        worst >= 0.95,
        "precision or recall under 0.95: {:#?}",
        score.problems
    );

    // Evidence: every bundle verifies on the edge, carries what a fine needs, and the hub checks
    // the same signature against the box's trusted key.
    let store = central_hub::evidence::EvidenceStore::new(&hub.evidence_dir()).unwrap();
    let site = violations
        .first()
        .map(|e| e.site.clone())
        .unwrap_or_default();
    let entry = central_hub::keys::KeyConfig::new(&site, "edge-under-test", &key.public_hex());
    let register =
        central_hub::keys::KeyRegister::from_config(&[entry], &|p| p.to_path_buf()).unwrap();
    for e in &violations {
        let Body::Violation(v) = &e.body else {
            unreachable!()
        };
        let names: Vec<&str> = v.evidence.iter().map(|a| a.name.as_str()).collect();
        for want in [
            "overview-1.jpg",
            "overview-2.jpg",
            "vehicle.jpg",
            "clip.mp4",
        ] {
            assert!(
                names.contains(&want),
                "{}: {want} missing from {names:?}",
                v.violation_id
            );
        }
        let bundle = dir
            .path()
            .join("evidence")
            .join(&e.camera)
            .join(&v.violation_id);
        let report = edge_node::signing::verify_bundle(&bundle, Some(&key.public_hex()));
        assert!(report.ok(), "{}: {:?}", bundle.display(), report.problems);
        let check = central_hub::signature::check(e, &store, &register);
        assert_eq!(
            check.status,
            central_hub::signature::Status::Verified,
            "{}: {:?}",
            v.violation_id,
            check.problems
        );
        if v.rule == matthan_schema::ViolationRule::RedLight {
            let s = v
                .context
                .signal
                .as_ref()
                .expect("red light carries the signal");
            assert!(s.into_red_s > s.grace_s, "{s:?}");
        }
        if v.rule == matthan_schema::ViolationRule::Speeding {
            assert_eq!(v.context.calibration.as_deref(), Some("road-survey-1"));
        }
    }
    // A key the hub does not trust is reported as such, not as verified.
    if let Some(e) = violations.first() {
        let other = central_hub::signature::check(e, &store, &Default::default());
        assert_eq!(other.status, central_hub::signature::Status::UntrustedKey);
    }
}
