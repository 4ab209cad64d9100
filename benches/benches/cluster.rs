//! The broker and hub tiers under load (issue #19): 50 simulated edges publish track events
//! over MQTT (QoS 1, 32 in flight each, as the edge's outbox publisher does) into
//!   - mosquitto and one `central-hub serve` (the single-box default; the baseline),
//!   - a 3-node NATS cluster (JetStream stream replicated 3 times) and 1 hub,
//!   - the same cluster and 3 hubs sharing one durable consumer,
//!
//! every hub writing to one PostgreSQL database (`MATTHAN_PG_URL`, `scripts/pg.sh start`).
//! Per deployment, in one run:
//!   1. burst: each edge sends 400 events as fast as the broker acknowledges them; the broker
//!      tier's throughput is acknowledged publishes per second, the hub tier's is events
//!      stored per second from the first publish to the last row;
//!   2. steady: 300 events/s in all for 20 s; ingest latency per event is the hub's
//!      `received_ms` (when its batch is written) minus the event's `ts` (when the edge sent it).
//!
//! Everything shares this machine's cores: brokers, hubs, PostgreSQL and the edges.
//!
//! cargo bench -p matthan-benches --bench cluster

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use matthan_benches::{Broker, pct, repo};
use matthan_schema::{Attributes, BBox, Body, Event, TrackEvent, TrackPhase};
use matthan_test_support::{NatsCluster, free_port};
use rumqttc::{AsyncClient, MqttOptions, QoS};

const EDGES: usize = 50;
const BURST_PER_EDGE: usize = 400;
const STEADY_RATE: f64 = 300.0;
const STEADY_S: u64 = 20;

/// Where the edges publish and the hubs read from.
enum Tier {
    Mosquitto(Broker),
    Nats(NatsCluster),
}

impl Tier {
    fn mqtt_ports(&self) -> Vec<u16> {
        match self {
            Tier::Mosquitto(b) => vec![b.port],
            Tier::Nats(n) => n.mqtt_ports.clone(),
        }
    }
}

struct Row {
    name: String,
    burst_pub_s: f64,
    burst_ingest_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn main() {
    let hub_bin = repo().join("target/release/central-hub");
    assert!(
        hub_bin.is_file(),
        "build the hub first: cargo build --release -p central-hub"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    // `cargo bench ... -- N` runs only the first N deployments.
    let only: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3);
    for (name, hubs, nats) in [
        ("mosquitto, 1 hub", 1, false),
        ("NATS x3 (R3), 1 hub", 1, true),
        ("NATS x3 (R3), 3 hubs", 3, true),
    ]
    .into_iter()
    .take(only)
    {
        let tier = if nats {
            Tier::Nats(NatsCluster::start(3))
        } else {
            Tier::Mosquitto(Broker::start())
        };
        let db = matthan_test_support::pg_database("matthan_bench_cluster");
        // Kept: the hubs' logs are what explains a figure.
        let dir = tempfile::tempdir().unwrap().keep();
        eprintln!("{name}: hub logs in {}", dir.display());
        let procs = Hubs(
            (0..hubs)
                .map(|i| start_hub(&hub_bin, &dir, i, &db, &tier))
                .collect(),
        );
        for (_, http) in &procs.0 {
            wait_subscribed(*http);
        }
        let row = rt.block_on(measure(name, &tier, &db));
        eprintln!(
            "{name}: burst {:.0} publishes/s, {:.0} stored/s; steady p50 {:.0} ms p99 {:.0} ms",
            row.burst_pub_s, row.burst_ingest_s, row.p50_ms, row.p99_ms
        );
        rows.push(row);
        drop(procs);
    }
    print_table(&rows);
}

/// Hub processes and their HTTP ports, killed when dropped (a panic must not leave them).
struct Hubs(Vec<(Child, u16)>);

impl Drop for Hubs {
    fn drop(&mut self) {
        for (c, _) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn print_table(rows: &[Row]) {
    let base = &rows[0];
    println!(
        "\n{EDGES} edges; burst {} events; steady {STEADY_RATE} events/s for {STEADY_S} s",
        EDGES * BURST_PER_EDGE
    );
    println!(
        "| deployment | MQTT publishes acked/s (burst) | events stored/s (burst) | vs baseline | steady p50 / p99 / max ingest latency |"
    );
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.2}x | {:.0} / {:.0} / {:.0} ms |",
            r.name,
            r.burst_pub_s,
            r.burst_ingest_s,
            r.burst_ingest_s / base.burst_ingest_s,
            r.p50_ms,
            r.p99_ms,
            r.max_ms
        );
    }
    if rows.len() == 3 {
        println!(
            "3 hubs / 1 hub on NATS: {:.2}x events stored/s",
            rows[2].burst_ingest_s / rows[1].burst_ingest_s
        );
    }
}

