//! The HTTP API on a running hub (real broker, real SQLite, real embedding model): tokens and
//! roles, the audit log, search, event detail, export, evidence, junctions, metrics, hostile
//! input, and the OpenAPI document agreeing with the routes.

mod support;

use std::collections::BTreeSet;
use std::io::Read;

use matthan_schema::{Body, Counts, Event, LineCount};
use support::{ADMIN, Hub, OPERATOR, Obj, TRAFFIC, enc, recommendation, track};

fn seed(hub: &Hub) -> Vec<Event> {
    let now =
        chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).unwrap();
    let red = Obj {
        camera: "ben-thanh-1",
        class: "motorcycle",
        color: Some("red"),
        ..Obj::default()
    };
    let white = Obj {
        camera: "nguyen-hue-2",
        class: "person",
        upper: Some("white"),
        lower: Some("black"),
        ..Obj::default()
    };
    let bus = Obj {
        camera: "nguyen-hue-2",
        class: "bus",
        color: Some("yellow"),
        zones: vec!["bus-stop"],
        ..Obj::default()
    };
    let events = vec![
        track(&red, 1, now - chrono::Duration::minutes(5)),
        track(&white, 2, now - chrono::Duration::minutes(4)),
        track(&bus, 3, now - chrono::Duration::minutes(3)),
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
                movements: vec![matthan_schema::MovementCount {
                    from: "west".into(),
                    to: Some("east".into()),
                    class: "motorcycle".into(),
                    count: 12,
                    speeds_kmh: vec![28.0, 31.0],
                }],
            }),
        ),
        recommendation(now),
    ];
    hub.publish(&events);
    events
}

