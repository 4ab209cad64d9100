//! The `edge-node` binary on bad input: every failure is a clear message naming what and
//! where, with exit code 1 (never a panic's 101).

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn edge(args: &[&str]) -> Output {
    support::ort();
    Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A valid config with `from` replaced by `to`.
fn config_with(dir: &Path, from: &str, to: &str) -> String {
    let video = dir.join("clip.avi");
    std::fs::copy(support::vtest(), &video).unwrap();
    let base = support::edge_config(dir, 1, &format!("file://{}", video.display()), "");
    let text = std::fs::read_to_string(&base).unwrap();
    assert!(text.contains(from), "test bug: {from:?} not in config");
    let p = dir.join("broken.toml");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    p.display().to_string()
}

fn check_rejected(from: &str, to: &str, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = config_with(dir.path(), from, to);
    let out = edge(&["check-config", &file]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("broken.toml"), "names the file: {err}");
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in: {err}");
    }
}

#[test]
fn valid_config_checks_ok() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_with(dir.path(), "id = \"mid\"", "id = \"mid\"");
    let out = edge(&["check-config", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("camera cam-a"));
}

#[test]
fn self_intersecting_zone() {
    check_rejected(
        "[[0.0, 0.6], [0.5, 0.6], [0.5, 1.0], [0.0, 1.0]]",
        "[[0.0, 0.6], [0.5, 1.0], [0.5, 0.6], [0.0, 1.0]]",
        &["cameras[0].zones[0]", "cross"],
    );
}

#[test]
fn zone_outside_the_frame() {
    check_rejected(
        "[0.0, 0.6], [0.5, 0.6]",
        "[0.0, 0.6], [1.5, 0.6]",
        &["cameras[0].zones[0]", "outside 0..1"],
    );
}

#[test]
fn unknown_class_name() {
    check_rejected(
        "\"bicycle\"",
        "\"bicylce\"",
        &["model.classes[1]", "bicylce"],
    );
    check_rejected(
        "classes = [\"person\"]",
        "classes = [\"persn\"]",
        &["cameras[0].zones[0].classes[0]", "persn"],
    );
}

#[test]
fn unknown_cuda_conv_search() {
    // ONNX Runtime's "default" is cuDNN 9's slow fallback mode: refused, not passed through.
    check_rejected(
        "threads = 2",
        "threads = 2\ncuda_conv_search = \"default\"",
        &["model.cuda_conv_search", "heuristic or exhaustive"],
    );
}

#[test]
fn missing_model() {
    check_rejected(
        "nanodet-m-416.onnx",
        "nope.onnx",
        &["model.path", "nope.onnx"],
    );
}

#[test]
fn bad_urls() {
    check_rejected(
        "url = \"file://",
        "url = \"http://",
        &["cameras[0].url", "unsupported scheme"],
    );
    check_rejected(
        "url = \"file://",
        "url = \"file:///no/such/dir",
        &["cameras[0].url", "does not exist"],
    );
    check_rejected(
        "url = \"file://",
        "url = \"rtsp://host:99999/x\" #",
        &["cameras[0].url", "port"],
    );
}

#[test]
fn malformed_toml_and_typos() {
    check_rejected("[mqtt]", "[mqtt", &["line"]);
    check_rejected("detect_fps = 10", "detect_fsp = 10", &["detect_fsp"]);
    check_rejected(
        "detect_fps = 10",
        "detect_fps = 0",
        &["cameras[0].detect_fps"],
    );
    // A type error names the key path as well as the line.
    check_rejected(
        "detect_fps = 10",
        "detect_fps = \"ten\"",
        &["cameras[0].detect_fps", "line"],
    );
    check_rejected(
        "url = \"file://",
        "url = \"rtsp://:554/x\" #",
        &["cameras[0].url", "no host"],
    );
    check_rejected("id = \"cam-a\"", "id = \"..\"", &["cameras[0].id"]);
    check_rejected(
        "detect_fps = 10",
        "detect_fps = 10\nbearing_deg = 400",
        &["cameras[0].bearing_deg", "compass bearing"],
    );
}

#[test]
fn a_model_path_that_is_not_an_onnx_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("model.onnx");
    std::fs::write(&fake, "<html>404 Not Found</html>").unwrap();
    let file = config_with(
        dir.path(),
        &support::nanodet().display().to_string(),
        &fake.display().to_string(),
    );
    let out = edge(&["check-config", &file]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("model.path") && err.contains("not an ONNX model"),
        "{err}"
    );
}

#[test]
fn missing_config_file() {
    let out = edge(&["check-config", "/no/such/edge.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/no/such/edge.toml"));
}

