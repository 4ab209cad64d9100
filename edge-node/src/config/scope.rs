//! What every component's validation needs: where in the file it is (so each error names file and
//! key), the checks components share (positive numbers, known classes, zones, lines), and the
//! registry that dispatches a `kind = "..."` table to the component that owns that kind.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::ConfigError;
use crate::analytics::{Line, Zone};
use crate::signal::Junction;

/// A place in the config file: errors raised through it name the file and the key below it.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    file: &'a Path,
    base: &'a Path,
    key: String,
}

impl<'a> Scope<'a> {
    /// The whole file; relative paths in it resolve against its folder.
    pub fn root(file: &'a Path) -> Self {
        Self {
            file,
            base: file.parent().unwrap_or(Path::new(".")),
            key: String::new(),
        }
    }

    /// The scope of a key below this one (`cameras[0]`, then `rules[2]`).
    pub fn at(&self, key: impl Display) -> Scope<'a> {
        Scope {
            file: self.file,
            base: self.base,
            key: self.key(&key.to_string()),
        }
    }

    pub fn file(&self) -> &'a Path {
        self.file
    }

    /// The full key of `field` in this scope; `""` is the scope itself.
    pub fn key(&self, field: &str) -> String {
        match (self.key.is_empty(), field.is_empty()) {
            (true, _) => field.to_string(),
            (false, true) => self.key.clone(),
            (false, false) if field.starts_with('[') => format!("{}{field}", self.key),
            (false, false) => format!("{}.{field}", self.key),
        }
    }

    pub fn err(&self, field: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            key: self.key(field),
            reason: reason.into(),
        }
    }

    /// A path from the file, resolved against the file's folder.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// A path that must name an existing file; `hint` says how to make it.
    pub fn existing_file(&self, field: &str, p: &Path, hint: &str) -> Result<PathBuf, ConfigError> {
        let p = self.path(p);
        if p.is_file() {
            Ok(p)
        } else {
            Err(self.err(
                field,
                format!("{} does not exist or is not a file{hint}", p.display()),
            ))
        }
    }

    pub fn positive(&self, field: &str, v: f64) -> Result<f64, ConfigError> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.err(field, format!("{v} must be a positive number")))
        }
    }

    pub fn unit(&self, field: &str, v: f32) -> Result<f32, ConfigError> {
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(self.err(field, format!("{v} is not within 0..=1")))
        }
    }

    /// Every name in `list` must be one of the detector's `labels`.
    pub fn classes(
        &self,
        field: &str,
        list: Vec<String>,
        labels: &[String],
    ) -> Result<Vec<String>, ConfigError> {
        if let Some((i, name)) = list.iter().enumerate().find(|(_, c)| !labels.contains(c)) {
            return Err(self.err(
                &format!("{field}[{i}]"),
                format!(
                    "unknown class {name:?}; the model's labels are {}",
                    preview(labels)
                ),
            ));
        }
        Ok(list)
    }

    /// Reads a table into a component's raw config; type errors and unknown keys name this key.
    pub fn deserialize<T: DeserializeOwned>(&self, t: toml::Table) -> Result<T, ConfigError> {
        toml::Value::Table(t)
            .try_into()
            .map_err(|e: toml::de::Error| self.err("", e.message().trim_end().to_string()))
    }
}

/// What a camera's rules and violation rules are checked against.
pub struct Known<'a> {
    pub labels: &'a [String],
    pub lines: &'a [Line],
    pub zones: &'a [Zone],
    /// The camera has a ground-plane calibration (metres are measured, not guessed).
    pub calibrated: bool,
    pub junctions: &'a [Junction],
    /// Classifier ids with their labels.
    pub classifiers: &'a [(String, Vec<String>)],
}

/// One rule entry being validated: its key and what its camera has.
pub struct CamScope<'a> {
    pub at: Scope<'a>,
    pub known: &'a Known<'a>,
}

