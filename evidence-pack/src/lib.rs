//! Signed evidence, readable by anyone with this crate and nothing else: the bundle format an
//! edge box signs (`manifest.json` listing each file's sha256 and the facts that make it
//! evidence, `manifest.sig` an Ed25519 signature over the manifest's bytes), the verifier for a
//! bundle folder, and the case export a hub hands to a court (`case`), which verifies offline.
//!
//! Shared by edge-node (writes and verifies bundles) and central-hub (writes case exports), so
//! the format and its checks exist once.

pub mod case;
mod summary;

use std::collections::BTreeMap;
use std::path::Path;

use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";
pub const BUNDLE_SCHEMA: &str = "matthan.evidence/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub site: String,
    pub camera: String,
    /// What the evidence is for (a rule id, an alert, an export).
    pub subject: String,
    /// Measured context: phase and time into red, speed and calibration id, dwell seconds...
    pub context: serde_json::Value,
    pub files: Vec<FileEntry>,
    /// Hex of the signing key's public half, so a reader knows which box signed.
    pub public_key: String,
    pub created: String,
}

/// A file name a bundle may hold: no paths, no hidden files, not the manifest's own names.
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name != MANIFEST
        && name != SIGNATURE
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex to bytes; nothing but hex digits (no spaces, no newline).
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// What people compare by eye or read over the phone: the SHA-256 of the raw public key, in
/// groups of four hex digits (the first 32 digits are plenty to tell keys apart).
pub fn fingerprint(public_key_hex: &str) -> Option<String> {
    let raw = unhex(public_key_hex)?;
    let h = sha256_hex(&raw);
    Some(
        h.as_bytes()[..32]
            .chunks(4)
            .map(|c| std::str::from_utf8(c).expect("hex is ascii"))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The files of one bundle, by name, as read from a folder or a case export.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Reads every plain file of `dir` (not its sub-folders).
pub fn read_dir(dir: &Path) -> std::io::Result<Files> {
    let mut files = Files::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            let name = e.file_name().to_string_lossy().into_owned();
            files.insert(name, std::fs::read(e.path())?);
        }
    }
    Ok(files)
}

/// What `verify` found; `ok()` when there is nothing to report.
#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<String>,
    pub manifest: Option<Manifest>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks a bundle against `trusted` (the signing box's public key, hex); without one, against
/// the key the manifest names (which proves integrity, not origin). Every problem is named:
/// a changed manifest, a wrong key, a missing, changed or unlisted file.
pub fn verify(files: &Files, trusted: Option<&str>) -> Report {
    let mut r = Report::default();
    let Some(body) = files.get(MANIFEST) else {
        r.problems.push(format!("{MANIFEST}: missing"));
        return r;
    };
    let manifest: Manifest = match serde_json::from_slice(body) {
        Ok(m) => m,
        Err(e) => {
            r.problems
                .push(format!("{MANIFEST}: not a valid manifest ({e})"));
            return r;
        }
    };
    let key_hex = trusted.map(str::trim).unwrap_or(&manifest.public_key);
    if trusted.is_some_and(|t| !t.trim().eq_ignore_ascii_case(&manifest.public_key)) {
        r.problems.push(format!(
            "{MANIFEST}: signed by key {}, not the trusted key",
            manifest.public_key
        ));
    }
    // Exactly the hex and one newline: any other byte is a change, not formatting.
    let sig = files.get(SIGNATURE).and_then(|s| {
        let s = std::str::from_utf8(s).ok()?;
        unhex(s.strip_suffix('\n').unwrap_or(s)).filter(|b| b.len() == 64)
    });
    match (sig, unhex(key_hex)) {
        (None, _) => r
            .problems
            .push(format!("{SIGNATURE}: missing or not 64 bytes of hex")),
        (_, None) => r.problems.push("public key is not hex".into()),
        (Some(sig), Some(key)) => {
            if UnparsedPublicKey::new(&ED25519, key)
                .verify(body, &sig)
                .is_err()
            {
                r.problems.push(format!(
                    "{MANIFEST}, {SIGNATURE}: the signature does not match (either was changed, or another key signed)"
                ));
            }
        }
    }
    for f in &manifest.files {
        if !plain_name(&f.name) {
            r.problems
                .push(format!("{}: not a plain file name", f.name));
            continue;
        }
        match files.get(&f.name) {
            None => r.problems.push(format!("{}: missing", f.name)),
            Some(bytes) => {
                let sha = sha256_hex(bytes);
                if sha != f.sha256 || bytes.len() as u64 != f.bytes {
                    r.problems.push(format!(
                        "{}: tampered (sha256 {sha}, manifest says {})",
                        f.name, f.sha256
                    ));
                }
            }
        }
    }
    for name in files.keys() {
        let listed = manifest.files.iter().any(|f| &f.name == name);
        if name != MANIFEST && name != SIGNATURE && !listed {
            r.problems.push(format!("{name}: not in the manifest"));
        }
    }
    r.manifest = Some(manifest);
    r
}
