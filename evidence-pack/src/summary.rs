//! The printable summary of a case (Vietnamese first, English beneath): a pure function of the
//! signed manifest and the export's own record, so the verifier renders it again and compares
//! byte for byte. A summary whose facts were edited no longer matches what the camera signed.

use std::fmt::Write;

use serde_json::Value;

use crate::Manifest;
use crate::case::ExportInfo;

/// Facts from the manifest's `context`, in the order a reader expects them: key, Vietnamese,
/// English. Data, not code: a new fact is one row.
const FACTS: [(&str, &str, &str); 8] = [
    ("violation_id", "Mã vi phạm", "Violation id"),
    ("rule", "Hành vi vi phạm", "Violation"),
    ("rule_id", "Quy tắc đã cấu hình", "Configured rule"),
    ("at", "Thời điểm vi phạm", "Time of violation"),
    ("class", "Loại phương tiện", "Vehicle class"),
    ("track_id", "Mã theo vết", "Track id"),
    ("zone", "Vùng", "Zone"),
    ("line", "Vạch", "Line"),
];

/// Violation kinds as the operator reads them.
const RULES: [(&str, &str, &str); 7] = [
    ("red_light", "Vượt đèn đỏ", "Red-light running"),
    ("wrong_way", "Đi ngược chiều", "Wrong-way driving"),
    (
        "forbidden_zone",
        "Đi vào khu vực cấm",
        "Entering a forbidden zone",
    ),
    (
        "illegal_parking",
        "Dừng, đỗ xe trái phép",
        "Illegal parking",
    ),
    ("speeding", "Chạy quá tốc độ", "Speeding"),
    ("no_helmet", "Không đội mũ bảo hiểm", "No helmet"),
    (
        "too_many_riders",
        "Chở quá số người quy định",
        "Too many riders",
    ),
];

/// Vehicle classes as a Vietnamese reader names them.
const CLASSES: [(&str, &str); 6] = [
    ("motorcycle", "xe máy"),
    ("car", "ô tô"),
    ("truck", "xe tải"),
    ("bus", "xe buýt"),
    ("bicycle", "xe đạp"),
    ("person", "người"),
];

