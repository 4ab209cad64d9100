//! The shipped broker accounts (`scripts/broker-accounts.py` → mosquitto's dynamic-security
//! plugin) against a real mosquitto: an edge publishes only under its own site (and, when listed,
//! its own cameras), cannot forge a junction's signal state, and cannot read other sites or join
//! the hubs' shared subscription; the hub still gets everything through its shared subscription
//! and a junction controller sets its own state. A stolen box's account, once removed, cannot log in.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use rumqttc::{Client, ConnectReturnCode, Event, MqttOptions, Packet, QoS, SubscribeReasonCode};

const PASSWORD: &str = "pw-for-tests";

const ACCOUNTS: &str = r#"
[[hubs]]
account = "hub"
[[edges]]
account = "hcmc-edge-1"
site = "hcmc"
sources = ["cam-1", "edge-1"]
junctions = ["j1"]
[[edges]]
account = "hcmc-edge-2"
site = "hcmc"
[[edges]]
account = "dn-edge-1"
site = "dn"
[[controllers]]
account = "signal-hcmc-j1"
site = "hcmc"
junction = "j1"
"#;

struct Mosquitto(Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the shipped generator; its error text when it refuses.
fn generate(dir: &Path, accounts: &str) -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let pw_dir = dir.join("passwords");
    std::fs::create_dir_all(&pw_dir).unwrap();
    for line in accounts.lines() {
        if let Some(name) = line.strip_prefix("account = ") {
            let f = pw_dir.join(name.trim_matches('"'));
            std::fs::write(&f, format!("{PASSWORD}\n")).unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let src = dir.join("accounts.toml");
    std::fs::write(&src, accounts).unwrap();
    let out = dir.join("dynsec.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/broker-accounts.py");
    let run = Command::new("python3")
        .arg(script)
        .arg(&src)
        .arg(&pw_dir)
        .arg(&out)
        .output()
        .expect("python3");
    if !run.status.success() {
        return Err(String::from_utf8_lossy(&run.stderr).into_owned());
    }
    Ok(out)
}

fn start_broker(dir: &Path) -> (Mosquitto, u16) {
    use std::os::unix::fs::PermissionsExt;
    let dynsec = generate(dir, ACCOUNTS).expect("the accounts file is valid");
    // Started as root, mosquitto drops to its own user, which must read these.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&dynsec, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = matthan_test_support::free_port();
    let conf = dir.join("m.conf");
    // The shipped deployment config's security lines, with a test listener.
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/mosquitto.conf"),
    )
    .expect("configs/mosquitto.conf");
    let plugin = shipped
        .lines()
        .find(|l| l.starts_with("plugin "))
        .expect("the shipped config loads the dynamic-security plugin");
    std::fs::write(
        &conf,
        format!(
            "per_listener_settings false\nallow_anonymous false\n{plugin}\nplugin_opt_config_file {}\nlistener {port} 127.0.0.1\npersistence false\n",
            dynsec.display()
        ),
    )
    .unwrap();
    let child = matthan_test_support::spawn_mosquitto(&conf, port);
    (Mosquitto(child), port)
}

enum Got {
    Msg(String),
    /// One flag per filter of a SUBSCRIBE: granted or refused.
    SubAck(Vec<bool>),
    Refused,
}

/// A client logged in as `user`; what it receives arrives on the channel.
fn client(port: u16, user: &str, id: &str) -> (Client, Receiver<Got>) {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_credentials(user, PASSWORD);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut conn) = Client::new(opts, 64);
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for ev in conn.iter() {
            let got = match ev {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    Got::Msg(String::from_utf8_lossy(&p.payload).to_string())
                }
                Ok(Event::Incoming(Packet::SubAck(a))) => Got::SubAck(
                    a.return_codes
                        .iter()
                        .map(|c| matches!(c, SubscribeReasonCode::Success(_)))
                        .collect(),
                ),
                Ok(Event::Incoming(Packet::ConnAck(a))) if a.code != ConnectReturnCode::Success => {
                    Got::Refused
                }
                Ok(_) => continue,
                Err(rumqttc::ConnectionError::ConnectionRefused(_)) => {
                    let _ = tx.send(Got::Refused);
                    return;
                }
                Err(_) => return,
            };
            if tx.send(got).is_err() {
                return;
            }
        }
    });
    (client, rx)
}

