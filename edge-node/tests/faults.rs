//! Nothing lost, on real video through real processes: a broker that goes away mid-run, an
//! edge process killed with SIGKILL and started again, a hub stopped and restarted while the
//! edge publishes, and a broker that crashes and comes back empty while the hub is away. The
//! check is the hub's own store (real ingest, persistent session, acks after commit, receipts
//! to the edge): every id the edge produced, stored once, with every snapshot.
mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use edge_node::config::EdgeConfig;
use matthan_schema::Body;
use matthan_schema::CameraState;
use support::{Broker, Hub, RtspServer, Subscriber};

fn unique_ids(sub: &Subscriber) -> BTreeSet<String> {
    sub.decoded().iter().map(|e| e.id.to_string()).collect()
}

/// Checks the hub's store against what the edge produced: every id there, once, and every
/// track's snapshot in the evidence store. With `nothing_else`, beyond the edge's events only its last will
/// (an offline edge status) may appear.
fn assert_hub_has_everything(hub: &Hub, produced: &BTreeSet<String>, nothing_else: bool) {
    let missing = hub.wait_for(produced, 60);
    assert!(
        missing.is_empty(),
        "{} of {} events never reached the hub's store, e.g. {:?}",
        missing.len(),
        produced.len(),
        missing.first()
    );
    let (ids, rows) = hub.stored();
    assert_eq!(rows, ids.len(), "an event stored twice");
    let events = hub.events();
    for e in &events {
        let id = e.id.to_string();
        if nothing_else && !produced.contains(&id) {
            assert!(
                matches!(&e.body, Body::EdgeStatus(s) if s.state == matthan_schema::EdgeState::Offline),
                "the hub stored an event the edge never produced: {e:?}"
            );
        }
        if let Body::Track(t) = &e.body
            && let Some(sha) = &t.snapshot
        {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !hub.has_evidence(sha) {
                assert!(
                    Instant::now() < deadline,
                    "snapshot {sha} of track {} lost",
                    t.track_id
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

#[test]
fn broker_outage_mid_run_loses_nothing() {
    support::ort();
    let mut broker = Broker::start_persistent();
    let hub = Hub::start(broker.port, "fault-hub-outage");
    let sub = Subscriber::persistent(broker.port, "fault-sub-outage");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", support::vtest().display());
    let cfg = support::edge_config_receipts(dir.path(), broker.port, &url, "", 5.0);
    let cfg = EdgeConfig::load(&cfg).unwrap();
    let run = std::thread::spawn(move || {
        edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false)))
    });

    std::thread::sleep(Duration::from_secs(5));
    broker.stop();
    std::thread::sleep(Duration::from_secs(6));
    broker.restart();
    let summary = run.join().unwrap().unwrap();

    assert!(
        summary.publish.reconnects >= 1,
        "the outage was noticed: {summary:?}"
    );
    assert_eq!(
        summary.publish.pending, 0,
        "the outbox drained after the broker came back"
    );
    // The pipeline's events plus the publisher's online and offline status, as a second,
    // independent receiver saw them.
    let want = summary.events as usize + 2;
    let deadline = Instant::now() + Duration::from_secs(60);
    while unique_ids(&sub).len() < want {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} events arrived",
            unique_ids(&sub).len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let produced: BTreeSet<String> = sub
        .decoded()
        .iter()
        .filter(|e| !matches!(&e.body, Body::EdgeStatus(s) if s.state == matthan_schema::EdgeState::Offline))
        .map(|e| e.id.to_string())
        .collect();
    assert!(produced.len() + 1 >= want, "{} < {want}", produced.len());
    assert_hub_has_everything(&hub, &produced, true);
}

#[test]
fn edge_killed_with_sigkill_resends_everything_on_restart() {
    support::ort();
    let broker = Broker::start_persistent();
    let hub = Hub::start(broker.port, "fault-hub-kill");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", support::vtest().display());
    // The first run's broker is unreachable, so everything it produces must wait in the outbox.
    let dead_port = support::free_port();
    let first = support::edge_config(dir.path(), dead_port, &url, "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args(["run", "--config", first.to_str().unwrap()])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(8));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // What the killed edge had handed to its outbox.
    let outbox = rusqlite::Connection::open(dir.path().join("outbox-edge-test.db")).unwrap();
    let mut st = outbox.prepare("SELECT topic, payload FROM outbox").unwrap();
    let rows: Vec<(String, Vec<u8>)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let handed: BTreeSet<String> = rows
        .iter()
        .filter(|(t, _)| t.starts_with("matthan/"))
        .map(|(_, p)| matthan_schema::Event::from_json(p).unwrap().id.to_string())
        .collect();
    assert!(
        handed.len() > 5,
        "the killed edge had produced events: {}",
        handed.len()
    );
    drop(st);
    drop(outbox);

    // Restart against the live broker, on a short clip, with the same outbox.
    let short = format!("file://{}", support::vtest_mp4().display());
    let second = dir.path().join("second.toml");
    let text = std::fs::read_to_string(support::edge_config_receipts(
        dir.path(),
        broker.port,
        &short,
        "",
        5.0,
    ))
    .unwrap();
    std::fs::write(&second, text).unwrap();
    support::edge_cli(&["run", "--config", second.to_str().unwrap()]);

    // The second run adds events of its own; only the killed run's are checked here.
    assert_hub_has_everything(&hub, &handed, false);
    let left: i64 = rusqlite::Connection::open(dir.path().join("outbox-edge-test.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "the outbox is empty after a clean run");
}

#[test]
fn hub_restarted_while_the_edge_publishes_loses_nothing() {
    support::ort();
    let broker = Broker::start_persistent();
    let mut hub = Hub::start(broker.port, "fault-hub-restart");
    let sub = Subscriber::persistent(broker.port, "fault-sub-restart");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", support::vtest().display());
    let cfg = support::edge_config_receipts(dir.path(), broker.port, &url, "", 5.0);
    let cfg = EdgeConfig::load(&cfg).unwrap();
    let run = std::thread::spawn(move || {
        edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false)))
    });
    std::thread::sleep(Duration::from_secs(4));
    hub.stop();
    let (during, _) = hub.stored();
    std::thread::sleep(Duration::from_secs(6));
    hub.restart();
    let summary = run.join().unwrap().unwrap();
    assert_eq!(summary.publish.pending, 0);

    let want = summary.events as usize + 2;
    let deadline = Instant::now() + Duration::from_secs(60);
    while unique_ids(&sub).len() < want {
        assert!(Instant::now() < deadline, "subscriber incomplete");
        std::thread::sleep(Duration::from_millis(200));
    }
    let produced = unique_ids(&sub);
    assert!(
        produced.len() > during.len(),
        "the edge kept publishing while the hub was down ({} stored before the stop, {} produced)",
        during.len(),
        produced.len()
    );
    assert_hub_has_everything(&hub, &produced, true);
}

/// The case that lost events before receipts: with the hub away, the broker holds everything
/// for it (and has acknowledged it to the edge), then crashes and comes back with nothing. Only
/// the edge still has the messages; it must send them again when no receipt comes.
#[test]
fn broker_crash_while_the_hub_is_away_loses_nothing() {
    support::ort();
    let mut broker = Broker::start_persistent();
    let mut hub = Hub::start(broker.port, "fault-hub-crash");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", support::vtest().display());
    let cfg = support::edge_config_receipts(dir.path(), broker.port, &url, "", 3.0);
    let cfg = EdgeConfig::load(&cfg).unwrap();
    let run = std::thread::spawn(move || {
        edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false)))
    });
    std::thread::sleep(Duration::from_secs(3));
    hub.stop();
    std::thread::sleep(Duration::from_secs(4));
    broker.crash();
    broker.restart_empty();
    std::thread::sleep(Duration::from_secs(2));
    hub.restart();
    let summary = run.join().unwrap().unwrap();
    assert_eq!(
        summary.publish.pending, 0,
        "every message confirmed by the hub before the edge stopped: {summary:?}"
    );
    eprintln!(
        "sent again for want of a receipt: {} of {} published",
        summary.publish.resent, summary.publish.published
    );
    // The pipeline's events plus the publisher's online and offline status, each stored once.
    let (ids, rows) = hub.stored();
    assert_eq!(rows, ids.len(), "an event stored twice");
    // Beyond the edge's own events, only its last will may appear (the broker sends it if a
    // connection of the edge's breaks while the broker is up): one more offline status.
    let offline = |e: &matthan_schema::Event| matches!(&e.body, Body::EdgeStatus(s) if s.state == matthan_schema::EdgeState::Offline);
    let others = || hub.events().iter().filter(|e| !offline(e)).count();
    // Everything but the offline status from the outbox (which the edge sent last).
    let want = summary.events as usize + 1;
    let deadline = Instant::now() + Duration::from_secs(30);
    while others() < want {
        assert!(
            Instant::now() < deadline,
            "{} of {want} events reached the hub",
            others()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let events = hub.events();
    assert_eq!(others(), want, "nothing but the edge's events");
    let goodbyes = events.iter().filter(|e| offline(e)).count();
    assert!(
        (1..=2).contains(&goodbyes),
        "the clean offline status, and at most the last will: {goodbyes}"
    );
}

/// SIGTERM with the broker unreachable: the edge stops within the documented 30 s (the
/// outbox keeps what could not be sent) instead of waiting out reconnect backoffs and a full
/// drain timeout after the pipeline's own shutdown.
#[test]
fn sigterm_with_the_broker_down_ends_within_30_s_and_keeps_the_outbox() {
    support::ort();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", support::vtest().display());
    let cfg = support::edge_config(
        dir.path(),
        support::free_port(),
        &url,
        "loop_file = true\nrealtime = true",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args(["run", "--config", cfg.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read the log as it comes, so a flood of it cannot block the edge on a full pipe.
    let log = child.stderr.take().unwrap();
    let retries = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(log)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.contains("MQTT connection down"))
            .count()
    });
    std::thread::sleep(Duration::from_secs(8));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let asked = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if asked.elapsed() > Duration::from_secs(45) {
            child.kill().unwrap();
            panic!("still running 45 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let took = asked.elapsed();
    assert!(took <= Duration::from_secs(30), "SIGTERM took {took:?}");
    assert!(
        status.success(),
        "a requested stop is a clean exit: {status:?}"
    );
    let left: i64 = rusqlite::Connection::open(dir.path().join("outbox-edge-test.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert!(left > 0, "what could not be sent stays in the outbox");
    // Reconnects back off while draining too: before, the drain retried at once, spinning a
    // core and writing ~25,000 warnings a second until its deadline.
    let retries = retries.join().unwrap();
    assert!(
        retries <= 20,
        "{retries} reconnect warnings in {:?}",
        took + Duration::from_secs(8)
    );
}

#[test]
fn rtsp_camera_comes_back_by_itself_after_its_server_restarts() {
    support::ort();
    let port = support::free_port();
    let server = RtspServer::start_on(&support::vtest_mp4(), port);
    let broker = Broker::start();
    let sub = Subscriber::start(broker.port);
    let dir = tempfile::tempdir().unwrap();
    let cfg = EdgeConfig::load(&support::edge_config(
        dir.path(),
        broker.port,
        &server.url,
        "",
    ))
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (c2, s2) = (cfg.clone(), stop.clone());
    let run = std::thread::spawn(move || edge_node::pipeline::run(&c2, s2));
    let states = |evs: &[matthan_schema::Event]| -> Vec<CameraState> {
        evs.iter()
            .filter_map(|e| {
                if let Body::CameraStatus(s) = &e.body {
                    Some(s.state)
                } else {
                    None
                }
            })
            .collect()
    };
    sub.wait_for(Duration::from_secs(30), "the camera up", |e| {
        states(e).contains(&CameraState::Up)
    });
    drop(server);
    sub.wait_for(Duration::from_secs(40), "the camera reported down", |e| {
        states(e).contains(&CameraState::Down)
    });
    let _again = RtspServer::start_on(&support::vtest_mp4(), port);
    let evs = sub.wait_for(Duration::from_secs(60), "the camera up again", |e| {
        let s = states(e);
        s.iter()
            .position(|x| *x == CameraState::Down)
            .is_some_and(|d| s[d..].contains(&CameraState::Up))
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    run.join().unwrap().unwrap();
    let detail = evs
        .iter()
        .find_map(|e| match &e.body {
            Body::CameraStatus(s) if s.state == CameraState::Down => s.detail.clone(),
            _ => None,
        })
        .unwrap();
    assert!(!detail.is_empty(), "the outage says why");
}

#[test]
fn broker_accounts_are_used_and_open_password_files_refused() {
    support::ort();
    let dir = tempfile::tempdir().unwrap();
    let port = support::free_port();
    // A broker that refuses anonymous clients on one listener; a second, anonymous-friendly one
    // only for this test's subscriber.
    let pw = dir.path().join("passwd");
    assert!(
        Command::new("mosquitto_passwd")
            .args(["-b", "-c", pw.to_str().unwrap(), "edge-1", "s3cret"])
            .status()
            .unwrap()
            .success()
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sub_port = support::free_port();
    let conf = dir.path().join("m.conf");
    std::fs::write(
        &conf,
        format!(
            "per_listener_settings true\nlistener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nlistener {sub_port} 127.0.0.1\nallow_anonymous true\n",
            pw.display()
        ),
    )
    .unwrap();
    let mut broker = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", sub_port)).is_err() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    let sub = Subscriber::start(sub_port);
    let secret = dir.path().join("edge.pw");
    std::fs::write(&secret, "s3cret\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg_path = support::edge_config(
        dir.path(),
        port,
        &format!("file://{}", support::vtest_mp4().display()),
        "",
    );
    let text = std::fs::read_to_string(&cfg_path).unwrap().replacen(
        "[mqtt]\n",
        &format!(
            "[mqtt]\nusername = \"edge-1\"\npassword_file = \"{}\"\n",
            secret.display()
        ),
        1,
    );
    std::fs::write(&cfg_path, &text).unwrap();
    let err = EdgeConfig::load(&cfg_path).unwrap_err().to_string();
    assert!(
        err.contains("mqtt.password_file") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "never print the secret: {err}");

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = EdgeConfig::load(&cfg_path).unwrap();
    assert!(
        !format!("{cfg:?}").contains("s3cret"),
        "Debug output redacts the password"
    );
    let summary = edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false))).unwrap();
    assert_eq!(
        summary.publish.pending, 0,
        "authenticated edge delivered everything: {summary:?}"
    );
    let want = summary.events as usize + 2;
    let deadline = Instant::now() + Duration::from_secs(30);
    while unique_ids(&sub).len() < want {
        assert!(
            Instant::now() < deadline,
            "{} of {want} arrived",
            unique_ids(&sub).len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Without credentials the broker refuses the edge: nothing is delivered, all of it waits.
    let anon_path = dir.path().join("anon.toml");
    std::fs::write(
        &anon_path,
        text.replace("username = \"edge-1\"\n", "")
            .replace(&format!("password_file = \"{}\"\n", secret.display()), "")
            .replace("edge_id = \"edge-test\"", "edge_id = \"edge-anon\""),
    )
    .unwrap();
    let anon = EdgeConfig::load(&anon_path).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let h = std::thread::spawn(move || edge_node::pipeline::run(&anon, s2));
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let refused = h.join().unwrap().unwrap();
    assert_eq!(refused.publish.acked, 0, "{refused:?}");
    assert!(
        refused.publish.pending > 0,
        "events wait in the outbox: {refused:?}"
    );
    let _ = broker.kill();
    let _ = broker.wait();
}

#[test]
fn mqtt_over_tls_with_a_client_certificate() {
    use std::os::unix::fs::PermissionsExt;
    support::ort();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    support::make_test_pki(d);
    let (mut broker, tls_port, sub_port) = support::tls_broker(d);
    let sub = Subscriber::start(sub_port);
    let cfg_path = support::edge_config(
        d,
        tls_port,
        &format!("file://{}", support::vtest_mp4().display()),
        "",
    );
    let tls = format!(
        "[mqtt]\ntls_ca = \"{d}/ca.crt\"\ntls_client_cert = \"{d}/client.crt\"\ntls_client_key = \"{d}/client.key\"\n",
        d = d.display()
    );
    let text = std::fs::read_to_string(&cfg_path)
        .unwrap()
        .replacen("[mqtt]\n", &tls, 1);
    std::fs::write(&cfg_path, &text).unwrap();
    std::fs::set_permissions(d.join("client.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = EdgeConfig::load(&cfg_path).unwrap_err().to_string();
    assert!(
        err.contains("mqtt.tls_client_key") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(d.join("client.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = EdgeConfig::load(&cfg_path).unwrap();
    let summary = edge_node::pipeline::run(&cfg, Arc::new(AtomicBool::new(false))).unwrap();
    assert_eq!(
        summary.publish.pending, 0,
        "delivered over TLS: {summary:?}"
    );
    assert!(summary.publish.acked > 10, "{summary:?}");
    let want = summary.events as usize + 2;
    let deadline = Instant::now() + Duration::from_secs(30);
    while unique_ids(&sub).len() < want {
        assert!(
            Instant::now() < deadline,
            "{} of {want} arrived",
            unique_ids(&sub).len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = broker.kill();
    let _ = broker.wait();
}