/// Hub `i` on `db`; on NATS each hub prefers its own node, as a hub placed beside it would.
fn start_hub(bin: &Path, dir: &Path, i: usize, db: &str, tier: &Tier) -> (Child, u16) {
    let models = repo().join("models");
    let http = free_port();
    let source = match tier {
        Tier::Mosquitto(b) => format!(
            "[mqtt]\nport = {}\nclient_id = \"hub{i}\"\n[ingest]\ngroup = \"hubs\"\n",
            b.port
        ),
        Tier::Nats(n) => {
            let mut servers: Vec<String> = n.servers().iter().map(|s| format!("\"{s}\"")).collect();
            let k = i % servers.len();
            servers.rotate_left(k);
            format!(
                "[mqtt]\nport = {}\nclient_id = \"hub{i}\"\n[nats]\nservers = [{}]\nreplicas = 3\n",
                n.mqtt_ports[i % n.mqtt_ports.len()],
                servers.join(", ")
            )
        }
    };
    let conf = dir.join(format!("hub{i}.toml"));
    std::fs::write(
        &conf,
        format!(
            "db = \"{db}\"\nlisten = \"127.0.0.1:{http}\"\nevidence_dir = \"evidence\"\n{source}\
             [embedding]\nmodel = \"{}\"\ntokenizer = \"{}\"\n",
            models.join("minilm-l6-v2-int8.onnx").display(),
            models.join("minilm-l6-v2-tokenizer.json").display(),
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join(format!("hub{i}.log"))).unwrap();
    let child = Command::new(bin)
        .args(["serve", "--config", conf.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    (child, http)
}

fn wait_subscribed(http: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = ureq::get(&format!("http://127.0.0.1:{http}/api/health"))
            .call()
            .ok()
            .and_then(|r| r.into_string().ok())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v["broker"] == "subscribed");
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "hub on {http} never subscribed");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A track's end as an edge sends it: ≈ 700 bytes of JSON.
fn event(edge: usize, n: usize) -> Event {
    let now = Utc::now();
    let plate = n
        .is_multiple_of(3)
        .then(|| format!("59-X{} {:03}.{:02}", edge % 10, n % 1000, n % 100));
    Event::new(
        "bench",
        &format!("edge-{edge:02}"),
        now,
        Body::Track(TrackEvent {
            phase: TrackPhase::End,
            track_id: n as u64,
            class: ["motorcycle", "car", "truck", "person"][n % 4].into(),
            score: 0.8,
            bbox: BBox {
                x1: 100.0,
                y1: 120.0,
                x2: 180.0,
                y2: 260.0,
            },
            first_seen: now - chrono::Duration::seconds(6),
            last_seen: now,
            zones: vec!["approach-north".into()],
            path: vec![],
            attributes: Attributes {
                color: Some(["white", "black", "red", "blue"][n % 4].into()),
                plate,
                ..Attributes::default()
            },
            snapshot: None,
            plate_image: None,
        }),
    )
}

/// Until `want` rows are stored; panics when none arrives for 30 s. One connection for the
/// whole wait, so the polling adds no connection setup to the database being measured.
fn wait_rows(db: &str, want: i64) {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    let mut stored = || -> i64 {
        c.query_one("SELECT count(*) FROM events", &[])
            .unwrap()
            .get(0)
    };
    let (mut last, mut moved) = (stored(), Instant::now());
    while last < want {
        std::thread::sleep(Duration::from_millis(100));
        let n = stored();
        if n > last {
            (last, moved) = (n, Instant::now());
        }
        assert!(
            moved.elapsed() < Duration::from_secs(30),
            "{last} of {want} events stored, none for 30 s"
        );
    }
}

async fn measure(name: &str, tier: &Tier, db: &str) -> Row {
    let ports = tier.mqtt_ports();
    let acked = Arc::new(AtomicU64::new(0));
    let clients: Vec<AsyncClient> = (0..EDGES)
        .map(|i| connect(i, ports[i % ports.len()], acked.clone()))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 1. Burst.
    let t0 = Instant::now();
    let mut sends = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let c = c.clone();
        sends.push(tokio::spawn(async move {
            for n in 0..BURST_PER_EDGE {
                let e = event(i, n);
                c.publish(e.topic(), QoS::AtLeastOnce, false, e.to_json())
                    .await
                    .unwrap();
            }
        }));
    }
    for s in sends {
        s.await.unwrap();
    }
    let total = (EDGES * BURST_PER_EDGE) as u64;
    while acked.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pub_s = total as f64 / t0.elapsed().as_secs_f64();
    let db2 = db.to_string();
    tokio::task::spawn_blocking(move || wait_rows(&db2, total as i64))
        .await
        .unwrap();
    let ingest_s = total as f64 / t0.elapsed().as_secs_f64();

    // 2. Steady load.
    let from = Utc::now().timestamp_millis();
    steady(&clients).await;
    let want = total as i64 + (STEADY_RATE * STEADY_S as f64) as i64;
    let db2 = db.to_string();
    let mut lat = tokio::task::spawn_blocking(move || {
        wait_rows(&db2, want);
        let mut c = postgres::Client::connect(&db2, postgres::NoTls).unwrap();
        c.query(
            "SELECT (received_ms - ts_ms)::FLOAT8 FROM events WHERE ts_ms >= $1",
            &[&from],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, f64>(0))
        .collect::<Vec<f64>>()
    })
    .await
    .unwrap();
    for c in clients {
        let _ = c.disconnect().await;
    }
    Row {
        name: name.to_string(),
        burst_pub_s: pub_s,
        burst_ingest_s: ingest_s,
        p50_ms: pct(&mut lat, 0.5),
        p99_ms: pct(&mut lat, 0.99),
        max_ms: pct(&mut lat, 1.0),
    }
}

/// `STEADY_RATE` events/s spread over the edges for `STEADY_S` seconds.
async fn steady(clients: &[AsyncClient]) {
    let per_edge = Duration::from_secs_f64(EDGES as f64 / STEADY_RATE);
    let n = (STEADY_RATE * STEADY_S as f64) as usize / EDGES;
    let mut sends = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let c = c.clone();
        sends.push(tokio::spawn(async move {
            // Edges out of step with each other, as real ones are.
            tokio::time::sleep(per_edge.mul_f64(i as f64 / EDGES as f64)).await;
            let mut tick = tokio::time::interval(per_edge);
            for k in 0..n {
                tick.tick().await;
                let e = event(i, BURST_PER_EDGE + k);
                c.publish(e.topic(), QoS::AtLeastOnce, false, e.to_json())
                    .await
                    .unwrap();
            }
        }));
    }
    for s in sends {
        s.await.unwrap();
    }
}

/// One simulated edge's MQTT session; its event loop counts acknowledged publishes.
fn connect(i: usize, port: u16, acked: Arc<AtomicU64>) -> AsyncClient {
    let mut o = MqttOptions::new(format!("bench-edge-{i:02}"), "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_inflight(32);
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(o, 64);
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    client
}
