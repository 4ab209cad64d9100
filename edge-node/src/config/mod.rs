//! The edge box's one config file (TOML), parsed and validated at start.
//!
//! This module is only the frame: it reads the file, hands each section to the component that
//! owns it (`detect` the model and classifiers, `track` the tracker, `analytics` lines and zones,
//! `ingest` the sources, `rules` and `violations` their `kind = "..."` entries through their
//! registries, `signal` the junctions, `evidence` and `outbox` their sections) and collects
//! the results. Each component turns its raw, serde-read struct (unknown keys refused, so a
//! typo is an error rather than a silently ignored setting) into typed values that cannot hold
//! an illegal state. Every error names the file, the key and what is wrong.

mod camera;
mod scope;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use camera::{CameraConfig, RecordedVideo};
pub use scope::{CamScope, Known, Registration, Scope, dispatch, preview};

pub use crate::analytics::AnalyticsConfig;
pub use crate::detect::ModelConfig;
pub use crate::ingest::{DecoderChoice, Source};
pub use crate::outbox::OutboxConfig;
pub use crate::track::TrackerConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: PathBuf, message: String },
    #[error("{file}: {key}: {reason}")]
    Invalid {
        file: PathBuf,
        key: String,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct EdgeConfig {
    pub file: PathBuf,
    pub site: String,
    pub edge_id: String,
    /// Where `/metrics` is served (Prometheus text); none when unset.
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub mqtt: matthan_mqtt::Broker,
    pub outbox: OutboxConfig,
    pub model: ModelConfig,
    pub tracker: TrackerConfig,
    pub analytics: AnalyticsConfig,
    pub cameras: Vec<CameraConfig>,
    /// Signalised junctions measured by these cameras, for signal-timing recommendations.
    pub junctions: Vec<crate::signal::Junction>,
    /// Where violation evidence goes and how it is signed; set when any camera has violations.
    pub evidence: Option<crate::evidence::EvidenceConfig>,
    /// Secondary classifiers run on vehicle crops (helmet, riders).
    pub classifiers: Vec<crate::detect::ClassifierConfig>,
    /// Plates read on every vehicle track; none when `[plates]` is absent (then only
    /// violators' plates are read, for their evidence).
    pub plates: Option<crate::plate::tracks::PlatesConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    site: String,
    #[serde(default)]
    edge_id: Option<String>,
    #[serde(default)]
    metrics_listen: Option<String>,
    mqtt: matthan_mqtt::BrokerConfig,
    #[serde(default)]
    outbox: crate::outbox::RawOutbox,
    model: crate::detect::RawModel,
    #[serde(default)]
    tracker: TrackerConfig,
    #[serde(default)]
    analytics: AnalyticsConfig,
    #[serde(default)]
    cameras: Vec<camera::RawCamera>,
    #[serde(default)]
    junctions: Vec<crate::signal::RawJunction>,
    #[serde(default)]
    evidence: Option<crate::evidence::RawEvidence>,
    #[serde(default)]
    classifiers: Vec<crate::detect::RawClassifier>,
    #[serde(default)]
    plates: Option<crate::plate::tracks::RawPlates>,
}

impl EdgeConfig {
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        Self::parse(&text, file)
    }

    /// Parses `text` as if read from `file` (relative paths resolve against the file's folder).
    pub fn parse(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let syntax = |message: String| ConfigError::Syntax {
            file: file.to_path_buf(),
            message: message.trim_end().replace('\n', "\n  "),
        };
        let de = toml::de::Deserializer::parse(text).map_err(|e| syntax(e.to_string()))?;
        // The key path (`cameras[0].detect_fps`) leads the message: TOML's own error gives the
        // line, not which setting of which camera it was.
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            syntax(format!("{path}: {}", e.into_inner()))
        })?;
        assemble(raw, &Scope::root(file))
    }

    pub fn outbox_path(&self) -> PathBuf {
        self.outbox.path.clone()
    }

    pub fn client_id(&self) -> String {
        self.mqtt
            .client_id
            .clone()
            .unwrap_or_else(|| format!("edge-{}", self.edge_id))
    }
}

