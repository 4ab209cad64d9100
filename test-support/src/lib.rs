//! Real components shared by the workspace's tests and benches.

pub mod chrome;
mod hub;
mod nats;
mod pg;
mod scoring;
pub use scoring::matched;

pub use hub::{HubProcess, stored_ids, wait_for_ids};
pub use nats::NatsCluster;
pub use pg::pg_database;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn repo() -> PathBuf {
    // MATTHAN_REPO: a bench binary carried to another machine (scripts/gpu-check.sh) runs
    // from a checkout at another path than the one it was built in.
    if let Some(r) = std::env::var_os("MATTHAN_REPO") {
        return PathBuf::from(r);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A file named by `env`, else `rel` under the repo (where scripts/setup.sh puts it).
pub fn cached(env: &str, rel: &str) -> PathBuf {
    let p = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(rel));
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup.sh first (or set {env})",
        p.display()
    );
    p
}

/// Test services listen below Linux's ephemeral range (32768-60999): a port the kernel may hand
/// to any outgoing connection can be taken between "free" and "listening".
const TEST_PORTS: std::ops::Range<u16> = 20000..32000;

/// A loopback port that is free now, outside the ephemeral range. Each test process starts
/// at its own offset and walks on, so parallel tests rarely try the same port twice.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = (TEST_PORTS.end - TEST_PORTS.start) as u32;
    let base = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = TEST_PORTS.start + ((base + k * 17) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {TEST_PORTS:?}");
}

/// A mosquitto broker on 127.0.0.1 with the project's no-loss settings, killed on drop.
pub struct Broker {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Broker {
    pub fn start() -> Self {
        Self::launch(free_port(), tempfile::tempdir().unwrap(), false)
    }

    /// A broker that keeps sessions and queued messages on disk across `restart`.
    pub fn start_persistent() -> Self {
        Self::launch(free_port(), tempfile::tempdir().unwrap(), true)
    }

    /// Stops the broker (SIGTERM, so it saves its state) and waits for it to exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    /// Kills the broker with SIGKILL: no goodbye, no save.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port with every session, subscription and queued message
    /// forgotten: the worst a broker restart can do.
    pub fn restart_empty(&mut self) {
        for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if e.file_name() != "mosquitto.conf" {
                let _ = std::fs::remove_file(e.path());
            }
        }
        self.restart();
    }

    /// Starts it again on the same port with the same state.
    pub fn restart(&mut self) {
        let fresh = Self::launch_child(self.port, self.dir.path(), true);
        self.child = fresh;
    }

    fn launch(port: u16, dir: tempfile::TempDir, persistent: bool) -> Self {
        let child = Self::launch_child(port, dir.path(), persistent);
        Self { port, child, dir }
    }

    fn launch_child(port: u16, dir: &Path, persistent: bool) -> Child {
        let conf = dir.join("mosquitto.conf");
        let persistence = if persistent {
            // Started as root, mosquitto drops to its own user, which must be able to write here.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
            format!(
                "persistence true\npersistence_location {}/\nautosave_interval 1\n",
                dir.display()
            )
        } else {
            "persistence false\n".to_string()
        };
        // Unbounded queues: mosquitto's defaults dropped QoS 1 messages under a fast publisher.
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\nmessage_size_limit 33554432\n{persistence}"
            ),
        )
        .unwrap();
        spawn_mosquitto(&conf, port)
    }
}