#[test]
fn roles_audit_search_detail_export_and_metrics() {
    let hub = Hub::start();
    let events = seed(&hub);

    // No token, a wrong token, a wrong role.
    assert_eq!(hub.get("/api/search?q=car", None).0, 401);
    assert_eq!(hub.get("/api/search?q=car", Some("guess")).0, 401);
    assert_eq!(hub.get("/api/search?q=car", Some(TRAFFIC)).0, 403);
    assert_eq!(hub.get("/api/junctions", Some(OPERATOR)).0, 403);
    assert_eq!(hub.get("/api/audit", Some(OPERATOR)).0, 403);
    assert_eq!(hub.get("/metrics", Some(TRAFFIC)).0, 403);
    assert_eq!(hub.get("/api/health", None).0, 200);

    // Search in Vietnamese; the card says why it matched.
    let r = hub.json(
        &format!("/api/search?q={}", enc("xe máy màu đỏ gần Bến Thành")),
        OPERATOR,
    );
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{r}");
    assert_eq!(results[0]["id"], events[0].id.to_string());
    assert!(
        results[0]["reasons"].to_string().contains("colour red"),
        "{r}"
    );
    assert_eq!(r["understood"]["cameras"][0], "ben-thanh-1");
    let r = hub.json(
        &format!("/api/search?q={}", enc("man in white shirt")),
        OPERATOR,
    );
    assert_eq!(r["results"][0]["id"], events[1].id.to_string());
    // Free words rank by meaning: "waiting at the stop" finds the bus in the bus-stop zone first.
    let r = hub.json(
        &format!("/api/search?q={}", enc("vehicle waiting at the bus stop")),
        OPERATOR,
    );
    assert_eq!(r["results"][0]["id"], events[2].id.to_string(), "{r}");

    // The console's filters beside the text box, paging and sort; a bad filter is named.
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let r = hub.json(
        "/api/search?q=&camera=nguyen-hue-2&kind=track&sort=newest",
        OPERATOR,
    );
    assert_eq!(
        ids(&r),
        [events[2].id.to_string(), events[1].id.to_string()],
        "{r}"
    );
    let r = hub.json(
        "/api/search?q=&camera=nguyen-hue-2&kind=track&sort=newest&limit=1&offset=1",
        OPERATOR,
    );
    assert_eq!(ids(&r), [events[1].id.to_string()], "{r}");
    let r = hub.json("/api/search?q=xe&class=bus", OPERATOR);
    assert_eq!(ids(&r), [events[2].id.to_string()], "{r}");
    let from = (chrono::Utc::now() - chrono::Duration::seconds(210)).to_rfc3339();
    let r = hub.json(
        &format!("/api/search?q=&kind=track&from={}", enc(&from)),
        OPERATOR,
    );
    assert_eq!(
        ids(&r),
        [events[2].id.to_string()],
        "only the bus is newer: {r}"
    );
    for (bad, names) in [
        ("from=yesterday", "from"),
        ("kind=tracks", "kind"),
        ("sort=oldest", "sort"),
    ] {
        let (status, body) = hub.get(&format!("/api/search?q=&{bad}"), Some(OPERATOR));
        let body = String::from_utf8_lossy(&body);
        assert!(
            status == 400 && body.contains(names),
            "{bad}: {status} {body}"
        );
    }
    let cams = hub.json("/api/cameras", OPERATOR);
    assert!(
        cams["cameras"].to_string().contains("nguyen-hue-2"),
        "{cams}"
    );

    // Event detail and export.
    let id = events[0].id.to_string();
    let d = hub.json(&format!("/api/events/{id}"), OPERATOR);
    assert_eq!(d["event"]["id"], id);
    assert_eq!(d["signature"]["status"], "unsigned");
    assert!(d["caption"].as_str().unwrap().contains("red motorcycle"));
    assert_eq!(hub.get("/api/events/not-a-uuid", Some(OPERATOR)).0, 400);
    assert_eq!(
        hub.get(
            "/api/events/00000000-0000-7000-8000-000000000000",
            Some(OPERATOR)
        )
        .0,
        404
    );
    let (status, zip_bytes) = hub.get(&format!("/api/events/{id}/export"), Some(OPERATOR));
    assert_eq!(status, 200);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut event_json = String::new();
    zip.by_name("event.json")
        .unwrap()
        .read_to_string(&mut event_json)
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Event>(&event_json).unwrap(),
        events[0]
    );
    let mut record = String::new();
    zip.by_name("export.json")
        .unwrap()
        .read_to_string(&mut record)
        .unwrap();
    assert!(
        record.contains("nguyen-van-a"),
        "export names who made it: {record}"
    );

    // Evidence by sha256.
    assert_eq!(hub.get("/api/evidence/not-a-sha", Some(OPERATOR)).0, 400);
    assert_eq!(
        hub.get(&format!("/api/evidence/{}", "a".repeat(64)), Some(OPERATOR))
            .0,
        404
    );

    // The traffic centre's view.
    let j = hub.json("/api/junctions", TRAFFIC);
    let cam = j["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["camera"] == "ben-thanh-1")
        .expect("counts camera");
    assert_eq!(cam["counts"]["body"]["lines"][0]["in"], 42);
    let jct = j["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["camera"] == "ben-thanh-jct")
        .expect("the junction's row");
    assert_eq!(jct["recommendation"]["body"]["cycle_s"], 72.0);
    assert_eq!(jct["recommendation"]["body"]["phases"][0]["phase"], "ns");

    // Hostile input: answered, harmless; with nothing understood, said so and nothing shown.
    let before = hub.events();
    let ten_kb = "qzx ".repeat(2500);
    for (q, nothing) in [
        ("'; DROP TABLE events; --", true),
        ("\" OR 1=1 --", true),
        ("%00%ff", true),
        ("nul\0byte", true),
        ("🚗🚗🚗", true),
        ("\u{202E}abc\u{202C} \u{200F}", true),
        (ten_kb.as_str(), true),
        (&"xe máy ".repeat(1500), false),
    ] {
        let (status, body) = hub.get(&format!("/api/search?q={}", enc(q)), Some(OPERATOR));
        let shown = &q[..q.char_indices().nth(40).map_or(q.len(), |(i, _)| i)];
        assert_eq!(status, 200, "{shown}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["understood"]["nothing_understood"], nothing, "{shown}");
        if nothing {
            assert_eq!(v["results"].as_array().map(Vec::len), Some(0), "{shown}");
        }
    }
    // A 100 KB URL is refused by the HTTP layer with 414, and the hub carries on.
    assert_eq!(
        hub.get(
            &format!("/api/search?q={}", "x".repeat(100_000)),
            Some(OPERATOR)
        )
        .0,
        414
    );
    // Invalid UTF-8 is decoded lossily (U+FFFD) and searched like any unknown word.
    assert_eq!(hub.get("/api/search?q=%FF%FE", Some(OPERATOR)).0, 200);
    // Without q (filters only, or none): the newest events, as a blank query.
    assert_eq!(hub.get("/api/search", Some(OPERATOR)).0, 200);
    assert_eq!(hub.events(), before);

    // Every search and view was audited, with who.
    let a = hub.json("/api/audit?limit=100", ADMIN);
    let entries = a["entries"].as_array().unwrap();
    let actions: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.is_superset(&BTreeSet::from([
            "search",
            "view_event",
            "export",
            "view_evidence"
        ])),
        "{actions:?}"
    );
    assert!(entries.iter().any(|e| e["who"] == "nguyen-van-a" && e["detail"].as_str().unwrap().contains("xe máy")));

    let (status, m) = hub.get("/metrics", Some(ADMIN));
    let m = String::from_utf8(m).unwrap();
    assert_eq!(status, 200);
    assert!(m.contains("matthan_hub_events_stored_total 5"), "{m}");
    assert!(m.contains("matthan_hub_search_duration_ms_count"), "{m}");
}

#[test]
fn openapi_document_lists_exactly_the_routes_and_each_answers() {
    let hub = Hub::start();
    let events = seed(&hub);
    let (status, body) = hub.get("/openapi.yaml", None);
    assert_eq!(status, 200);
    let doc: serde_yaml::Value = serde_yaml::from_slice(&body).unwrap();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_mapping().unwrap() {
        for (method, _) in ops.as_mapping().unwrap() {
            documented.insert((
                method.as_str().unwrap().to_string(),
                path.as_str().unwrap().to_string(),
            ));
        }
    }
    let routed: BTreeSet<(String, String)> = central_hub::api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed, "openapi.yaml and the router disagree");
    // Every answer, authorised or not, forbids inline script and framing.
    for path in ["/", "/ui/app.js", "/api/search?q=x", "/api/health"] {
        let csp = hub
            .header(path, "content-security-policy")
            .unwrap_or_default();
        let script = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap_or_default();
        assert_eq!(script, "script-src 'self'", "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            hub.header(path, "x-frame-options").as_deref(),
            Some("DENY"),
            "{path}"
        );
        assert_eq!(
            hub.header(path, "x-content-type-options").as_deref(),
            Some("nosniff")
        );
    }
    let id = events[0].id.to_string();
    // A case with one uploaded video, for the case and work routes.
    let (status, c) = hub.send(
        "POST",
        "/api/cases",
        ADMIN,
        Some(serde_json::json!({"name": "routes"})),
    );
    assert_eq!(status, 201, "{c}");
    let case = c["id"].to_string();
    let up = ureq::post(&format!("{}/api/cases/{case}/videos?name=v.mp4", hub.url))
        .set("authorization", &format!("Bearer {ADMIN}"))
        .send_bytes(b"not really a video")
        .unwrap();
    let video =
        serde_json::from_str::<serde_json::Value>(&up.into_string().unwrap()).unwrap()["id"]
            .to_string();
    for (method, path) in central_hub::api::ROUTES {
        // The stream never ends (its own test reads it); the others answer a GET.
        if *method != "get" || path.ends_with("/stream") {
            continue;
        }
        let real = if path.starts_with("/api/cases/") || path.starts_with("/api/work/") {
            path.replace("{id}", &case)
                .replace("{video}", &video)
                .replace("{job}", &video)
        } else {
            path.to_string()
        };
        let real = real
            .replace("{id}", &id)
            .replace("{sha256}", &"b".repeat(64))
            .replace("{file}", "app.js");
        let real = match real.as_str() {
            "/api/search" => "/api/search?q=bus".to_string(),
            "/api/trace" => "/api/trace?plate=51F".to_string(),
            "/api/trace/candidates" => format!("/api/trace/candidates?event={id}"),
            "/api/junctions/history" => "/api/junctions/history?site=hcmc&id=cam-1".to_string(),
            "/api/junctions/movements" => {
                "/api/junctions/movements?site=hcmc&camera=cam-1".to_string()
            }
            _ => real,
        };
        let (status, _) = hub.get(&real, Some(ADMIN));
        assert!(
            status == 200 || (real.contains("evidence") && status == 404),
            "{real} answered {status}"
        );
    }
    // Turning movements: the interval's movement in JSON and in the planners' CSV.
    let q = "/api/junctions/movements?site=hcmc&camera=ben-thanh-1";
    let m = hub.json(q, ADMIN);
    assert_eq!(m["report"]["totals"]["west→east"], 12, "{m}");
    let (status, csv) = hub.get(&format!("{q}&format=csv"), Some(ADMIN));
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(status, 200);
    assert!(
        csv.lines()
            .nth(1)
            .is_some_and(|l| l.ends_with(",west,east,motorcycle,12,29.5,31.0")),
        "{csv}"
    );
    let (status, _) = hub.get(&format!("{q}&bin_min=7"), Some(ADMIN));
    assert_eq!(status, 400, "7-minute bins do not divide a day");
}

