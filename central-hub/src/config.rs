//! The hub's config file (TOML), validated at start with file and key in every error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: PathBuf, message: String },
    #[error("{file}: {key}: {reason}")]
    Invalid {
        file: PathBuf,
        key: String,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Search, event detail, evidence, export.
    Operator,
    /// Junction pages: counts and signal recommendations.
    Traffic,
    /// Index workers: lease case videos, fetch them, report progress (`edge-node index-worker`).
    Worker,
    /// Everything, plus the audit log and metrics.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Traffic => "traffic",
            Role::Worker => "worker",
            Role::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    pub role: Role,
    /// sha256 of the token, hex: the file never holds a usable secret.
    pub sha256: String,
    /// After this the token is refused ("expired"); revoke one by deleting its entry and
    /// restarting the hub.
    #[serde(default)]
    pub expires: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// How the hub reads events: the broker account is `[mqtt]` (shared with edges); this is the
/// hub's own part.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Shared-subscription group: hubs in one group split the events between them.
    #[serde(default = "d_group")]
    pub group: String,
    /// Events dated more than this many days ago are quarantined, not stored: an edge whose
    /// clock was reset would otherwise fill search with 1970. Above the longest retention.
    #[serde(default = "d_max_age_days")]
    pub max_age_days: u32,
    /// Per site, the most MiB of evidence blobs no stored event names yet (blobs travel just
    /// before their events): beyond it a site's blobs wait on its edge, so no site, or stolen
    /// account, can fill the disk with blobs nothing refers to.
    #[serde(default = "d_quota")]
    pub evidence_quota_mib: u64,
    /// Disk budget of the evidence folder (MiB). Past 90 % health says `warning`; at the
    /// budget new blobs wait at their edges (not confirmed) until retention frees space.
    #[serde(default)]
    pub evidence_budget_mib: Option<u64>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            group: d_group(),
            max_age_days: d_max_age_days(),
            evidence_quota_mib: d_quota(),
            evidence_budget_mib: None,
        }
    }
}

fn d_group() -> String {
    "hubs".into()
}

fn d_max_age_days() -> u32 {
    400
}

fn d_quota() -> u64 {
    2048
}

/// The HTTP listener's limits (see `http.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "d_max_connections")]
    pub max_connections: usize,
    /// Seconds a connection may move no bytes before it is closed.
    #[serde(default = "d_idle")]
    pub idle_timeout_s: u64,
    /// HTTPS: certificate chain and private key (PEM, the key readable by the owner only).
    /// Required unless `listen` is a loopback address: tokens must not cross a network in clear.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_connections: d_max_connections(),
            idle_timeout_s: d_idle(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

fn d_max_connections() -> usize {
    512
}

fn d_idle() -> u64 {
    60
}

/// The hub's MQTT client id unless `mqtt.client_id` sets one.
pub const DEFAULT_CLIENT_ID: &str = "central-hub";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    pub model: PathBuf,
    pub tokenizer: PathBuf,
    #[serde(default)]
    pub ort_library: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    db: String,
    #[serde(default = "d_listen")]
    listen: String,
    evidence_dir: PathBuf,
    mqtt: matthan_mqtt::BrokerConfig,
    #[serde(default)]
    ingest: IngestConfig,
    #[serde(default)]
    http: HttpConfig,
    embedding: EmbeddingConfig,
    #[serde(default)]
    retention_days: BTreeMap<String, u32>,
    #[serde(default)]
    tokens: Vec<TokenConfig>,
    /// The edge signing keys whose signatures count as verified, each for its site, box and
    /// period (see `keys.rs`).
    #[serde(default)]
    keys: Vec<crate::keys::KeyConfig>,
    /// Replaced by `[[keys]]` (a key not tied to a site let any box vouch for any site): kept
    /// only to say so instead of a bare "unknown field".
    #[serde(default)]
    trusted_keys: Option<toml::Value>,
    #[serde(default)]
    trusted_key_files: Option<toml::Value>,
    #[serde(default)]
    cameras: Vec<CameraPosition>,
    #[serde(default)]
    cases: crate::cases::CasesConfig,
    #[serde(default)]
    nats: Option<crate::ingest::nats::NatsConfig>,
}

/// HTTPS files resolved against the config's folder; plain HTTP only on loopback.
fn check_http(
    http: &mut HttpConfig,
    listen: &std::net::SocketAddr,
    rel: &dyn Fn(&Path) -> PathBuf,
    bad: &dyn Fn(&str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    http.tls_cert = http.tls_cert.as_deref().map(rel);
    http.tls_key = http.tls_key.as_deref().map(rel);
    match (&http.tls_cert, &http.tls_key) {
        (Some(c), Some(k)) => {
            if !c.is_file() {
                return Err(bad(
                    "http.tls_cert",
                    format!("{} does not exist", c.display()),
                ));
            }
            matthan_mqtt::check_private(k).map_err(|r| bad("http.tls_key", r))
        }
        (None, None) if !listen.ip().is_loopback() => Err(bad(
            "http.tls_cert",
            format!(
                "the hub listens on {listen}, not a loopback address: set http.tls_cert and \
                 http.tls_key (plain HTTP would carry operators' tokens in clear)"
            ),
        )),
        (None, None) => Ok(()),
        _ => Err(bad(
            "http.tls_cert",
            "set both http.tls_cert and http.tls_key, or neither".into(),
        )),
    }
}

/// Where a camera stands (`[[cameras]]`), so a traced vehicle's hop between two cameras can be
/// judged against the time it took.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CameraPosition {
    pub site: String,
    pub id: String,
    pub lat: f64,
    pub lon: f64,
}

