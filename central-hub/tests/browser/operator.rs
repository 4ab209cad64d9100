//! The police operator's session: log in, search (mouse, filters, keyboard alone), open an
//! event, zoom, export, English, the review timeline and a clip, tracing and the watch list.

use std::process::Command;
use std::sync::Arc;

use fantoccini::Client;
use fantoccini::key::Key;
use matthan_schema::Body;

use crate::page::{
    accessible, click, console_errors, find, fits_phone, no_console_errors, shot, text, wait_js,
    wait_text,
};
use crate::support::{self, Hub, OPERATOR, Obj, track};

/// Logs in through the form, submitting with Enter.
pub async fn login(c: &Client, token: &str, who: &str) {
    find(c, "#token")
        .await
        .send_keys(&format!("{token}\n"))
        .await
        .unwrap();
    wait_text(c, "#who", who).await;
}

pub async fn run(c: &Client, hub: &Arc<Hub>, case_folder: &std::path::Path) {
    // A wrong token does not log in: the hub checks it first. Its refusal is the one console
    // error this session may cause (Chromium logs every failed request).
    shot(c, "login").await;
    accessible(c, "login").await;
    find(c, "#token")
        .await
        .send_keys("not-a-token\n")
        .await
        .unwrap();
    wait_text(c, "#login-error", "không đúng").await;
    for e in console_errors(c).await {
        assert!(e.contains("whoami") && e.contains("401"), "{e}");
    }
    login(c, OPERATOR, "nguyen-van-a").await;
    // Only the operator's tabs.
    wait_js(
        c,
        "return !document.getElementById('tab-search').classList.contains('hidden') \
         && !document.getElementById('tab-watch').classList.contains('hidden') \
         && !document.getElementById('tab-cases').classList.contains('hidden') \
         && document.getElementById('tab-junctions').classList.contains('hidden');",
        "operator tabs",
    )
    .await;
    search(c).await;
    filters(c).await;
    keyboard_search(c).await;
    detail(c).await;
    english(c).await;
    timeline_and_clip(c, hub).await;
    trace_and_watch(c, hub).await;
    crate::cases::run(c, hub, case_folder).await;
    no_console_errors(c, "operator").await;
    click(c, "#logout").await;
    wait_js(
        c,
        "return !document.getElementById('login').classList.contains('hidden') \
         && document.getElementById('who').innerText === '';",
        "logged out",
    )
    .await;
}

async fn cards(c: &Client, want: usize, check: &str, what: &str) {
    wait_js(
        c,
        &format!(
            "const cs = [...document.querySelectorAll('.card')]; return cs.length === {want} && ({check});"
        ),
        what,
    )
    .await;
}

/// Words typed as an operator would, submitted with the button.
async fn search(c: &Client) {
    // Logging in shows the newest events at once.
    cards(c, 3, "true", "the newest events after login").await;
    find(c, "#q")
        .await
        .send_keys("xe máy màu đỏ biển số 59X1")
        .await
        .unwrap();
    click(c, "#search-form button").await;
    cards(
        c,
        1,
        "document.getElementById('understood').innerText.includes('đỏ')",
        "only the red motorbike",
    )
    .await;
    let card = text(c, ".card").await;
    for want in ["xe máy đỏ", "59X1-123.45", "ben-thanh-1"] {
        assert!(card.contains(want), "{want} on the card: {card}");
    }
    let understood = text(c, "#understood").await;
    assert!(understood.contains("xe máy"), "{understood}");
    // The thumbnail is the track's snapshot, fetched through the API with the token.
    wait_js(
        c,
        "const i = document.querySelector('.card img'); return !!i && i.naturalWidth === 40;",
        "the card's thumbnail",
    )
    .await;
    shot(c, "search").await;
    accessible(c, "search results").await;
    fits_phone(c, "search").await;
}

