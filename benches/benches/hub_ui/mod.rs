//! The operator console in headless Chromium over the bench's database, through the hub's
//! real HTTP listener: how long from pressing Enter on the login form to the first results on
//! screen (the login runs a blank search), and from submitting a typed search to its results
//! drawn, each against the same request made straight to the API in the same run (the server's
//! share; the rest is the browser: fetch, JSON, drawing the cards and their thumbnails' layout).
//!
//! The page marks `first-results` and `results` with the User Timing API (central-hub/ui/app.js);
//! the bench reads them back through WebDriver, so the figure is the browser's own clock.

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use matthan_benches::{ApiServer, OPERATOR_TOKEN, pct};
use matthan_test_support::chrome::Driver;

/// What the console measured, in milliseconds.
pub struct Ui {
    pub page_ready: f64,
    pub first_results: f64,
    pub first_api: f64,
    pub typed_p50: f64,
    pub typed_max: f64,
    pub typed_api_p50: f64,
}

/// Milliseconds for one authorised GET of `path` straight to the API.
fn api_ms(agent: &ureq::Agent, url: &str, path: &str) -> f64 {
    let t = Instant::now();
    let r = agent
        .get(&format!("{url}{path}"))
        .set("Authorization", &format!("Bearer {OPERATOR_TOKEN}"))
        .call()
        .expect("search through the API");
    let _ = r.into_string();
    t.elapsed().as_secs_f64() * 1000.0
}

/// The search URL the console builds for `q` with no filters (app.js `searchParams`).
fn search_path(q: &str) -> String {
    let q: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/api/search?q={q}&limit=30&sort=relevance")
}

/// Polls the page until `script` returns a number.
async fn wait_number(c: &Client, script: &str) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = c.execute(script, vec![]).await.expect("script");
        if let Some(x) = v.as_f64() {
            return x;
        }
        assert!(
            Instant::now() < deadline,
            "the page never answered {script}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Logs in and runs `queries` as typed searches; returns the browser-side milliseconds.
async fn drive(c: &Client, url: &str, queries: &[&str]) -> (f64, f64, Vec<f64>) {
    c.goto(url).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("token"))
        .await
        .unwrap();
    let ready = wait_number(
        c,
        "const n = performance.getEntriesByType('navigation')[0]; return n && n.loadEventEnd > 0 ? n.loadEventEnd : null;",
    )
    .await;
    let t0 = c
        .execute(
            "const t0 = performance.now(); document.getElementById('token').value = arguments[0];
             document.getElementById('login-form').requestSubmit(); return t0;",
            vec![OPERATOR_TOKEN.into()],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    let first = wait_number(
        c,
        "const m = performance.getEntriesByName('first-results')[0]; return m ? m.startTime : null;",
    )
    .await
        - t0;
    let mut typed = Vec::new();
    for q in queries {
        let t0 = c
            .execute(
                "window.__marks = performance.getEntriesByName('results').length;
                 const t0 = performance.now(); document.getElementById('q').value = arguments[0];
                 document.getElementById('search-form').requestSubmit(); return t0;",
                vec![(*q).into()],
            )
            .await
            .unwrap()
            .as_f64()
            .unwrap();
        let at = wait_number(
            c,
            "const m = performance.getEntriesByName('results'); return m.length > window.__marks ? m[m.length - 1].startTime : null;",
        )
        .await;
        typed.push(at - t0);
    }
    (ready, first, typed)
}

/// Runs the console over `db`; `None` when Chromium or chromedriver is not installed.
pub fn run(db: &Path, queries: &[&str]) -> Option<Ui> {
    let installed = std::process::Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        return None;
    }
    let driver = Driver::start();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let dir = tempfile::tempdir().unwrap();
    let api = ApiServer::start(db, dir.path(), cores.max(2) as u32, cores);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ready, first, mut typed) = rt.block_on(async {
        let c = driver.session().await;
        let out = drive(&c, &api.url, queries).await;
        let _ = c.close().await;
        out
    });
    // The same requests straight to the API, after the browser's (so the database is as warm
    // for the baseline as it was for the page's later searches).
    let agent = ureq::Agent::new();
    let mut blank: Vec<f64> = (0..5)
        .map(|_| api_ms(&agent, &api.url, &search_path("")))
        .collect();
    let mut direct: Vec<f64> = queries
        .iter()
        .map(|q| api_ms(&agent, &api.url, &search_path(q)))
        .collect();
    api.stop();
    Some(Ui {
        page_ready: ready,
        first_results: first,
        first_api: pct(&mut blank, 0.5),
        typed_p50: pct(&mut typed, 0.5),
        typed_max: typed.iter().copied().fold(0.0, f64::max),
        typed_api_p50: pct(&mut direct, 0.5),
    })
}
