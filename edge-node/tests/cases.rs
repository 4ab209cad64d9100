//! Forensic cases (issue #19) end to end: an investigator opens a case from a folder of 23
//! recorded videos (H.264, H.265, MPEG-4, VP8, MJPEG in MP4, MOV, 3GP, MKV, WebM, AVI and TS;
//! 352x288 to 1920x1080; phone videos turned by their rotation tag; one with a variable frame
//! rate) and one damaged file
//! (`test-videos/cases/make.py`). Index workers (the real `edge-node index-worker` binary)
//! take the jobs from the real hub's queue and publish through mosquitto into it. One worker
//! is killed mid-video; its job goes to another after the lease runs out and is finished with
//! no event stored twice. The damaged file fails with GStreamer's reason and the rest carry on.
//! Every video's truck is found at the second it crosses (the truth the generator wrote).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use matthan_schema::{Body, Event};
use serde::Deserialize;

const INVESTIGATOR: &str = "investigator-token-0123456789";
const WORKER: &str = "worker-token-0123456789abcdef";
/// When the investigator says the videos were filmed (20:00 in Ho Chi Minh City).
const RECORDED_AT: &str = "2026-11-20T20:00:00+07:00";

#[derive(Deserialize)]
struct Truth {
    videos: Vec<Video>,
}

#[derive(Deserialize)]
struct Video {
    file: String,
    #[serde(default)]
    not_video: bool,
    /// Frames at irregular times: the truck must be placed by their times, not their count.
    #[serde(default)]
    vfr: bool,
    truck: Option<[f64; 2]>,
}

fn hub_extra(clips: &Path) -> String {
    let sha = central_hub::config::sha256_hex;
    format!(
        "[cases]\nimport_roots = [\"{}\"]\nlease_s = 10\n\
         [[tokens]]\nname = \"dieu-tra-vien\"\nrole = \"operator\"\nsha256 = \"{}\"\n\
         [[tokens]]\nname = \"indexer\"\nrole = \"worker\"\nsha256 = \"{}\"\n",
        clips.display(),
        sha(INVESTIGATOR.as_bytes()),
        sha(WORKER.as_bytes())
    )
}