fn d_listen() -> String {
    "127.0.0.1:8080".into()
}

#[derive(Debug, Clone)]
pub struct HubConfig {
    pub db: String,
    pub listen: std::net::SocketAddr,
    pub evidence_dir: PathBuf,
    pub mqtt: matthan_mqtt::Broker,
    pub ingest: IngestConfig,
    pub http: HttpConfig,
    pub embedding: EmbeddingConfig,
    /// Days to keep each event kind; kinds not listed are kept.
    pub retention_days: BTreeMap<matthan_schema::Kind, u32>,
    pub tokens: Vec<TokenConfig>,
    pub keys: crate::keys::KeyRegister,
    pub cameras: Vec<CameraPosition>,
    /// Forensic cases: uploads, import folders, job leases (`cases.rs`).
    pub cases: crate::cases::CasesConfig,
    /// Ingest from a NATS JetStream cluster instead of MQTT (`ingest/nats.rs`).
    pub nats: Option<crate::ingest::nats::NatsConfig>,
}

impl HubConfig {
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.into(),
            source,
        })?;
        Self::parse(&text, file)
    }

    pub fn parse(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            file: file.into(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let base = file.parent().unwrap_or(Path::new("."));
        let rel = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let bad = |key: &str, reason: String| ConfigError::Invalid {
            file: file.into(),
            key: key.into(),
            reason,
        };
        let mqtt = raw.mqtt.validate(rel).map_err(|e| bad(e.key, e.reason))?;
        let listen = raw
            .listen
            .parse()
            .map_err(|e| bad("listen", format!("{:?} is not host:port: {e}", raw.listen)))?;
        let mut http = raw.http;
        check_http(&mut http, &listen, &rel, &bad)?;
        matthan_schema::validate_segment(&raw.ingest.group).map_err(|r| bad("ingest.group", r))?;
        for (key, v) in [
            ("ingest.max_age_days", raw.ingest.max_age_days as u64),
            ("ingest.evidence_quota_mib", raw.ingest.evidence_quota_mib),
            (
                "ingest.evidence_budget_mib",
                raw.ingest.evidence_budget_mib.unwrap_or(1),
            ),
            ("http.max_connections", http.max_connections as u64),
            ("http.idle_timeout_s", http.idle_timeout_s),
        ] {
            if v == 0 {
                return Err(bad(key, "must be at least 1".into()));
            }
        }
        let mut retention = BTreeMap::new();
        for (k, days) in raw.retention_days {
            let kind = matthan_schema::Kind::parse(&k)
                .ok_or_else(|| bad(&format!("retention_days.{k}"), "unknown event kind".into()))?;
            if days == 0 {
                return Err(bad(
                    &format!("retention_days.{k}"),
                    "must be at least 1 day".into(),
                ));
            }
            retention.insert(kind, days);
        }
        check_tokens(&raw.tokens, &bad)?;
        check_cameras(&raw.cameras, &bad)?;
        if raw.trusted_keys.is_some() || raw.trusted_key_files.is_some() {
            return Err(bad(
                "trusted_keys",
                "replaced by [[keys]] entries: site, edge, public_key or public_key_file, and \
                 optionally cameras, valid_from, valid_until, revoked_at + revoked_reason"
                    .into(),
            ));
        }
        let keys = crate::keys::KeyRegister::from_config(&raw.keys, &rel)
            .map_err(|(key, reason)| bad(&key, reason))?;
        let db = if raw.db.starts_with("postgres://") || raw.db.starts_with("postgresql://") {
            raw.db
        } else {
            rel(Path::new(
                raw.db.strip_prefix("sqlite://").unwrap_or(&raw.db),
            ))
            .display()
            .to_string()
        };
        let embedding = EmbeddingConfig {
            model: rel(&raw.embedding.model),
            tokenizer: rel(&raw.embedding.tokenizer),
            ort_library: raw.embedding.ort_library.as_deref().map(rel),
        };
        for (key, p) in [
            ("embedding.model", &embedding.model),
            ("embedding.tokenizer", &embedding.tokenizer),
        ] {
            if !p.is_file() {
                return Err(bad(key, format!("{} does not exist", p.display())));
            }
        }
        let cases = raw.cases.validate(&rel).map_err(|(k, r)| bad(k, r))?;
        if let Some(n) = &raw.nats {
            n.check().map_err(|(k, r)| bad(k, r))?;
        }
        Ok(Self {
            db,
            listen,
            evidence_dir: rel(&raw.evidence_dir),
            mqtt,
            ingest: raw.ingest,
            http,
            embedding,
            retention_days: retention,
            tokens: raw.tokens,
            keys,
            cameras: raw.cameras,
            cases,
            nats: raw.nats,
        })
    }
}

