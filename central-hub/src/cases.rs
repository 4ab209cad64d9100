//! Forensic cases' configuration and the videos they take in (`[cases]`): where uploads are
//! kept, which folders on the hub's disk an investigator may import, and which files count as
//! video. The queue itself is in `store/cases.rs`, the routes in `api/cases.rs`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesConfig {
    /// Uploaded videos are kept here, a folder per case (relative to the config's folder).
    #[serde(default = "d_dir")]
    pub dir: PathBuf,
    /// Folders (with their subfolders) a case may be imported from. None: import is off, only
    /// uploads and URLs are taken (an API token must not read any file the hub can).
    #[serde(default)]
    pub import_roots: Vec<PathBuf>,
    /// The largest upload, MiB.
    #[serde(default = "d_max_upload")]
    pub max_upload_mib: u64,
    /// Seconds a worker holds a job without reporting before it goes to another worker.
    #[serde(default = "d_lease")]
    pub lease_s: u64,
}

impl Default for CasesConfig {
    fn default() -> Self {
        Self {
            dir: d_dir(),
            import_roots: Vec::new(),
            max_upload_mib: d_max_upload(),
            lease_s: d_lease(),
        }
    }
}

fn d_dir() -> PathBuf {
    "cases".into()
}

fn d_max_upload() -> u64 {
    4096
}

fn d_lease() -> u64 {
    60
}

impl CasesConfig {
    /// Paths resolved against the config's folder; roots must exist (they are canonicalised,
    /// so a `..` in a request cannot climb out of one).
    pub fn validate(
        mut self,
        rel: &dyn Fn(&Path) -> PathBuf,
    ) -> Result<Self, (&'static str, String)> {
        self.dir = rel(&self.dir);
        let mut roots = Vec::new();
        for r in &self.import_roots {
            let p = rel(r);
            roots.push(
                std::fs::canonicalize(&p)
                    .map_err(|e| ("cases.import_roots", format!("{}: {e}", p.display())))?,
            );
        }
        self.import_roots = roots;
        if self.lease_s < 10 {
            return Err(("cases.lease_s", "must be at least 10 seconds".into()));
        }
        if self.max_upload_mib == 0 {
            return Err(("cases.max_upload_mib", "must be at least 1".into()));
        }
        Ok(self)
    }

    /// The video files under `folder` (recursively, sorted), when it lies inside an import
    /// root; else why not.
    pub fn import(&self, folder: &str) -> Result<Vec<(String, PathBuf)>, String> {
        let path = std::fs::canonicalize(folder).map_err(|e| format!("folder {folder:?}: {e}"))?;
        if !self.import_roots.iter().any(|r| path.starts_with(r)) {
            return Err(format!(
                "folder {folder:?} is not under an import root of this hub ([cases] import_roots)"
            ));
        }
        let mut found = Vec::new();
        walk(&path, &mut found).map_err(|e| format!("folder {folder:?}: {e}"))?;
        found.sort();
        if found.is_empty() {
            return Err(format!("folder {folder:?} holds no video files"));
        }
        Ok(found
            .into_iter()
            .map(|p| {
                let name = p.strip_prefix(&path).unwrap_or(&p).display().to_string();
                (name, p)
            })
            .collect())
    }
}

/// File endings taken as video: phones (mp4, mov, 3gp), recorders (avi, mkv, ts, dav is not
/// readable by GStreamer and is left out), the web (webm).
const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "3gp", "avi", "mkv", "ts", "mts", "m2ts", "webm", "flv", "mpg", "mpeg",
];

pub fn is_video_name(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let p = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&p, out)?;
        } else if kind.is_file() && is_video_name(&p.display().to_string()) {
            out.push(p);
        }
    }
    Ok(())
}

/// A file name an upload may be stored under: its last path component, with anything but
/// letters, digits, '.', '-' and '_' replaced, never hidden.
pub fn safe_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next()?;
    let clean: String = last
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.').to_string();
    (!clean.is_empty() && clean.len() <= 200 && is_video_name(&clean)).then_some(clean)
}

/// A URL a worker may fetch: http(s) only (a `file://` URL would read the worker's own disk).
pub fn check_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048 {
        return Err(format!("{url:?} is not an http(s) URL"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{url:?} contains spaces or control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_keep_a_safe_video_name_only() {
        assert_eq!(safe_name("../../etc/x.mp4").as_deref(), Some("x.mp4"));
        assert_eq!(
            safe_name("C:\\phone\\VID 01.MOV").as_deref(),
            Some("VID_01.MOV")
        );
        assert_eq!(safe_name("..mp4"), None);
        assert_eq!(safe_name("notes.txt"), None);
        assert_eq!(safe_name("Quận 1.mkv").as_deref(), Some("Quận_1.mkv"));
    }

    #[test]
    fn import_stays_inside_its_roots() {
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("incident");
        std::fs::create_dir_all(inside.join("phone")).unwrap();
        std::fs::write(inside.join("phone/a.mp4"), b"x").unwrap();
        std::fs::write(inside.join("b.AVI"), b"x").unwrap();
        std::fs::write(inside.join("notes.txt"), b"x").unwrap();
        let cfg = CasesConfig {
            import_roots: vec![root.path().to_path_buf()],
            ..Default::default()
        }
        .validate(&|p| p.to_path_buf())
        .unwrap();
        let names: Vec<_> = cfg
            .import(&inside.display().to_string())
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["b.AVI", "phone/a.mp4"]);
        let outside = format!("{}/..", root.path().display());
        let err = cfg.import(&outside).unwrap_err();
        assert!(err.contains("not under an import root"), "{err}");
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("https://example.org/v.mp4").is_ok());
    }
}