#[test]
fn hub_refuses_a_password_file_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("hub.pw");
    std::fs::write(&pw, "hunter2\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let repo = support::repo();
    let text = format!(
        "db = \"hub.db\"\nevidence_dir = \"ev\"\n[mqtt]\nusername = \"hub\"\npassword_file = \"{}\"\n[embedding]\nmodel = \"{}\"\ntokenizer = \"{}\"\n",
        pw.display(),
        repo.join("models/minilm-l6-v2-int8.onnx").display(),
        repo.join("models/minilm-l6-v2-tokenizer.json").display()
    );
    let file = dir.path().join("hub.toml");
    std::fs::write(&file, &text).unwrap();
    let err = central_hub::config::HubConfig::load(&file)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mqtt.password_file") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!err.contains("hunter2"));
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    central_hub::config::HubConfig::load(&file).unwrap();
}

/// Keys registered for another site, retired, or revoked (`[[keys]]`): a correct signature
/// from them is `invalid`, and the reason names the box and what it signed for.
const MORE_KEYS: &str = r#"
[[keys]]
site = "dn"
edge = "dn-edge-1"
public_key = "KEY_DN"
[[keys]]
site = "hcmc"
edge = "hcmc-edge-old"
public_key = "KEY_OLD"
valid_until = "2026-06-01T00:00:00+07:00"
[[keys]]
site = "hcmc"
edge = "hcmc-edge-stolen"
public_key = "KEY_STOLEN"
revoked_at = "2026-11-01T00:00:00+07:00"
revoked_reason = "box stolen from its pole"
"#;

