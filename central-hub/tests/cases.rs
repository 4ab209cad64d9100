//! Forensic cases at the hub: the work queue on both engines (leases, lost leases going to the
//! next worker, a job given up after three, only the holder reporting), and over HTTP: opening
//! a case from an import folder (and not from outside one), uploads, the player's byte ranges,
//! the worker routes and who may use them.

mod support;

use central_hub::store::{EventStore, JobState, Outcome, VideoSource};
use chrono::{Duration, Utc};
use support::{ADMIN, Hub, OPERATOR, TRAFFIC};

fn check_queue(label: &str, store: &mut dyn EventStore) {
    let now = Utc::now();
    let recorded = now - Duration::days(3);
    let videos = vec![
        (
            "a.mp4".to_string(),
            VideoSource::File("/cases/a.mp4".into()),
        ),
        (
            "b.mov".to_string(),
            VideoSource::Url("https://example.org/b.mov".into()),
        ),
    ];
    let case = store.create_case("Vụ 1", "dtv", recorded, &videos).unwrap();
    let later = now + Duration::seconds(30);
    let a = store.lease("w1", now, later).unwrap().unwrap();
    assert_eq!(
        (a.name.as_str(), a.attempt, a.case_id),
        ("a.mp4", 1, case),
        "{label}"
    );
    assert_eq!(
        a.recorded_at.timestamp_millis(),
        recorded.timestamp_millis(),
        "{label}"
    );
    let b = store.lease("w2", now, later).unwrap().unwrap();
    assert_eq!(
        b.source,
        VideoSource::Url("https://example.org/b.mov".into()),
        "{label}"
    );
    assert!(
        store.lease("w3", now, later).unwrap().is_none(),
        "{label}: both leased"
    );
    assert_eq!(store.open_jobs().unwrap(), 2, "{label}");
    // Only the holder reports; progress renews the lease.
    assert!(
        !store.progress(a.id, "w2", 1.0, None, None, later).unwrap(),
        "{label}"
    );
    let sha = "ab".repeat(32);
    assert!(
        store
            .progress(
                a.id,
                "w1",
                4.5,
                Some(10.0),
                Some(&sha),
                later + Duration::seconds(60)
            )
            .unwrap(),
        "{label}"
    );
    // w2 goes silent: after its lease another worker gets b, and w2 can no longer finish it.
    let after = later + Duration::seconds(1);
    let again = store
        .lease("w3", after, after + Duration::seconds(30))
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.id, again.attempt),
        (b.id, 2),
        "{label}: a lost lease is redelivered"
    );
    assert!(
        !store
            .finish(b.id, "w2", Outcome::Done { events: 5 })
            .unwrap(),
        "{label}"
    );
    assert!(
        store
            .finish(
                b.id,
                "w3",
                Outcome::Failed {
                    reason: "b.mov: not a video"
                }
            )
            .unwrap(),
        "{label}"
    );
    assert!(
        store
            .finish(a.id, "w1", Outcome::Done { events: 7 })
            .unwrap(),
        "{label}"
    );
    assert!(
        !store
            .finish(a.id, "w1", Outcome::Done { events: 7 })
            .unwrap(),
        "{label}: ended once"
    );
    let (c, vs) = store.case(case).unwrap().unwrap();
    assert_eq!(c.name, "Vụ 1", "{label}");
    assert_eq!(vs[0].state, JobState::Done, "{label}");
    assert_eq!(
        (vs[0].events, vs[0].processed_s, vs[0].duration_s),
        (7, 10.0, Some(10.0)),
        "{label}"
    );
    assert_eq!(vs[0].sha256.as_deref(), Some(sha.as_str()), "{label}");
    assert_eq!(vs[1].state, JobState::Failed, "{label}");
    assert_eq!(
        vs[1].error.as_deref(),
        Some("b.mov: not a video"),
        "{label}"
    );
    let p = central_hub::api::progress(&vs, Utc::now());
    assert_eq!(
        (p.done, p.failed, p.queued, p.running),
        (1, 1, 0, 0),
        "{label}"
    );

    // A job every worker abandons fails after three leases, with that reason.
    let c2 = store
        .create_case(
            "Vụ 2",
            "dtv",
            recorded,
            &[("c.avi".into(), VideoSource::File("/c.avi".into()))],
        )
        .unwrap();
    let mut t = now;
    for n in 1..=3 {
        let j = store
            .lease(&format!("w{n}"), t, t + Duration::seconds(10))
            .unwrap()
            .unwrap();
        assert_eq!(j.attempt, n, "{label}");
        t += Duration::seconds(11);
    }
    assert!(
        store
            .lease("w4", t, t + Duration::seconds(10))
            .unwrap()
            .is_none(),
        "{label}"
    );
    let (_, vs) = store.case(c2).unwrap().unwrap();
    assert_eq!(vs[0].state, JobState::Failed, "{label}");
    assert!(
        vs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("abandoned: 3 workers"),
        "{label}"
    );
    assert_eq!(
        store
            .add_video(9999, "x.mp4", &VideoSource::File("/x".into()))
            .unwrap(),
        None,
        "{label}"
    );
    assert_eq!(store.cases().unwrap().len(), 2, "{label}");
}

#[test]
fn the_work_queue_behaves_the_same_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    for (label, loc) in support::engines(dir.path()) {
        let mut store = central_hub::store::open(&loc).unwrap();
        check_queue(label, store.as_mut());
    }
}

const WORKER: &str = "worker-secret-1";

