//! Evidence blobs on disk, named by their sha256 (`ab/abcdef...`). A blob whose bytes do not
//! hash to its name is refused, so what is stored is what the edge signed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::sha256_hex;

/// Evidence travels on `matthan-evidence/{site}/{sha256}`, outside the event topic tree.
pub use matthan_schema::ALL_EVIDENCE_FILTER as EVIDENCE_FILTER;

/// An evidence name is its sha256 (64 lower-case hex), as the schema defines it.
pub use matthan_schema::is_sha256;

/// Why a blob was not stored: its content is wrong (for good), or the disk failed (for now).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PutError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("evidence folder: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What a sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub files: usize,
    pub bytes: u64,
}

/// Blobs looked up in the store per query.
const SWEEP_BATCH: usize = 500;

/// Share of the budget past which the hub warns (health, log, metric) before it is full.
const WARN_AT: f64 = 0.9;

/// The evidence folder's disk budget, shared by every handle on the folder. When a blob would
/// pass it, the blob is not stored and not confirmed: the edge keeps it and sends it again
/// after retention has freed space, so a full disk loses nothing and never fails mid-write.
#[derive(Debug)]
pub struct DiskBudget {
    limit: u64,
    used: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetState {
    Ok,
    Warning,
    Full,
}

impl DiskBudget {
    pub fn new(limit_bytes: u64) -> Self {
        Self {
            limit: limit_bytes,
            used: AtomicU64::new(0),
        }
    }
    pub fn limit(&self) -> u64 {
        self.limit
    }
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
    pub fn state(&self) -> BudgetState {
        let used = self.used() as f64;
        if used >= self.limit as f64 {
            BudgetState::Full
        } else if used >= WARN_AT * self.limit as f64 {
            BudgetState::Warning
        } else {
            BudgetState::Ok
        }
    }
}

/// Bytes of every file under `dir` (blobs and interrupted writes).
fn measure(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for sub in std::fs::read_dir(dir)? {
        let sub = sub?.path();
        if sub.is_dir() {
            for f in std::fs::read_dir(&sub)? {
                total += f?.metadata()?.len();
            }
        }
    }
    Ok(total)
}

pub struct EvidenceStore {
    dir: PathBuf,
    budget: Option<Arc<DiskBudget>>,
}

impl EvidenceStore {
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            budget: None,
        })
    }

    /// A handle that keeps the folder within `budget` (measured now).
    pub fn with_budget(dir: &Path, budget: Arc<DiskBudget>) -> std::io::Result<Self> {
        let mut s = Self::new(dir)?;
        budget.used.store(measure(dir)?, Ordering::Relaxed);
        s.budget = Some(budget);
        Ok(s)
    }

    pub fn budget(&self) -> Option<&DiskBudget> {
        self.budget.as_deref()
    }

    /// Measures the folder again (the running count drifts if files are removed by hand).
    pub fn remeasure(&self) -> std::io::Result<()> {
        if let Some(b) = &self.budget {
            b.used.store(measure(&self.dir)?, Ordering::Relaxed);
        }
        Ok(())
    }

    fn path(&self, sha: &str) -> PathBuf {
        self.dir.join(&sha[..2]).join(sha)
    }

    /// Stores a blob published on `topic`; returns its sha256, or why it was refused.
    pub fn put(&self, topic: &str, data: &[u8]) -> Result<String, PutError> {
        let sha = topic.rsplit('/').next().unwrap_or("");
        if !is_sha256(sha) {
            return Err(PutError::Invalid(format!(
                "{topic:?} does not end in a lower-case sha256"
            )));
        }
        let actual = sha256_hex(data);
        if actual != sha {
            return Err(PutError::Invalid(format!(
                "content hashes to {actual}, not the {sha} its topic names"
            )));
        }
        let p = self.path(sha);
        if p.exists() {
            return Ok(actual);
        }
        if let Some(b) = &self.budget
            && b.used() + data.len() as u64 > b.limit
        {
            return Err(PutError::Io(format!(
                "evidence store at its budget ({} of {} bytes): retention must free space first",
                b.used(),
                b.limit
            )));
        }
        let io = |e: std::io::Error| PutError::Io(format!("{}: {e}", p.display()));
        std::fs::create_dir_all(p.parent().expect("has parent")).map_err(io)?;
        // Write then rename, so a crash never leaves a partial blob under its final name.
        let tmp = p.with_extension("part");
        std::fs::write(&tmp, data)
            .and_then(|_| std::fs::rename(&tmp, &p))
            .map_err(io)?;
        if let Some(b) = &self.budget {
            b.used.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        Ok(actual)
    }

    pub fn has(&self, sha: &str) -> bool {
        is_sha256(sha) && self.path(sha).is_file()
    }

    /// The blob as an open file, to stream it without holding it in memory.
    pub fn open(&self, sha: &str) -> Option<std::fs::File> {
        if !is_sha256(sha) {
            return None;
        }
        std::fs::File::open(self.path(sha)).ok()
    }

    pub fn get(&self, sha: &str) -> Option<Vec<u8>> {
        if !is_sha256(sha) {
            return None;
        }
        std::fs::read(self.path(sha)).ok()
    }
}

impl EvidenceStore {
    /// Deletes the blobs no stored event names, and interrupted writes, once they are at least
    /// `grace` old: a blob arrives before the event naming it (and an edge may resend it), so a
    /// young unreferenced blob is only early. Run after retention, this deletes evidence with
    /// the last event that names it, and a blob no event ever names cannot fill the disk.
    pub fn sweep(
        &self,
        store: &mut dyn crate::store::EventStore,
        grace: Duration,
    ) -> Result<Swept, SweepError> {
        let mut swept = Swept::default();
        let mut candidates: Vec<(String, PathBuf, u64)> = Vec::new();
        for sub in std::fs::read_dir(&self.dir)? {
            let sub = sub?.path();
            if !sub.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&sub)? {
                let f = f?;
                let meta = f.metadata()?;
                let age = meta.modified()?.elapsed().unwrap_or_default();
                if !meta.is_file() || age < grace {
                    continue;
                }
                let name = f.file_name().to_string_lossy().to_string();
                if is_sha256(&name) {
                    candidates.push((name, f.path(), meta.len()));
                } else if name.ends_with(".part") {
                    std::fs::remove_file(f.path())?;
                    swept.files += 1;
                    swept.bytes += meta.len();
                }
            }
        }
        for batch in candidates.chunks(SWEEP_BATCH) {
            let shas: Vec<String> = batch.iter().map(|(s, _, _)| s.clone()).collect();
            let keep = store.referenced(&shas)?;
            for (sha, path, len) in batch {
                if !keep.contains(sha) {
                    std::fs::remove_file(path)?;
                    swept.files += 1;
                    swept.bytes += len;
                }
            }
        }
        if let Some(b) = &self.budget {
            let _ = b
                .used
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                    Some(u.saturating_sub(swept.bytes))
                });
        }
        Ok(swept)
    }
}