fn seeded_key(seed: u8) -> ring::signature::Ed25519KeyPair {
    ring::signature::Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
}

#[test]
fn signed_violations_are_verified_and_tampering_is_named() {
    let extra = MORE_KEYS
        .replace("KEY_DN", &support::edge_key_hex(&seeded_key(11)))
        .replace("KEY_OLD", &support::edge_key_hex(&seeded_key(12)))
        .replace("KEY_STOLEN", &support::edge_key_hex(&seeded_key(13)));
    let hub = Hub::start_with(&extra);
    let now =
        chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).unwrap();
    let key = support::edge_key();
    let (event, blobs) = support::signed_violation(&key, now);
    // The event first: until its blobs arrive, the bundle is incomplete, not "signed".
    hub.publish(std::slice::from_ref(&event));
    let id = event.id.to_string();
    let d = hub.json(&format!("/api/events/{id}"), OPERATOR);
    assert_eq!(d["signature"]["status"], "incomplete", "{d}");
    for (sha, b) in &blobs {
        hub.publish_blob(&matthan_schema::evidence_topic("hcmc", sha), b);
    }
    let d = hub.json(&format!("/api/events/{id}"), OPERATOR);
    assert_eq!(d["signature"]["status"], "verified", "{d}");
    assert_eq!(d["signature"]["public_key"], support::edge_key_hex(&key));
    assert_eq!(d["signature"]["edge"], "hcmc-edge-1");
    assert!(
        d["caption"].as_str().unwrap().contains("ran a red light"),
        "{d}"
    );

    // The case export verifies offline against the box's key, with the files under the names
    // the camera signed and the facts on its printable summary.
    let (status, zip_bytes) = hub.get(&format!("/api/events/{id}/export"), Some(OPERATOR));
    assert_eq!(status, 200);
    let r = matthan_evidence::case::verify_zip(
        std::io::Cursor::new(&zip_bytes),
        Some(&support::edge_key_hex(&key)),
    );
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.export.unwrap().hub_check, "verified");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut summary = String::new();
    zip.by_name("summary.html")
        .unwrap()
        .read_to_string(&mut summary)
        .unwrap();
    assert!(summary.contains("59-X1-123.45") && summary.contains("Vượt đèn đỏ"));
    assert!(zip.by_name("evidence/vehicle.jpg").is_ok());

    // Evidence is served with its media type and in byte ranges (players seek in clips).
    let (sha, bytes) = &blobs[0];
    let part = |range: &str| {
        let r = ureq::get(&format!("{}/api/evidence/{sha}", hub.url))
            .set("Authorization", &format!("Bearer {OPERATOR}"))
            .set("Range", range)
            .call();
        let r = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let head = |h: &str| r.header(h).unwrap_or_default().to_string();
        let (status, kind, span) = (r.status(), head("content-type"), head("content-range"));
        let mut body = Vec::new();
        r.into_reader().read_to_end(&mut body).unwrap();
        (status, kind, span, body)
    };
    let n = bytes.len();
    let (status, kind, span, body) = part("bytes=2-5");
    assert_eq!(
        (status, span.as_str()),
        (206, format!("bytes 2-5/{n}").as_str())
    );
    assert_eq!(
        (kind.as_str(), body.as_slice()),
        ("image/jpeg", &bytes[2..6])
    );
    let (status, _, _, body) = part("bytes=-3");
    assert_eq!((status, body.as_slice()), (206, &bytes[n - 3..]));
    assert_eq!(part(&format!("bytes={n}-")).0, 416);

    // The export put the event on hold; only an admin releases it; a hold needs a reason.
    let d = hub.json(&format!("/api/events/{id}"), OPERATOR);
    assert_eq!(d["hold"]["reason"], "case export by nguyen-van-a", "{d}");
    let hold = format!("/api/events/{id}/hold");
    let empty = serde_json::json!({"reason": " "});
    assert_eq!(hub.send("POST", &hold, OPERATOR, Some(empty)).0, 400);
    let again = serde_json::json!({"reason": "vụ án 12/2026"});
    let (status, body) = hub.send("POST", &hold, OPERATOR, Some(again));
    assert_eq!(
        (status, &body["new"]),
        (200, &serde_json::json!(false)),
        "{body}"
    );
    assert_eq!(hub.send("DELETE", &hold, OPERATOR, None).0, 403);
    assert_eq!(hub.send("DELETE", &hold, ADMIN, None).0, 200);
    assert_eq!(hub.send("DELETE", &hold, ADMIN, None).0, 404);
    assert!(hub.json(&format!("/api/events/{id}"), OPERATOR)["hold"].is_null());

    // Searchable by rule in Vietnamese and by plate.
    let r = hub.json(
        &format!("/api/search?q={}", enc("xe vượt đèn đỏ")),
        OPERATOR,
    );
    assert_eq!(r["results"][0]["id"], id, "{r}");
    let r = hub.json(&format!("/api/search?q={}", enc("biển số 59X1")), OPERATOR);
    assert_eq!(r["results"][0]["id"], id, "{r}");

    // Another box's key: the signature checks out but the hub does not vouch for the box.
    let stranger = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[9u8; 32]).unwrap();
    let (e2, b2) = support::signed_violation(&stranger, now);
    hub.publish(std::slice::from_ref(&e2));
    for (sha, b) in &b2 {
        hub.publish_blob(&matthan_schema::evidence_topic("hcmc", sha), b);
    }
    let d = hub.json(&format!("/api/events/{}", e2.id), OPERATOR);
    assert_eq!(d["signature"]["status"], "untrusted_key", "{d}");

    // Registered keys used outside their site or period: invalid, with the reason.
    for (seed, says) in [
        (11, "key of dn-edge-1 (site dn) signed for site hcmc"),
        (12, "after it was retired (valid_until)"),
        (13, "after it was revoked: box stolen from its pole"),
    ] {
        let (e, blobs) = support::signed_violation(&seeded_key(seed), now);
        hub.publish(std::slice::from_ref(&e));
        for (sha, b) in &blobs {
            hub.publish_blob(&matthan_schema::evidence_topic("hcmc", sha), b);
        }
        let d = hub.json(&format!("/api/events/{}", e.id), OPERATOR);
        assert_eq!(d["signature"]["status"], "invalid", "{d}");
        let why = d["signature"]["problems"][0].as_str().unwrap_or_default();
        assert!(why.contains(says), "{says}: {d}");
    }

    // An event that claims a different image than the signed manifest lists: invalid, named.
    let (mut e3, _) = support::signed_violation(&key, now);
    if let Body::Violation(v) = &mut e3.body {
        v.evidence[1].sha256 = central_hub::config::sha256_hex(b"a swapped picture");
    }
    hub.publish(std::slice::from_ref(&e3));
    let d = hub.json(&format!("/api/events/{}", e3.id), OPERATOR);
    assert_eq!(d["signature"]["status"], "invalid", "{d}");
    assert!(
        d["signature"]["problems"][0]
            .as_str()
            .unwrap()
            .contains("vehicle.jpg"),
        "{d}"
    );

    // Facts shown beside the evidence that the box did not sign: each is named.
    for (field, change) in [
        (
            "plate",
            (|v: &mut matthan_schema::Violation| v.plate = Some("59-X1-999.99".into()))
                as fn(&mut _),
        ),
        ("at", |v| v.at += chrono::Duration::seconds(90)),
        ("rule_id", |v| v.rule_id = "red-west".into()),
        ("track_id", |v| v.track_id = 4),
        ("context", |v| v.context.speed_kmh = Some(80.0)),
    ] {
        let (mut e, b) = support::signed_violation(&key, now);
        if let Body::Violation(v) = &mut e.body {
            change(v);
        }
        hub.publish(std::slice::from_ref(&e));
        for (sha, bytes) in &b {
            hub.publish_blob(&matthan_schema::evidence_topic("hcmc", sha), bytes);
        }
        let d = hub.json(&format!("/api/events/{}", e.id), OPERATOR);
        assert_eq!(d["signature"]["status"], "invalid", "{field}: {d}");
        let problems = d["signature"]["problems"].to_string();
        assert!(
            problems.contains(&format!("{field} differs")),
            "{field}: {d}"
        );
    }
    // Signed for another camera: the manifest vouches for ben-thanh-1 only.
    let (mut e5, b5) = support::signed_violation(&key, now);
    e5.camera = "cho-lon-4".into();
    hub.publish(std::slice::from_ref(&e5));
    for (sha, bytes) in &b5 {
        hub.publish_blob(&matthan_schema::evidence_topic("hcmc", sha), bytes);
    }
    let d = hub.json(&format!("/api/events/{}", e5.id), OPERATOR);
    assert!(
        d["signature"]["problems"]
            .to_string()
            .contains("camera differs"),
        "{d}"
    );

    // A signature that does not match the manifest (a byte changed).
    let (mut e4, _) = support::signed_violation(&key, now);
    if let Body::Violation(v) = &mut e4.body {
        let s = v.signature.as_mut().unwrap();
        let flipped = if s.starts_with('0') { "1" } else { "0" };
        s.replace_range(0..1, flipped);
    }
    hub.publish(std::slice::from_ref(&e4));
    let d = hub.json(&format!("/api/events/{}", e4.id), OPERATOR);
    assert_eq!(d["signature"]["status"], "invalid", "{d}");
}

