//! The traffic centre's session: only the junction page; the latest counts, the plan in force
//! beside the recommendation, the city map, and a day of charts per camera and junction.

use fantoccini::Client;
use fantoccini::key::Key;

use crate::operator::login;
use crate::page::{accessible, click, find, fits_phone, shot, text, wait_js, wait_text};
use crate::support::TRAFFIC;

pub async fn run(c: &Client) {
    login(c, TRAFFIC, "tt-dieu-hanh").await;
    wait_js(
        c,
        "return ['search', 'watch'].every((t) => document.getElementById('tab-' + t).classList.contains('hidden')) \
         && !document.getElementById('junction-view').classList.contains('hidden');",
        "the traffic centre sees only its junction page",
    )
    .await;
    let table = wait_text(c, "#junctions tbody", "42/17").await;
    assert!(table.contains("ben-thanh-1"), "{table}");
    // The recommendation in Vietnamese, and as bars beside the plan in force.
    let rec = text(c, ".rec-text").await;
    assert!(
        rec.contains("Chu kỳ 72 s: ns 35 s, ew 27 s") && rec.contains("31 → 23 s/xe"),
        "{rec}"
    );
    let bars = text(c, "#junctions").await;
    assert!(
        bars.contains("Đang chạy: Chu kỳ 90 s") && bars.contains("Khuyến nghị: Chu kỳ 72 s"),
        "{bars}"
    );
    // The controller's live green requests, with what each was decided from.
    c.execute(
        "document.querySelector('details.decisions').open = true;",
        vec![],
    )
    .await
    .unwrap();
    let live = text(c, "details.decisions").await;
    assert!(
        live.contains("2 quyết định pha xanh")
            && live.contains("31.5 s")
            && live.contains("quá hạn, không gửi")
            && live.contains("ns: chờ 7.8 PCU, 620 PCU/h"),
        "{live}"
    );
    assert!(!text(c, "#refreshed").await.is_empty());
    // Every configured position is on the map.
    wait_js(
        c,
        "return document.querySelectorAll('#city-map .node').length === 3;",
        "three places on the city map",
    )
    .await;

    // Camera counts per class from the table (and ben-thanh-2's turning movements); the
    // junction's flow, queue, cycle and forecast charts from its place on the map, opened from
    // the keyboard.
    for (id, charts) in [("ben-thanh-1", 1), ("ben-thanh-2", 2), ("ben-thanh-jct", 4)] {
        c.execute(
            "document.getElementById('junction-charts').innerHTML = '';",
            vec![],
        )
        .await
        .unwrap();
        if id == "ben-thanh-jct" {
            let node = find(c, &format!("#city-map .node[data-id='{id}']")).await;
            c.execute(
                "arguments[0].focus();",
                vec![serde_json::to_value(&node).unwrap()],
            )
            .await
            .unwrap();
            node.send_keys(&char::from(Key::Enter).to_string())
                .await
                .unwrap();
        } else {
            c.execute(
                "[...document.querySelectorAll('#junctions tbody tr')].find((r) => r.cells[0].innerText.trim() === arguments[0]).querySelector('.chart-btn').click();",
                vec![serde_json::json!(id)],
            )
            .await
            .unwrap();
        }
        wait_js(
            c,
            &format!(
                "const b = document.getElementById('junction-charts'); \
                 return b.querySelectorAll('figure.chart canvas').length >= {charts} && !!b.dataset.renderMs;"
            ),
            &format!("{id}: {charts} charts"),
        )
        .await;
        let drawn = c
            .execute(
                "return [document.querySelectorAll('#junction-charts figure.chart').length, \
                 Number(document.getElementById('junction-charts').dataset.renderMs)];",
                vec![],
            )
            .await
            .unwrap();
        println!("{id}: {} charts drawn in {} ms", drawn[0], drawn[1]);
        assert_eq!(drawn[0], charts, "{id}: {drawn}");
        assert!(
            drawn[1].as_f64().unwrap() <= 500.0,
            "{id}: charts took {drawn}"
        );
        if id == "ben-thanh-2" {
            // The planners' table: movements with their day's totals, speeds and peak hour.
            let table = text(c, "#movements").await;
            for want in [
                "north → south",
                "north → east",
                "hệ số giờ cao điểm",
                "Tải CSV",
            ] {
                assert!(table.contains(want), "{want} missing: {table}");
            }
        }
    }
    let captions = text(c, "#junction-charts").await;
    // Every horizon against what was measured, in the chart's legend.
    for h in [
        "dự báo 5/10/15 phút",
        "dự báo 5 phút",
        "dự báo 10 phút",
        "dự báo 15 phút",
    ] {
        assert!(captions.contains(h), "{h} missing: {captions}");
    }
    shot(c, "junctions").await;
    c.execute(
        "document.getElementById('junction-charts').scrollIntoView();",
        vec![],
    )
    .await
    .unwrap();
    shot(c, "junction-charts").await;
    accessible(c, "junction page").await;
    fits_phone(c, "junctions").await;
    click(c, "#logout").await;
}
