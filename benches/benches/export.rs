//! Incident export memory: eight operators export the same incident at once through the real
//! HTTP listener and API, first a small incident, then one 15 times larger, and the hub
//! process's peak RSS is read after each. Exports are streamed from a temporary file, so the
//! peak should not grow with the incident; the baseline in the same run is what building each
//! zip in memory (as the hub did) would need at least: eight copies of the incident.
//!
//! cargo bench -p matthan-benches --bench export

use matthan_benches::{ApiServer, OPERATOR_TOKEN as TOKEN, cached, peak_rss_mib};
use matthan_schema::{Attributes, BBox, Body, Event, TrackEvent, TrackPhase};
use std::io::Write;
use std::path::Path;

const PARALLEL: usize = 8;

/// Writes `mib` MiB of pseudo-random bytes into the evidence folder under their sha256 (the
/// store's layout: `{dir}/{sha[..2]}/{sha}`), without holding them in memory; returns the sha.
fn big_blob(evidence: &Path, mib: usize, seed: u64) -> String {
    use sha2::Digest;
    let tmp = evidence.join(format!("blob-{seed}.part"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
    let mut h = sha2::Sha256::new();
    let mut x = seed | 1;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for b in chunk.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        h.update(&chunk);
        f.write_all(&chunk).unwrap();
    }
    drop(f);
    let sha = format!("{:x}", h.finalize());
    std::fs::create_dir_all(evidence.join(&sha[..2])).unwrap();
    std::fs::rename(&tmp, evidence.join(&sha[..2]).join(&sha)).unwrap();
    sha
}

fn incident(sha: &str, id: u64) -> Event {
    let at = chrono::Utc::now();
    Event::new(
        "hcmc",
        "ben-thanh-1",
        at,
        Body::Track(TrackEvent {
            phase: TrackPhase::End,
            track_id: id,
            class: "car".into(),
            score: 0.9,
            bbox: BBox::default(),
            first_seen: at,
            last_seen: at,
            zones: vec![],
            path: vec![],
            attributes: Attributes::default(),
            snapshot: Some(sha.into()),
            plate_image: None,
        }),
    )
}

/// Eight parallel exports of `id`; returns the bytes each received.
fn export_all(url: &str, id: &str) -> u64 {
    let workers: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let u = format!("{url}/api/events/{id}/export");
            std::thread::spawn(move || {
                let r = ureq::get(&u)
                    .set("Authorization", &format!("Bearer {TOKEN}"))
                    .call()
                    .unwrap();
                std::io::copy(&mut r.into_reader(), &mut std::io::sink()).unwrap()
            })
        })
        .collect();
    workers
        .into_iter()
        .map(|w| w.join().unwrap())
        .min()
        .unwrap()
}

fn main() {
    let ort = cached("ORT_DYLIB_PATH", ".cache/lib/libonnxruntime.so");
    // SAFETY: single-threaded here, before ONNX Runtime is loaded.
    unsafe { std::env::set_var("ORT_DYLIB_PATH", &ort) };
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    std::fs::create_dir_all(&evidence).unwrap();
    let (small_mib, large_mib) = (20, 300);
    let small = incident(&big_blob(&evidence, small_mib, 7), 1);
    let large = incident(&big_blob(&evidence, large_mib, 11), 2);
    let db = dir.path().join("hub.db").display().to_string();
    central_hub::store::open(&db)
        .unwrap()
        .insert(&[small.clone(), large.clone()])
        .unwrap();

    let api = ApiServer::start(dir.path().join("hub.db").as_path(), &evidence, 2, 1);
    let url = api.url.clone();
    let base = peak_rss_mib();
    let got_small = export_all(&url, &small.id.to_string());
    let after_small = peak_rss_mib();
    let got_large = export_all(&url, &large.id.to_string());
    let after_large = peak_rss_mib();
    api.stop();
    println!(
        "{PARALLEL} parallel exports: {small_mib} MiB incident ({:.0} MiB zip each) peak RSS {after_small:.0} MiB; {large_mib} MiB incident ({:.0} MiB zip each) peak RSS {after_large:.0} MiB (before any export {base:.0} MiB)",
        got_small as f64 / 1048576.0,
        got_large as f64 / 1048576.0
    );
    println!(
        "peak growth from the small to the large incident: {:.0} MiB; zips built in memory would need at least {} MiB (ratio {:.3}; goal: independent of incident size)",
        after_large - after_small,
        PARALLEL * large_mib,
        (after_large - after_small) / (PARALLEL * large_mib) as f64
    );
}