/// The filters beside the text box: class, plate, cameras, sort.
async fn filters(c: &Client) {
    find(c, "#q").await.clear().await.unwrap();
    find(c, "#f-class")
        .await
        .select_by_value("car")
        .await
        .unwrap();
    cards(
        c,
        1,
        "cs[0].innerText.includes('ô tô trắng')",
        "class filter: the car",
    )
    .await;
    find(c, "#f-class").await.select_by_value("").await.unwrap();
    cards(c, 3, "true", "class filter cleared").await;
    find(c, "#f-plate")
        .await
        .send_keys(&format!("59X1{}", char::from(Key::Tab)))
        .await
        .unwrap();
    cards(
        c,
        1,
        "cs[0].innerText.includes('59X1-123.45')",
        "plate filter",
    )
    .await;
    find(c, "#f-plate").await.clear().await.unwrap();
    c.execute(
        "document.getElementById('f-plate').dispatchEvent(new Event('change'));",
        vec![],
    )
    .await
    .unwrap();
    cards(c, 3, "true", "plate filter cleared").await;
    find(c, "#f-sort")
        .await
        .select_by_value("newest")
        .await
        .unwrap();
    find(c, "#f-camera")
        .await
        .select_by_value("ben-thanh-1")
        .await
        .unwrap();
    cards(
        c,
        2,
        "cs.every((x) => x.innerText.includes('ben-thanh-1')) && cs[0].innerText.includes('ô tô')",
        "one camera, newest first",
    )
    .await;
    shot(c, "filters").await;
    c.execute(
        "const s = document.getElementById('f-camera'); for (const o of s.options) o.selected = false; \
         document.getElementById('f-sort').value = 'relevance'; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await
    .unwrap();
    cards(c, 3, "true", "filters cleared").await;
}

/// Typed without diacritics, submitted with Enter, the card reached with Tab and opened with
/// Enter: no mouse.
async fn keyboard_search(c: &Client) {
    find(c, "#q").await.send_keys("xe may do\n").await.unwrap();
    cards(
        c,
        1,
        "cs[0].innerText.includes('xe máy đỏ')",
        "typed without diacritics",
    )
    .await;
    let tab = char::from(Key::Tab).to_string();
    for _ in 0..60 {
        let on_card = c
            .execute(
                "return document.activeElement.classList.contains('card');",
                vec![],
            )
            .await
            .unwrap();
        if on_card.as_bool() == Some(true) {
            break;
        }
        c.active_element()
            .await
            .unwrap()
            .send_keys(&tab)
            .await
            .unwrap();
    }
    wait_js(
        c,
        "const e = document.activeElement, s = getComputedStyle(e); \
         return e.classList.contains('card') && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;",
        "Tab reaches the card with a visible focus ring",
    )
    .await;
    c.active_element()
        .await
        .unwrap()
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    wait_text(c, "#detail-caption", "xe máy đỏ").await;
}

/// The open detail: heading, signature, snapshot, zoom, export.
async fn detail(c: &Client) {
    let caption = text(c, "#detail-caption").await;
    assert!(
        caption.contains("#7") && caption.contains("ben-thanh-1"),
        "{caption}"
    );
    assert!(text(c, "#signature").await.contains("Chưa ký"));
    wait_js(
        c,
        "const i = document.querySelector('#detail img[data-sha]'); return !!i && i.naturalWidth === 40;",
        "the track's snapshot on its detail",
    )
    .await;
    // On a wide window the open event is a side panel beside the results, in view.
    wait_js(
        c,
        "const d = document.getElementById('detail').getBoundingClientRect(), \
         r = document.getElementById('results').getBoundingClientRect(); \
         return d.left >= r.right && d.top < innerHeight && d.bottom > 0;",
        "the detail beside the results, in view",
    )
    .await;
    shot(c, "detail").await;
    accessible(c, "detail").await;
    fits_phone(c, "detail").await;
    click(c, "#detail figure img").await;
    wait_js(
        c,
        "const z = document.getElementById('zoom-img'); return document.getElementById('zoom').open \
         && z.naturalWidth === 40 && parseFloat(z.style.width) === 160;",
        "the snapshot zoomed ×4",
    )
    .await;
    click(c, "#zoom-in").await;
    wait_js(
        c,
        "return parseFloat(document.getElementById('zoom-img').style.width) === 320;",
        "zoomed in ×8",
    )
    .await;
    shot(c, "zoom").await;
    accessible(c, "zoom").await;
    click(c, "#zoom-close").await;
    click(c, "#export").await;
    wait_js(
        c,
        "return Number(document.getElementById('export-done').dataset.bytes) > 1000;",
        "the case exported",
    )
    .await;
}

/// The same console in English: tabs, cards and the detail, with the hub's own caption.
async fn english(c: &Client) {
    click(c, "#lang").await;
    wait_text(c, "#tab-search", "Search").await;
    wait_text(c, "#detail-caption", "red motorbike").await;
    wait_text(c, "#detail-hub-caption", "track 7").await;
    wait_text(c, "#results", "red motorbike").await;
    wait_text(c, "#signature", "Not signed").await;
    shot(c, "detail-english").await;
    accessible(c, "detail in English").await;
    click(c, "#lang").await;
    wait_text(c, "#tab-search", "Tìm kiếm").await;
}

/// A violation arrives with a real clip; the review timeline shows it as a red mark; the mark
/// opens it and its clip plays inline and advances.
async fn timeline_and_clip(c: &Client, hub: &Arc<Hub>) {
    let h = hub.clone();
    let id = tokio::task::spawn_blocking(move || publish_violation_with_clip(&h))
        .await
        .unwrap();
    find(c, "#timeline-range")
        .await
        .select_by_value("1")
        .await
        .unwrap();
    click(c, "#timeline-load").await;
    find(c, ".tl-axis .mark.violation").await;
    // The two tracked cameras' marks: motorbike, car and violation on one, the bus on the other.
    wait_js(
        c,
        "const n = (cam) => [...document.querySelectorAll('#timeline .tl-axis')].filter((a) => a.getAttribute('aria-label') === cam).map((a) => a.querySelectorAll('.mark').length)[0]; \
         return n('ben-thanh-1') === 3 && n('ben-thanh-2') === 1;",
        "both cameras' marks",
    )
    .await;
    shot(c, "timeline").await;
    accessible(c, "timeline").await;
    click(c, ".tl-axis .mark.violation").await;
    wait_text(c, "#detail-caption", "vi phạm").await;
    wait_js(
        c,
        &format!(
            "const v = document.querySelector('#detail video.clip'); if (!v || !v.src) return false; \
             v.play(); return v.currentTime > 0.5 && document.querySelector('#detail details pre').textContent.includes('{id}');"
        ),
        "the clip plays and advances",
    )
    .await;
    shot(c, "clip").await;
}

/// From the violation's detail to its plate's trace; then a plate put on the watch list is
/// read at a camera and the hit appears on the open page without a reload.
async fn trace_and_watch(c: &Client, hub: &Arc<Hub>) {
    click(c, "#trace-this").await;
    let rows = wait_text(c, "#trace tbody", "ben-thanh-1").await;
    assert!(rows.contains("chính xác"), "{rows}");
    shot(c, "trace").await;
    find(c, "#watch-plate")
        .await
        .send_keys("51F-999.99")
        .await
        .unwrap();
    find(c, "#watch-reason")
        .await
        .send_keys("xe gây tai nạn bỏ chạy\n")
        .await
        .unwrap();
    wait_text(c, "#watch tbody", "xe gây tai nạn").await;
    // The hit must come over the live stream, so the stream must be open before it happens.
    wait_js(
        c,
        "return document.querySelector('#hits').dataset.live === 'yes';",
        "the hits stream is open",
    )
    .await;
    let h = hub.clone();
    tokio::task::spawn_blocking(move || {
        let now = chrono::Utc::now();
        let seen = Obj {
            camera: "ben-thanh-2",
            class: "car",
            plate: Some("51F-999.99"),
            ..Obj::default()
        };
        h.publish(&[track(&seen, 31, now)]);
    })
    .await
    .unwrap();
    let banner = wait_text(c, "#hit-banner", "PHÁT HIỆN").await;
    assert!(banner.contains("ben-thanh-2"), "{banner}");
    wait_text(c, "#hits tbody", "xe gây tai nạn").await;
    shot(c, "watch").await;
    accessible(c, "trace and watch list").await;
    fits_phone(c, "watch").await;
}

/// A red-light violation whose evidence is a real two-second H.264 clip (made here with
/// GStreamer, as the edge's clip writer does), published with its blob; returns its id.
fn publish_violation_with_clip(hub: &Hub) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    let ok = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "videotestsrc",
            "num-buffers=50",
            "!",
            "video/x-raw,width=320,height=240,framerate=25/1",
        ])
        .args(["!", "x264enc", "!", "mp4mux", "!", "filesink"])
        .arg(format!("location={}", path.display()))
        .status()
        .expect("gst-launch-1.0 (scripts/setup.sh installs GStreamer)");
    assert!(ok.success());
    let clip = std::fs::read(&path).unwrap();
    let sha = central_hub::config::sha256_hex(&clip);
    let now =
        chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).unwrap();
    let (mut e, _) = support::signed_violation(&support::edge_key(), now);
    if let Body::Violation(v) = &mut e.body {
        v.evidence = vec![matthan_schema::Artefact {
            name: "clip.mp4".into(),
            sha256: sha.clone(),
            bytes: clip.len() as u64,
            mime: "video/mp4".into(),
            captured: Some(now),
        }];
        (v.manifest, v.signature, v.public_key) = (None, None, None);
    }
    hub.publish_blob(&matthan_schema::evidence_topic("hcmc", &sha), &clip);
    hub.publish(std::slice::from_ref(&e));
    e.id.to_string()
}
