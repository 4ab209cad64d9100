//! A case export: one zip a court, a lawyer or the driver can check offline with nothing but
//! `edge-node verify`.
//!
//! ```text
//! evidence/manifest.json  the manifest exactly as the camera box signed it
//! evidence/manifest.sig   its Ed25519 signature (hex)
//! evidence/<name>         each signed file under its own name (clip.mp4, before.jpg, ...)
//! public_key.txt          the signing key and its fingerprint (derived from the manifest)
//! summary.html            the printable facts, Vietnamese first (derived from the manifest)
//! event.json              the hub's stored event
//! export.json             who exported it and when, and the sha256 of every file above
//!                         that is not derived from the signed manifest
//! files/<sha256>.<ext>    for an event with no signed bundle: its evidence files
//! ```
//!
//! The verifier checks the signature and every signed file, renders `public_key.txt` and
//! `summary.html` again from the manifest and compares them byte for byte, checks the hashes in
//! `export.json`, and names anything else in the zip.

use std::io::{Read, Seek, Write};

use serde::{Deserialize, Serialize};

use crate::{FileEntry, MANIFEST, Manifest, Report, SIGNATURE, sha256_hex};

pub const CASE_SCHEMA: &str = "matthan.case/1";
pub const BUNDLE_DIR: &str = "evidence/";
pub const UNSIGNED_DIR: &str = "files/";
pub const SUMMARY: &str = "summary.html";
pub const PUBLIC_KEY: &str = "public_key.txt";
pub const EVENT: &str = "event.json";
pub const EXPORT: &str = "export.json";

/// The hub's own record of an export (`export.json`): not signed by the camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportInfo {
    pub schema: String,
    pub event_id: String,
    pub exported_by: String,
    pub exported_at: String,
    /// The hub's verdict on the signature when it exported (verified, untrusted_key, ...).
    pub hub_check: String,
    /// Files the hub added that the camera did not sign (`event.json`, `files/...`).
    pub files: Vec<FileEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("writing the case zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing the case zip: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}: not a plain file name")]
    BadName(String),
}

/// `public_key.txt`: what a reader compares with the key register.
pub fn public_key_text(m: &Manifest) -> String {
    let fp = crate::fingerprint(&m.public_key).unwrap_or_else(|| "?".into());
    format!(
        "Khóa công khai Ed25519 của thiết bị ký / signing box's Ed25519 public key:\n{}\n\
         Dấu vân tay (SHA-256) / fingerprint (SHA-256):\n{fp}\n",
        m.public_key
    )
}

/// `summary.html` for a manifest and an export record.
pub fn summary_html(m: &Manifest, info: &ExportInfo) -> String {
    crate::summary::render(m, info)
}

/// Writes a case zip. Large files are copied through, never held whole.
pub struct CaseWriter<W: Write + Seek> {
    zip: zip::ZipWriter<W>,
    added: Vec<FileEntry>,
}

fn stored() -> zip::write::SimpleFileOptions {
    // Images and video are compressed already; storing keeps exports fast.
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true)
}

impl<W: Write + Seek> CaseWriter<W> {
    pub fn new(w: W) -> Self {
        Self {
            zip: zip::ZipWriter::new(w),
            added: Vec::new(),
        }
    }

    /// One signed file of the bundle, under the name the manifest gives it.
    pub fn signed_file(&mut self, name: &str, mut r: impl Read) -> Result<(), CaseError> {
        if !crate::plain_name(name) {
            return Err(CaseError::BadName(name.into()));
        }
        self.zip
            .start_file(format!("{BUNDLE_DIR}{name}"), stored())?;
        std::io::copy(&mut r, &mut self.zip)?;
        Ok(())
    }

    /// A file the camera did not sign (evidence of an unsigned event): listed with its sha256
    /// in `export.json`. `name` is a plain file name.
    pub fn unsigned_file(&mut self, name: &str, mut r: impl Read) -> Result<(), CaseError> {
        if !crate::plain_name(name) {
            return Err(CaseError::BadName(name.into()));
        }
        let path = format!("{UNSIGNED_DIR}{name}");
        self.zip.start_file(path.as_str(), stored())?;
        let mut hashing = Hashing::default();
        std::io::copy(&mut r, &mut TeeWriter(&mut self.zip, &mut hashing))?;
        let bytes = hashing.bytes;
        self.added.push(FileEntry {
            name: path,
            sha256: hashing.hex(),
            bytes,
        });
        Ok(())
    }

    /// The signed manifest and its signature, and what is derived from them.
    pub fn bundle(&mut self, manifest: &[u8], signature_hex: &str) -> Result<(), CaseError> {
        self.zip
            .start_file(format!("{BUNDLE_DIR}{MANIFEST}"), stored())?;
        self.zip.write_all(manifest)?;
        self.zip
            .start_file(format!("{BUNDLE_DIR}{SIGNATURE}"), stored())?;
        self.zip
            .write_all(format!("{}\n", signature_hex.trim()).as_bytes())?;
        Ok(())
    }

