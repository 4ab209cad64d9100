//! The API over HTTPS (rustls): curl trusting only the test CA gets answers; a plain-HTTP
//! request to the TLS port gets none; a hub listening beyond loopback without a certificate
//! refuses to start.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Broker, OPERATOR, free_port, make_test_pki, repo};

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl (package curl)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_api_is_served_over_https_and_plain_http_only_on_loopback() {
    support::ort();
    let dir = tempfile::tempdir().unwrap();
    make_test_pki(dir.path());
    let key = dir.path().join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let broker = Broker::start();
    let port = free_port();
    let config = |listen: &str, tls: bool| {
        let tls = if tls {
            "[http]\ntls_cert = \"server.crt\"\ntls_key = \"server.key\"\n"
        } else {
            ""
        };
        let text = format!(
            "db = \"hub.db\"\nlisten = \"{listen}\"\nevidence_dir = \"ev\"\n[mqtt]\nport = {}\n[embedding]\nmodel = \"{}\"\ntokenizer = \"{}\"\n{tls}[[tokens]]\nname = \"op\"\nrole = \"operator\"\nsha256 = \"{}\"\n",
            broker.port,
            repo().join("models/minilm-l6-v2-int8.onnx").display(),
            repo().join("models/minilm-l6-v2-tokenizer.json").display(),
            central_hub::config::sha256_hex(OPERATOR.as_bytes()),
        );
        let file = dir.path().join("hub.toml");
        std::fs::write(&file, text).unwrap();
        central_hub::config::HubConfig::load(&file)
    };
    let e = config("0.0.0.0:18443", false).unwrap_err().to_string();
    assert!(
        e.contains("http.tls_cert") && e.contains("not a loopback"),
        "{e}"
    );
    let cfg = config(&format!("127.0.0.1:{port}"), true).unwrap();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let hub = std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(central_hub::server::serve(cfg, s))
            .unwrap();
    });
    let ca = dir.path().join("ca.crt");
    let url = format!("https://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        &format!("{url}/api/health"),
    ])
    .0
    {
        assert!(
            Instant::now() < deadline,
            "the hub did not answer over HTTPS"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let auth = format!("Authorization: Bearer {OPERATOR}");
    let (ok, body) = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "-H",
        &auth,
        &format!("{url}/api/whoami"),
    ]);
    assert!(ok && body.contains("\"name\":\"op\""), "{body}");
    // Without the CA the certificate is not trusted; plain HTTP gets no answer.
    assert!(!curl(&[&format!("{url}/api/health")]).0);
    let (ok, body) = curl(&[&format!("http://127.0.0.1:{port}/api/health")]);
    assert!(!ok || !body.contains("\"status\""), "{body}");

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    hub.join().unwrap();
}
