//! PostgreSQL's events table partitioned by month (#19): months are made as events need them
//! (recorded video years old included), redelivery still stores once, a search over a time
//! range reads only its months, a month lost under a running hub loses no row, and a
//! schema-12 database is partitioned in place with every row kept.

mod support;

use central_hub::store::{EventStore, Filter, PgStore};
use support::{Obj, track, ts};

fn truck(id: u64, at: &str) -> matthan_schema::Event {
    let o = Obj {
        camera: "cho-lon-4",
        class: "truck",
        color: Some("white"),
        plate: Some("51C-456.78"),
        ..Obj::default()
    };
    track(&o, id, ts(at))
}

fn rows(store: &mut PgStore) -> Vec<(String, i64)> {
    store.partitions().unwrap()
}

#[test]
fn events_land_in_their_month_and_are_stored_once() {
    let url = support::pg_url();
    let mut store = PgStore::connect(&url).unwrap();
    let events = vec![
        truck(1, "2026-11-30T23:59:59.999+00:00"),
        truck(2, "2026-12-01T00:00:00+00:00"),
        truck(3, "2026-12-03T08:00:00+07:00"),
        // A phone video from years ago, indexed in a case.
        truck(4, "2019-03-07T10:00:00+07:00"),
    ];
    assert_eq!(store.insert(&events).unwrap(), 4);
    assert_eq!(
        rows(&mut store),
        vec![
            ("events_2019_03".to_string(), 1),
            ("events_2026_11".to_string(), 1),
            ("events_2026_12".to_string(), 2),
            ("events_default".to_string(), 0),
        ]
    );
    // Delivered again (a hub killed before its ack): nothing new, here or on another hub.
    assert_eq!(store.insert(&events).unwrap(), 0);
    let mut other = PgStore::connect(&url).unwrap();
    assert_eq!(other.insert(&events).unwrap(), 0);
    assert_eq!(store.count().unwrap(), 4);
    for e in &events {
        assert_eq!(store.get(&e.id.to_string()).unwrap().as_ref(), Some(e));
    }

    // A search over December reads December's partition only.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let plan: Vec<String> = c
        .query(
            "EXPLAIN SELECT id FROM events WHERE class = 'truck' AND ts_ms >= $1 AND ts_ms < $2",
            &[
                &ts("2026-12-01T00:00:00Z").timestamp_millis(),
                &ts("2026-12-31T00:00:00Z").timestamp_millis(),
            ],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("events_2026_12"), "{plan}");
    assert!(
        !plan.contains("events_2026_11") && !plan.contains("events_2019_03"),
        "{plan}"
    );
    let f = Filter {
        from: Some(ts("2026-12-01T00:00:00Z")),
        ..Filter::default()
    };
    assert_eq!(store.select(&f, 10).unwrap().len(), 2);

    // Retention still deletes by kind and age, across months.
    let n = store.expire("track", ts("2026-12-01T00:00:00Z")).unwrap();
    assert_eq!(n, 2);
    assert_eq!(store.count().unwrap(), 2);
}

/// A month's partition dropped by hand under a running hub: that hub still thinks the month
/// exists, so its next row of it goes to the default partition, and is moved out (not lost)
/// when any hub next makes the month.
#[test]
fn a_row_that_fell_into_the_default_partition_moves_to_its_month() {
    let url = support::pg_url();
    let mut store = PgStore::connect(&url).unwrap();
    store
        .insert(&[truck(1, "2026-10-10T10:00:00+07:00")])
        .unwrap();
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(
        "ALTER TABLE events DETACH PARTITION events_2026_10; DROP TABLE events_2026_10;",
    )
    .unwrap();
    store
        .insert(&[truck(2, "2026-10-11T10:00:00+07:00")])
        .unwrap();
    assert_eq!(rows(&mut store), vec![("events_default".to_string(), 1)]);
    let mut fresh = PgStore::connect(&url).unwrap();
    fresh
        .insert(&[truck(3, "2026-10-12T10:00:00+07:00")])
        .unwrap();
    assert_eq!(
        rows(&mut fresh),
        vec![
            ("events_2026_10".to_string(), 2),
            ("events_default".to_string(), 0),
        ]
    );
    assert_eq!(fresh.count().unwrap(), 2);
}

/// A hub database from before partitioning (schema 12: one events table keyed by id) is
/// partitioned when a new hub opens it, every row and every search kept.
#[test]
fn a_schema_12_database_is_partitioned_in_place() {
    let url = support::pg_url();
    let events: Vec<_> = (0..30)
        .map(|i| truck(i, &format!("2026-{:02}-15T10:00:00+07:00", 9 + i % 3)))
        .collect();
    PgStore::connect(&url).unwrap().insert(&events).unwrap();
    // Back to schema 12 as it was.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(
        "CREATE TABLE flat AS SELECT * FROM events;
         DROP TABLE events CASCADE;
         DROP FUNCTION matthan_events_month;
         ALTER TABLE flat RENAME TO events;
         ALTER TABLE events ADD PRIMARY KEY (id);
         CREATE INDEX events_kind_ts ON events (kind, ts_ms);
         CREATE INDEX events_class_ts ON events (class, ts_ms);
         CREATE INDEX events_camera_ts ON events (camera, ts_ms);
         CREATE INDEX events_rule_ts ON events (rule, ts_ms) WHERE rule IS NOT NULL;
         CREATE INDEX events_place_ts ON events (place, ts_ms) WHERE place IS NOT NULL;
         CREATE INDEX events_plate_key ON events (plate_key) WHERE plate_key IS NOT NULL;
         UPDATE matthan_schema_version SET version = 12;",
    )
    .unwrap();
    let mut store = PgStore::connect(&url).unwrap();
    assert_eq!(
        rows(&mut store),
        vec![
            ("events_2026_09".to_string(), 10),
            ("events_2026_10".to_string(), 10),
            ("events_2026_11".to_string(), 10),
            ("events_default".to_string(), 0),
        ]
    );
    let f = Filter {
        plate: Some(central_hub::query::Plate::new("51C")),
        ..Filter::default()
    };
    assert_eq!(store.select(&f, 100).unwrap().len(), 30);
    assert_eq!(
        store.insert(&events).unwrap(),
        0,
        "stored once after the upgrade"
    );
    let v: i64 = c
        .query_one("SELECT version FROM matthan_schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(v, 13);
}