/// Subscribes and waits for the broker's verdict on each filter.
fn subscribe(c: &Client, rx: &Receiver<Got>, filters: &[&str]) -> Vec<bool> {
    let subs = filters
        .iter()
        .map(|f| rumqttc::SubscribeFilter::new(f.to_string(), QoS::AtLeastOnce));
    c.subscribe_many(subs).unwrap();
    loop {
        match rx.recv_timeout(Duration::from_secs(10)).expect("a SUBACK") {
            Got::SubAck(v) => return v,
            Got::Refused => panic!("login refused"),
            Got::Msg(_) => {}
        }
    }
}

fn messages(rx: &Receiver<Got>, for_: Duration) -> Vec<String> {
    let until = Instant::now() + for_;
    let mut out = Vec::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if let Ok(Got::Msg(m)) = rx.recv_timeout(left) {
            out.push(m);
        }
    }
    out.sort();
    out
}

#[test]
fn edges_publish_only_for_their_site_and_never_forge_signals() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, port) = start_broker(dir.path());

    // A second box of site hcmc, stolen: it tries to read everything. It subscribes before the
    // hub on purpose: with an ACL file its share-group membership came first in the rotation and
    // the hub lost the event handed to it.
    let (thief, thief_rx) = client(port, "hcmc-edge-2", "hcmc-edge-2");
    let verdicts = subscribe(
        &thief,
        &thief_rx,
        &[
            "$share/matthan-hubs/matthan/+/+/+",
            "$share/matthan-hubs/matthan-evidence/+/+",
            "matthan/#",
            "matthan/dn/+/signal/state",
            "matthan-evidence/#",
            "matthan-receipt/#",
            "matthan-watch/dn",
            "matthan/hcmc/+/signal/state",
            "matthan-watch/hcmc",
        ],
    );
    assert_eq!(
        verdicts,
        [false, false, false, false, false, false, false, true, true],
        "an edge may subscribe only to its own site's signal states and watch-list hits"
    );
    let (hub, hub_rx) = client(port, "hub", "hub-1");
    let verdicts = subscribe(
        &hub,
        &hub_rx,
        &[
            "$share/matthan-hubs/matthan/+/+/+",
            "$share/matthan-hubs/matthan-evidence/+/+",
        ],
    );
    assert_eq!(verdicts, [true, true], "the hub's shared subscriptions");

    let (edge, _edge_rx) = client(port, "hcmc-edge-1", "hcmc-edge-1");
    for (topic, body, retain) in [
        ("matthan/hcmc/cam-1/track", "own-event", false),
        ("matthan/hcmc/edge-1/edge_status", "own-status", false),
        ("matthan/hcmc/cam-9/track", "camera-not-its-own", false),
        ("matthan-evidence/hcmc/aa", "own-blob", false),
        ("matthan/dn/cam-1/track", "other-site-event", false),
        ("matthan-evidence/dn/bb", "other-site-blob", false),
        ("matthan/hcmc/j1/signal/state", "forged-signal", true),
        ("matthan-receipt/hcmc", "forged-receipt", false),
        ("matthan-watch/hcmc", "forged-hit", false),
    ] {
        edge.publish(topic, QoS::AtLeastOnce, retain, body).unwrap();
    }
    // The hub tells the site's edges of a watch-list hit.
    hub.publish("matthan-watch/hcmc", QoS::AtLeastOnce, false, "watch-hit")
        .unwrap();
    // A box without a camera list may publish for any camera of its site.
    thief
        .publish(
            "matthan/hcmc/cam-9/track",
            QoS::AtLeastOnce,
            false,
            "site-wide",
        )
        .unwrap();
    let (ctrl, _ctrl_rx) = client(port, "signal-hcmc-j1", "ctrl-j1");
    for (topic, body) in [
        ("matthan/hcmc/j1/signal/state", "real-signal"),
        ("matthan/hcmc/j2/signal/state", "other-junction"),
        ("matthan/hcmc/cam-1/track", "controller-event"),
    ] {
        ctrl.publish(topic, QoS::AtLeastOnce, false, body).unwrap();
    }

    assert_eq!(
        messages(&hub_rx, Duration::from_secs(2)),
        ["own-blob", "own-event", "own-status", "site-wide"],
        "the hub gets the site's own messages, through its shared subscription"
    );
    assert_eq!(
        messages(&thief_rx, Duration::from_millis(300)),
        ["real-signal", "watch-hit"],
        "an edge reads only its site's real signal states and the hub's watch-list hits"
    );
    // A late subscriber of the site sees no retained forgery either.
    let (late, late_rx) = client(port, "hcmc-edge-2", "hcmc-edge-3");
    subscribe(&late, &late_rx, &["matthan/hcmc/+/signal/state"]);
    assert!(
        messages(&late_rx, Duration::from_millis(500)).is_empty(),
        "no retained forged state"
    );
}