/// The login checks the token and says who it is; an expired token is refused as such; an
/// address that keeps guessing is locked out (even with a good token) and that is audited.
#[test]
fn sessions_expire_lock_out_guessers_and_are_audited() {
    let old = central_hub::config::sha256_hex(b"token-of-last-year");
    let hub = Hub::start_with(&format!(
        "[[tokens]]\nname = \"retired-officer\"\nrole = \"operator\"\nsha256 = \"{old}\"\nexpires = \"2026-01-01T00:00:00+07:00\"\n"
    ));
    let me = hub.json("/api/whoami", OPERATOR);
    assert_eq!(me["name"], "nguyen-van-a");
    assert_eq!(me["role"], "operator");
    let (status, body) = hub.get("/api/whoami", Some("token-of-last-year"));
    assert_eq!(status, 401);
    assert!(String::from_utf8_lossy(&body).contains("retired-officer expired"));
    // Nine more wrong guesses: ten failures from this address in the window.
    for i in 0..9 {
        assert_eq!(hub.get("/api/whoami", Some(&format!("guess-{i}"))).0, 401);
    }
    let (status, body) = hub.get("/api/whoami", Some(OPERATOR));
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("too many failed logins from 127.0.0.1"));
    // The first failure and the lockout are in the audit log (written off the request path).
    let mut store = central_hub::store::open(&hub.db).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let log = store.audit_log(50).unwrap();
        let failed: Vec<_> = log.iter().filter(|a| a.action == "login_failed").collect();
        if failed.len() == 2 {
            assert!(
                failed.iter().any(|a| a.detail.contains("locked out")),
                "{failed:?}"
            );
            assert!(
                failed.iter().all(|a| a.detail.starts_with("127.0.0.1")),
                "{failed:?}"
            );
            assert!(
                !failed.iter().any(|a| a.detail.contains("guess-")),
                "no token in the log"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{failed:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The evidence folder stays within its disk budget: health warns past 90 %, and a blob that
/// would pass the budget is not stored (nor confirmed, so its edge keeps it for later).
#[test]
fn evidence_stays_within_its_disk_budget() {
    let hub = Hub::start_with("[ingest]\nevidence_budget_mib = 1\n");
    let blob = |n: u8| vec![n; 480 * 1024];
    let topic =
        |b: &[u8]| matthan_schema::evidence_topic("hcmc", &central_hub::config::sha256_hex(b));
    for n in 1..=2 {
        hub.publish_blob(&topic(&blob(n)), &blob(n));
    }
    let health = |hub: &Hub| -> serde_json::Value {
        serde_json::from_slice(&hub.get("/api/health", None).1).unwrap()
    };
    assert_eq!(
        health(&hub)["evidence"]["state"],
        "warning",
        "{}",
        health(&hub)
    );
    let third = blob(3);
    hub.send_blob(&topic(&third), &third);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let sha = central_hub::config::sha256_hex(&third);
    assert_eq!(hub.get(&format!("/api/evidence/{sha}"), Some(ADMIN)).0, 404);
    let h = health(&hub);
    assert!(
        h["evidence"]["used_bytes"].as_u64().unwrap() <= 1024 * 1024,
        "{h}"
    );
    assert_eq!(h["evidence"]["budget_bytes"], 1024 * 1024);
    let metrics = String::from_utf8(hub.get("/metrics", Some(ADMIN)).1).unwrap();
    assert!(
        metrics.contains("matthan_hub_evidence_budget_bytes 1048576"),
        "{metrics}"
    );
}