impl<'a> std::ops::Deref for CamScope<'a> {
    type Target = Scope<'a>;
    fn deref(&self) -> &Scope<'a> {
        &self.at
    }
}

impl CamScope<'_> {
    /// `zone` must be one of the camera's zones.
    pub fn zone(&self, z: &str) -> Result<String, ConfigError> {
        if self.known.zones.iter().any(|x| x.id == z) {
            Ok(z.to_string())
        } else {
            let ids: Vec<String> = self.known.zones.iter().map(|z| z.id.clone()).collect();
            Err(self.err(
                "zone",
                format!("no zone {z:?} on this camera (zones: {})", preview(&ids)),
            ))
        }
    }

    pub fn opt_zone(&self, z: Option<String>) -> Result<Option<String>, ConfigError> {
        z.map(|z| self.zone(&z)).transpose()
    }

    pub fn line(&self, l: &str) -> Result<String, ConfigError> {
        if self.known.lines.iter().any(|x| x.id == l) {
            Ok(l.to_string())
        } else {
            Err(self.err("line", format!("no line {l:?} on this camera")))
        }
    }

    /// Classes checked against the detector's labels.
    pub fn classes(&self, field: &str, list: Vec<String>) -> Result<Vec<String>, ConfigError> {
        self.at.classes(field, list, self.known.labels)
    }

    /// A direction given as two points (from, to), fractions of the frame.
    pub fn direction(&self, field: &str, d: &[[f64; 2]]) -> Result<[[f64; 2]; 2], ConfigError> {
        let d: [[f64; 2]; 2] = d.try_into().map_err(|_| {
            self.err(
                field,
                format!("needs exactly 2 points (from, to), got {}", d.len()),
            )
        })?;
        if d.iter()
            .flatten()
            .any(|v| !(v.is_finite() && (0.0..=1.0).contains(v)))
            || (d[1][0] - d[0][0]).hypot(d[1][1] - d[0][1]) < 0.01
        {
            return Err(self.err(field, "two distinct points, fractions of the frame (0..1)"));
        }
        Ok(d)
    }
}

/// A component kind that `kind = "..."` selects: its name and how its table becomes a spec.
pub struct Registration<S> {
    pub kind: &'static str,
    pub parse: fn(toml::Table, &CamScope) -> Result<S, ConfigError>,
}

/// Reads `kind` and `id` from a `[[...]]` entry and hands the rest to the registered parser.
pub fn dispatch<S>(
    registry: &[Registration<S>],
    mut t: toml::Table,
    cx: &CamScope,
) -> Result<(String, &'static str, S), ConfigError> {
    let kinds = || {
        registry
            .iter()
            .map(|r| r.kind)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kind = match t.remove("kind") {
        Some(toml::Value::String(k)) => k,
        Some(_) => return Err(cx.err("kind", "must be a string")),
        None => return Err(cx.err("kind", format!("missing; one of {}", kinds()))),
    };
    let Some(reg) = registry.iter().find(|r| r.kind == kind) else {
        return Err(cx.err(
            "kind",
            format!("unknown kind {kind:?}; expected one of {}", kinds()),
        ));
    };
    let id = match t.remove("id") {
        Some(toml::Value::String(id)) => id,
        Some(_) => return Err(cx.err("id", "must be a string")),
        None => return Err(cx.err("id", "missing: every rule needs an id")),
    };
    matthan_schema::validate_segment(&id).map_err(|r| cx.err("id", r))?;
    let spec = (reg.parse)(t, cx)?;
    Ok((id, reg.kind, spec))
}

/// The first few names of a list, for error messages.
pub fn preview(labels: &[String]) -> String {
    let shown: Vec<&str> = labels.iter().take(8).map(String::as_str).collect();
    if labels.len() > shown.len() {
        format!("{} ... ({} in all)", shown.join(", "), labels.len())
    } else {
        shown.join(", ")
    }
}
