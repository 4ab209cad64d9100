//! The cluster deployment under faults (issue #19), against real processes: a three-node NATS
//! cluster (Debian's `nats-server`, JetStream and an MQTT listener on every node, the events'
//! stream replicated three times), two `central-hub serve` processes sharing one durable
//! JetStream consumer and writing to one PostgreSQL database, and an edge (the real pipeline on
//! vtest.avi, hub receipts on) publishing over MQTT to node 0, unchanged. Mid-run the NATS node
//! the surviving hub is connected to is killed, then the other hub (SIGKILL both). Afterwards
//! every event the edge produced is stored, once.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use edge_node::config::EdgeConfig;
use matthan_test_support::{NatsCluster, free_port, repo};

/// A fresh database on the PostgreSQL `scripts/pg.sh` started.
fn pg_url() -> String {
    let admin = std::env::var("MATTHAN_PG_URL")
        .expect("MATTHAN_PG_URL is not set: `bash scripts/pg.sh start` (scripts/test.sh does it)");
    let name = format!("matthan_nats_{}", std::process::id());
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    c.execute(&format!("DROP DATABASE IF EXISTS {name}"), &[])
        .unwrap();
    c.execute(&format!("CREATE DATABASE {name}"), &[]).unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

fn hub(dir: &Path, i: usize, db: &str, nats: &NatsCluster) -> Child {
    let models = repo().join("models");
    // Hub 1 prefers node 2, the node that is killed: it must move to another and go on.
    let mut servers: Vec<String> = nats.servers().iter().map(|s| format!("\"{s}\"")).collect();
    if i == 1 {
        servers.rotate_left(2);
    }
    let conf = dir.join(format!("hub{i}.toml"));
    std::fs::write(
        &conf,
        format!(
            "db = \"{db}\"\nlisten = \"127.0.0.1:{}\"\n\
             # Shared by the hubs, as a deployment shares one evidence volume.\nevidence_dir = \"evidence\"\n\
             [mqtt]\nport = {}\nclient_id = \"hub{i}\"\n\
             [nats]\nservers = [{}]\nreplicas = 3\nack_wait_s = 5\n\
             [embedding]\nmodel = \"{}\"\ntokenizer = \"{}\"\n",
            free_port(),
            nats.mqtt_ports[0],
            servers.join(", "),
            models.join("minilm-l6-v2-int8.onnx").display(),
            models.join("minilm-l6-v2-tokenizer.json").display(),
        ),
    )
    .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_edge-node")).with_file_name("central-hub");
    Command::new(bin)
        .args(["serve", "--config", conf.to_str().unwrap()])
        .spawn()
        .unwrap()
}

fn stored(db: &str) -> (BTreeSet<String>, i64) {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    let ids: BTreeSet<String> = c
        .query("SELECT id FROM events", &[])
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default();
    let rows: i64 = c
        .query_one("SELECT COUNT(*) FROM events", &[])
        .map(|r| r.get(0))
        .unwrap_or(0);
    (ids, rows)
}

/// Event ids the edge made durable, by its own record (the outbox's `produced` table).
fn produced(outbox: &Path) -> BTreeSet<String> {
    let db = rusqlite::Connection::open(outbox).unwrap();
    let mut st = db
        .prepare("SELECT key FROM produced WHERE topic LIKE 'matthan/%'")
        .unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|k| k.unwrap())
        .collect()
}

#[test]
fn a_nats_node_and_a_hub_killed_mid_run_lose_nothing_and_double_nothing() {
    support::ort();
    let mut nats = NatsCluster::start(3);
    let db = pg_url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut hubs = [hub(dir, 0, &db, &nats), hub(dir, 1, &db, &nats)];
    let outbox = dir.join("outbox.db");
    let cfg_path = support::edge_config_receipts(
        dir,
        nats.mqtt_ports[0],
        &format!("file://{}", support::vtest().display()),
        "",
        10.0,
    );
    let text = std::fs::read_to_string(&cfg_path).unwrap().replace(
        "[outbox]\n",
        &format!(
            "[outbox]\npath = \"{}\"\nrecord_produced = true\n",
            outbox.display()
        ),
    );
    std::fs::write(&cfg_path, text).unwrap();
    let cfg = EdgeConfig::load(&cfg_path).unwrap();

    let edge = std::thread::spawn(move || {
        edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false))).unwrap()
    });
    // Faults while events flow: a NATS node (not the edge's), then a hub.
    let started = Instant::now();
    while stored(&db).1 < 50 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "nothing stored through NATS"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    nats.kill(2);
    std::thread::sleep(Duration::from_secs(3));
    hubs[0].kill().unwrap();
    hubs[0].wait().unwrap();
    let summary = edge.join().unwrap();
    eprintln!(
        "edge: {} frames, {} events; outbox left {}",
        summary.frames, summary.events, summary.publish.pending
    );

    // What the edge still holds goes out on its next start (receipts come from the live hub).
    let want = produced(&outbox);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut missing: Vec<String>;
    loop {
        let (ids, _) = stored(&db);
        missing = want.difference(&ids).cloned().collect();
        if missing.is_empty() || Instant::now() > deadline {
            break;
        }
        if summary.publish.pending > 0 {
            // Drain: the file is marked done, so a second run only sends what is left.
            let cfg = EdgeConfig::load(&cfg_path).unwrap();
            let s = edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false))).unwrap();
            eprintln!("drain run: outbox left {}", s.publish.pending);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let (ids, rows) = stored(&db);
    eprintln!(
        "produced {} events, stored {} ({} rows)",
        want.len(),
        ids.len(),
        rows
    );
    assert!(
        missing.is_empty(),
        "{} events lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(rows as usize, ids.len(), "an event stored twice");
    let _ = hubs[1].kill();
    let _ = hubs[1].wait();
}
