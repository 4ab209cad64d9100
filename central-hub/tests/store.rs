//! The same checks on both engines, each the real thing: a SQLite file and a PostgreSQL server.

mod support;

use central_hub::store::{AuditEntry, EventStore, Filter};
use matthan_schema::{Body, CameraState, CameraStatus, Counts, Event, LineCount};
use support::{Obj, track, ts};

fn counts(camera: &str, at: &str, n: u32) -> Event {
    let t = ts(at);
    Event::new(
        "hcmc",
        camera,
        t,
        Body::Counts(Counts {
            interval_start: t - chrono::Duration::seconds(60),
            interval_end: t,
            lines: vec![LineCount {
                line: "l".into(),
                class: "car".into(),
                in_count: n,
                out_count: 0,
            }],
            zones: vec![],
            movements: vec![],
        }),
    )
}

fn check(label: &str, store: &mut dyn EventStore) {
    let red = Obj {
        camera: "ben-thanh-1",
        class: "motorcycle",
        color: Some("red"),
        plate: Some("59-X1 123.45"),
        ..Obj::default()
    };
    let white = Obj {
        camera: "ben-thanh-1",
        class: "person",
        upper: Some("white"),
        ..Obj::default()
    };
    let a = track(&red, 1, ts("2026-11-26T08:15:00+07:00"));
    let b = track(&white, 2, ts("2026-11-26T08:20:00+07:00"));
    let old = track(&white, 3, ts("2026-10-01T08:20:00+07:00"));
    let c1 = counts("ben-thanh-1", "2026-11-26T08:01:00+07:00", 5);
    let c2 = counts("ben-thanh-1", "2026-11-26T08:02:00+07:00", 7);
    let events = vec![a.clone(), b.clone(), old.clone(), c1, c2.clone()];
    assert_eq!(store.insert(&events).unwrap(), 5, "{label}");
    assert_eq!(
        store.insert(&events).unwrap(),
        0,
        "{label}: duplicates are no-ops"
    );
    assert_eq!(store.count().unwrap(), 5, "{label}");
    assert_eq!(
        store.get(&a.id.to_string()).unwrap(),
        Some(a.clone()),
        "{label}: body round-trips"
    );
    assert_eq!(
        store.get("00000000-0000-0000-0000-000000000000").unwrap(),
        None
    );

    let f = Filter {
        kinds: vec!["track".into()],
        color: Some("red".into()),
        ..Filter::default()
    };
    let rows = store.select(&f, 10).unwrap();
    assert_eq!(rows.len(), 1, "{label}");
    assert_eq!(rows[0].id, a.id.to_string());
    let f = Filter {
        plate: Some(central_hub::query::Plate::new("59X1")),
        ..Filter::default()
    };
    assert_eq!(
        store.select(&f, 10).unwrap().len(),
        1,
        "{label}: plate fragment ignores separators"
    );
    // OCR look-alikes: a plate typed 59-XI, 59-X1 I23 (I for 1) or S9-X1 (S for 5) finds the
    // one read 59-X1 123.45; a different digit does not.
    for (typed, found) in [("59XI", 1), ("59X1I23", 1), ("59X2", 0), ("S9X1", 1)] {
        let f = Filter {
            plate: Some(central_hub::query::Plate::new(typed)),
            ..Filter::default()
        };
        assert_eq!(
            store.select(&f, 10).unwrap().len(),
            found,
            "{label}: plate {typed:?} over OCR look-alikes"
        );
    }
    // Several kinds and nothing else (a blank search, asked one kind at a time): the newest
    // of all of them, in time order, as many as asked for.
    let f = Filter {
        kinds: vec!["counts".into(), "track".into()],
        ..Filter::default()
    };
    let rows = store.select(&f, 3).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        [&b, &a, &c2].map(|e| e.id.to_string()).to_vec(),
        "{label}: newest first across kinds"
    );
    let f = Filter {
        classes: vec!["person".into()],
        from: Some(ts("2026-11-26T08:00:00+07:00")),
        to: Some(ts("2026-11-26T09:00:00+07:00")),
        ..Filter::default()
    };
    let rows = store.select(&f, 10).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.track_id).collect::<Vec<_>>(),
        vec![Some(2)],
        "{label}: time window"
    );
    // Clock windows hold on every day, in local time: the 08:20 person of today and of
    // October; a window across midnight and one that misses.
    let mut tracks = |clock: Vec<(u32, u32)>| {
        let f = Filter {
            kinds: vec!["track".into()],
            clock,
            ..Filter::default()
        };
        let mut ids: Vec<_> = store
            .select(&f, 10)
            .unwrap()
            .iter()
            .map(|r| r.track_id)
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        tracks(vec![(8 * 60 + 18, 8 * 60 + 25)]),
        vec![Some(2), Some(3)],
        "{label}: clock window"
    );
    assert_eq!(
        tracks(vec![(22 * 60, 8 * 60 + 16)]),
        vec![Some(1)],
        "{label}: clock window across midnight"
    );
    assert_eq!(
        tracks(vec![(20 * 60, 21 * 60), (8 * 60 + 10, 8 * 60 + 16)]),
        vec![Some(1)],
        "{label}: either of two windows"
    );
    let hostile = Filter {
        cameras: vec!["x'); DROP TABLE events; --".into()],
        ..Filter::default()
    };
    assert!(store.select(&hostile, 10).unwrap().is_empty());
    assert_eq!(
        store.count().unwrap(),
        5,
        "{label}: hostile text is a value, not SQL"
    );

    let latest = store.latest_per_camera("counts").unwrap();
    assert_eq!(latest, vec![c2], "{label}: newest counts per camera");
    assert_eq!(
        store.cameras().unwrap(),
        vec![("hcmc".to_string(), "ben-thanh-1".to_string())]
    );

    assert_eq!(
        store.expire("track", ts("2026-11-01T00:00:00Z")).unwrap(),
        1,
        "{label}: retention"
    );
    assert_eq!(store.get(&old.id.to_string()).unwrap(), None);

    let e = AuditEntry {
        ts: ts("2026-11-26T09:00:00Z"),
        who: "op".into(),
        role: "operator".into(),
        action: "search".into(),
        detail: "xe máy".into(),
    };
    store.audit(&e).unwrap();
    let log = store.audit_log(10).unwrap();
    assert_eq!(
        (log.len(), log[0].detail.as_str()),
        (1, "xe máy"),
        "{label}"
    );

    let sem = store.missing_embeddings(100).unwrap();
    assert!(
        sem.contains(&"red motorcycle".to_string()),
        "{label}: {sem:?}"
    );
    store
        .put_embeddings(&[("red motorcycle".into(), vec![0.5, -0.25])])
        .unwrap();
    assert_eq!(
        store
            .embeddings(&["red motorcycle".into(), "nope".into()])
            .unwrap(),
        vec![("red motorcycle".into(), vec![0.5, -0.25])]
    );
    assert!(
        !store
            .missing_embeddings(100)
            .unwrap()
            .contains(&"red motorcycle".to_string())
    );

    let status = Event::new(
        "hcmc",
        "cam-2",
        ts("2026-11-26T09:00:00Z"),
        Body::CameraStatus(CameraStatus {
            state: CameraState::Up,
            fps_in: 10.0,
            fps_out: 10.0,
            dropped_frames: 0,
            detail: None,
        }),
    );
    store.insert(&[status]).unwrap();
}

