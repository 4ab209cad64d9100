//! Live signal control over MQTT (`signal::live`): a recorded SUMO run (the messages
//! `benches/sumo/evaluate.py --record` sent to `edge-node signal-sim`: the detectors' crossings
//! and queues and each green's start) is replayed twice: through `signal-sim` on stdin, and to a
//! running `edge-node run` over a real mosquitto, as a junction controller would send it (each
//! green a request with an id and a deadline, answered on the decision topic). The greens must be
//! identical. The edge's camera runs beside it on its own clock and sees nothing on the
//! junction's lines, so the controller's detectors are all it measures.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

const RECORDING: &str = "benches/sumo/recorded/unbalanced-seed1-1200s.jsonl";

fn recording() -> Vec<Value> {
    let text = std::fs::read_to_string(support::repo().join(RECORDING)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The greens `edge-node signal-sim` answers for the whole recording (ticks included).
fn greens_from_signal_sim(lines: &[Value]) -> Vec<f64> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args(["signal-sim", "--junction"])
        .arg(support::repo().join("benches/sumo/junction.toml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "signal-sim failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).unwrap()["green_s"].as_f64())
        .collect()
}

/// The edge config: one camera on a looped clip, and the SUMO junction under live control with
/// its approaches on a line in the frame's corner that nothing crosses.
fn edge_config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let url = format!("file://{}", support::vtest().display());
    let cfg = support::edge_config(
        dir,
        port,
        &url,
        "loop_file = true\nrealtime = true\n[[cameras.lines]]\nid = \"corner\"\n\
         points = [[0.0, 0.01], [0.02, 0.01]]",
    );
    let text = std::fs::read_to_string(support::repo().join("benches/sumo/junction.toml")).unwrap();
    let mut j: toml::Table = toml::from_str(&text).unwrap();
    j.insert("camera".into(), "cam-a".into());
    j.insert("answer_requests".into(), true.into());
    for a in j["approaches"].as_array_mut().unwrap() {
        let a = a.as_table_mut().unwrap();
        a.insert("line".into(), "corner".into());
        a.remove("queue_zone");
    }
    let mut doc = toml::Table::new();
    doc.insert("junctions".into(), vec![toml::Value::Table(j)].into());
    let mut all = std::fs::read_to_string(&cfg).unwrap();
    all.push_str(&toml::to_string(&doc).unwrap());
    std::fs::write(&cfg, all).unwrap();
    cfg
}

/// A junction controller's MQTT client: publishes requests, reads decisions.
fn controller(port: u16) -> (Client, Receiver<Value>) {
    let mut opts = MqttOptions::new("ctrl-sumo", "127.0.0.1", port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut conn) = Client::new(opts, 256);
    client
        .subscribe(
            "matthan/test-site/sumo-4arm/signal/decision",
            QoS::AtLeastOnce,
        )
        .unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for n in conn.iter() {
            match n {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(serde_json::from_slice(&p.payload).unwrap());
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    });
    (client, rx)
}

const REQUESTS: &str = "matthan/test-site/sumo-4arm/signal/request";

fn ask(
    c: &Client,
    rx: &Receiver<Value>,
    id: &str,
    mut msg: Value,
    wait: Duration,
) -> Option<Value> {
    let o = msg.as_object_mut().unwrap();
    o.insert("id".into(), id.into());
    let deadline = chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap();
    o.insert("deadline_ms".into(), deadline.timestamp_millis().into());
    c.publish(REQUESTS, QoS::AtLeastOnce, false, msg.to_string())
        .unwrap();
    let until = Instant::now() + wait;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(v) if v["id"] == id => return Some(v),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    None
}

#[test]
fn a_recorded_sumo_run_gets_the_same_greens_over_mqtt_as_from_signal_sim() {
    support::ort();
    let lines = recording();
    let expected = greens_from_signal_sim(&lines);
    assert!(
        expected.len() >= 15,
        "the recording holds {} greens",
        expected.len()
    );

    let broker = support::Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = edge_config(dir.path(), broker.port);
    let mut edge = Command::new(env!("CARGO_BIN_EXE_edge-node"))
        .args(["run", "--config", cfg.to_str().unwrap()])
        .spawn()
        .unwrap();
    let (ctrl, rx) = controller(broker.port);
    // The edge subscribes once connected: ask until something answers. An unknown phase is
    // refused, naming it, and changes nothing.
    let started = Instant::now();
    let refusal = loop {
        let probe = json!({"green": {"phase": "north-south", "t": 0.0}});
        if let Some(v) = ask(&ctrl, &rx, "probe", probe, Duration::from_secs(2)) {
            break v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the edge never answered"
        );
    };
    assert!(
        refusal["error"].as_str().unwrap().contains("north-south"),
        "{refusal}"
    );

    let mut got = Vec::new();
    for (k, l) in lines.iter().enumerate() {
        if l.get("tick").is_some() {
            continue; // the edge measures its own intervals
        }
        if l.get("green").is_some() {
            let id = format!("g{k}");
            let d = ask(&ctrl, &rx, &id, l.clone(), Duration::from_secs(10))
                .unwrap_or_else(|| panic!("no answer to green {} ({l})", got.len()));
            assert!(d.get("error").is_none(), "{d}");
            assert_eq!(d["phase"], l["green"]["phase"], "{d}");
            assert_eq!(d["inputs"].as_array().unwrap().len(), 4, "{d}");
            got.push(d["green_s"].as_f64().unwrap());
        } else {
            ctrl.publish(REQUESTS, QoS::AtLeastOnce, false, l.to_string())
                .unwrap();
        }
    }
    let _ = edge.kill();
    let _ = edge.wait();
    println!("{} greens, identical over MQTT and signal-sim", got.len());
    assert_eq!(got, expected, "greens over MQTT vs signal-sim");
}
