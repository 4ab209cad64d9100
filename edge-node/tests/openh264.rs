//! Decoder settings: `decoder = "openh264"` (H.264 decoded by OpenH264 instead of libav, for a
//! box short of memory) and `decode_threads`. A binary of its own, because decoder ranks are
//! process-wide and would change what every other test in the same process decodes with; the
//! tests here that decode take turns (`RANKS`) and each sets the ranks it needs.

mod support;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use edge_node::config::EdgeConfig;
use support::frames::{assert_same_pictures, camera_frames, decoded_frames};

fn config(dir: &Path, cameras: &[(&str, &str)]) -> Result<EdgeConfig, String> {
    config_of(dir, cameras, &support::vtest_mp4(), "")
}

fn config_of(
    dir: &Path,
    cameras: &[(&str, &str)],
    video: &Path,
    extra: &str,
) -> Result<EdgeConfig, String> {
    let mut text = format!(
        "site = \"s\"\n[mqtt]\n[model]\npath = \"{}\"\n",
        support::nanodet().display()
    );
    for (id, decoder) in cameras {
        text += &format!(
            "[[cameras]]\nid = \"{id}\"\nurl = \"file://{}\"\ndetect_fps = 30\ndecoder = \"{decoder}\"\n{extra}",
            video.display()
        );
    }
    EdgeConfig::parse(&text, &dir.join("edge.toml")).map_err(|e| e.to_string())
}

/// Held by a test while it decodes: ranks are process-wide.
static RANKS: Mutex<()> = Mutex::new(());

/// Log lines written while the test runs, to see which decoder GStreamer picked.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

/// This process's log, captured from the first call on (tests share one subscriber).
fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let w = logs.clone();
        tracing_subscriber::fmt()
            .with_writer(move || w.clone())
            .with_ansi(false)
            .init();
        logs
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).to_string()
}
impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn openh264_decodes_the_same_pictures_as_libav() {
    logs();
    let _turn = RANKS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &[("c", "openh264")]).unwrap();
    edge_node::ingest::init().unwrap();
    edge_node::ingest::rank_decoders(cfg.cameras[0].decoder).unwrap();
    let frames = camera_frames(&cfg, 41);
    let logged = logged();
    assert!(
        logged.contains("decoder=openh264dec"),
        "the camera was not decoded by openh264dec: {logged}"
    );
    // H.264 decoding is exact: two conforming decoders give the same picture to the bit.
    // Compared by PTS, with the reference decoding further than the camera frames reach (a CI
    // run once saw camera frame 40 carry frame 42's picture, which a comparison by position
    // reports as a wrong picture).
    let libav = decoded_frames(
        &support::vtest_mp4(),
        "qtdemux ! h264parse ! avdec_h264",
        60,
    );
    assert_same_pictures(&frames, &libav, "libav's");
}

#[test]
fn cameras_of_one_box_must_agree_on_the_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let err = config(dir.path(), &[("a", "auto"), ("b", "openh264")])
        .expect_err("two decoder choices in one box");
    assert!(
        err.contains("cameras[1]") && err.contains("decoder") && err.contains("Auto"),
        "{err}"
    );
    config(dir.path(), &[("a", "openh264"), ("b", "openh264")]).unwrap();
}

#[test]
fn libav_decodes_on_one_thread_unless_told_otherwise() {
    logs();
    let _turn = RANKS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // H.264 through libav (avdec_h264, which has frame threads; MPEG-4 part 2 has none).
    for (id, extra, want) in [
        ("one", "", "Some(1)"),
        ("own", "decode_threads = 0\n", "Some(0)"),
    ] {
        let cfg = config_of(
            dir.path(),
            &[(id, "software")],
            &support::vtest_mp4(),
            extra,
        )
        .unwrap();
        edge_node::ingest::init().unwrap();
        edge_node::ingest::rank_decoders(cfg.cameras[0].decoder).unwrap();
        camera_frames(&cfg, 3);
        // Tests run side by side into one log: this camera's line is the one with its id.
        let log = logged();
        let line = log
            .lines()
            .find(|l| l.contains("video decoder") && l.contains(&format!("camera={id} ")))
            .unwrap_or_else(|| panic!("no decoder logged for {id}: {log}"));
        assert!(
            line.contains("decoder=avdec_") && line.contains(&format!("max_threads={want}")),
            "{id}: {line}"
        );
    }
}
