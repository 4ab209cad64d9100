//! Signed evidence bundles: a folder of artefacts (images, clips, crops) with a `manifest.json`
//! listing each file's sha256 and the context that makes it evidence (rule, camera, capture
//! times, measurements), and `manifest.sig`, an Ed25519 signature over the manifest's bytes by
//! the edge box's key. `verify` re-hashes every file and checks the signature, naming whatever
//! is tampered, missing or added. Keys are made once at install (`edge-node keygen`), kept
//! readable by the owner only, and never logged.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";
pub const BUNDLE_SCHEMA: &str = "matthan.evidence/1";

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("{path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("evidence file name {0:?} is not a plain file name")]
    BadName(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SigningError + '_ {
    move |source| SigningError::Io {
        path: path.to_path_buf(),
        source,
    }
}

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

/// The edge box's signing key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        write!(f, "SigningKey(public {})", self.public_hex())
    }
}

impl SigningKey {
    /// Makes a key at `path` (PKCS#8, mode 0600) and its public half at `path.pub` (hex).
    /// Refuses to overwrite an existing key.
    pub fn generate(path: &Path) -> Result<Self, SigningError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let key_err = |reason: String| SigningError::Key {
            path: path.to_path_buf(),
            reason,
        };
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| key_err("the system random source failed".into()))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| key_err(format!("cannot create (it must not exist yet): {e}")))?;
        f.write_all(doc.as_ref()).map_err(io(path))?;
        f.sync_all().map_err(io(path))?;
        let key = Self::from_pkcs8(path, doc.as_ref())?;
        let pubp = path.with_extension("pub");
        std::fs::write(&pubp, key.public_hex() + "\n").map_err(io(&pubp))?;
        Ok(key)
    }

    /// Loads the key at `path`; a key other users can read is refused.
    pub fn load(path: &Path) -> Result<Self, SigningError> {
        matthan_mqtt::check_private(path).map_err(|reason| SigningError::Key {
            path: path.to_path_buf(),
            reason,
        })?;
        let bytes = std::fs::read(path).map_err(io(path))?;
        Self::from_pkcs8(path, &bytes)
    }

    fn from_pkcs8(path: &Path, bytes: &[u8]) -> Result<Self, SigningError> {
        let pair = Ed25519KeyPair::from_pkcs8(bytes).map_err(|e| SigningError::Key {
            path: path.to_path_buf(),
            reason: format!("not an Ed25519 PKCS#8 key ({e})"),
        })?;
        Ok(Self { pair })
    }

    pub fn public_hex(&self) -> String {
        hex(self.pair.public_key().as_ref())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != MANIFEST
        && name != SIGNATURE
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Writes `files` and a signed manifest into the new folder `dir`.
pub fn write_bundle(
    dir: &Path,
    key: &SigningKey,
    site: &str,
    camera: &str,
    subject: &str,
    context: serde_json::Value,
    files: &[(&str, &[u8])],
) -> Result<Manifest, SigningError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut entries = Vec::new();
    for (name, bytes) in files {
        if !plain_name(name) {
            return Err(SigningError::BadName(name.to_string()));
        }
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(io(&p))?;
        entries.push(FileEntry {
            name: name.to_string(),
            sha256: format!("{:x}", Sha256::digest(bytes)),
            bytes: bytes.len() as u64,
        });
    }
    let manifest = Manifest {
        schema: BUNDLE_SCHEMA.into(),
        site: site.into(),
        camera: camera.into(),
        subject: subject.into(),
        context,
        files: entries,
        public_key: key.public_hex(),
        created: matthan_schema::format_ts(&chrono::Utc::now()),
    };
    let body = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    let mp = dir.join(MANIFEST);
    std::fs::write(&mp, &body).map_err(io(&mp))?;
    let sig = key.pair.sign(&body);
    let sp = dir.join(SIGNATURE);
    std::fs::write(&sp, hex(sig.as_ref()) + "\n").map_err(io(&sp))?;
    Ok(manifest)
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

/// Checks the bundle in `dir` against `trusted` (the signing box's public key, hex); without
/// one, against the key the manifest names (which proves integrity, not origin).
pub fn verify_bundle(dir: &Path, trusted: Option<&str>) -> Report {
    let mut r = Report::default();
    let body = match std::fs::read(dir.join(MANIFEST)) {
        Ok(b) => b,
        Err(e) => {
            r.problems
                .push(format!("{MANIFEST}: missing or unreadable ({e})"));
            return r;
        }
    };
    let manifest: Manifest = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            r.problems
                .push(format!("{MANIFEST}: not a valid manifest ({e})"));
            return r;
        }
    };
    let key_hex = trusted.unwrap_or(&manifest.public_key);
    if trusted.is_some_and(|t| t.trim() != manifest.public_key) {
        r.problems.push(format!(
            "{MANIFEST}: signed by key {} , not the trusted key",
            manifest.public_key
        ));
    }
    match (
        std::fs::read_to_string(dir.join(SIGNATURE))
            .ok()
            .and_then(|s| unhex(&s)),
        unhex(key_hex),
    ) {
        (None, _) => r.problems.push(format!("{SIGNATURE}: missing or not hex")),
        (_, None) => r.problems.push("public key is not hex".into()),
        (Some(sig), Some(key)) => {
            if UnparsedPublicKey::new(&ED25519, key)
                .verify(&body, &sig)
                .is_err()
            {
                r.problems.push(format!(
                    "{MANIFEST}: signature does not match (the manifest was changed or signed by another key)"
                ));
            }
        }
    }
    let mut listed = BTreeSet::new();
    for f in &manifest.files {
        listed.insert(f.name.clone());
        if !plain_name(&f.name) {
            r.problems
                .push(format!("{}: not a plain file name", f.name));
            continue;
        }
        match std::fs::read(dir.join(&f.name)) {
            Err(_) => r.problems.push(format!("{}: missing", f.name)),
            Ok(bytes) => {
                let sha = format!("{:x}", Sha256::digest(&bytes));
                if sha != f.sha256 || bytes.len() as u64 != f.bytes {
                    r.problems.push(format!(
                        "{}: tampered (sha256 {sha}, manifest says {})",
                        f.name, f.sha256
                    ));
                }
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name != MANIFEST && name != SIGNATURE && !listed.contains(&name) {
                r.problems.push(format!("{name}: not in the manifest"));
            }
        }
    }
    r.manifest = Some(manifest);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(dir: &Path) -> SigningKey {
        let key = SigningKey::generate(&dir.join("edge.key")).unwrap();
        write_bundle(
            &dir.join("b1"),
            &key,
            "hcmc",
            "ben-thanh-1",
            "red-light",
            serde_json::json!({"phase": "ns", "into_red_s": 2.4}),
            &[
                ("before.jpg", b"jpeg-1"),
                ("after.jpg", b"jpeg-2"),
                ("clip.mp4", b"mp4"),
            ],
        )
        .unwrap();
        key
    }

    #[test]
    fn a_fresh_bundle_verifies_against_its_key() {
        let d = tempfile::tempdir().unwrap();
        let key = bundle(d.path());
        let r = verify_bundle(&d.path().join("b1"), Some(&key.public_hex()));
        assert!(r.ok(), "{:?}", r.problems);
        assert_eq!(r.manifest.unwrap().files.len(), 3);
        let pubhex = std::fs::read_to_string(d.path().join("edge.pub")).unwrap();
        assert_eq!(pubhex.trim(), key.public_hex());
    }

    #[test]
    fn tampered_missing_added_and_re_signed_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        let key = bundle(d.path());
        let b = d.path().join("b1");
        std::fs::write(b.join("after.jpg"), b"jpeg-X").unwrap();
        std::fs::remove_file(b.join("clip.mp4")).unwrap();
        std::fs::write(b.join("extra.txt"), b"?").unwrap();
        let r = verify_bundle(&b, Some(&key.public_hex()));
        let all = r.problems.join("\n");
        assert!(all.contains("after.jpg: tampered"), "{all}");
        assert!(all.contains("clip.mp4: missing"), "{all}");
        assert!(all.contains("extra.txt: not in the manifest"), "{all}");
        assert!(!all.contains("before.jpg"), "{all}");

        // Editing the manifest (to hide the change) breaks the signature.
        let text = std::fs::read_to_string(b.join(MANIFEST)).unwrap();
        std::fs::write(b.join(MANIFEST), text.replace("2.4", "9.9")).unwrap();
        let r = verify_bundle(&b, Some(&key.public_hex()));
        assert!(
            r.problems
                .iter()
                .any(|p| p.contains("signature does not match")),
            "{:?}",
            r.problems
        );

        // Another box's key re-signing everything is caught by the trusted key.
        let other = SigningKey::generate(&d.path().join("other.key")).unwrap();
        let b2 = d.path().join("b2");
        write_bundle(
            &b2,
            &other,
            "hcmc",
            "c",
            "s",
            serde_json::json!({}),
            &[("a.jpg", b"x")],
        )
        .unwrap();
        let r = verify_bundle(&b2, Some(&key.public_hex()));
        assert!(
            r.problems.iter().any(|p| p.contains("not the trusted key")),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn keys_are_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("edge.key");
        let key = SigningKey::generate(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(format!("{key:?}").starts_with("SigningKey(public "));
        assert!(SigningKey::generate(&p).is_err(), "an existing key is kept");
        SigningKey::load(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = SigningKey::load(&p).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        assert!(matches!(
            write_bundle(
                &d.path().join("b"),
                &key,
                "s",
                "c",
                "x",
                serde_json::json!({}),
                &[("../x", b"")]
            ),
            Err(SigningError::BadName(_))
        ));
    }
}
