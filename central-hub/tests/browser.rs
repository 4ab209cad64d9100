//! The web UI in a real headless Chromium (Debian `chromium` + `chromium-driver`), driven over
//! WebDriver: log in with a token, type a Vietnamese query, see the expected card, open it,
//! see its evidence and signature status; then the traffic centre's junction page.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use matthan_schema::{Body, Counts, Event, LineCount};
use support::{Hub, OPERATOR, Obj, TRAFFIC, recommendation, track};

struct Driver(Child, u16);

impl Driver {
    fn start() -> Self {
        let port = support::free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver not installed: run scripts/setup.sh");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self(child, port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_finds_and_opens_an_incident_and_traffic_sees_counts() {
    let hub = tokio::task::spawn_blocking(Hub::start).await.unwrap();
    let now =
        chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).unwrap();
    let red = Obj {
        camera: "ben-thanh-1",
        class: "motorcycle",
        color: Some("red"),
        plate: Some("59X1-123.45"),
        ..Obj::default()
    };
    let car = Obj {
        camera: "ben-thanh-1",
        class: "car",
        color: Some("white"),
        ..Obj::default()
    };
    // A real JPEG thumbnail for the red motorbike, published as evidence and named by the track.
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .encode_image(&image::RgbImage::from_pixel(
            40,
            30,
            image::Rgb([200, 20, 20]),
        ))
        .unwrap();
    let sha = central_hub::config::sha256_hex(&jpeg);
    let mut red_track = track(&red, 7, now - chrono::Duration::minutes(3));
    if let Body::Track(t) = &mut red_track.body {
        t.snapshot = Some(sha.clone());
    }
    let events = vec![
        red_track,
        track(&car, 8, now - chrono::Duration::minutes(2)),
        Event::new(
            "hcmc",
            "ben-thanh-1",
            now - chrono::Duration::minutes(1),
            Body::Counts(Counts {
                interval_start: now - chrono::Duration::minutes(2),
                interval_end: now - chrono::Duration::minutes(1),
                lines: vec![LineCount {
                    line: "le-loi".into(),
                    class: "motorcycle".into(),
                    in_count: 42,
                    out_count: 17,
                }],
                zones: vec![],
            }),
        ),
        recommendation(now),
    ];
    // A day of 1-minute counts on a second camera: what the charts must draw in ≤ 500 ms.
    let day: Vec<Event> = (1..=1440)
        .map(|m| {
            let end = now - chrono::Duration::minutes(m);
            Event::new(
                "hcmc",
                "ben-thanh-2",
                end,
                Body::Counts(Counts {
                    interval_start: end - chrono::Duration::minutes(1),
                    interval_end: end,
                    lines: ["motorcycle", "car", "bus"]
                        .iter()
                        .enumerate()
                        .map(|(i, class)| LineCount {
                            line: "ham-nghi".into(),
                            class: (*class).into(),
                            in_count: ((m * 7 + i as i64 * 13) % 40) as u32,
                            out_count: ((m * 3 + i as i64 * 5) % 30) as u32,
                        })
                        .collect(),
                    zones: vec![],
                }),
            )
        })
        .collect();
    let events: Vec<Event> = events.into_iter().chain(day).collect();
    let hub = tokio::task::spawn_blocking(move || {
        hub.publish_blob(&matthan_schema::evidence_topic("hcmc", &sha), &jpeg);
        hub.publish(&events);
        hub
    })
    .await
    .unwrap();

    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    let c = ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("webdriver session");
    let wait = Duration::from_secs(15);

