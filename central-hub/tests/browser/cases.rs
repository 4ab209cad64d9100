//! The investigator's part: open a case from a folder on the hub's disk through the form, see
//! its video queued, then find what a worker reported in it by searching and open the video
//! at the second the event was seen.

use std::path::Path;
use std::sync::Arc;

use fantoccini::Client;
use matthan_schema::{Body, Event, Recording};

use crate::page::{accessible, click, find, fits_phone, shot, wait_js, wait_text};
use crate::support::{Hub, Obj, track};

/// The second of the video at which the worker saw the truck.
const OFFSET_S: f64 = 3.5;

/// A 6-second H.264 clip (a bouncing ball, 10 fps) the player can decode.
pub fn make_video(dir: &Path) {
    let out = dir.join("camera-07.mp4");
    let ok = std::process::Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc", "num-buffers=60", "pattern=ball", "!"])
        .args([
            "video/x-raw,width=320,height=240,framerate=10/1",
            "!",
            "videoconvert",
            "!",
        ])
        .args(["x264enc", "key-int-max=10", "!", "mp4mux", "!", "filesink"])
        .arg(format!("location={}", out.display()))
        .status()
        .unwrap();
    assert!(ok.success(), "gst-launch could not make the case video");
}

pub async fn run(c: &Client, hub: &Arc<Hub>, folder: &Path) {
    click(c, "#tab-cases").await;
    find(c, "#case-name")
        .await
        .send_keys("Vụ cướp giật đường Đồng Khởi")
        .await
        .unwrap();
    find(c, "#case-folder")
        .await
        .send_keys(&folder.display().to_string())
        .await
        .unwrap();
    click(c, "#case-form button").await;
    wait_text(c, "#case-done", "1 video").await;
    let row = wait_text(c, "#cases tbody", "Đồng Khởi").await;
    assert!(row.contains("0/1"), "{row}");
    wait_text(c, "#case-videos tbody", "camera-07.mp4").await;
    wait_text(c, "#case-videos tbody", "đang chờ").await;
    shot(c, "cases").await;
    accessible(c, "cases").await;
    fits_phone(c, "cases").await;

    // What an index worker publishes for a truck 3.5 s into that video.
    let h = hub.clone();
    tokio::task::spawn_blocking(move || {
        let case = h.json("/api/cases", crate::support::OPERATOR)["cases"][0].clone();
        let detail = h.json(
            &format!("/api/cases/{}", case["case"]["id"]),
            crate::support::OPERATOR,
        );
        let video = &detail["videos"][0];
        let recorded: chrono::DateTime<chrono::Utc> = case["case"]["recorded_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let at = recorded + chrono::Duration::milliseconds((OFFSET_S * 1000.0) as i64);
        let truck = Obj {
            camera: "case1-v1",
            class: "truck",
            color: Some("white"),
            ..Obj::default()
        };
        let body: Body = track(&truck, 1, at).body;
        let e = Event::recorded(
            "cases",
            "case1-v1",
            at,
            body,
            Recording {
                case: case["case"]["id"].as_u64().unwrap(),
                video: video["id"].as_u64().unwrap(),
                sha256: "ab".repeat(32),
                offset_ms: (OFFSET_S * 1000.0) as u64,
            },
            0,
        );
        h.publish(&[e]);
    })
    .await
    .unwrap();

    click(c, "#tab-search").await;
    let q = find(c, "#q").await;
    q.clear().await.unwrap();
    q.send_keys("xe tải trắng\n").await.unwrap();
    wait_text(c, "#results", "case1-v1").await;
    click(c, ".card").await;
    find(c, "#play-recording").await;
    click(c, "#play-recording").await;
    wait_text(c, "#recording-label", "camera-07.mp4 · 00:00:03").await;
    wait_js(
        c,
        &format!(
            "const v = document.getElementById('recording-video'); \
             return v.readyState >= 1 && Math.abs(v.currentTime - {OFFSET_S}) < 0.25;"
        ),
        "the case video open at the event's second",
    )
    .await;
    shot(c, "case-video").await;
}
