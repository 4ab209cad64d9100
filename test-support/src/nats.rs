//! A NATS cluster on 127.0.0.1 (Debian's `nats-server`): JetStream on every node and an MQTT
//! listener on every node, as the cluster deployment runs it (`docs/deployment.md`). Nodes
//! can be killed (SIGKILL) and started again with their state.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct NatsCluster {
    pub client_ports: Vec<u16>,
    pub mqtt_ports: Vec<u16>,
    confs: Vec<PathBuf>,
    nodes: Vec<Option<Child>>,
    /// Configs, JetStream stores and logs (`n{i}.log`); MATTHAN_KEEP=1 keeps them.
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl NatsCluster {
    /// `n` nodes (1 or 3 in practice), each waiting until it accepts MQTT connections.
    pub fn start(n: usize) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let tmp = if std::env::var_os("MATTHAN_KEEP").is_some() {
            eprintln!("NATS cluster kept in {}", dir.display());
            let _ = tmp.keep();
            None
        } else {
            Some(tmp)
        };
        let client_ports: Vec<u16> = (0..n).map(|_| crate::free_port()).collect();
        let route_ports: Vec<u16> = (0..n).map(|_| crate::free_port()).collect();
        let mqtt_ports: Vec<u16> = (0..n).map(|_| crate::free_port()).collect();
        let confs: Vec<PathBuf> = (0..n)
            .map(|i| {
                let cluster = if n > 1 {
                    let routes: Vec<String> = route_ports
                        .iter()
                        .map(|p| format!("\"nats://127.0.0.1:{p}\""))
                        .collect();
                    format!(
                        "cluster {{\n  name: matthan\n  listen: 127.0.0.1:{}\n  routes: [{}]\n}}\n",
                        route_ports[i],
                        routes.join(", ")
                    )
                } else {
                    String::new()
                };
                let conf = dir.join(format!("n{i}.conf"));
                std::fs::write(
                    &conf,
                    format!(
                        "server_name: n{i}\nlisten: 127.0.0.1:{}\n\
                         # Evidence clips are several MB.\nmax_payload: 16MB\n\
                         jetstream {{\n  store_dir: \"{}\"\n}}\n\
                         mqtt {{\n  listen: 127.0.0.1:{}\n}}\n{cluster}",
                        client_ports[i],
                        dir.join(format!("js{i}")).display(),
                        mqtt_ports[i],
                    ),
                )
                .unwrap();
                conf
            })
            .collect();
        let mut c = Self {
            client_ports,
            mqtt_ports,
            confs,
            nodes: (0..n).map(|_| None).collect(),
            dir,
            _tmp: tmp,
        };
        for i in 0..n {
            c.spawn(i);
        }
        for i in 0..n {
            c.wait_ready(i);
        }
        c
    }

    fn spawn(&mut self, i: usize) {
        let log = self.confs[i].with_extension("log");
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&self.confs[i])
            .arg("-l")
            .arg(&log)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server (Debian package nats-server; scripts/setup.sh installs it)");
        self.nodes[i] = Some(child);
    }

    /// Until the node's MQTT listener takes a connection (it answers only once JetStream is up).
    fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.mqtt_ports[i])).is_err() {
            assert!(Instant::now() < deadline, "nats node {i} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `nats://` URLs of every node, for a client that fails over between them.
    pub fn servers(&self) -> Vec<String> {
        self.client_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect()
    }

    /// SIGKILL: the node vanishes mid-run.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts a killed node again on its ports with its stored state.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
        self.wait_ready(i);
    }

    /// Every node killed at once, then all started again with their stored state (a node
    /// waits for the others' JetStream before its MQTT listener opens, so they start together).
    pub fn restart_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        for i in 0..self.nodes.len() {
            self.spawn(i);
        }
        for i in 0..self.nodes.len() {
            self.wait_ready(i);
        }
    }

    pub fn conf(&self, i: usize) -> &Path {
        &self.confs[i]
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
