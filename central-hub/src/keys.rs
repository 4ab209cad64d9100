//! The register of edge signing keys (`[[keys]]` in the hub config): each key belongs to one
//! site and one named edge box, optionally to some of its cameras, for a period; a key can be
//! retired (`valid_until`, rotation) or revoked (`revoked_at`, a stolen box). A signature counts
//! as verified only from a key registered for the site and camera it signed for, at the time
//! it signed, so one trusted box cannot vouch for another site's violations.
//!
//! Times judged: the manifest's signing time and the violation's time, both as the box
//! recorded them. A stolen key can back-date both; revocation therefore also names the reason,
//! and the hub's audit log records when each event arrived.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub site: String,
    /// The box's name in the register (its `edge_id`), shown with every verdict.
    pub edge: String,
    /// Hex Ed25519 public key, or `public_key_file`: the `.pub` of `edge-node keygen`.
    #[serde(default)]
    pub public_key: Option<String>,
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// Cameras the box may sign for; empty = any camera of its site.
    #[serde(default)]
    pub cameras: Vec<String>,
    #[serde(default)]
    pub valid_from: Option<DateTime<chrono::FixedOffset>>,
    #[serde(default)]
    pub valid_until: Option<DateTime<chrono::FixedOffset>>,
    #[serde(default)]
    pub revoked_at: Option<DateTime<chrono::FixedOffset>>,
    #[serde(default)]
    pub revoked_reason: Option<String>,
}

impl KeyConfig {
    /// A key for any camera of `site`, with no period.
    pub fn new(site: &str, edge: &str, public_key: &str) -> Self {
        Self {
            site: site.into(),
            edge: edge.into(),
            public_key: Some(public_key.into()),
            public_key_file: None,
            cameras: Vec::new(),
            valid_from: None,
            valid_until: None,
            revoked_at: None,
            revoked_reason: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredKey {
    pub site: String,
    pub edge: String,
    /// Lower-case hex.
    pub public_key: String,
    pub cameras: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    /// The end of its validity: retirement or revocation, whichever is earlier.
    pub until: Option<(DateTime<Utc>, String)>,
}

/// What the register says about one signature.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Trusted {
        edge: String,
    },
    /// No entry for this key at all.
    Unknown,
    /// Registered, but not for this site, camera or time: why.
    Refused(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyRegister(Vec<RegisteredKey>);

fn hex_key(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

impl KeyRegister {
    /// Validates `[[keys]]`; errors name the entry (`keys[2].public_key_file`) and the reason.
    pub fn from_config(
        raw: &[KeyConfig],
        rel: &dyn Fn(&Path) -> PathBuf,
    ) -> Result<Self, (String, String)> {
        let mut out = Vec::new();
        for (i, k) in raw.iter().enumerate() {
            let at = |f: &str| format!("keys[{i}].{f}");
            let public_key = match (&k.public_key, &k.public_key_file) {
                (Some(h), None) => hex_key(h).ok_or_else(|| {
                    (
                        at("public_key"),
                        "must be 64 hex digits (an Ed25519 public key)".into(),
                    )
                })?,
                (None, Some(f)) => {
                    let p = rel(f);
                    let text = std::fs::read_to_string(&p)
                        .map_err(|e| (at("public_key_file"), format!("{}: {e}", p.display())))?;
                    hex_key(&text).ok_or_else(|| {
                        (
                            at("public_key_file"),
                            format!("{} does not hold a 64-hex-digit public key", p.display()),
                        )
                    })?
                }
                _ => {
                    return Err((
                        at("public_key"),
                        "set public_key or public_key_file, not both".into(),
                    ));
                }
            };
            for (name, v) in [("site", &k.site), ("edge", &k.edge)] {
                if v.trim().is_empty() {
                    return Err((at(name), "must not be empty".into()));
                }
            }
            let from = k.valid_from.map(|t| t.to_utc());
            let retired = k
                .valid_until
                .map(|t| (t.to_utc(), "retired (valid_until)".to_string()));
            let revoked = match (k.revoked_at, &k.revoked_reason) {
                (Some(t), Some(r)) if !r.trim().is_empty() => {
                    Some((t.to_utc(), format!("revoked: {r}")))
                }
                (None, None) => None,
                _ => {
                    return Err((
                        at("revoked_reason"),
                        "a revocation needs both revoked_at and revoked_reason".into(),
                    ));
                }
            };
            let until = match (retired, revoked) {
                (Some(a), Some(b)) => Some(if b.0 <= a.0 { b } else { a }),
                (a, b) => a.or(b),
            };
            if let (Some(f), Some((u, _))) = (from, &until)
                && f >= *u
            {
                return Err((at("valid_until"), "ends before valid_from".into()));
            }
            out.push(RegisteredKey {
                site: k.site.clone(),
                edge: k.edge.clone(),
                public_key,
                cameras: k.cameras.clone(),
                from,
                until,
            });
        }
        Ok(Self(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Judges `key` signing for `site`/`camera` at each of `times`. Any registration of the key
    /// that accepts wins (a key re-registered after a move keeps its old period valid).
    pub fn judge(&self, key: &str, site: &str, camera: &str, times: &[DateTime<Utc>]) -> Verdict {
        let key = key.to_ascii_lowercase();
        let mut refusal = None;
        for k in self.0.iter().filter(|k| k.public_key == key) {
            match k.refuses(site, camera, times) {
                None => {
                    return Verdict::Trusted {
                        edge: k.edge.clone(),
                    };
                }
                Some(why) => refusal = refusal.or(Some(why)),
            }
        }
        refusal.map_or(Verdict::Unknown, Verdict::Refused)
    }
}

impl RegisteredKey {
    fn refuses(&self, site: &str, camera: &str, times: &[DateTime<Utc>]) -> Option<String> {
        let who = format!("key of {} (site {})", self.edge, self.site);
        if site != self.site {
            return Some(format!("{who} signed for site {site}"));
        }
        if !self.cameras.is_empty() && !self.cameras.iter().any(|c| c == camera) {
            return Some(format!(
                "{who} signed for camera {camera}, not one of its cameras"
            ));
        }
        for t in times {
            if self.from.is_some_and(|f| *t < f) {
                return Some(format!("{who} signed at {t}, before it was valid"));
            }
            if let Some((u, why)) = &self.until
                && *t >= *u
            {
                return Some(format!("{who} signed at {t}, after it was {why} at {u}"));
            }
        }
        None
    }
}