#[test]
fn both_engines_behave_the_same() {
    let dir = tempfile::tempdir().unwrap();
    for (label, loc) in support::engines(dir.path()) {
        let mut store = central_hub::store::open(&loc).unwrap();
        check(label, store.as_mut());
        check_plates(label, store.as_mut());
        check_headings_and_places(label, store.as_mut());
        let n = store.count().unwrap();
        // Re-opening runs no migration twice.
        let mut again = central_hub::store::open(&loc).unwrap();
        assert_eq!(again.count().unwrap(), n, "{label}");
    }
}

/// Plate searches go through the distinct plates (a start by key range, a fragment anywhere
/// by scanning them), before and after the planner has statistics, and plates no event has
/// any more are forgotten.
fn check_plates(label: &str, store: &mut dyn EventStore) {
    let found = |store: &mut dyn EventStore, typed: &str| {
        let f = Filter {
            plate: Some(central_hub::query::Plate::new(typed)),
            ..Filter::default()
        };
        let mut plates: Vec<String> = store
            .select(&f, 50)
            .unwrap()
            .into_iter()
            .filter_map(|r| r.plate)
            .collect();
        plates.sort();
        plates
    };
    let car = |plate, id, at| {
        let o = Obj {
            camera: "cho-lon-4",
            class: "car",
            plate: Some(plate),
            ..Obj::default()
        };
        track(&o, id, ts(at))
    };
    let cars = [
        car("51F-123.45", 101, "2026-11-26T10:00:00+07:00"),
        car("51F-123.45", 102, "2026-11-26T10:05:00+07:00"),
        car("51G-234.56", 103, "2026-11-26T10:10:00+07:00"),
        car("29A-512.34", 104, "2026-10-02T10:00:00+07:00"),
    ];
    store.insert(&cars).unwrap();
    for round in ["before statistics", "after statistics"] {
        let l = format!("{label} {round}");
        assert_eq!(found(store, "51F"), vec!["51F-123.45"; 2], "{l}");
        // '~' bound: 51 takes every series of the province, and nothing of 29A-512.
        assert_eq!(found(store, "51").len(), 3, "{l}");
        // A fragment elsewhere: "23456" ends 51G's number.
        assert_eq!(found(store, "23456"), vec!["51G-234.56"], "{l}");
        // (and "2345" is also in the 59-X1 123.45 `check` stored).
        let all = ["51F-123.45", "51F-123.45", "51G-234.56", "59-X1 123.45"];
        assert_eq!(found(store, "2345"), all, "{l}");
        assert_eq!(
            found(store, "S1F"),
            vec!["51F-123.45"; 2],
            "{l}: look-alike start"
        );
        assert!(found(store, "99999").is_empty(), "{l}");
        store.optimize().unwrap();
    }
    store.expire("track", ts("2026-11-01T00:00:00Z")).unwrap();
    store.optimize().unwrap();
    assert!(found(store, "29A").is_empty(), "{label}: expired");
    store
        .insert(&[car("29A-512.34", 105, "2026-11-27T10:00:00+07:00")])
        .unwrap();
    assert_eq!(
        found(store, "29A"),
        vec!["29A-512.34"],
        "{label}: seen again"
    );
}