#[test]
fn corrupt_video_fails_the_run_with_the_cameras_reason() {
    let broker = support::Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("corrupt.avi");
    // An AVI header followed by noise: the container starts, the stream is garbage.
    let mut bytes = std::fs::read(support::vtest()).unwrap()[..4096].to_vec();
    bytes.extend((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(&video, bytes).unwrap();
    let cfg = support::edge_config(
        dir.path(),
        broker.port,
        &format!("file://{}", video.display()),
        "",
    );
    let out = edge(&["run", "--config", cfg.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("camera cam-a"), "{err}");
}

#[test]
fn truncated_video_ends_cleanly() {
    let broker = support::Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("truncated.avi");
    std::fs::write(&video, &std::fs::read(support::vtest()).unwrap()[..600_000]).unwrap();
    let cfg = support::edge_config(
        dir.path(),
        broker.port,
        &format!("file://{}", video.display()),
        "",
    );
    let out = edge(&["run", "--config", cfg.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(101), "no panic: {}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("frames in")
            || stderr(&out).contains("camera cam-a")
    );
}

#[test]
fn unloadable_runtime_library() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not an ELF file").unwrap();
    let file = config_with(
        dir.path(),
        "threads = 2",
        &format!("threads = 2\nort_library = \"{}\"", fake.display()),
    );
    let out = edge(&["run", "--config", &file]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("libonnxruntime.so"), "{err}");
}

#[test]
fn keygen_and_verify_a_signed_bundle_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("edge.key");
    let out = support::edge_cli(&["keygen", "--out", key_path.to_str().unwrap()]);
    let printed =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let der = std::fs::read(&key_path).unwrap();
    assert!(
        !printed.contains(&der.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        "the private key is never printed"
    );
    let key = edge_node::signing::SigningKey::load(&key_path).unwrap();
    let bundle = dir.path().join("incident-1");
    edge_node::signing::write_bundle(
        &bundle,
        &key,
        "hcmc",
        "ben-thanh-1",
        "lawn-closed",
        serde_json::json!({"dwell_s": 21.5}),
        &[("start.jpg", b"a"), ("end.jpg", b"b")],
    )
    .unwrap();
    let pubfile = dir.path().join("edge.pub");
    let verify = || {
        Command::new(env!("CARGO_BIN_EXE_edge-node"))
            .args([
                "verify",
                bundle.to_str().unwrap(),
                "--public-key",
                pubfile.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let ok = verify();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("ok, 2 files"));

    // The same bundle as a hub's case export: the zip itself verifies, and a fact edited on
    // its printable summary is caught.
    let case_zip = |summary_edit: Option<(&str, &str)>| {
        let files = matthan_evidence::read_dir(&bundle).unwrap();
        let mut w = matthan_evidence::case::CaseWriter::new(std::io::Cursor::new(Vec::new()));
        for name in ["start.jpg", "end.jpg"] {
            w.signed_file(name, &files[name][..]).unwrap();
        }
        let sig = String::from_utf8(files["manifest.sig"].clone()).unwrap();
        w.bundle(&files["manifest.json"], &sig).unwrap();
        let m: matthan_evidence::Manifest =
            serde_json::from_slice(&files["manifest.json"]).unwrap();
        let info = matthan_evidence::case::ExportInfo {
            schema: matthan_evidence::case::CASE_SCHEMA.into(),
            event_id: "e-1".into(),
            exported_by: "officer".into(),
            exported_at: "2026-12-01T09:00:00+07:00".into(),
            hub_check: "verified".into(),
            files: Vec::new(),
        };
        let zip = w.finish(Some(&m), b"{}", info).unwrap().into_inner();
        let path = dir.path().join("case.zip");
        let zip = match summary_edit {
            None => zip,
            Some((from, to)) => rezip_editing(&zip, "summary.html", from, to),
        };
        std::fs::write(&path, zip).unwrap();
        Command::new(env!("CARGO_BIN_EXE_edge-node"))
            .args([
                "verify",
                path.to_str().unwrap(),
                "--public-key",
                pubfile.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let ok = case_zip(None);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let bad = case_zip(Some(("21.5", "12.5")));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(text.contains("summary.html"), "{text}");

    std::fs::write(bundle.join("end.jpg"), b"B").unwrap();
    let bad = verify();
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(
        text.contains("end.jpg: tampered") && !text.contains("start.jpg"),
        "{text}"
    );
}

/// The zip again, with `from` replaced by `to` in one entry (as an editor of that file would).
fn rezip_editing(zip: &[u8], entry: &str, from: &str, to: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        if f.name() == entry {
            let text = String::from_utf8(b).unwrap();
            assert!(text.contains(from), "{from} in {entry}");
            b = text.replace(from, to).into_bytes();
        }
        w.start_file(f.name(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&b).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn check_config_describes_junctions_and_live_control() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_with(dir.path(), "id = \"mid\"", "id = \"mid\"");
    let junction = "[[junctions]]\nid = \"j1\"\ncamera = \"cam-a\"\nmode = \"adaptive\"\nanswer_requests = true\n[[junctions.approaches]]\nid = \"a\"\nline = \"mid\"\n[[junctions.approaches]]\nid = \"b\"\nline = \"mid\"\ndirection = \"out\"\n[[junctions.phases]]\nid = \"pa\"\napproaches = [\"a\"]\n[[junctions.phases]]\nid = \"pb\"\napproaches = [\"b\"]\n";
    let text = std::fs::read_to_string(&file).unwrap() + junction;
    std::fs::write(&file, text).unwrap();
    let out = edge(&["check-config", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("junction j1: 2 approaches, 2 phases, adaptive mode, cycle 40-150 s")
            && stdout.contains("answers its controller on matthan/test-site/j1/signal/request"),
        "{stdout}"
    );
}
