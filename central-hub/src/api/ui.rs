//! The console's own files, compiled into the hub (no build step, no separate server): the
//! page, its scripts under `/ui/{file}`, and the vendored chart library under `/vendor/`.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

const INDEX: &str = include_str!("../../ui/index.html");
const JS: &str = "text/javascript; charset=utf-8";

/// The scripts the page loads, in the order it loads them, and its icon (without one the
/// browser asks for /favicon.ico and logs the 404 as a console error).
const FILES: [(&str, &str, &str); 7] = [
    ("i18n.js", JS, include_str!("../../ui/i18n.js")),
    ("app.js", JS, include_str!("../../ui/app.js")),
    ("detail.js", JS, include_str!("../../ui/detail.js")),
    ("traffic.js", JS, include_str!("../../ui/traffic.js")),
    ("watch.js", JS, include_str!("../../ui/watch.js")),
    ("cases.js", JS, include_str!("../../ui/cases.js")),
    (
        "icon.svg",
        "image/svg+xml",
        include_str!("../../ui/icon.svg"),
    ),
];

/// uPlot 1.6.31 from npm, vendored with its licence (ui/vendor/uplot/PROVENANCE.md).
const UPLOT_JS: &str = include_str!("../../ui/vendor/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../ui/vendor/uplot/uPlot.min.css");

pub(super) async fn index() -> Html<&'static str> {
    Html(INDEX)
}

pub(super) async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => ([(header::CONTENT_TYPE, *mime)], *body).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no console file {name:?}")).into_response(),
    }
}

pub(super) async fn uplot_js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, JS)], UPLOT_JS)
}

pub(super) async fn uplot_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        UPLOT_CSS,
    )
}