/// Live control: only a junction's own controller asks for its greens and reads the answers;
/// an edge answers only for its junctions and cannot forge a request.
#[test]
fn controllers_ask_for_their_own_greens_and_edges_only_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, port) = start_broker(dir.path());
    let (ctrl, ctrl_rx) = client(port, "signal-hcmc-j1", "ctrl-j1");
    let verdicts = subscribe(
        &ctrl,
        &ctrl_rx,
        &[
            "matthan/hcmc/j1/signal/decision",
            "matthan/hcmc/j2/signal/decision",
            "matthan/hcmc/+/signal/request",
        ],
    );
    assert_eq!(
        verdicts,
        [true, false, false],
        "a controller reads its own answers only"
    );
    let (site_edge, site_rx) = client(port, "hcmc-edge-2", "hcmc-edge-2");
    let verdicts = subscribe(
        &site_edge,
        &site_rx,
        &[
            "matthan/hcmc/+/signal/request",
            "matthan/dn/+/signal/request",
        ],
    );
    assert_eq!(
        verdicts,
        [true, false],
        "an edge reads its own site's requests"
    );
    let (edge, _edge_rx) = client(port, "hcmc-edge-1", "hcmc-edge-1");
    for (topic, body) in [
        ("matthan/hcmc/j1/signal/decision", "answer-j1"),
        ("matthan/hcmc/j2/signal/decision", "answer-not-its-junction"),
        ("matthan/hcmc/j1/signal/request", "forged-request"),
    ] {
        edge.publish(topic, QoS::AtLeastOnce, false, body).unwrap();
    }
    for (topic, body) in [
        ("matthan/hcmc/j1/signal/request", "real-request"),
        ("matthan/hcmc/j2/signal/request", "other-junction-request"),
    ] {
        ctrl.publish(topic, QoS::AtLeastOnce, false, body).unwrap();
    }
    assert_eq!(
        messages(&site_rx, Duration::from_secs(1)),
        ["real-request"],
        "edges get only the real controller's request"
    );
    assert_eq!(
        messages(&ctrl_rx, Duration::from_millis(300)),
        ["answer-j1"],
        "the controller gets the answer from the edge that serves its junction"
    );
}

#[test]
fn unknown_accounts_and_wrong_passwords_cannot_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, port) = start_broker(dir.path());
    for (user, id) in [("hcmc-edge-9", "removed-box"), ("hub ", "spaced")] {
        let (_c, rx) = client(port, user, id);
        assert!(
            matches!(rx.recv_timeout(Duration::from_secs(5)), Ok(Got::Refused)),
            "{user:?} must be refused"
        );
    }
}

#[test]
fn the_generator_refuses_bad_accounts_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    for (accounts, says) in [
        (
            "[[edges]]\naccount = \"a\"\nsite = \"hcmc/#\"\n",
            "edges[0].site",
        ),
        (
            "[[edges]]\naccount = \"a\"\nsite = \"s\"\nsources = []\n",
            "edges[0].sources",
        ),
        (
            "[[hubs]]\naccount = \"a\"\n[[hubs]]\naccount = \"a\"\n",
            "hubs[1]: account 'a' is listed twice",
        ),
        (
            "[[controllers]]\naccount = \"c\"\nsite = \"s\"\njunction = \"+\"\n",
            "controllers[0].junction",
        ),
        ("[[hub]]\naccount = \"h\"\n", "unknown section(s): hub"),
    ] {
        let err = generate(dir.path(), accounts).expect_err(accounts);
        assert!(err.contains(says), "{accounts}: {err}");
    }
    // A password file others can read is refused.
    use std::os::unix::fs::PermissionsExt;
    let pw = dir.path().join("passwords/hub");
    std::fs::write(&pw, "x").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let src = dir.path().join("accounts.toml");
    std::fs::write(&src, "[[hubs]]\naccount = \"hub\"\n").unwrap();
    let run = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/broker-accounts.py"))
        .arg(&src)
        .arg(dir.path().join("passwords"))
        .arg(dir.path().join("out.json"))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && err.contains("chmod 600"), "{err}");
}
