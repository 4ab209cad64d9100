//! The index worker's side of the hub's work queue (`/api/work/...`): lease, download, report,
//! finish. Errors say which request failed and the hub's own reason.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{what}: the hub answered {status}: {reason}")]
    Refused {
        what: String,
        status: u16,
        reason: String,
    },
    #[error("{what}: {reason}")]
    Transport { what: String, reason: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("hub CA {path}: {reason}")]
    Ca { path: String, reason: String },
}

impl HubError {
    /// The video itself cannot be had (gone, refused): the job fails rather than retrying.
    pub fn is_permanent(&self) -> bool {
        matches!(self, HubError::Refused { status, .. } if matches!(status, 400 | 403 | 404 | 410))
    }
}

/// A job as the hub leases it.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub id: u64,
    pub case_id: u64,
    pub name: String,
    pub attempt: u32,
    #[serde(with = "matthan_schema::rfc3339_ms")]
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Lease {
    pub job: Job,
    /// On the hub (a path) or elsewhere (a URL the worker fetches without the hub's token).
    pub video_url: String,
    pub lease_s: u64,
}

pub struct HubClient {
    agent: ureq::Agent,
    base: String,
    token: String,
    worker: String,
}

impl HubClient {
    pub fn new(base: &str, token: &str, ca: Option<&Path>, worker: &str) -> Result<Self, HubError> {
        let mut b = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(60));
        if let Some(ca) = ca {
            b = b.tls_config(Arc::new(tls(ca)?));
        }
        Ok(Self {
            agent: b.build(),
            base: base.trim_end_matches('/').to_string(),
            token: token.trim().to_string(),
            worker: worker.to_string(),
        })
    }

    fn post(
        &self,
        what: &str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<ureq::Response, HubError> {
        self.agent
            .post(&format!("{}{path}", self.base))
            .set("authorization", &format!("Bearer {}", self.token))
            .set("content-type", "application/json")
            .send_string(&body.to_string())
            .map_err(|e| failed(what, e))
    }

    /// The next job; else how many jobs other workers still hold (0: all work is done).
    pub fn lease(&self) -> Result<Result<Lease, u64>, HubError> {
        let r = self.post(
            "lease",
            "/api/work/lease",
            serde_json::json!({ "worker": self.worker }),
        )?;
        if r.status() == 204 {
            let open = r
                .header("x-matthan-open-jobs")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            return Ok(Err(open));
        }
        let text = r.into_string().map_err(|e| io("lease", e))?;
        serde_json::from_str(&text)
            .map(Ok)
            .map_err(|e| transport("lease", format!("unexpected answer {text:?}: {e}")))
    }

    /// Downloads the job's video to `dest` (through `dest.part`), returning its sha256.
    pub fn download(&self, lease: &Lease, dest: &Path) -> Result<String, HubError> {
        let what = format!("downloading {}", lease.job.name);
        let req = if lease.video_url.starts_with('/') {
            self.agent
                .get(&format!("{}{}", self.base, lease.video_url))
                .set("authorization", &format!("Bearer {}", self.token))
        } else {
            // Someone else's server: it never sees the hub's token.
            self.agent.get(&lease.video_url)
        };
        let r = req.call().map_err(|e| failed(&what, e))?;
        let part = dest.with_extension("part");
        let mut out = std::fs::File::create(&part).map_err(|e| io(&what, e))?;
        let mut hash = Sha256::new();
        let mut reader = r.into_reader();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf).map_err(|e| io(&what, e))?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| io(&what, e))?;
        }
        out.sync_all().map_err(|e| io(&what, e))?;
        std::fs::rename(&part, dest).map_err(|e| io(&what, e))?;
        Ok(hex(&hash.finalize()))
    }

    /// Reports progress and renews the lease; false when the job is no longer ours.
    pub fn progress(
        &self,
        job: u64,
        processed_s: f64,
        duration_s: Option<f64>,
        sha256: &str,
    ) -> Result<bool, HubError> {
        let body = serde_json::json!({
            "worker": self.worker, "processed_s": processed_s, "duration_s": duration_s, "sha256": sha256,
        });
        match self.post("progress", &format!("/api/work/{job}/progress"), body) {
            Ok(_) => Ok(true),
            Err(HubError::Refused { status: 409, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Ends the job: done with its event count, or failed with the reason; false when the job
    /// was no longer ours.
    pub fn finish(&self, job: u64, outcome: Result<u64, &str>) -> Result<bool, HubError> {
        let body = match outcome {
            Ok(events) => serde_json::json!({ "worker": self.worker, "events": events }),
            Err(reason) => serde_json::json!({ "worker": self.worker, "error": reason }),
        };
        match self.post("finish", &format!("/api/work/{job}/finish"), body) {
            Ok(_) => Ok(true),
            Err(HubError::Refused { status: 409, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn failed(what: &str, e: ureq::Error) -> HubError {
    match e {
        ureq::Error::Status(status, r) => {
            let text = r.into_string().unwrap_or_default();
            let reason = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(String::from))
                .unwrap_or(text);
            HubError::Refused {
                what: what.to_string(),
                status,
                reason,
            }
        }
        ureq::Error::Transport(t) => transport(what, t.to_string()),
    }
}

fn transport(what: &str, reason: String) -> HubError {
    HubError::Transport {
        what: what.to_string(),
        reason,
    }
}

fn io(what: &str, source: std::io::Error) -> HubError {
    HubError::Io {
        what: what.to_string(),
        source,
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// TLS trusting only the given CA (a hub's own certificate authority).
fn tls(ca: &Path) -> Result<rustls::ClientConfig, HubError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let bad = |reason: String| HubError::Ca {
        path: ca.display().to_string(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| bad(e.to_string()))? {
        roots
            .add(cert.map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}
