//! Soak: vtest.avi looped through the whole system (edge → mosquitto → hub ingest into SQLite)
//! for a set time, printing RSS at start and end, events produced vs stored, and dropped frames.
//! Not in CI.
//!
//! cargo bench -p matthan-benches --bench soak -- [SECONDS]   (default 3600)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use central_hub::evidence::EvidenceStore;
use central_hub::ingest::{IngestConfig, IngestStats};
use edge_node::config::EdgeConfig;
use matthan_benches::{Broker, cached, repo};

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3600);
    let vtest = cached("MATTHAN_VTEST", ".cache/media/vtest.avi");
    let ort = cached("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so");
    // SAFETY: single-threaded here, before ONNX Runtime is loaded.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &ort) };
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("soak.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "site = \"soak\"\n[mqtt]\nport = {}\n[model]\npath = \"{}\"\nthreads = 1\nclasses = [\"person\", \"car\", \"truck\"]\n[analytics]\ncount_interval_s = 10\n[[cameras]]\nid = \"loop\"\nurl = \"file://{}\"\nloop_file = true\nrealtime = true\n[[cameras.lines]]\nid = \"mid\"\npoints = [[0.05, 0.55], [0.95, 0.55]]\n[[cameras.zones]]\nid = \"lawn\"\npolygon = [[0.0, 0.50], [0.29, 0.50], [0.53, 0.63], [0.93, 1.0], [0.0, 1.0]]\n[[cameras.rules]]\nkind = \"loitering\"\nid = \"lawn-loitering\"\nzone = \"lawn\"\nmin_s = 15\n[[cameras.rules]]\nkind = \"intrusion\"\nid = \"lawn-closed\"\nzone = \"lawn\"\n[[cameras.rules]]\nkind = \"running\"\nid = \"no-running\"\n",
            broker.port,
            repo().join("models/nanodet-m-416.onnx").display(),
            vtest.display()
        ),
    )
    .unwrap();
    let cfg = EdgeConfig::load(&cfg_path).unwrap();

    let hub_stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(IngestStats::default());
    let db = dir.path().join("hub.db").display().to_string();
    let (hs, st, dbc, ev) = (
        hub_stop.clone(),
        stats.clone(),
        db.clone(),
        dir.path().join("ev"),
    );
    let port = broker.port;
    let hub = std::thread::spawn(move || {
        let cfg = IngestConfig {
            host: "127.0.0.1".into(),
            port,
            client_id: "soak-hub".into(),
            group: "soak".into(),
            security: Default::default(),
            limits: Default::default(),
            watch: None,
        };
        let store = central_hub::store::open(&dbc).unwrap();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(central_hub::ingest::run(
                cfg,
                store,
                EvidenceStore::new(&ev).unwrap(),
                st,
                hs,
            ))
            .unwrap();
    });
    std::thread::sleep(Duration::from_millis(500));

    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let started = Instant::now();
    let edge = std::thread::spawn(move || edge_node::pipeline::run(&cfg, s2));
    // RSS "at start": once the model and pipeline are warm.
    std::thread::sleep(Duration::from_secs(20.min(secs)));
    let rss_start = rss_mib();
    // A sample every 5 minutes shows whether growth levels off (caches filling) or keeps on (a
    // leak). The hub's SQLite page cache (64 MiB at most) lives in this process too and grows
    // with its database file, so that is printed alongside.
    let db_mib = || std::fs::metadata(&db).map_or(0.0, |m| m.len() as f64 / 1048576.0);
    let mut next = Duration::from_secs(300);
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        if started.elapsed() >= next {
            println!(
                "t={:>5} s  RSS {:.0} MiB  hub db {:.1} MiB",
                next.as_secs(),
                rss_mib(),
                db_mib()
            );
            next += Duration::from_secs(300);
        }
    }
    let rss_end = rss_mib();
    stop.store(true, Ordering::Relaxed);
    let s = edge.join().unwrap().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    hub_stop.store(true, Ordering::Relaxed);
    hub.join().unwrap();
    let stored = central_hub::store::open(&db).unwrap().count().unwrap();
    println!("hub db at end {:.1} MiB", db_mib());
    // Snapshots are blobs, not events; the publisher adds online and offline status.
    let produced = s.events + 2;
    println!("soak {secs} s, vtest looped in real time (10 fps), 1 model thread");
    println!(
        "RSS after warm-up {rss_start:.0} MiB, at end {rss_end:.0} MiB (ratio {:.2})",
        rss_end / rss_start
    );
    println!(
        "frames {} ({} dropped), events produced {produced}, stored by the hub {stored} (ratio {:.3})",
        s.frames,
        s.dropped,
        stored as f64 / produced as f64
    );
    println!(
        "outbox pending at exit {}, reconnects {}",
        s.publish.pending, s.publish.reconnects
    );
}
