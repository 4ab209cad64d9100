//! Checks a violation's signed evidence at the hub: the manifest blob must hash to what the
//! event names, its Ed25519 signature must verify under the key it names, every artefact the
//! event lists must appear in the manifest with the same sha256 (and be present here), and the
//! key must be one this hub trusts for it to count as verified. Anything less is reported as
//! such, never silently shown as signed.

use matthan_schema::{Body, Event};
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::Serialize;
use serde_json::Value;

use crate::evidence::EvidenceStore;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing on the event is signed (tracks, alerts, counts...).
    Unsigned,
    /// Signature and hashes check out and the key is one this hub trusts.
    Verified,
    /// Signature and hashes check out, but the signing key is not in `trusted_keys`.
    UntrustedKey,
    /// The manifest or an artefact has not reached the hub (yet).
    Incomplete,
    /// Tampered or inconsistent: the reason says what.
    Invalid,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    pub problems: Vec<String>,
}

impl Check {
    fn new(status: Status, key: Option<&str>, problems: Vec<String>) -> Self {
        Self {
            status,
            public_key: key.map(str::to_string),
            problems,
        }
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub fn check(e: &Event, evidence: &EvidenceStore, trusted: &[String]) -> Check {
    let Body::Violation(v) = &e.body else {
        return Check::new(Status::Unsigned, None, Vec::new());
    };
    let (Some(manifest_sha), Some(sig), Some(key)) = (&v.manifest, &v.signature, &v.public_key)
    else {
        return Check::new(
            Status::Unsigned,
            None,
            vec!["the edge sent this violation without a signed manifest".into()],
        );
    };
    let key_s = Some(key.as_str());
    let Some(manifest) = evidence.get(manifest_sha) else {
        return Check::new(
            Status::Incomplete,
            key_s,
            vec![format!("manifest {manifest_sha} has not reached the hub")],
        );
    };
    let (Some(sig_b), Some(key_b)) = (unhex(sig), unhex(key)) else {
        return Check::new(
            Status::Invalid,
            key_s,
            vec!["signature or key is not hex".into()],
        );
    };
    if UnparsedPublicKey::new(&ED25519, &key_b)
        .verify(&manifest, &sig_b)
        .is_err()
    {
        return Check::new(
            Status::Invalid,
            key_s,
            vec!["the signature does not match the manifest under the named key".into()],
        );
    }
    let mut problems = Vec::new();
    let m: Value = match serde_json::from_slice(&manifest) {
        Ok(m) => m,
        Err(err) => {
            return Check::new(
                Status::Invalid,
                key_s,
                vec![format!("manifest is not JSON: {err}")],
            );
        }
    };
    if m["public_key"].as_str() != Some(key.as_str()) {
        problems.push("the manifest names a different key than the event".into());
    }
    let files = m["files"].as_array().cloned().unwrap_or_default();
    let mut missing = false;
    for a in &v.evidence {
        let listed = files.iter().any(|f| {
            f["name"].as_str() == Some(a.name.as_str())
                && f["sha256"].as_str() == Some(a.sha256.as_str())
        });
        if !listed {
            problems.push(format!(
                "{} ({}) is not in the signed manifest with that sha256",
                a.name, a.sha256
            ));
        } else if evidence.get(&a.sha256).is_none() {
            missing = true;
        }
    }
    if !problems.is_empty() {
        return Check::new(Status::Invalid, key_s, problems);
    }
    if missing {
        return Check::new(
            Status::Incomplete,
            key_s,
            vec!["some evidence files have not reached the hub yet".into()],
        );
    }
    if trusted.iter().any(|t| t.eq_ignore_ascii_case(key)) {
        Check::new(Status::Verified, key_s, Vec::new())
    } else {
        Check::new(
            Status::UntrustedKey,
            key_s,
            vec!["signed correctly, but by a key not listed in the hub's trusted_keys".into()],
        )
    }
}
