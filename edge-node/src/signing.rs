//! Signed evidence bundles: a folder of artefacts (images, clips, crops) with a `manifest.json`
//! listing each file's sha256 and the context that makes it evidence (rule, camera, capture
//! times, measurements), and `manifest.sig`, an Ed25519 signature over the manifest's bytes by
//! the edge box's key. `verify` re-hashes every file and checks the signature, naming whatever
//! is tampered, missing or added. Keys are made once at install (`edge-node keygen`), kept
//! readable by the owner only, and never logged.

use std::path::{Path, PathBuf};

pub use matthan_evidence::{BUNDLE_SCHEMA, FileEntry, MANIFEST, Manifest, Report, SIGNATURE};
use matthan_evidence::{hex, plain_name};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use sha2::{Digest, Sha256};

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

/// Checks the bundle in `dir` against `trusted` (the signing box's public key, hex); without
/// one, against the key the manifest names (which proves integrity, not origin).
pub fn verify_bundle(dir: &Path, trusted: Option<&str>) -> Report {
    match matthan_evidence::read_dir(dir) {
        Ok(files) => matthan_evidence::verify(&files, trusted),
        Err(e) => Report {
            problems: vec![format!("{}: {e}", dir.display())],
            manifest: None,
        },
    }
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
