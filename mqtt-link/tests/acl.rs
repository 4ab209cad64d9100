//! The shipped broker ACL (`configs/mosquitto.acl`) against a real mosquitto with accounts:
//! an edge publishes only under its own site, cannot forge a junction's signal state, and
//! cannot read other sites or join the hubs' shared subscription; the hub still gets
//! everything through its shared subscription and a junction controller sets its own state.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

const PASSWORD: &str = "pw-for-tests";

struct Mosquitto(Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_broker(dir: &Path, accounts: &[&str]) -> (Mosquitto, u16) {
    use std::os::unix::fs::PermissionsExt;
    let passwd = dir.join("passwd");
    for (i, user) in accounts.iter().enumerate() {
        let mut cmd = Command::new("mosquitto_passwd");
        if i == 0 {
            cmd.arg("-c");
        }
        let ok = cmd
            .arg("-b")
            .arg(&passwd)
            .arg(user)
            .arg(PASSWORD)
            .stdout(Stdio::null())
            .status()
            .expect("mosquitto_passwd (package mosquitto)")
            .success();
        assert!(ok, "mosquitto_passwd {user}");
    }
    let acl = dir.join("acl");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/mosquitto.acl");
    std::fs::copy(&shipped, &acl).expect("configs/mosquitto.acl");
    // Started as root, mosquitto drops to its own user, which must read these.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in [&passwd, &acl] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let port = matthan_test_support::free_port();
    let conf = dir.join("m.conf");
    std::fs::write(
        &conf,
        format!(
            "per_listener_settings false\nallow_anonymous false\npassword_file {}\nacl_file {}\nlistener {port} 127.0.0.1\npersistence false\n",
            passwd.display(),
            acl.display()
        ),
    )
    .unwrap();
    let child = matthan_test_support::spawn_mosquitto(&conf, port);
    (Mosquitto(child), port)
}

/// A client logged in as `user`; what it receives arrives on the channel as (topic, payload).
fn client(port: u16, user: &str, id: &str) -> (Client, Receiver<(String, String)>) {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_credentials(user, PASSWORD);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut conn) = Client::new(opts, 64);
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for ev in conn.iter() {
            match ev {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let body = String::from_utf8_lossy(&p.payload).to_string();
                    if tx.send((p.topic.clone(), body)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    (client, rx)
}

fn drain(rx: &Receiver<(String, String)>, for_: Duration) -> Vec<(String, String)> {
    let until = Instant::now() + for_;
    let mut out = Vec::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if let Ok(m) = rx.recv_timeout(left) {
            out.push(m);
        }
    }
    out
}

#[test]
fn edges_publish_only_for_their_site_and_never_forge_signals() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, port) = start_broker(dir.path(), &["hub", "hcmc", "dn", "signal-hcmc-j1"]);

    let (hub, hub_rx) = client(port, "hub", "hub-1");
    hub.subscribe("$share/matthan-hubs/matthan/+/+/+", QoS::AtLeastOnce)
        .unwrap();
    hub.subscribe("matthan-evidence/#", QoS::AtLeastOnce)
        .unwrap();
    // A second box of site hcmc, stolen: it tries to read everything.
    let (thief, thief_rx) = client(port, "hcmc", "hcmc-edge-2");
    for f in [
        "matthan/hcmc/+/signal/state",
        "matthan/#",
        "$share/matthan-hubs/matthan/+/+/+",
        "matthan-evidence/#",
        "matthan-receipt/#",
    ] {
        thief.subscribe(f, QoS::AtLeastOnce).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));

    let (edge, _edge_rx) = client(port, "hcmc", "hcmc-edge-1");
    for (topic, body, retain) in [
        ("matthan/hcmc/cam-1/track", "own-event", false),
        ("matthan-evidence/hcmc/aa", "own-blob", false),
        ("matthan/dn/cam-1/track", "other-site-event", false),
        ("matthan-evidence/dn/bb", "other-site-blob", false),
        ("matthan/hcmc/j1/signal/state", "forged-signal", true),
        ("matthan-receipt/hcmc", "forged-receipt", false),
    ] {
        edge.publish(topic, QoS::AtLeastOnce, retain, body).unwrap();
    }
    let (ctrl, _ctrl_rx) = client(port, "signal-hcmc-j1", "ctrl-j1");
    ctrl.publish(
        "matthan/hcmc/j1/signal/state",
        QoS::AtLeastOnce,
        false,
        "real-signal",
    )
    .unwrap();
    ctrl.publish(
        "matthan/hcmc/j2/signal/state",
        QoS::AtLeastOnce,
        false,
        "other-junction",
    )
    .unwrap();

    let got = |rx: &Receiver<(String, String)>| -> Vec<String> {
        let mut v: Vec<String> = drain(rx, Duration::from_secs(2))
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        got(&hub_rx),
        vec!["own-blob", "own-event"],
        "the hub gets the site's own messages, through its shared subscription"
    );
    assert_eq!(
        got(&thief_rx),
        vec!["real-signal"],
        "an edge reads only its site's real signal states"
    );
    // A late subscriber of the site sees no retained forgery either.
    let (late, late_rx) = client(port, "hcmc", "hcmc-edge-3");
    late.subscribe("matthan/hcmc/+/signal/state", QoS::AtLeastOnce)
        .unwrap();
    assert!(got(&late_rx).is_empty(), "no retained forged state");
}