/// Compass headings match within 45° across north, colour alternatives ("xanh": blue or
/// green) match either, and places are the zones events name.
fn check_headings_and_places(label: &str, store: &mut dyn EventStore) {
    let moving = |id: u64, heading: Option<f32>, color: &'static str, zone: &'static str| {
        let o = Obj {
            camera: "vo-van-kiet-6",
            class: "bus",
            color: Some(color),
            zones: vec![zone],
            ..Obj::default()
        };
        let mut e = track(&o, id, ts("2026-11-26T12:00:00+07:00"));
        if let matthan_schema::Body::Track(t) = &mut e.body {
            t.attributes.heading_deg = heading;
        }
        e
    };
    store
        .insert(&[
            moving(201, Some(350.0), "blue", "bus-lane"),
            moving(202, Some(10.4), "green", "bus-lane"),
            moving(203, Some(100.0), "blue", "bus-stop"),
            moving(204, None, "red", "bus-stop"),
            moving(205, Some(360.0), "red", "bus-stop"),
        ])
        .unwrap();
    let ids = |store: &mut dyn EventStore, f: Filter| {
        let mut v: Vec<i64> = store
            .select(&f, 50)
            .unwrap()
            .iter()
            .filter_map(|r| r.track_id)
            .filter(|t| (201..=205).contains(t))
            .collect();
        v.sort();
        v
    };
    let north = Filter {
        heading: Some(0),
        ..Filter::default()
    };
    assert_eq!(ids(store, north), vec![201, 202, 205], "{label}: north");
    let east = Filter {
        heading: Some(90),
        ..Filter::default()
    };
    assert_eq!(ids(store, east), vec![203], "{label}: east");
    let xanh = Filter {
        color: Some("blue|green".into()),
        ..Filter::default()
    };
    assert_eq!(
        ids(store, xanh),
        vec![201, 202, 203],
        "{label}: blue or green"
    );
    let lane = Filter {
        places: vec!["bus-lane".into()],
        ..Filter::default()
    };
    assert_eq!(ids(store, lane), vec![201, 202], "{label}: place");
    let places = store.places().unwrap();
    assert!(
        places.contains(&"bus-lane".to_string()) && places.contains(&"bus-stop".to_string()),
        "{label}: {places:?}"
    );
}