    /// Adds `event.json`, `export.json` and, when `manifest` parses, `public_key.txt` and
    /// `summary.html`; returns the writer.
    pub fn finish(
        mut self,
        manifest: Option<&Manifest>,
        event_json: &[u8],
        mut info: ExportInfo,
    ) -> Result<W, CaseError> {
        self.zip.start_file(EVENT, stored())?;
        self.zip.write_all(event_json)?;
        self.added.push(FileEntry {
            name: EVENT.into(),
            sha256: sha256_hex(event_json),
            bytes: event_json.len() as u64,
        });
        info.files = std::mem::take(&mut self.added);
        if let Some(m) = manifest {
            self.zip.start_file(PUBLIC_KEY, stored())?;
            self.zip.write_all(public_key_text(m).as_bytes())?;
            self.zip.start_file(SUMMARY, stored())?;
            self.zip.write_all(summary_html(m, &info).as_bytes())?;
        }
        self.zip.start_file(EXPORT, stored())?;
        self.zip
            .write_all(&serde_json::to_vec_pretty(&info).expect("serialises"))?;
        Ok(self.zip.finish()?)
    }
}

#[derive(Default)]
struct Hashing {
    h: sha2::Sha256,
    bytes: u64,
}

impl Hashing {
    fn hex(self) -> String {
        use sha2::Digest;
        format!("{:x}", self.h.finalize())
    }
}

struct TeeWriter<'a, A: Write>(&'a mut A, &'a mut Hashing);

impl<A: Write> Write for TeeWriter<'_, A> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.0.write(buf)?;
        self.1.h.update(&buf[..n]);
        self.1.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// What the verifier found in a case zip.
#[derive(Debug, Default)]
pub struct CaseReport {
    pub problems: Vec<String>,
    pub manifest: Option<Manifest>,
    pub export: Option<ExportInfo>,
}

impl CaseReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies a case zip offline, against `trusted` (the box's public key, hex) when given.
pub fn verify_zip(r: impl Read + Seek, trusted: Option<&str>) -> CaseReport {
    let mut out = CaseReport::default();
    let mut entries = match read_entries(r) {
        Ok(e) => e,
        Err(e) => {
            out.problems.push(format!("not a readable zip: {e}"));
            return out;
        }
    };
    let bundle: crate::Files = entries
        .iter()
        .filter_map(|(n, b)| Some((n.strip_prefix(BUNDLE_DIR)?.to_string(), b.clone())))
        .collect();
    entries.retain(|n, _| !n.starts_with(BUNDLE_DIR));
    let info: Option<ExportInfo> = match entries.remove(EXPORT) {
        None => {
            out.problems.push(format!("{EXPORT}: missing"));
            None
        }
        Some(b) => serde_json::from_slice(&b)
            .map_err(|e| out.problems.push(format!("{EXPORT}: not readable ({e})")))
            .ok(),
    };
    if let Some(info) = &info {
        for f in &info.files {
            match entries.remove(&f.name) {
                None => out.problems.push(format!("{}: missing", f.name)),
                Some(b) if sha256_hex(&b) != f.sha256 || b.len() as u64 != f.bytes => out
                    .problems
                    .push(format!("{}: changed since export ({EXPORT})", f.name)),
                Some(_) => {}
            }
        }
    }
    if !bundle.is_empty() {
        check_bundle(&bundle, trusted, info.as_ref(), &mut entries, &mut out);
    }
    for name in entries.keys() {
        out.problems
            .push(format!("{name}: not part of the export (added later?)"));
    }
    out.export = info;
    out
}

/// The signed bundle, then the files derived from its manifest.
fn check_bundle(
    bundle: &crate::Files,
    trusted: Option<&str>,
    info: Option<&ExportInfo>,
    rest: &mut crate::Files,
    out: &mut CaseReport,
) {
    let Report { problems, manifest } = crate::verify(bundle, trusted);
    out.problems
        .extend(problems.into_iter().map(|p| format!("{BUNDLE_DIR}{p}")));
    let Some(m) = manifest else { return };
    let mut derived = vec![(PUBLIC_KEY, public_key_text(&m))];
    if let Some(info) = info {
        derived.push((SUMMARY, summary_html(&m, info)));
    }
    for (name, want) in derived {
        match rest.remove(name) {
            None => out.problems.push(format!("{name}: missing")),
            Some(got) if got != want.as_bytes() => out.problems.push(format!(
                "{name}: does not match the signed manifest (its facts were changed)"
            )),
            Some(_) => {}
        }
    }
    out.manifest = Some(m);
}

/// Every file of the zip by its path; folders are skipped, an unsafe path is an error.
fn read_entries(r: impl Read + Seek) -> Result<crate::Files, String> {
    let mut zip = zip::ZipArchive::new(r).map_err(|e| e.to_string())?;
    let mut out = crate::Files::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| e.to_string())?;
        if f.is_dir() {
            continue;
        }
        let name = f.name().to_string();
        if f.enclosed_name().is_none() {
            return Err(format!("{name}: a path outside the zip"));
        }
        let mut b = Vec::with_capacity(f.size().min(1 << 26) as usize);
        f.read_to_end(&mut b).map_err(|e| format!("{name}: {e}"))?;
        if out.insert(name.clone(), b).is_some() {
            return Err(format!("{name}: twice in the zip"));
        }
    }
    Ok(out)
}
