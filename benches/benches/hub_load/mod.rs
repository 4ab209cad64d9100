//! Many operators at once, through the real HTTP API (`central_hub::http::serve` + the API
//! router) over a hub database: N clients search, back to back (no think time, the worst case)
//! or pausing a jittered think time, while a monitor polls `/api/health` every 50 ms. Run twice in the same process on the same
//! database: as the hub was (one store connection and one embedder shared under a lock), and
//! as it is (a pool of store connections, one embedder per core). Used by the `hub` bench.

use std::path::Path;
use std::time::{Duration, Instant};

use matthan_benches::{OPERATOR_TOKEN as TOKEN, pct};

pub struct Load {
    pub searches: usize,
    pub errors: usize,
    pub per_s: f64,
    pub p50: f64,
    pub p95: f64,
    pub health_p99: f64,
    pub health_max: f64,
}

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// How the hub is set up and how hard it is loaded.
#[derive(Clone, Copy)]
pub struct Setup {
    /// Store connections and embedders the API gets.
    pub connections: u32,
    pub embedders: usize,
    /// Operators searching at once, for how long, pausing how long between searches.
    pub clients: usize,
    pub secs: u64,
    pub think: Duration,
}

/// Serves the API on `db` as `setup` says and loads it with searching operators.
pub fn run(db: &Path, setup: &Setup, queries: &[&str]) -> Load {
    let Setup {
        connections,
        embedders,
        clients,
        secs,
        think,
    } = *setup;
    let dir = tempfile::tempdir().unwrap();
    let api = matthan_benches::ApiServer::start(db, dir.path(), connections, embedders);
    let url = api.url.clone();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let monitor = {
        let url = url.clone();
        std::thread::spawn(move || {
            let agent = ureq::Agent::new();
            let mut ms = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = agent.get(&format!("{url}/api/health")).call().is_ok();
                ms.push(if ok {
                    t.elapsed().as_secs_f64() * 1000.0
                } else {
                    f64::INFINITY
                });
                std::thread::sleep(Duration::from_millis(50));
            }
            ms
        })
    };
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let url = url.clone();
            let qs: Vec<String> = queries.iter().map(|q| enc(q)).collect();
            std::thread::spawn(move || {
                let agent = ureq::Agent::new();
                let (mut ms, mut errors) = (Vec::new(), 0usize);
                let mut i = c;
                // People do not search in step: each pause is drawn from 0.5-1.5 × `think`
                // (fixed seed per operator), and operators start spread over one pause.
                let mut x =
                    0x9E37_79B9_7F4A_7C15u64 ^ (c as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407);
                let mut jitter = move |d: Duration| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    d.mul_f64(0.5 + (x % 1000) as f64 / 1000.0)
                };
                std::thread::sleep(jitter(think) / 2);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = agent
                        .get(&format!("{url}/api/search?q={}&limit=20", qs[i % qs.len()]))
                        .set("Authorization", &format!("Bearer {TOKEN}"))
                        .call();
                    match r {
                        Ok(resp) if resp.status() == 200 => {
                            let _ = resp.into_string();
                            ms.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        _ => errors += 1,
                    }
                    i += 1;
                    std::thread::sleep(jitter(think));
                }
                (ms, errors)
            })
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for w in workers {
        let (ms, e) = w.join().unwrap();
        all.extend(ms);
        errors += e;
    }
    let mut health = monitor.join().unwrap();
    api.stop();
    let health_max = health.iter().copied().fold(0.0, f64::max);
    Load {
        searches: all.len(),
        errors,
        per_s: all.len() as f64 / secs as f64,
        p50: pct(&mut all.clone(), 0.5),
        p95: pct(&mut all, 0.95),
        health_p99: pct(&mut health, 0.99),
        health_max,
    }
}