const HEAD: &str = "<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>Biên bản chứng cứ / Evidence summary</title>\n<style>\n\
body{font-family:sans-serif;max-width:52em;margin:2em auto;color:#111}\n\
table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}\n\
.en{color:#555;font-size:.9em}code{word-break:break-all}\n</style>\n</head>\n<body>\n";

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as a reader sees it: strings bare (times also in Vietnam's time), numbers to
/// three decimals at most (the manifest holds them exactly), nothing as a dash.
fn plain(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => local_time(s).unwrap_or_else(|| s.clone()),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => {
                let t = format!("{f:.3}");
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            }
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// An RFC 3339 time as Vietnam reads it (UTC+7, no daylight saving), with the original.
fn local_time(s: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    let vn = chrono::FixedOffset::east_opt(7 * 3600)?;
    Some(format!(
        "{} (giờ Việt Nam; {s})",
        t.with_timezone(&vn).format("%d/%m/%Y %H:%M:%S%.3f")
    ))
}

/// Nested measurements as `signal.into_red_s` rows.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v.as_object() {
        Some(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        None => out.push((prefix.to_string(), plain(v))),
    }
}

fn row(out: &mut String, vi: &str, en: &str, value: &str) {
    let _ = writeln!(
        out,
        "<tr><th>{}<br><span class=\"en\">{}</span></th><td>{}</td></tr>",
        esc(vi),
        esc(en),
        esc(value)
    );
}

pub(crate) fn render(m: &Manifest, info: &ExportInfo) -> String {
    let c = &m.context;
    let mut out = String::from(HEAD);
    out.push_str("<h1>Biên bản chứng cứ vi phạm giao thông<br><span class=\"en\">Traffic violation evidence summary</span></h1>\n");
    out.push_str("<p>Mọi thông tin dưới đây lấy từ bản kê (manifest) do thiết bị camera ký số. Kiểm tra: <code>edge-node verify</code> trên tệp zip này.<br><span class=\"en\">Every fact below is taken from the manifest the camera box signed. Check it with <code>edge-node verify</code> on this zip.</span></p>\n<table>\n");
    row(&mut out, "Địa điểm (site)", "Site", &m.site);
    row(&mut out, "Camera", "Camera", &m.camera);
    for (key, vi, en) in FACTS {
        let v = &c[key];
        let shown = match (key, v.as_str()) {
            ("rule", Some(r)) => RULES
                .iter()
                .find(|(k, ..)| *k == r)
                .map_or(r.to_string(), |(_, rvi, ren)| format!("{rvi} ({ren})")),
            ("class", Some(c)) => CLASSES
                .iter()
                .find(|(k, _)| *k == c)
                .map_or(c.to_string(), |(_, vi)| format!("{vi} ({c})")),
            _ => plain(v),
        };
        row(&mut out, vi, en, &shown);
    }
    let plate = match (c["plate"]["text"].as_str(), c["plate"]["score"].as_f64()) {
        (Some(t), Some(s)) => format!("{t} (độ tin cậy / confidence {s:.2})"),
        (Some(t), None) => t.to_string(),
        _ => "không đọc được / not read".into(),
    };
    row(&mut out, "Biển số", "Plate", &plate);
    let mut measured = Vec::new();
    flatten("", &c["measured"], &mut measured);
    for (k, v) in measured.iter().filter(|(k, _)| !k.is_empty()) {
        row(
            &mut out,
            &format!("Số đo: {k}"),
            &format!("Measured: {k}"),
            v,
        );
    }
    // Whatever else the box signed (an alert's dwell time, ...): shown, never dropped.
    let shown =
        |k: &str| FACTS.iter().any(|f| f.0 == k) || ["plate", "measured", "captured"].contains(&k);
    if let Some(all) = c.as_object() {
        for (k, v) in all.iter().filter(|(k, _)| !shown(k)) {
            row(
                &mut out,
                &format!("Thông tin khác: {k}"),
                &format!("Other: {k}"),
                &plain(v),
            );
        }
    }
    row(
        &mut out,
        "Thời điểm ký",
        "Signed at",
        &plain(&Value::String(m.created.clone())),
    );
    out.push_str("</table>\n<h2>Tệp chứng cứ <span class=\"en\">Evidence files</span></h2>\n<table>\n<tr><th>Tệp / File</th><th>Ghi lúc / Captured</th><th>Byte</th><th>SHA-256</th></tr>\n");
    for f in &m.files {
        let captured = plain(&c["captured"][&f.name]);
        let _ = writeln!(
            out,
            "<tr><td>evidence/{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&f.name),
            esc(&captured),
            f.bytes,
            esc(&f.sha256)
        );
    }
    out.push_str("</table>\n<h2>Chữ ký <span class=\"en\">Signature</span></h2>\n<table>\n");
    row(
        &mut out,
        "Khóa công khai (Ed25519)",
        "Public key",
        &m.public_key,
    );
    let fp = crate::fingerprint(&m.public_key).unwrap_or_else(|| "?".into());
    row(&mut out, "Dấu vân tay khóa", "Key fingerprint", &fp);
    out.push_str("</table>\n<h2>Xuất hồ sơ <span class=\"en\">Export</span></h2>\n<p>Thông tin do trung tâm ghi, không do camera ký; đối chiếu với nhật ký kiểm toán của trung tâm.<br><span class=\"en\">Recorded by the hub, not signed by the camera; check against the hub's audit log.</span></p>\n<table>\n");
    row(&mut out, "Mã sự kiện", "Event id", &info.event_id);
    row(&mut out, "Người xuất", "Exported by", &info.exported_by);
    row(
        &mut out,
        "Thời điểm xuất",
        "Exported at",
        &plain(&Value::String(info.exported_at.clone())),
    );
    row(
        &mut out,
        "Kết quả kiểm tra tại trung tâm",
        "Hub's check",
        &info.hub_check,
    );
    out.push_str("</table>\n</body>\n</html>\n");
    out
}