    c.goto(&hub.url).await.unwrap();
    // A wrong token does not log in: the hub checks it first.
    c.wait()
        .at_most(wait)
        .for_element(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys("not-a-token\n")
        .await
        .unwrap();
    c.wait()
        .at_most(wait)
        .for_element(Locator::XPath(
            "//p[@id='login-error' and contains(., 'không đúng')]",
        ))
        .await
        .unwrap();
    c.find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(OPERATOR)
        .await
        .unwrap();
    c.find(Locator::Id("save-token"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(wait)
        .for_element(Locator::XPath(
            "//span[@id='who' and contains(., 'nguyen-van-a')]",
        ))
        .await
        .unwrap();
    c.find(Locator::Id("q"))
        .await
        .unwrap()
        .send_keys("xe máy màu đỏ biển số 59X1")
        .await
        .unwrap();
    c.find(Locator::Css("#search-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let card = c
        .wait()
        .at_most(wait)
        .for_element(Locator::Css(".card"))
        .await
        .unwrap();
    let text = card.text().await.unwrap();
    assert!(text.contains("đỏ xe máy"), "card in Vietnamese: {text}");
    assert!(text.contains("59X1-123.45"), "plate on the card: {text}");
    assert!(text.contains("ben-thanh-1"), "{text}");
    assert_eq!(
        c.find_all(Locator::Css(".card")).await.unwrap().len(),
        1,
        "only the red motorbike matches"
    );
    // The card's thumbnail is the snapshot blob, fetched through the API with the token.
    c.wait()
        .at_most(wait)
        .for_element(Locator::Css(".card img"))
        .await
        .unwrap();
    let mut width = serde_json::Value::Null;
    for _ in 0..50 {
        width = c
            .execute(
                "return document.querySelector('.card img').naturalWidth",
                vec![],
            )
            .await
            .unwrap();
        if width.as_u64().is_some_and(|w| w > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        width.as_u64(),
        Some(40),
        "the thumbnail loaded through the API"
    );
    let understood = c
        .find(Locator::Id("understood"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        understood.contains("xe máy") && understood.contains("đỏ"),
        "{understood}"
    );

    card.click().await.unwrap();
    let caption = c
        .wait()
        .at_most(wait)
        .for_element(Locator::Id("detail-caption"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        caption.contains("red motorcycle") && caption.contains("track 7"),
        "{caption}"
    );
    let sig = c
        .find(Locator::Id("signature"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sig.contains("Chưa ký"), "{sig}");
    // The track's own snapshot is on its detail, loaded through the API.
    wait_js(
        &c,
        "const i = document.querySelector('#detail img[data-sha]'); return !!i && i.naturalWidth === 40;",
        "the track's snapshot on its detail",
    )
    .await;

    accessible(&c, "search results with an event open").await;
    // On a phone-width window nothing runs off the side.
    c.set_window_size(390, 844).await.unwrap();
    let sizes = c
        .execute(
            "const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).sort((a, b) => b.getBoundingClientRect().right - a.getBoundingClientRect().right).slice(0, 5).map((e) => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)); return [window.innerWidth, document.documentElement.scrollWidth, wide];",
            vec![],
        )
        .await
        .unwrap();
    eprintln!("390 px: {sizes}");
    wait_js(
        &c,
        "return window.innerWidth <= 400 && document.documentElement.scrollWidth <= window.innerWidth;",
        "the console fits 390 px",
    )
    .await;
    c.set_window_size(1280, 900).await.unwrap();

    // A violation's clip plays inline and advances.
    let (hub, id) = tokio::task::spawn_blocking(move || {
        let id = publish_violation_with_clip(&hub);
        (hub, id)
    })
    .await
    .unwrap();
    c.execute("openEvent(arguments[0]);", vec![serde_json::json!(id)])
        .await
        .unwrap();
    wait_js(
        &c,
        "const v = document.querySelector('#detail video.clip'); if (!v || !v.src) return false; v.play(); return v.currentTime > 0.5;",
        "the clip plays and advances",
    )
    .await;

    // The traffic centre: a traffic token sees the junction page, not search.
    c.execute(
        "document.getElementById('token').value = arguments[0]; document.getElementById('save-token').click();",
        vec![serde_json::json!(TRAFFIC)],
    )
    .await
    .unwrap();
    c.wait()
        .at_most(wait)
        .for_element(Locator::XPath(
            "//span[@id='who' and contains(., 'tt-dieu-hanh')]",
        ))
        .await
        .unwrap();
    c.find(Locator::Id("tab-junctions"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(wait)
        .for_element(Locator::Css("#junctions tbody tr"))
        .await
        .unwrap();
    let table = c
        .find(Locator::Css("#junctions tbody"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        table.contains("ben-thanh-1") && table.contains("42/17"),
        "{table}"
    );
    // The junction's signal-timing recommendation, read in Vietnamese.
    assert!(
        table.contains("Chu kỳ 72 s: ns 35 s, ew 27 s") && table.contains("31 → 23 s/xe"),
        "{table}"
    );
    // A day of history as charts: the camera's counts per class, then the junction's flow,
    // queue and cycle (uPlot draws each on a canvas).
    for (id, charts) in [("ben-thanh-1", 1), ("ben-thanh-2", 1), ("ben-thanh-jct", 3)] {
        c.find(Locator::XPath(&format!(
            "//tr[td[1][normalize-space(.)='{id}']]//button[contains(@class,'chart-btn')]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        c.wait()
            .at_most(wait)
            .for_element(Locator::Css("#junction-charts figure.chart canvas"))
            .await
            .unwrap();
        let drawn = c
            .execute(
                "return [document.querySelectorAll('#junction-charts figure.chart').length, \
                 Number(document.getElementById('junction-charts').dataset.renderMs)];",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(drawn[0], charts, "{id}: {drawn}");
        assert!(
            drawn[1].as_f64().unwrap() <= 500.0,
            "{id}: charts took {drawn}"
        );
    }
    accessible(&c, "junction page").await;

    c.close().await.unwrap();
    // Every look was audited under the operator's name.
    let audit = tokio::task::spawn_blocking(move || hub.json("/api/audit", support::ADMIN))
        .await
        .unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"search") && actions.contains(&"view_event"),
        "{actions:?}"
    );
}

/// Polls a script until it returns true (15 s at most).
async fn wait_js(c: &fantoccini::Client, script: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = c.execute(script, vec![]).await.unwrap();
        if v.as_bool() == Some(true) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: timed out");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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

/// axe-core (vendored, test-only) on the page as it is now: no serious or critical findings.
async fn accessible(c: &fantoccini::Client, page: &str) {
    const AXE: &str = include_str!("vendor/axe-core/axe.min.js");
    c.execute(AXE, vec![]).await.unwrap();
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then((r) => done(r.violations
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                 .map((v) => v.id + ' (' + v.nodes.length + '): ' + v.help + ' — ' + v.nodes[0].target.join(' '))))
               .catch((e) => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    let found: Vec<String> = serde_json::from_value(found).unwrap();
    assert!(found.is_empty(), "{page}: {found:#?}");
}
