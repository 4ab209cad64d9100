//! `[evidence]`: where bundles go, the signing key, the clip window, and the plate reader.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{ConfigError, Scope};

#[derive(Debug, Clone)]
pub struct OcrConfig {
    pub det: PathBuf,
    pub rec: PathBuf,
}

#[derive(Debug, Clone)]
pub struct EvidenceConfig {
    pub dir: PathBuf,
    pub key: PathBuf,
    pub before_s: f64,
    pub after_s: f64,
    pub clip_fps: u32,
    pub ocr: Option<OcrConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvidence {
    dir: PathBuf,
    /// The box's Ed25519 key (`edge-node keygen`).
    key: PathBuf,
    #[serde(default = "d_before_s")]
    before_s: f64,
    #[serde(default = "d_after_s")]
    after_s: f64,
    #[serde(default = "d_clip_fps")]
    clip_fps: u32,
    #[serde(default)]
    ocr: Option<RawOcr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOcr {
    det: PathBuf,
    rec: PathBuf,
}

fn d_before_s() -> f64 {
    3.0
}
fn d_after_s() -> f64 {
    2.0
}
fn d_clip_fps() -> u32 {
    5
}

impl RawEvidence {
    pub fn validate(self, s: &Scope) -> Result<EvidenceConfig, ConfigError> {
        let key = s.path(&self.key);
        if !key.is_file() {
            return Err(s.err(
                "key",
                format!(
                    "{} does not exist; make it with `edge-node keygen --out {}`",
                    key.display(),
                    key.display()
                ),
            ));
        }
        for (k, v) in [("before_s", self.before_s), ("after_s", self.after_s)] {
            if !(v.is_finite() && (0.0..=30.0).contains(&v)) {
                return Err(s.err(k, format!("{v} must be within 0..=30 seconds")));
            }
        }
        if !(1..=30).contains(&self.clip_fps) {
            return Err(s.err("clip_fps", "must be 1..=30"));
        }
        let hint = " (scripts/setup.sh fetches the PP-OCRv4 models)";
        let ocr = match self.ocr {
            None => None,
            Some(o) => Some(OcrConfig {
                det: s.existing_file("ocr.det", Path::new(&o.det), hint)?,
                rec: s.existing_file("ocr.rec", Path::new(&o.rec), hint)?,
            }),
        };
        Ok(EvidenceConfig {
            dir: s.path(&self.dir),
            key,
            before_s: self.before_s,
            after_s: self.after_s,
            clip_fps: self.clip_fps,
            ocr,
        })
    }
}