#[test]
fn cases_over_http_import_upload_play_and_work() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("incident");
    std::fs::create_dir_all(folder.join("phone")).unwrap();
    let video: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(folder.join("phone/a.mp4"), &video).unwrap();
    std::fs::write(folder.join("b.avi"), b"x").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("c.mp4"), b"x").unwrap();
    let hub = Hub::start_with(&format!(
        "[cases]\nimport_roots = [\"{}\"]\nlease_s = 10\n\
         [[tokens]]\nname = \"indexer\"\nrole = \"worker\"\nsha256 = \"{}\"\n",
        root.path().display(),
        central_hub::config::sha256_hex(WORKER.as_bytes())
    ));
    let open = |body: serde_json::Value| hub.send("POST", "/api/cases", OPERATOR, Some(body));
    let (status, v) = open(serde_json::json!({"name": "x", "folder": outside.path()}));
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("not under an import root"),
        "{v}"
    );
    let (status, v) = open(serde_json::json!({"name": "x", "urls": ["file:///etc/passwd"]}));
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("urls[0]"), "{v}");
    let (status, v) = open(
        serde_json::json!({"name": "Vụ Lê Lợi", "folder": folder, "urls": ["https://example.org/v/d.mkv?x=1"]}),
    );
    assert_eq!(status, 201, "{v}");
    let case = v["id"].as_i64().unwrap();
    assert_eq!(v["videos"], 3);
    assert_eq!(
        hub.send(
            "POST",
            "/api/cases",
            TRAFFIC,
            Some(serde_json::json!({"name": "x"}))
        )
        .0,
        403
    );

    // Upload: streamed to the cases folder under a safe name, then queued.
    let up = ureq::post(&format!(
        "{}/api/cases/{case}/videos?name=..%2F..%2Fphone%20clip.MOV",
        hub.url
    ))
    .set("authorization", &format!("Bearer {OPERATOR}"))
    .send_bytes(&video[..5000])
    .unwrap();
    let up: serde_json::Value = serde_json::from_str(&up.into_string().unwrap()).unwrap();
    assert_eq!(
        (up["name"].as_str(), up["bytes"].as_u64()),
        (Some("phone_clip.MOV"), Some(5000))
    );
    let (status, _) = hub.send(
        "POST",
        &format!("/api/cases/{case}/videos?name=notes.txt"),
        OPERATOR,
        None,
    );
    assert_eq!(status, 400);

    let c = hub.json(&format!("/api/cases/{case}"), OPERATOR);
    let names: Vec<&str> = c["videos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b.avi", "phone/a.mp4", "d.mkv", "phone_clip.MOV"]);
    assert_eq!(c["progress"]["queued"], 4);

    // The player asks for ranges and gets them.
    let a = c["videos"][1]["id"].as_i64().unwrap();
    let r = ureq::get(&format!("{}/api/cases/{case}/videos/{a}/file", hub.url))
        .set("authorization", &format!("Bearer {OPERATOR}"))
        .set("range", "bytes=1000-1999")
        .call()
        .unwrap();
    assert_eq!(r.status(), 206);
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut got).unwrap();
    assert_eq!(got, &video[1000..2000]);
    let d = c["videos"][2]["id"].as_i64().unwrap();
    assert_eq!(
        hub.get(
            &format!("/api/cases/{case}/videos/{d}/file"),
            Some(OPERATOR)
        )
        .0,
        404
    );

    // Workers: their token only; an operator cannot lease, a worker cannot open cases.
    let lease = |token: &str| {
        hub.send(
            "POST",
            "/api/work/lease",
            token,
            Some(serde_json::json!({"worker": "w1"})),
        )
    };
    assert_eq!(lease(OPERATOR).0, 403);
    assert_eq!(hub.get("/api/cases", Some(WORKER)).0, 403);
    let (status, j) = lease(WORKER);
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["job"]["name"], "b.avi");
    let job = j["job"]["id"].as_i64().unwrap();
    assert_eq!(j["video_url"], format!("/api/work/{job}/video"));
    let (status, body) = hub.get(&format!("/api/work/{job}/video"), Some(WORKER));
    assert_eq!((status, body.as_slice()), (200, b"x".as_slice()));
    let report = |worker: &str, body: serde_json::Value| {
        let mut b = body;
        b["worker"] = worker.into();
        b
    };
    let path = format!("/api/work/{job}/progress");
    let (status, _) = hub.send(
        "POST",
        &path,
        WORKER,
        Some(report("w2", serde_json::json!({"processed_s": 1.0}))),
    );
    assert_eq!(status, 409, "another worker's job");
    let (status, _) = hub.send(
        "POST",
        &path,
        WORKER,
        Some(report("w1", serde_json::json!({"processed_s": -1.0}))),
    );
    assert_eq!(status, 400);
    let (status, _) = hub.send(
        "POST",
        &path,
        WORKER,
        Some(report(
            "w1",
            serde_json::json!({"processed_s": 2.0, "duration_s": 4.0}),
        )),
    );
    assert_eq!(status, 200);
    let fin = format!("/api/work/{job}/finish");
    let (status, _) = hub.send(
        "POST",
        &fin,
        WORKER,
        Some(report("w1", serde_json::json!({"events": 12}))),
    );
    assert_eq!(status, 200);
    let c = hub.json(&format!("/api/cases/{case}"), OPERATOR);
    assert_eq!(c["videos"][0]["state"], "done");
    assert_eq!(c["progress"]["done"], 1);
    assert_eq!(c["progress"]["processed_s"], 4.0);
    let audit = hub.json("/api/audit", ADMIN);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["case_create", "case_upload", "case_video"] {
        assert!(actions.contains(&a), "{a} not audited: {actions:?}");
    }
}