/// A hub database from before plates were indexed (schema 5) opens with every stored plate
/// and place searchable, and the embeddings made with padded tokens are made again.
#[test]
fn a_schema_5_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let o = Obj {
        camera: "cho-lon-4",
        class: "car",
        color: Some("white"),
        plate: Some("51F-123.45"),
        zones: vec!["bus-lane"],
        ..Obj::default()
    };
    let e = track(&o, 7, ts("2026-11-26T10:00:00+07:00"));
    central_hub::store::SqliteStore::open(&path)
        .unwrap()
        .insert(std::slice::from_ref(&e))
        .unwrap();
    // Back to schema 5 as it was, with an embedding made the old way.
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "DROP TABLE watch_hits; DROP TABLE watchlist;
         DROP INDEX events_place_ts; DROP TABLE places; ALTER TABLE events DROP COLUMN heading;
         DROP INDEX events_plate_key; ALTER TABLE events DROP COLUMN plate_key;
         DROP TABLE plates; DROP TABLE pending_semantics; ALTER TABLE audit DROP COLUMN hash;
         DROP TABLE holds; DROP TABLE case_videos; DROP TABLE cases;
         INSERT INTO semantics SELECT semantic, x'00000000' FROM events;
         PRAGMA user_version = 5;",
    )
    .unwrap();
    drop(c);
    let mut store = central_hub::store::SqliteStore::open(&path).unwrap();
    let f = Filter {
        plate: Some(central_hub::query::Plate::new("51F")),
        ..Filter::default()
    };
    assert_eq!(store.select(&f, 10).unwrap().len(), 1);
    let sem = store.select(&Filter::default(), 1).unwrap()[0]
        .semantic
        .clone();
    assert!(
        store
            .embeddings(std::slice::from_ref(&sem))
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.missing_embeddings(10).unwrap(), vec![sem]);
    assert_eq!(store.places().unwrap(), vec!["bus-lane"]);
}

#[test]
fn audit_log_refuses_changes_in_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let e = AuditEntry {
        ts: ts("2026-11-26T09:00:00Z"),
        who: "op".into(),
        role: "operator".into(),
        action: "search".into(),
        detail: "x".into(),
    };
    let sqlite = dir.path().join("a.db");
    central_hub::store::open(sqlite.to_str().unwrap())
        .unwrap()
        .audit(&e)
        .unwrap();
    let c = rusqlite::Connection::open(&sqlite).unwrap();
    let err = c
        .execute("UPDATE audit SET who = 'someone else'", [])
        .unwrap_err()
        .to_string();
    assert!(err.contains("append-only"), "{err}");
    assert!(c.execute("DELETE FROM audit", []).is_err());

    let url = support::pg_url();
    central_hub::store::open(&url).unwrap().audit(&e).unwrap();
    let mut pg = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let err = pg
        .execute("UPDATE audit SET who = 'someone else'", &[])
        .unwrap_err();
    assert!(format!("{err:?}").contains("append-only"), "{err:?}");
    assert!(pg.execute("DELETE FROM audit", &[]).is_err());
}