/// Camera positions must be places on Earth.
fn check_cameras(
    cameras: &[CameraPosition],
    bad: &impl Fn(&str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    for (i, c) in cameras.iter().enumerate() {
        if !(-90.0..=90.0).contains(&c.lat) || !(-180.0..=180.0).contains(&c.lon) {
            return Err(bad(
                &format!("cameras[{i}]"),
                format!(
                    "{}/{}: lat {} lon {} is not a place on Earth",
                    c.site, c.id, c.lat, c.lon
                ),
            ));
        }
    }
    Ok(())
}

/// Each token once, as a 64-hex-digit hash, with a name.
fn check_tokens(
    tokens: &[TokenConfig],
    bad: &dyn Fn(&str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    for (i, t) in tokens.iter().enumerate() {
        // The same token listed twice would log in as whichever role comes first.
        if let Some(j) = tokens[..i]
            .iter()
            .position(|o| o.sha256.eq_ignore_ascii_case(&t.sha256))
        {
            return Err(bad(
                &format!("tokens[{i}].sha256"),
                format!("the same token as tokens[{j}]; each token must be listed once"),
            ));
        }
        if t.sha256.len() != 64 || !t.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad(
                &format!("tokens[{i}].sha256"),
                "must be 64 hex digits (sha256 of the token)".into(),
            ));
        }
        if t.name.trim().is_empty() {
            return Err(bad(
                &format!("tokens[{i}].name"),
                "must not be empty".into(),
            ));
        }
    }
    Ok(())
}

/// Hex sha256, as stored for tokens and used to name evidence.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Result<HubConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        for f in ["m.onnx", "t.json"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let text = format!(
            "db = \"hub.db\"\nevidence_dir = \"ev\"\n[mqtt]\n[ingest]\ngroup = \"hubs\"\n[embedding]\nmodel = \"m.onnx\"\ntokenizer = \"t.json\"\n{extra}"
        );
        HubConfig::parse(&text, &dir.path().join("hub.toml"))
    }

    #[test]
    fn a_token_listed_twice_is_refused() {
        let h = "ab".repeat(32);
        let one = format!("[[tokens]]\nname = \"a\"\nrole = \"operator\"\nsha256 = \"{h}\"\n");
        config(&one).unwrap();
        let two = format!(
            "{one}[[tokens]]\nname = \"b\"\nrole = \"admin\"\nsha256 = \"{}\"\n",
            h.to_uppercase()
        );
        let e = config(&two).unwrap_err().to_string();
        assert!(
            e.contains("tokens[1].sha256") && e.contains("tokens[0]"),
            "{e}"
        );
    }

    #[test]
    fn keys_are_registered_per_site_and_period_and_bad_entries_named() {
        let k = "ab".repeat(32);
        let ok = format!(
            "[[keys]]\nsite = \"hcmc\"\nedge = \"e1\"\npublic_key = \"{k}\"\nvalid_until = \"2027-01-01T00:00:00+07:00\"\n"
        );
        assert!(!config(&ok).unwrap().keys.is_empty());
        for (entry, says) in [
            (
                "site = \"s\"\nedge = \"e\"\npublic_key = \"abc\"",
                "keys[0].public_key",
            ),
            ("site = \"s\"\nedge = \"e\"", "keys[0].public_key"),
            (
                "site = \"\"\nedge = \"e\"\npublic_key = \"KEY\"",
                "keys[0].site",
            ),
            (
                "site = \"s\"\nedge = \"e\"\npublic_key = \"KEY\"\nrevoked_at = \"2026-01-01T00:00:00Z\"",
                "keys[0].revoked_reason",
            ),
            (
                "site = \"s\"\nedge = \"e\"\npublic_key = \"KEY\"\nvalid_from = \"2026-02-01T00:00:00Z\"\nvalid_until = \"2026-01-01T00:00:00Z\"",
                "keys[0].valid_until",
            ),
            (
                "site = \"s\"\nedge = \"e\"\npublic_key_file = \"nope.pub\"",
                "keys[0].public_key_file",
            ),
        ] {
            let text = format!("[[keys]]\n{}\n", entry.replace("KEY", &k));
            let e = config(&text).unwrap_err().to_string();
            assert!(e.contains(says), "{entry}: {e}");
        }
        // The old site-less list says what replaced it.
        let text = format!(
            "trusted_keys = [\"{k}\"]\ndb = \"h.db\"\nevidence_dir = \"ev\"\n[mqtt]\n[embedding]\nmodel = \"m\"\ntokenizer = \"t\"\n"
        );
        let e = HubConfig::parse(&text, Path::new("hub.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("trusted_keys") && e.contains("[[keys]]"), "{e}");
    }
}