fn worker_config(dir: &Path, port: u16, template: &Path) -> std::path::PathBuf {
    let text = format!(
        "site = \"cases\"\nedge_id = \"indexer\"\n[mqtt]\nhost = \"127.0.0.1\"\nport = {port}\n\
         [outbox]\nreceipts = false\n{}\
         [[cameras]]\nid = \"template\"\nurl = \"file://{}\"\ndetect_fps = 5\n",
        matthan_test_support::corridor_edge_sections(false),
        template.display()
    );
    let p = dir.join("worker.toml");
    std::fs::write(&p, text).unwrap();
    let token = dir.join("worker.token");
    std::fs::write(&token, WORKER).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn worker(dir: &Path, config: &Path, http: u16, id: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args(["index-worker", "--config", config.to_str().unwrap()])
        .args(["--hub", &format!("http://127.0.0.1:{http}")])
        .args(["--token-file", dir.join("worker.token").to_str().unwrap()])
        .args(["--id", id, "--once", "--poll-s", "1"])
        .args([
            "--work-dir",
            dir.join(format!("work-{id}")).to_str().unwrap(),
        ])
        .spawn()
        .unwrap()
}

fn api(http: u16, path: &str) -> serde_json::Value {
    let text = ureq::get(&format!("http://127.0.0.1:{http}{path}"))
        .set("authorization", &format!("Bearer {INVESTIGATOR}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The hub answers HTTP once its models are loaded, a moment after its database exists.
fn wait_http(http: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("http://127.0.0.1:{http}/api/health"))
        .call()
        .is_err()
    {
        assert!(Instant::now() < deadline, "the hub's API did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stored_events(db: &Path) -> Vec<Event> {
    let db = rusqlite::Connection::open(db).unwrap();
    let mut st = db.prepare("SELECT body FROM events").unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|j| Event::from_json(j.unwrap().as_bytes()).unwrap())
        .collect()
}

/// Waits until some video's first events are stored, then SIGKILLs `w` (no goodbye, its lease
/// held): the video is part-analysed and part-published.
fn kill_mid_video(w: &mut Child, db: &Path) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "no video started");
        if db.exists() {
            let db = rusqlite::Connection::open(db).unwrap();
            let video: Option<i64> = db
                .query_row(
                    "SELECT v.id FROM case_videos v WHERE v.state = 'running' AND EXISTS
                     (SELECT 1 FROM events e WHERE json_extract(e.body, '$.recording.video') = v.id)",
                    [],
                    |r| r.get(0),
                )
                .ok();
            if let Some(v) = video {
                w.kill().unwrap();
                w.wait().unwrap();
                return v;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_case_of_recorded_videos_is_indexed_with_a_worker_killed_mid_video() {
    support::ort();
    let clips = matthan_test_support::generated_clips(
        "cases",
        &["test-videos/cases/make.py", "test-videos/traffic/make.py"],
        "case.json",
    );
    let truth: Truth =
        serde_json::from_str(&std::fs::read_to_string(clips.join("case.json")).unwrap()).unwrap();
    assert!(truth.videos.len() >= 20);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let broker = support::Broker::start();
    let hub_bin = Path::new(env!("CARGO_BIN_EXE_edge-node")).with_file_name("central-hub");
    let hub = matthan_test_support::HubProcess::start_with(
        &hub_bin,
        dir,
        broker.port,
        &hub_extra(&clips),
    );
    wait_http(hub.http);
    let created: serde_json::Value = serde_json::from_str(
        &ureq::post(&format!("http://127.0.0.1:{}/api/cases", hub.http))
            .set("authorization", &format!("Bearer {INVESTIGATOR}"))
            .set("content-type", "application/json")
            .send_string(
                &serde_json::json!({
                    "name": "Vụ va chạm đường Lê Lợi", "folder": clips.display().to_string(),
                    "recorded_at": RECORDED_AT,
                })
                .to_string(),
            )
            .unwrap()
            .into_string()
            .unwrap(),
    )
    .unwrap();
    let case = created["id"].as_i64().unwrap();
    assert_eq!(
        created["videos"].as_u64().unwrap() as usize,
        truth.videos.len()
    );

    let config = worker_config(dir, broker.port, &clips.join(&truth.videos[0].file));
    let started = Instant::now();
    let mut first = worker(dir, &config, hub.http, "a");
    let killed = kill_mid_video(&mut first, &hub.db);
    let mut rest: Vec<Child> = ["b", "c"]
        .iter()
        .map(|id| worker(dir, &config, hub.http, id))
        .collect();
    for w in &mut rest {
        assert!(w.wait().unwrap().success(), "a worker failed");
    }
    let wall = started.elapsed().as_secs_f64();

    let c = api(hub.http, &format!("/api/cases/{case}"));
    let p = &c["progress"];
    eprintln!("case after {wall:.1} s: {p}");
    let videos = c["videos"].as_array().unwrap();
    let by_name: HashMap<&str, &serde_json::Value> = videos
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect();
    for v in &truth.videos {
        let job = by_name[v.file.as_str()];
        if v.not_video {
            assert_eq!(job["state"], "failed", "{}: {job}", v.file);
            let why = job["error"].as_str().unwrap();
            assert!(
                why.contains(&v.file) && why.contains("cannot be read"),
                "{why}"
            );
        } else {
            assert_eq!(job["state"], "done", "{}: {job}", v.file);
            assert!(
                job["sha256"]
                    .as_str()
                    .is_some_and(matthan_schema::is_sha256)
            );
        }
    }
    let killed_job = videos.iter().find(|v| v["id"] == killed).unwrap();
    assert!(
        killed_job["attempts"].as_i64().unwrap() >= 2,
        "{killed_job}"
    );
    assert_eq!(p["done"].as_u64().unwrap() as usize, truth.videos.len() - 1);
    assert_eq!(p["failed"], 1);
    assert!(p["rate"].as_f64().unwrap() > 0.0);

    // Wait for the outboxes' last events to be stored.
    std::thread::sleep(Duration::from_secs(2));
    let events: Vec<Event> = stored_events(&hub.db)
        .into_iter()
        .filter(|e| e.recording.is_some())
        .collect();
    // Nothing stored twice: the killed job's events came again with the same ids, so no two
    // stored events are the same observation under different ids.
    let mut seen = BTreeMap::new();
    for e in &events {
        let mut v = serde_json::to_value(e).unwrap();
        v["id"] = serde_json::Value::Null;
        *seen.entry(v.to_string()).or_insert(0) += 1;
    }
    let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "stored twice: {doubled:?}");

    let recorded: chrono::DateTime<chrono::Utc> = chrono::DateTime::parse_from_rfc3339(RECORDED_AT)
        .unwrap()
        .into();
    let mut found = 0;
    for v in truth.videos.iter().filter(|v| !v.not_video) {
        let job = by_name[v.file.as_str()]["id"].as_u64().unwrap();
        let trucks: Vec<(f64, f64)> = events
            .iter()
            .filter_map(|e| match &e.body {
                Body::Track(t) if e.recording.as_ref().unwrap().video == job => {
                    let r = e.recording.as_ref().unwrap();
                    assert_eq!(r.case as i64, case);
                    assert_eq!(
                        e.ts,
                        recorded + chrono::Duration::milliseconds(r.offset_ms as i64)
                    );
                    (t.class == "truck" || t.class == "car").then(|| {
                        let s =
                            |ts: chrono::DateTime<chrono::Utc>| (ts - recorded).as_seconds_f64();
                        (s(t.first_seen), s(t.last_seen))
                    })
                }
                _ => None,
            })
            .collect();
        match v.truck {
            None => assert!(
                trucks.is_empty(),
                "{}: vehicles in an empty street: {trucks:?}",
                v.file
            ),
            Some([a, b]) => {
                let hit = if v.vfr {
                    // Counting frames at the average rate would put it over a second late.
                    trucks
                        .iter()
                        .any(|(f, l)| (f - a).abs() <= 0.6 && (l - b).abs() <= 0.6)
                } else {
                    trucks.iter().any(|(f, l)| *f <= b + 0.5 && *l >= a - 0.5)
                };
                eprintln!("{}: truck {a:.1}-{b:.1} s; tracks {trucks:.1?}", v.file);
                found += hit as usize;
            }
        }
    }
    let with_truck = truth.videos.iter().filter(|v| v.truck.is_some()).count();
    eprintln!("trucks found at their time in {found} of {with_truck} videos");
    assert_eq!(found, with_truck);
}
