//! Checks a violation's signed evidence at the hub: the manifest blob must hash to what the
//! event names, its Ed25519 signature must verify under the key it names, every artefact the
//! event lists must appear in the manifest with the same sha256 (and be present here), every
//! fact shown must equal the signed one, and the key must be registered for the site and camera
//! it signed for at the time it signed (`keys.rs`) for it to count as verified. Anything less
//! is reported as such, never silently shown as signed.

use matthan_schema::{Body, Event};
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::Serialize;
use serde_json::Value;

use crate::evidence::EvidenceStore;
use crate::keys::{KeyRegister, Verdict};
use matthan_evidence::unhex;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing on the event is signed (tracks, alerts, counts...).
    Unsigned,
    /// Signature and hashes check out and the key is one this hub trusts.
    Verified,
    /// Signature and hashes check out, but the signing key is not in the register (`[[keys]]`).
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
    /// The registered box the key belongs to, when it is trusted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<String>,
    pub problems: Vec<String>,
    /// The facts shown beside the evidence that a valid signature vouches for (checked against
    /// the signed manifest); empty when nothing was verified.
    pub covers: Vec<&'static str>,
}

/// What `facts_differ` and the file list compare with the signed manifest, as an operator
/// reads them.
const COVERED: [&str; 12] = [
    "site",
    "camera",
    "rule",
    "rule_id",
    "violation_id",
    "track_id",
    "class",
    "time",
    "zone/line",
    "measured context",
    "plate and its score",
    "evidence files (sha256)",
];

impl Check {
    fn new(status: Status, key: Option<&str>, problems: Vec<String>) -> Self {
        let covers = match status {
            Status::Verified | Status::UntrustedKey => COVERED.to_vec(),
            _ => Vec::new(),
        };
        Self {
            status,
            public_key: key.map(str::to_string),
            edge: None,
            problems,
            covers,
        }
    }
}

pub fn check(e: &Event, evidence: &EvidenceStore, keys: &KeyRegister) -> Check {
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
    problems.extend(facts_differ(e, v, &m));
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
    match keys.judge(key, &e.site, &e.camera, &signed_times(&m)) {
        Verdict::Trusted { edge } => Check {
            edge: Some(edge),
            ..Check::new(Status::Verified, key_s, Vec::new())
        },
        Verdict::Unknown => Check::new(
            Status::UntrustedKey,
            key_s,
            vec!["signed correctly, but by a key not in the hub's register ([[keys]])".into()],
        ),
        Verdict::Refused(why) => Check::new(Status::Invalid, key_s, vec![why]),
    }
}

/// When the box says it signed and when the violation happened; an unreadable time is the
/// epoch, which no registration period admits.
fn signed_times(m: &Value) -> Vec<chrono::DateTime<chrono::Utc>> {
    [&m["created"], &m["context"]["at"]]
        .into_iter()
        .map(|v| {
            v.as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.to_utc())
                .unwrap_or_default()
        })
        .collect()
}

/// The facts the hub shows beside the evidence (site, camera, rule, ids, time, place, measured
/// context, plate) that differ from what the box signed, each named: the event travels
/// unsigned, so a fact is only as good as the manifest it matches.
fn facts_differ(e: &Event, v: &matthan_schema::Violation, m: &Value) -> Vec<String> {
    let c = &m["context"];
    let text = |s: &str| Value::String(s.to_string());
    let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, text);
    let measured = serde_json::to_value(&v.context).unwrap_or(Value::Null);
    let facts: [(&str, Value, &Value); 12] = [
        ("site", text(&e.site), &m["site"]),
        ("camera", text(&e.camera), &m["camera"]),
        ("rule_id", text(&v.rule_id), &m["subject"]),
        ("rule", text(v.rule.as_str()), &c["rule"]),
        ("rule_id", text(&v.rule_id), &c["rule_id"]),
        ("violation_id", text(&v.violation_id), &c["violation_id"]),
        ("track_id", Value::from(v.track_id), &c["track_id"]),
        ("class", text(&v.class), &c["class"]),
        ("at", text(&matthan_schema::format_ts(&v.at)), &c["at"]),
        ("zone", opt(&v.zone), &c["zone"]),
        ("line", opt(&v.line), &c["line"]),
        ("context", measured, &c["measured"]),
    ];
    let mut out: Vec<String> = facts
        .iter()
        .filter(|(_, shown, signed)| !same(shown, signed))
        .map(|(name, shown, signed)| {
            format!("{name} differs from the signed manifest (event {shown}, signed {signed})")
        })
        .collect();
    let signed_plate = c["plate"]["text"].as_str();
    let signed_score = c["plate"]["score"].as_f64();
    let score_differs = match (v.plate_score, signed_score) {
        (Some(a), Some(b)) => (a as f64 - b).abs() > 1e-6,
        (None, None) => false,
        _ => true,
    };
    if v.plate.as_deref() != signed_plate || (v.plate.is_some() && score_differs) {
        out.push(format!(
            "plate differs from the signed manifest (event {:?}, signed {:?})",
            v.plate, signed_plate
        ));
    }
    out
}

/// JSON equality where numbers may differ in their last bits: a measurement written to the
/// manifest and read back by a JSON parser is not always the same double to the last ULP.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}
