//! Real components shared by the workspace's tests and benches.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn repo() -> PathBuf {
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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
                "listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\n{persistence}"
            ),
        )
        .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
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
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