/// Someone with the database file (or a superuser) gets past the triggers: the hash chain
/// still names the row they edited and the row after the one they deleted.
#[test]
fn audit_chain_names_edited_and_deleted_rows_in_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    for (label, loc) in support::engines(dir.path()) {
        let mut store = central_hub::store::open(&loc).unwrap();
        for i in 1..=6 {
            store
                .audit(&AuditEntry {
                    ts: ts("2026-11-26T09:00:00Z") + chrono::Duration::seconds(i),
                    who: format!("op-{i}"),
                    role: "operator".into(),
                    action: "export".into(),
                    detail: format!("event {i}"),
                })
                .unwrap();
        }
        let clean = central_hub::store::verify_chain(&store.audit_chain().unwrap());
        assert!(clean.problems.is_empty(), "{label}: {:?}", clean.problems);
        assert_eq!(clean.checked, 6, "{label}");
        let tamper = [
            "UPDATE audit SET detail = 'event 99' WHERE seq = 3",
            "DELETE FROM audit WHERE seq = 5",
        ];
        if label == "sqlite" {
            let c = rusqlite::Connection::open(&loc).unwrap();
            c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
                .unwrap();
            for t in tamper {
                c.execute(t, []).unwrap();
            }
        } else {
            let mut pg = postgres::Client::connect(&loc, postgres::NoTls).unwrap();
            pg.batch_execute("DROP TRIGGER audit_no_change ON audit;")
                .unwrap();
            for t in tamper {
                pg.execute(t, &[]).unwrap();
            }
        }
        let r = central_hub::store::verify_chain(&store.audit_chain().unwrap());
        let all = r.problems.join("\n");
        assert_eq!(r.problems.len(), 2, "{label}: {all}");
        assert!(
            all.contains("row 3:") && all.contains("row 6:"),
            "{label}: {all}"
        );
        assert!(
            !all.contains("row 4:"),
            "{label}: one edit is reported once: {all}"
        );
    }
}

#[test]
fn unreachable_postgres_and_unwritable_sqlite_are_clear_errors() {
    let port = support::free_port();
    let err = central_hub::store::open(&format!("postgres://u:secret@127.0.0.1:{port}/db"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains("secret"), "never print the password: {err}");
    let err = central_hub::store::open("/proc/no/such/dir/hub.db")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("/proc/no/such/dir/hub.db"), "{err}");
}

