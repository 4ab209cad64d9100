//! Driving Chromium: the driver process, a session that keeps the browser's console log,
//! waits, screenshots, the console-error check and the accessibility check.

use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator, elements::Element};
pub use matthan_test_support::chrome::Driver;

pub const WAIT: Duration = Duration::from_secs(15);

/// chromedriver's "get log" (not in the W3C protocol, so not in fantoccini): the browser's
/// console since the last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// Console errors since the last call: what Chromium logged at SEVERE (failed loads, CSP
/// refusals, uncaught exceptions) plus what the page itself caught (`window.consoleErrors`).
pub async fn console_errors(c: &Client) -> Vec<String> {
    let log = c.issue_cmd(BrowserLog).await.expect("chromedriver log");
    let mut errors: Vec<String> = log
        .as_array()
        .expect("log entries")
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect();
    let caught = c
        .execute(
            "const e = window.consoleErrors || []; window.consoleErrors = []; return e;",
            vec![],
        )
        .await
        .unwrap();
    errors.extend(serde_json::from_value::<Vec<String>>(caught).unwrap());
    errors
}

/// Fails on any console error so far (the log is drained).
pub async fn no_console_errors(c: &Client, page: &str) {
    let errors = console_errors(c).await;
    assert!(errors.is_empty(), "{page}: console errors {errors:#?}");
}

/// Polls a script until it returns true.
pub async fn wait_js(c: &Client, script: &str, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = c.execute(script, vec![]).await.unwrap();
        if v.as_bool() == Some(true) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn find(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

pub async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.unwrap();
}

pub async fn text(c: &Client, css: &str) -> String {
    find(c, css).await.text().await.unwrap()
}

/// Waits until the element's text contains `want`, and returns the text.
pub async fn wait_text(c: &Client, css: &str, want: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = c
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
                vec![serde_json::json!(css)],
            )
            .await
            .unwrap();
        let got = got.as_str().unwrap_or_default().to_string();
        if got.contains(want) {
            return got;
        }
        assert!(Instant::now() < deadline, "{css}: no {want:?} in {got:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A screenshot of the window as it is, under `target/browser-screenshots/`.
pub async fn shot(c: &Client, name: &str) {
    // The test binary lives in target/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.ancestors().nth(3).unwrap().join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Nothing on the page runs past a 390 px window's right edge (a phone held upright).
pub async fn fits_phone(c: &Client, page: &str) {
    c.set_window_size(390, 844).await.unwrap();
    let wide = c
        .execute(
            "return [...document.querySelectorAll('body *')].filter((e) => e.offsetParent && e.getBoundingClientRect().right > window.innerWidth + 1).sort((a, b) => b.getBoundingClientRect().right - a.getBoundingClientRect().right).slice(0, 5).map((e) => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));",
            vec![],
        )
        .await
        .unwrap();
    wait_js(
        c,
        "return window.innerWidth <= 400 && document.documentElement.scrollWidth <= window.innerWidth;",
        &format!("{page} fits 390 px (too wide: {wide})"),
    )
    .await;
    shot(c, &format!("{page}-390px")).await;
    c.set_window_size(1280, 900).await.unwrap();
}

/// axe-core (vendored, test-only) on the page as it is now: no serious or critical findings.
pub async fn accessible(c: &Client, page: &str) {
    const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");
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