/// Validates each section with the component that owns it, in dependency order: cameras need
/// the model's labels, junctions the cameras' lines and zones, violation rules all of these.
fn assemble(raw: RawConfig, s: &Scope) -> Result<EdgeConfig, ConfigError> {
    matthan_schema::validate_segment(&raw.site).map_err(|r| s.err("site", r))?;
    let edge_id = raw.edge_id.unwrap_or_else(|| raw.site.clone());
    matthan_schema::validate_segment(&edge_id).map_err(|r| s.err("edge_id", r))?;
    let mqtt = raw
        .mqtt
        .validate(|p| s.path(p))
        .map_err(|e| s.err(e.key, e.reason))?;
    let outbox = raw.outbox.validate(&s.at("outbox"), &edge_id)?;
    let metrics_listen = match &raw.metrics_listen {
        None => None,
        Some(a) => Some(
            a.parse()
                .map_err(|e| s.err("metrics_listen", format!("{a:?} is not host:port: {e}")))?,
        ),
    };
    let model = raw.model.validate(&s.at("model"))?;
    raw.tracker.validate(&s.at("tracker"))?;
    raw.analytics.validate(&s.at("analytics"))?;
    if raw.cameras.is_empty() {
        return Err(s.err("cameras", "at least one [[cameras]] entry is needed"));
    }
    let mut ids = HashSet::new();
    let mut cameras = Vec::new();
    let mut pending = Vec::new();
    for (i, cam) in raw.cameras.into_iter().enumerate() {
        let at = s.at(format!("cameras[{i}]"));
        if !ids.insert(cam.id.clone()) {
            return Err(at.err("id", format!("duplicate camera id {:?}", cam.id)));
        }
        if cam.id == edge_id {
            return Err(at.err("id", "a camera id must differ from edge_id"));
        }
        let (c, rest) = cam.validate(&at, &model.labels)?;
        // GStreamer's decoder ranks are process-wide: one box decodes one way.
        if let Some(first) = cameras
            .first()
            .filter(|f: &&CameraConfig| f.decoder != c.decoder)
        {
            return Err(at.err(
                "decoder",
                format!(
                    "{:?} differs from cameras[0]'s {:?}; every camera of a box uses one decoder choice",
                    c.decoder, first.decoder
                ),
            ));
        }
        cameras.push(c);
        pending.push(rest);
    }
    let junctions = junctions(raw.junctions, &cameras, s)?;
    let classifiers =
        crate::detect::classifiers(raw.classifiers, &s.at("classifiers"), &model.labels)?;
    let known_classifiers: Vec<(String, Vec<String>)> = classifiers
        .iter()
        .map(|c| (c.id.clone(), c.labels.clone()))
        .collect();
    // Rules and violation rules come last: they refer to zones, lines, junctions, classifiers.
    for (i, (cam, rest)) in cameras.iter_mut().zip(pending).enumerate() {
        let at = s.at(format!("cameras[{i}]"));
        cam.validate_rules(rest, &at, &model.labels, &junctions, &known_classifiers)?;
    }
    let evidence = match raw.evidence {
        Some(e) => Some(e.validate(&s.at("evidence"))?),
        None => {
            if let Some(i) = cameras.iter().position(|c| !c.violations.is_empty()) {
                return Err(s.err(
                    &format!("cameras[{i}].violations"),
                    "violations need an [evidence] section (dir, and the signing key made by `edge-node keygen`)",
                ));
            }
            None
        }
    };
    let plates = match raw.plates {
        Some(p) => Some(p.validate(&s.at("plates"), &model.labels)?),
        None => None,
    };
    Ok(EdgeConfig {
        file: s.file().to_path_buf(),
        site: raw.site,
        edge_id,
        metrics_listen,
        mqtt,
        outbox,
        model,
        tracker: raw.tracker,
        analytics: raw.analytics,
        cameras,
        junctions,
        evidence,
        classifiers,
        plates,
    })
}

fn junctions(
    raws: Vec<crate::signal::RawJunction>,
    cameras: &[CameraConfig],
    s: &Scope,
) -> Result<Vec<crate::signal::Junction>, ConfigError> {
    let cam = |id: &str| cameras.iter().find(|c| c.id == id);
    let mut junctions: Vec<crate::signal::Junction> = Vec::new();
    for (i, raw) in raws.into_iter().enumerate() {
        let at = s.at(format!("junctions[{i}]"));
        let j = crate::signal::Junction::validate(
            raw,
            |c, l| cam(c).is_some_and(|c| c.lines.iter().any(|x| x.id == l)),
            |c, z| cam(c).is_some_and(|c| c.zones.iter().any(|x| x.id == z)),
        )
        .map_err(|e| at.err(&e.key, e.reason))?;
        if cameras.iter().any(|c| c.id == j.id) || junctions.iter().any(|x| x.id == j.id) {
            return Err(at.err(
                "id",
                format!(
                    "{:?} is already a camera or junction id (events are published under it)",
                    j.id
                ),
            ));
        }
        junctions.push(j);
    }
    Ok(junctions)
}