#[test]
fn evidence_lives_as_long_as_the_last_event_naming_it() {
    use central_hub::evidence::EvidenceStore;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    for (label, loc) in support::engines(dir.path()) {
        let mut store = central_hub::store::open(&loc).unwrap();
        let blobs = EvidenceStore::new(&dir.path().join(format!("evidence-{label}"))).unwrap();
        let put = |b: &[u8]| {
            let sha = central_hub::config::sha256_hex(b);
            blobs
                .put(&format!("matthan-evidence/hcmc/{sha}"), b)
                .unwrap()
        };
        let (shared, old_only, orphan) = (put(b"shared"), put(b"old only"), put(b"orphan"));
        let held_blob = put(b"held for a case");
        let obj = Obj {
            camera: "ben-thanh-1",
            class: "car",
            color: None,
            upper: None,
            lower: None,
            plate: None,
            zones: vec![],
        };
        let with = |id: u64, at: &str, sha: &str| {
            let mut e = track(&obj, id, ts(at));
            if let Body::Track(t) = &mut e.body {
                t.snapshot = Some(sha.to_string());
            }
            e
        };
        let held = with(4, "2026-10-01T08:00:00+07:00", &held_blob);
        let held_id = held.id.to_string();
        store
            .insert(&[
                with(1, "2026-10-01T08:00:00+07:00", &old_only),
                with(2, "2026-10-01T08:00:00+07:00", &shared),
                with(3, "2026-11-26T08:00:00+07:00", &shared),
                held,
            ])
            .unwrap();
        // A legal hold keeps an event, and its files, past retention until released.
        assert!(store.hold(&held_id, "vụ án 12/2026", "op").unwrap());
        assert!(!store.hold(&held_id, "again", "op").unwrap(), "{label}");
        assert_eq!(
            store.hold_of(&held_id).unwrap().unwrap().reason,
            "vụ án 12/2026"
        );
        let sweep = |store: &mut dyn central_hub::store::EventStore, grace| {
            blobs.sweep(store, grace).unwrap().files
        };
        let present = |sha: &str| blobs.get(sha).is_some();
        // Young blobs stay: the event naming one may still be on its way.
        assert_eq!(
            sweep(store.as_mut(), Duration::from_secs(3600)),
            0,
            "{label}"
        );
        assert_eq!(sweep(store.as_mut(), Duration::ZERO), 1, "{label}");
        assert!(!present(&orphan) && present(&old_only) && present(&shared));
        assert_eq!(
            store.expire("track", ts("2026-11-01T00:00:00Z")).unwrap(),
            2
        );
        assert_eq!(sweep(store.as_mut(), Duration::ZERO), 1, "{label}");
        assert!(!present(&old_only), "{label}: its last event expired");
        assert!(present(&shared), "{label}: a newer event still names it");
        store.expire("track", ts("2027-01-01T00:00:00Z")).unwrap();
        assert_eq!(sweep(store.as_mut(), Duration::ZERO), 1, "{label}");
        assert!(!present(&shared), "{label}");
        assert!(
            present(&held_blob) && store.get(&held_id).unwrap().is_some(),
            "{label}"
        );
        assert!(store.release(&held_id).unwrap() && !store.release(&held_id).unwrap());
        assert_eq!(
            store.expire("track", ts("2027-01-01T00:00:00Z")).unwrap(),
            1
        );
        assert_eq!(sweep(store.as_mut(), Duration::ZERO), 1, "{label}");
        assert!(!present(&held_blob), "{label}: released, then expired");
    }
}

/// The demo's parked truck 51S-232.32 was read by OCR as 515-232.32: an operator typing the
/// real plate finds it, ranked below a vehicle read exactly as typed, with the reason shown.
#[test]
fn plates_read_through_ocr_look_alikes_rank_below_exact_readings() {
    let dir = tempfile::tempdir().unwrap();
    let mut store =
        central_hub::store::open(&dir.path().join("hub.db").display().to_string()).unwrap();
    let truck = |plate, id, at| {
        let o = Obj {
            camera: "le-loi-1",
            class: "truck",
            plate: Some(plate),
            ..Obj::default()
        };
        track(&o, id, ts(at))
    };
    let exact = truck("51S-232.32", 1, "2026-11-26T08:00:00+07:00");
    let misread = truck("515-232.32", 2, "2026-11-26T09:00:00+07:00");
    let other = truck("51F-987.65", 3, "2026-11-26T09:30:00+07:00");
    store
        .insert(&[exact.clone(), misread.clone(), other])
        .unwrap();
    let mut emb = support::embedder();
    let now = ts("2026-11-26T12:00:00+07:00");
    let (_, hits) =
        central_hub::search::search(store.as_mut(), &mut emb, "biển số 51S-232.32", now, 10)
            .unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.row.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![exact.id.to_string(), misread.id.to_string()],
        "exact first, then the look-alike, nothing else"
    );
    assert!(
        hits[1].reasons.iter().any(|r| r.contains("look-alike")),
        "{:?}",
        hits[1].reasons
    );
    // A colour with a plate only ranks: the truck measured with no colour (or the wrong
    // one) is still found, after any that match.
    let (_, hits) = central_hub::search::search(
        store.as_mut(),
        &mut emb,
        "xe tải đỏ biển 51S-232.32",
        now,
        10,
    )
    .unwrap();
    assert_eq!(
        hits.len(),
        2,
        "{:?}",
        hits.iter().map(|h| &h.reasons).collect::<Vec<_>>()
    );
    assert!(
        hits[0]
            .reasons
            .iter()
            .any(|r| r.contains("the plate decides"))
    );
}
