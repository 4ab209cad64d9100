//! The web UI in a real headless Chromium (Debian `chromium` + `chromium-driver`), driven over
//! WebDriver as the people who use it would: a police operator logs in, searches with words
//! and filters and from the keyboard alone, opens an event, zooms its image, plays a clip,
//! exports the case, switches to English, opens events from the review timeline, traces a
//! plate and sees a watch-list hit arrive live; then the traffic centre reads its junction
//! page, plan bars, city map and a day of charts. Every page is checked at 390 px, by axe-core
//! and for console errors, and photographed under `target/browser-screenshots/`.

#[path = "../support/mod.rs"]
mod support;

mod cases;
mod operator;
mod page;
mod traffic;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use matthan_schema::{Body, Counts, Event, LineCount, MovementCount};
use support::{Hub, Obj, recommendation, recommendation_at, track};

/// Where the two cameras and the junction stand (around Bến Thành market), for the map.
const POSITIONS: &str = r#"
[[cameras]]
site = "hcmc"
id = "ben-thanh-1"
lat = 10.7725
lon = 106.6980
[[cameras]]
site = "hcmc"
id = "ben-thanh-2"
lat = 10.7741
lon = 106.7004
[[cameras]]
site = "hcmc"
id = "ben-thanh-jct"
lat = 10.7731
lon = 106.6991
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_and_traffic_centre_use_the_console() {
    // A folder on the hub's disk an investigator may open a case from.
    let case_root = tempfile::tempdir().unwrap();
    let folder = case_root.path().join("vu-dong-khoi");
    std::fs::create_dir_all(&folder).unwrap();
    cases::make_video(&folder);
    let extra = format!(
        "{POSITIONS}[cases]\nimport_roots = [\"{}\"]\ndir = \"{}\"\n",
        case_root.path().display(),
        case_root.path().join("uploads").display()
    );
    let hub = tokio::task::spawn_blocking(move || Hub::start_with(&extra))
        .await
        .unwrap();
    let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    let hub = Arc::new(
        tokio::task::spawn_blocking(move || {
            seed(&hub, now);
            hub
        })
        .await
        .unwrap(),
    );

    let driver = page::Driver::start();
    let c = driver.session().await;
    c.goto(&hub.url).await.unwrap();
    operator::run(&c, &hub, &folder).await;
    traffic::run(&c).await;
    page::no_console_errors(&c, "the whole session").await;
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
    for want in [
        "search",
        "view_event",
        "export",
        "watchlist_add",
        "trace",
        "case_create",
        "case_video",
    ] {
        assert!(actions.contains(&want), "no {want} in {actions:?}");
    }
}

/// A red motorbike (with a real JPEG snapshot), a white car and a blue bus; the latest counts
/// per camera; a day of 1-minute counts on the second camera and a day of 5-minute signal
/// recommendations for the junction (what the charts must draw in ≤ 500 ms).
fn seed(hub: &Hub, now: DateTime<Utc>) {
    let obj = |camera, class, color| Obj {
        camera,
        class,
        color: Some(color),
        ..Obj::default()
    };
    let red = Obj {
        plate: Some("59X1-123.45"),
        ..obj("ben-thanh-1", "motorcycle", "red")
    };
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .encode_image(&image::RgbImage::from_pixel(
            40,
            30,
            image::Rgb([200, 20, 20]),
        ))
        .unwrap();
    let sha = central_hub::config::sha256_hex(&jpeg);
    let mut red_track = track(&red, 7, now - Duration::minutes(3));
    if let Body::Track(t) = &mut red_track.body {
        t.snapshot = Some(sha.clone());
    }
    let counts = |camera: &str, end: DateTime<Utc>, line: &str, lines: Vec<(&str, u32, u32)>| {
        Event::new(
            "hcmc",
            camera,
            end,
            Body::Counts(Counts {
                interval_start: end - Duration::minutes(1),
                interval_end: end,
                lines: lines
                    .into_iter()
                    .map(|(class, i, o)| LineCount {
                        line: line.into(),
                        class: class.into(),
                        in_count: i,
                        out_count: o,
                    })
                    .collect(),
                zones: vec![],
                movements: vec![],
            }),
        )
    };
    let mut events = vec![
        red_track,
        track(
            &obj("ben-thanh-1", "car", "white"),
            8,
            now - Duration::minutes(2),
        ),
        track(
            &obj("ben-thanh-2", "bus", "blue"),
            9,
            now - Duration::seconds(90),
        ),
        counts(
            "ben-thanh-1",
            now - Duration::minutes(1),
            "le-loi",
            vec![("motorcycle", 42, 17)],
        ),
        recommendation(now),
    ];
    for m in 1..=1440i64 {
        let v = |i: i64, a: i64, b: i64| ((m * a + i * b) % 40) as u32;
        let mut e = counts(
            "ben-thanh-2",
            now - Duration::minutes(m),
            "ham-nghi",
            vec![
                ("motorcycle", v(0, 7, 13), v(0, 3, 5)),
                ("car", v(1, 7, 13), v(1, 3, 5)),
                ("bus", v(2, 7, 13), v(2, 3, 5)),
            ],
        );
        // The camera also counts turning movements (a day of them for the planners' table).
        if let Body::Counts(c) = &mut e.body {
            let movement = |to: &str, class: &str, count: u32, kmh: f32| MovementCount {
                from: "north".into(),
                to: Some(to.into()),
                class: class.into(),
                count,
                speeds_kmh: vec![kmh; count.min(3) as usize],
            };
            c.movements = vec![
                movement("south", "motorcycle", v(3, 5, 7), 27.0),
                movement("east", "car", v(4, 3, 11) % 6, 22.0),
            ];
        }
        events.push(e);
    }
    for k in 1..=288i64 {
        // A morning and an evening peak over a quieter day.
        let hour = (k as f32 * 5.0 / 60.0) % 24.0;
        let peak = (-(hour - 8.0).powi(2) / 4.0).exp() + (-(hour - 17.5).powi(2) / 4.0).exp();
        let ns = 300.0 + 500.0 * peak;
        events.push(recommendation_at(
            now - Duration::minutes(5 * k),
            [ns, 0.7 * ns],
        ));
    }
    hub.publish_blob(&matthan_schema::evidence_topic("hcmc", &sha), &jpeg);
    hub.publish(&events);
}