/// Starts mosquitto on config file `conf` and waits until it accepts connections on `port`.
pub fn spawn_mosquitto(conf: &Path, port: u16) -> Child {
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto not installed: run scripts/setup.sh");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "mosquitto did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throw-away PKI in `dir`: `ca.crt`, a broker certificate for 127.0.0.1 (`server.crt`,
/// `server.key`) and a client certificate (`client.crt`, `client.key`), made with `openssl`.
/// The folder and the broker key are opened up for mosquitto's own user; the client key is 0600.
pub fn make_test_pki(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let sh = |cmd: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("sh")
            .success();
        assert!(ok, "{cmd}");
    };
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=matthan-test-ca",
    );
    sh(
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1",
    );
    sh("printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > server.ext");
    sh(
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext",
    );
    sh("openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=edge-1");
    sh("printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n' > client.ext");
    sh(
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext",
    );
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.join("client.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}

/// A mosquitto with a TLS listener that requires client certificates (from `make_test_pki`)
/// and a plain loopback listener for test subscribers: (process, tls port, plain port).
pub fn tls_broker(dir: &Path) -> (Child, u16, u16) {
    let (tls_port, plain_port) = (free_port(), free_port());
    std::fs::write(
        dir.join("m.conf"),
        format!(
            "per_listener_settings true\nlistener {tls_port} 127.0.0.1\ncafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\nrequire_certificate true\nallow_anonymous true\nlistener {plain_port} 127.0.0.1\nallow_anonymous true\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(dir.join("m.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", plain_port)).is_err()
        || TcpStream::connect(("127.0.0.1", tls_port)).is_err()
    {
        assert!(Instant::now() < deadline, "TLS broker did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, tls_port, plain_port)
}

/// Property-test settings for CI: a fixed seed, so a run is reproducible, and failures are
/// written to a `.regressions` file beside the test (commit it: those cases run first every
/// time). `MATTHAN_FUZZ=explore` switches to a random seed and 50× the cases, for long runs
/// outside CI.
pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};
    let explore = std::env::var("MATTHAN_FUZZ").is_ok_and(|v| v == "explore");
    Config {
        cases: if explore { cases * 50 } else { cases },
        rng_seed: if explore {
            RngSeed::Random
        } else {
            RngSeed::Fixed(0x4d61_7454_6861_6e21)
        },
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

/// Composited clips made by a generator under `test-videos/` (`scripts[0]`, run with the
/// darknet photos and an output folder), cached under `target/test-clips/{name}-{hash}` per
/// version of the scripts it reads, so a changed generator makes them again. `done` is the
/// file the generator writes last.
pub fn generated_clips(name: &str, scripts: &[&str], done: &str) -> PathBuf {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for s in scripts {
        h.update(std::fs::read(repo().join(s)).unwrap_or_else(|e| panic!("{s}: {e}")));
    }
    let sha = format!("{:x}", h.finalize());
    let dir = repo().join(format!("target/test-clips/{name}-{}", &sha[..12]));
    if dir.join(done).is_file() {
        return dir;
    }
    let out = Command::new(cached("MATTHAN_PYTHON", ".venv/bin/python"))
        .arg(repo().join(scripts[0]))
        .arg("--darknet")
        .arg(cached("MATTHAN_DARKNET", ".cache/media/darknet"))
        .arg("--out")
        .arg(&dir)
        .output()
        .expect("run the clip generator");
    assert!(
        out.status.success(),
        "{} failed: {}",
        scripts[0],
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// The tracing corridor (`test-videos/corridor/make.py`): four cameras, 44 vehicles.
pub fn corridor_clips() -> PathBuf {
    generated_clips(
        "corridor",
        &[
            "test-videos/corridor/make.py",
            "test-videos/traffic/make.py",
        ],
        "corridor.json",
    )
}

/// The edge config sections every corridor run shares: the detector as the composites need
/// it (the stand-in motorbike, darknet's bicycle, scores 0.3-0.6 with NanoDet) and, with
/// `plates`, the plate reader on every vehicle track. TOML, to go after `[mqtt]`/`[outbox]`
/// and before `[[cameras]]`. `MATTHAN_DETECTOR` names another model file in `models/` (the
/// int8 variant, say) to run the same suites on it.
pub fn corridor_edge_sections(plates: bool) -> String {
    let model = std::env::var("MATTHAN_DETECTOR").unwrap_or_else(|_| "nanodet-m-416.onnx".into());
    let mut s = format!(
        "[model]\npath = \"{}\"\nthreads = 2\n\
         classes = [\"bicycle\", \"car\", \"motorcycle\", \"bus\", \"truck\"]\n\
         [model.class_thresholds]\nbicycle = 0.3\n[tracker]\nhigh_score = 0.35\n",
        repo().join("models").join(model).display()
    );
    if plates {
        let ppocr = repo().join("models/ppocr");
        s += &format!(
            "[plates]\ndet = \"{p}/ch_PP-OCRv4_det_infer.onnx\"\nrec = \"{p}/ch_PP-OCRv4_rec_infer.onnx\"\n\
             classes = [\"bicycle\", \"car\", \"motorcycle\", \"bus\", \"truck\"]\n",
            p = ppocr.display()
        );
    }
    s
}
