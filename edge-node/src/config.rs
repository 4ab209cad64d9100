//! The edge box's one config file (TOML), parsed and validated at start.
//!
//! Parsing happens in two steps: serde reads the raw file (rejecting unknown keys, so a typo is an
//! error rather than a silently ignored setting), then `validate` turns it into typed values that
//! cannot hold an illegal state (a `Zone` with a self-intersecting polygon never exists). Every
//! error names the file, the key and what is wrong.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::analytics::{Line, Zone};
use crate::detect::{ExecutionProvider, Layout, Resize};
use crate::rules::{
    AbandonedParams, CrowdingParams, DirectionParams, DispersalParams, GroundPlane,
    IntrusionParams, LoiteringParams, RuleKind, RuleSpec, RunningParams, Schedule,
};

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
    pub mqtt: MqttConfig,
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
    /// Where events wait for the broker (SQLite file); default `outbox-{edge_id}.db` beside the config.
    #[serde(default)]
    pub outbox: Option<PathBuf>,
    /// Disk the outbox may use; beyond it the least important messages are dropped first.
    #[serde(default = "default_outbox_budget")]
    pub outbox_budget_mb: u64,
    /// Messages per second the backlog drains at after an outage (live events go first).
    #[serde(default = "default_backlog_rate")]
    pub backlog_rate: u32,
    /// Broker account; the password is read from `password_file`, which no other user may read.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// CA certificate (PEM) that signed the broker's certificate; setting it turns TLS on.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for brokers that require one; the key must be private.
    #[serde(default)]
    pub tls_client_cert: Option<PathBuf>,
    #[serde(default)]
    pub tls_client_key: Option<PathBuf>,
    /// The five settings above, validated (paths resolved, files private): what connects.
    #[serde(skip)]
    pub security: matthan_mqtt::Security,
}

fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_port() -> u16 {
    1883
}
fn default_keep_alive() -> u64 {
    10
}
fn default_outbox_budget() -> u64 {
    512
}
fn default_backlog_rate() -> u32 {
    200
}

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub path: PathBuf,
    pub layout: Layout,
    pub resize: Option<Resize>,
    pub labels: Vec<String>,
    pub ort_library: Option<PathBuf>,
    pub execution_provider: ExecutionProvider,
    pub threads: usize,
    pub max_batch: usize,
    pub score_threshold: f32,
    /// Per-class thresholds by label index; classes not in `classes` are dropped at decode.
    pub class_thresholds: Vec<Option<f32>>,
    pub nms_iou: f32,
    /// NMS group of each class (by label index): classes of one group suppress each other.
    pub nms_group: Vec<usize>,
}

impl ModelConfig {
    /// The score a detection of `class` must reach, or None when the class is filtered out.
    pub fn threshold(&self, class: usize) -> Option<f32> {
        self.class_thresholds.get(class).copied().flatten()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerConfig {
    /// Detections at or above this score start tracks and take part in the first association.
    #[serde(default = "d_high")]
    pub high_score: f32,
    /// Detections between this and `high_score` can only continue existing tracks (ByteTrack's second pass).
    #[serde(default = "d_low")]
    pub low_score: f32,
    /// Minimum IoU for the first association.
    #[serde(default = "d_match_iou")]
    pub match_iou: f32,
    /// Minimum IoU for the second (low-score) association.
    #[serde(default = "d_low_match_iou")]
    pub low_match_iou: f32,
    /// Hits needed before a tentative track is confirmed and announced.
    #[serde(default = "d_min_hits")]
    pub min_hits: u32,
    /// How long a track may go unseen before it ends. Long on purpose: a parked vehicle whose
    /// detection flickers must keep its id.
    #[serde(default = "d_max_lost")]
    pub max_lost_s: f64,
    /// Lost tracks that were moving are dropped sooner: their predicted box drifts off anyway.
    #[serde(default = "d_max_lost_moving")]
    pub max_lost_moving_s: f64,
    /// Seconds between `update` events for a confirmed track.
    #[serde(default = "d_update")]
    pub update_interval_s: f64,
}

fn d_high() -> f32 {
    0.45
}
fn d_low() -> f32 {
    0.2
}
fn d_match_iou() -> f32 {
    0.2
}
fn d_low_match_iou() -> f32 {
    0.4
}
fn d_min_hits() -> u32 {
    3
}
fn d_max_lost() -> f64 {
    120.0
}
fn d_max_lost_moving() -> f64 {
    3.0
}
fn d_update() -> f64 {
    5.0
}

impl Default for TrackerConfig {
    fn default() -> Self {
        toml::from_str("").expect("all tracker keys have defaults")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    #[serde(default = "d_interval")]
    pub count_interval_s: u32,
    /// A live camera repeating the exact same picture this long is reported degraded (frozen).
    #[serde(default = "d_frozen")]
    pub frozen_after_s: f64,
}

fn d_frozen() -> f64 {
    60.0
}

fn d_interval() -> u32 {
    60
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        toml::from_str("").expect("all analytics keys have defaults")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    File(PathBuf),
    Rtsp { url: String, tcp: bool },
    V4l2(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecoderChoice {
    /// Hardware decoder when its GStreamer element exists, software otherwise.
    Auto,
    Software,
    Nvidia,
    Vaapi,
}

#[derive(Debug, Clone)]
pub struct CameraConfig {
    pub id: String,
    pub source: Source,
    pub detect_fps: u32,
    pub decoder: DecoderChoice,
    /// Files only: pace frames at their natural rate (a replayed camera) instead of as fast as
    /// the pipeline can take them (analysis of recorded footage, benchmarks).
    pub realtime: bool,
    /// Files only: start again at the end (a replayed camera for demos and soak tests).
    pub loop_file: bool,
    /// Files only: when the recording began, so its events carry the times it was filmed
    /// (and a fixed signal plan is read at those times); else the file plays as if filmed now.
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    pub lines: Vec<Line>,
    pub zones: Vec<Zone>,
    /// Ground-plane calibration, when the camera has one.
    pub ground: Option<GroundPlane>,
    pub rules: Vec<RuleSpec>,
    pub violations: Vec<crate::violations::ViolationSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    site: String,
    #[serde(default)]
    edge_id: Option<String>,
    #[serde(default)]
    metrics_listen: Option<String>,
    mqtt: MqttConfig,
    model: RawModel,
    #[serde(default)]
    tracker: TrackerConfig,
    #[serde(default)]
    analytics: AnalyticsConfig,
    #[serde(default)]
    cameras: Vec<RawCamera>,
    #[serde(default)]
    junctions: Vec<crate::signal::RawJunction>,
    #[serde(default)]
    evidence: Option<RawEvidence>,
    #[serde(default)]
    classifiers: Vec<RawClassifier>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvidence {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClassifier {
    id: String,
    path: PathBuf,
    /// Model input width and height.
    input: [u32; 2],
    labels: Vec<String>,
    #[serde(default = "crate::violations::vehicle_classes")]
    classes: Vec<String>,
    #[serde(default = "d_every_n")]
    every_n: u32,
    #[serde(default = "d_mean")]
    mean: [f32; 3],
    #[serde(default = "d_std")]
    std: [f32; 3],
}

fn d_every_n() -> u32 {
    2
}
fn d_mean() -> [f32; 3] {
    [0.0; 3]
}
fn d_std() -> [f32; 3] {
    [1.0; 3]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    path: PathBuf,
    #[serde(default)]
    layout: Option<String>,
    #[serde(default)]
    resize: Option<String>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    ort_library: Option<PathBuf>,
    #[serde(default)]
    execution_provider: Option<String>,
    #[serde(default = "d_threads")]
    threads: usize,
    #[serde(default = "d_batch")]
    max_batch: usize,
    #[serde(default = "d_score")]
    score_threshold: f32,
    #[serde(default)]
    classes: Option<Vec<String>>,
    #[serde(default)]
    class_thresholds: BTreeMap<String, f32>,
    #[serde(default = "d_nms")]
    nms_iou: f32,
    /// Classes that suppress each other in NMS; by default car, truck and bus (one vehicle is
    /// often seen as two of them). `[]` keeps NMS strictly per class.
    #[serde(default)]
    nms_merge: Option<Vec<Vec<String>>>,
}

fn d_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
fn d_batch() -> usize {
    8
}
fn d_score() -> f32 {
    0.35
}
fn d_nms() -> f32 {
    0.5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCamera {
    id: String,
    url: String,
    #[serde(default = "d_fps")]
    detect_fps: u32,
    #[serde(default = "d_decoder")]
    decoder: DecoderChoice,
    #[serde(default)]
    rtsp_transport: Option<String>,
    #[serde(default)]
    realtime: bool,
    #[serde(default)]
    loop_file: bool,
    #[serde(default)]
    start_at: Option<String>,
    #[serde(default)]
    lines: Vec<RawLine>,
    #[serde(default)]
    zones: Vec<RawZone>,
    #[serde(default)]
    ground: Option<RawGround>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    violations: Vec<crate::violations::RawViolation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGround {
    id: String,
    /// Four points in the image (fractions of the frame).
    image: Vec<[f64; 2]>,
    /// The same four points on the ground, in metres.
    ground: Vec<[f64; 2]>,
}

/// One `[[cameras.rules]]` entry; `kind` picks the rule. Defaults are for people in a public
/// square at a walking pace.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum RawRule {
    Loitering {
        id: String,
        zone: String,
        #[serde(default = "d_loiter_s")]
        min_s: f64,
        #[serde(default)]
        revisits: Option<u32>,
        #[serde(default = "d_window_s")]
        window_s: f64,
        #[serde(default = "d_grace_s")]
        grace_s: f64,
        #[serde(default = "d_people")]
        classes: Vec<String>,
    },
    Crowding {
        id: String,
        zone: String,
        #[serde(default)]
        max_people: Option<u32>,
        #[serde(default)]
        max_density: Option<f64>,
        #[serde(default = "d_crowd_s")]
        min_s: f64,
        #[serde(default)]
        clear_s: Option<f64>,
        #[serde(default = "d_people")]
        classes: Vec<String>,
    },
    Running {
        id: String,
        #[serde(default)]
        zone: Option<String>,
        #[serde(default = "d_run_mps")]
        speed_mps: f64,
        #[serde(default = "d_run_s")]
        min_s: f64,
        #[serde(default = "d_people")]
        classes: Vec<String>,
    },
    Dispersal {
        id: String,
        #[serde(default)]
        zone: Option<String>,
        #[serde(default = "d_disperse_n")]
        min_people: u32,
        #[serde(default = "d_disperse_mps")]
        speed_mps: f64,
        #[serde(default = "d_disperse_s")]
        window_s: f64,
        #[serde(default = "d_people")]
        classes: Vec<String>,
    },
    Intrusion {
        id: String,
        zone: String,
        #[serde(default)]
        classes: Vec<String>,
        #[serde(default)]
        hours: Vec<String>,
        #[serde(default)]
        days: Option<Vec<String>>,
        #[serde(default)]
        tz: Option<String>,
        #[serde(default = "d_grace_s")]
        grace_s: f64,
    },
    AbandonedObject {
        id: String,
        #[serde(default)]
        zone: Option<String>,
        #[serde(default = "d_bags")]
        classes: Vec<String>,
        #[serde(default = "d_people")]
        owners: Vec<String>,
        #[serde(default = "d_abandon_s")]
        still_s: f64,
        #[serde(default = "d_still_m")]
        still_m: f64,
        #[serde(default = "d_near_m")]
        near_m: f64,
    },
    WrongDirection {
        id: String,
        zone: String,
        direction: Vec<[f64; 2]>,
        #[serde(default = "d_against_m")]
        min_m: f64,
        #[serde(default = "d_against_s")]
        min_s: f64,
        #[serde(default = "d_grace_s")]
        grace_s: f64,
        #[serde(default)]
        classes: Vec<String>,
    },
}

fn d_loiter_s() -> f64 {
    60.0
}
fn d_window_s() -> f64 {
    600.0
}
fn d_grace_s() -> f64 {
    1.5
}
fn d_people() -> Vec<String> {
    vec!["person".into()]
}
fn d_bags() -> Vec<String> {
    vec!["backpack".into(), "handbag".into(), "suitcase".into()]
}
fn d_crowd_s() -> f64 {
    10.0
}
fn d_run_mps() -> f64 {
    3.0
}
fn d_run_s() -> f64 {
    1.0
}
fn d_disperse_n() -> u32 {
    4
}
fn d_disperse_mps() -> f64 {
    2.0
}
fn d_disperse_s() -> f64 {
    2.0
}
fn d_abandon_s() -> f64 {
    30.0
}
fn d_still_m() -> f64 {
    0.5
}
fn d_near_m() -> f64 {
    2.0
}
fn d_against_m() -> f64 {
    2.0
}
fn d_against_s() -> f64 {
    1.0
}

fn d_fps() -> u32 {
    10
}
fn d_decoder() -> DecoderChoice {
    DecoderChoice::Auto
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    id: String,
    points: Vec<[f64; 2]>,
    #[serde(default = "d_hysteresis")]
    hysteresis: f64,
    #[serde(default)]
    classes: Option<Vec<String>>,
}

fn d_hysteresis() -> f64 {
    0.01
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    id: String,
    polygon: Vec<[f64; 2]>,
    #[serde(default)]
    dwell_s: Option<f64>,
    #[serde(default)]
    classes: Option<Vec<String>>,
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
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            file: file.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        Validator {
            file,
            base: file.parent().unwrap_or(Path::new(".")),
        }
        .config(raw)
    }

    pub fn outbox_path(&self) -> PathBuf {
        self.mqtt.outbox.clone().expect("set by validation")
    }

    pub fn client_id(&self) -> String {
        self.mqtt
            .client_id
            .clone()
            .unwrap_or_else(|| format!("edge-{}", self.edge_id))
    }
}

struct Validator<'a> {
    file: &'a Path,
    base: &'a Path,
}

impl Validator<'_> {
    fn err(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn config(&self, raw: RawConfig) -> Result<EdgeConfig, ConfigError> {
        matthan_schema::validate_segment(&raw.site).map_err(|r| self.err("site", r))?;
        let edge_id = raw.edge_id.unwrap_or_else(|| raw.site.clone());
        matthan_schema::validate_segment(&edge_id).map_err(|r| self.err("edge_id", r))?;
        if raw.mqtt.host.trim().is_empty() {
            return Err(self.err("mqtt.host", "must not be empty"));
        }
        if raw.mqtt.port == 0 {
            return Err(self.err("mqtt.port", "must be 1..=65535"));
        }
        if raw.mqtt.keep_alive_s < 5 {
            return Err(self.err("mqtt.keep_alive_s", "must be at least 5 seconds"));
        }
        if raw.mqtt.outbox_budget_mb == 0 {
            return Err(self.err("mqtt.outbox_budget_mb", "must be at least 1"));
        }
        if raw.mqtt.backlog_rate == 0 {
            return Err(self.err("mqtt.backlog_rate", "must be at least 1 message per second"));
        }
        let mut mqtt = raw.mqtt;
        mqtt.security = matthan_mqtt::Security {
            tls_ca: mqtt.tls_ca.take(),
            tls_client_cert: mqtt.tls_client_cert.take(),
            tls_client_key: mqtt.tls_client_key.take(),
            username: mqtt.username.clone(),
            password_file: mqtt.password_file.take(),
        }
        .validate(|p| self.path(p))
        .map_err(|e| self.err(e.key, e.reason))?;
        mqtt.outbox = Some(match mqtt.outbox.take() {
            Some(p) => self.path(&p),
            None => self.base.join(format!("outbox-{edge_id}.db")),
        });
        let metrics_listen =
            match &raw.metrics_listen {
                None => None,
                Some(a) => Some(a.parse().map_err(|e| {
                    self.err("metrics_listen", format!("{a:?} is not host:port: {e}"))
                })?),
            };
        let model = self.model(raw.model)?;
        self.tracker(&raw.tracker)?;
        if raw.analytics.count_interval_s == 0 {
            return Err(self.err("analytics.count_interval_s", "must be at least 1"));
        }
        if !(raw.analytics.frozen_after_s.is_finite() && raw.analytics.frozen_after_s >= 1.0) {
            return Err(self.err("analytics.frozen_after_s", "must be at least 1 second"));
        }
        if raw.cameras.is_empty() {
            return Err(self.err("cameras", "at least one [[cameras]] entry is needed"));
        }
        let mut ids = HashSet::new();
        let mut cameras = Vec::new();
        let mut raw_violations = Vec::new();
        for (i, mut cam) in raw.cameras.into_iter().enumerate() {
            raw_violations.push(std::mem::take(&mut cam.violations));
            let key = format!("cameras[{i}]");
            if !ids.insert(cam.id.clone()) {
                return Err(self.err(
                    format!("{key}.id"),
                    format!("duplicate camera id {:?}", cam.id),
                ));
            }
            if cam.id == edge_id {
                return Err(self.err(format!("{key}.id"), "a camera id must differ from edge_id"));
            }
            cameras.push(self.camera(&key, cam, &model.labels)?);
        }
        let mut junctions = Vec::new();
        for (i, raw) in raw.junctions.into_iter().enumerate() {
            let cam = |id: &str| cameras.iter().find(|c: &&CameraConfig| c.id == id);
            let j = crate::signal::Junction::validate(
                raw,
                |c, l| cam(c).is_some_and(|c| c.lines.iter().any(|x| x.id == l)),
                |c, z| cam(c).is_some_and(|c| c.zones.iter().any(|x| x.id == z)),
            )
            .map_err(|e| self.err(format!("junctions[{i}].{}", e.key), e.reason))?;
            if cameras.iter().any(|c| c.id == j.id)
                || junctions
                    .iter()
                    .any(|x: &crate::signal::Junction| x.id == j.id)
            {
                return Err(self.err(
                    format!("junctions[{i}].id"),
                    format!(
                        "{:?} is already a camera or junction id (events are published under it)",
                        j.id
                    ),
                ));
            }
            junctions.push(j);
        }
        let classifiers = self.classifiers(raw.classifiers, &model.labels)?;
        let known_classifiers: Vec<(String, Vec<String>)> = classifiers
            .iter()
            .map(|c| (c.id.clone(), c.labels.clone()))
            .collect();
        for (i, (cam, raws)) in cameras.iter_mut().zip(raw_violations).enumerate() {
            let known = crate::violations::Known {
                lines: &cam.lines,
                zones: &cam.zones,
                labels: &model.labels,
                calibrated: cam.ground.is_some(),
                junctions: &junctions,
                classifiers: &known_classifiers,
            };
            let mut vids = HashSet::new();
            for (n, r) in raws.into_iter().enumerate() {
                let k = format!("cameras[{i}].violations[{n}]");
                let spec = crate::violations::validate(&k, r, &known)
                    .map_err(|(key, reason)| self.err(key, reason))?;
                if !vids.insert(spec.id.clone()) || cam.rules.iter().any(|r| r.id == spec.id) {
                    return Err(self.err(
                        format!("{k}.id"),
                        format!("duplicate rule id {:?} on this camera", spec.id),
                    ));
                }
                cam.violations.push(spec);
            }
        }
        let evidence = match raw.evidence {
            Some(e) => Some(self.evidence(e)?),
            None => {
                if let Some(i) = cameras.iter().position(|c| !c.violations.is_empty()) {
                    return Err(self.err(
                        format!("cameras[{i}].violations"),
                        "violations need an [evidence] section (dir, and the signing key made by `edge-node keygen`)",
                    ));
                }
                None
            }
        };
        Ok(EdgeConfig {
            file: self.file.to_path_buf(),
            site: raw.site,
            edge_id,
            metrics_listen,
            mqtt,
            model,
            tracker: raw.tracker,
            analytics: raw.analytics,
            cameras,
            junctions,
            evidence,
            classifiers,
        })
    }

    fn evidence(&self, raw: RawEvidence) -> Result<crate::evidence::EvidenceConfig, ConfigError> {
        let key = self.path(&raw.key);
        if !key.is_file() {
            return Err(self.err(
                "evidence.key",
                format!(
                    "{} does not exist; make it with `edge-node keygen --out {}`",
                    key.display(),
                    key.display()
                ),
            ));
        }
        for (k, v, max) in [
            ("evidence.before_s", raw.before_s, 30.0),
            ("evidence.after_s", raw.after_s, 30.0),
        ] {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                return Err(self.err(k, format!("{v} must be within 0..={max} seconds")));
            }
        }
        if !(1..=30).contains(&raw.clip_fps) {
            return Err(self.err("evidence.clip_fps", "must be 1..=30"));
        }
        let ocr = match raw.ocr {
            None => None,
            Some(o) => {
                let (det, rec) = (self.path(&o.det), self.path(&o.rec));
                for (k, p) in [("evidence.ocr.det", &det), ("evidence.ocr.rec", &rec)] {
                    if !p.is_file() {
                        return Err(self.err(
                            k,
                            format!(
                                "{} does not exist (scripts/setup.sh fetches the PP-OCRv4 models)",
                                p.display()
                            ),
                        ));
                    }
                }
                Some(crate::evidence::OcrConfig { det, rec })
            }
        };
        Ok(crate::evidence::EvidenceConfig {
            dir: self.path(&raw.dir),
            key,
            before_s: raw.before_s,
            after_s: raw.after_s,
            clip_fps: raw.clip_fps,
            ocr,
        })
    }

    fn classifiers(
        &self,
        raws: Vec<RawClassifier>,
        labels: &[String],
    ) -> Result<Vec<crate::detect::ClassifierConfig>, ConfigError> {
        let mut out: Vec<crate::detect::ClassifierConfig> = Vec::new();
        for (i, r) in raws.into_iter().enumerate() {
            let k = format!("classifiers[{i}]");
            matthan_schema::validate_segment(&r.id).map_err(|e| self.err(format!("{k}.id"), e))?;
            if out.iter().any(|c| c.id == r.id) {
                return Err(self.err(
                    format!("{k}.id"),
                    format!("duplicate classifier id {:?}", r.id),
                ));
            }
            let path = self.path(&r.path);
            if !path.is_file() {
                return Err(self.err(
                    format!("{k}.path"),
                    format!("{} does not exist or is not a file", path.display()),
                ));
            }
            if r.input.iter().any(|&v| !(8..=1024).contains(&v)) {
                return Err(self.err(format!("{k}.input"), "width and height must be 8..=1024"));
            }
            if r.labels.is_empty() {
                return Err(self.err(
                    format!("{k}.labels"),
                    "list the model's output labels in order",
                ));
            }
            if r.every_n == 0 {
                return Err(self.err(format!("{k}.every_n"), "must be at least 1"));
            }
            if r.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                return Err(self.err(format!("{k}.std"), "must be positive"));
            }
            if let Some((n, c)) = r
                .classes
                .iter()
                .enumerate()
                .find(|(_, c)| !labels.contains(c))
            {
                return Err(self.err(
                    format!("{k}.classes[{n}]"),
                    format!("unknown class {c:?}: not one of the detector's labels"),
                ));
            }
            out.push(crate::detect::ClassifierConfig {
                id: r.id,
                path,
                input: (r.input[0], r.input[1]),
                labels: r.labels,
                classes: r.classes,
                every_n: r.every_n,
                mean: r.mean,
                std: r.std,
            });
        }
        Ok(out)
    }

    fn model(&self, raw: RawModel) -> Result<ModelConfig, ConfigError> {
        let path = self.path(&raw.path);
        if !path.is_file() {
            return Err(self.err(
                "model.path",
                format!("{} does not exist or is not a file", path.display()),
            ));
        }
        let layout = match raw.layout.as_deref() {
            None => Layout::Auto,
            Some(s) => Layout::parse(s).ok_or_else(|| {
                self.err(
                    "model.layout",
                    format!(
                        "unknown layout {s:?}; expected auto, nanodet, yolov5, yolov8 or yolo11"
                    ),
                )
            })?,
        };
        let resize = match raw.resize.as_deref() {
            None => None,
            Some("letterbox") => Some(Resize::Letterbox),
            Some("stretch") => Some(Resize::Stretch),
            Some(s) => {
                return Err(self.err(
                    "model.resize",
                    format!("unknown resize {s:?}; expected letterbox or stretch"),
                ));
            }
        };
        let labels = match raw.labels {
            Some(l) if l.is_empty() => return Err(self.err("model.labels", "must not be empty")),
            Some(l) => l,
            None => crate::labels::coco80(),
        };
        let ort_library = raw.ort_library.map(|p| self.path(&p));
        if let Some(lib) = &ort_library
            && !lib.is_file()
        {
            return Err(self.err(
                "model.ort_library",
                format!("{} does not exist", lib.display()),
            ));
        }
        let execution_provider = match raw.execution_provider.as_deref() {
            None => ExecutionProvider::Auto,
            Some(s) => ExecutionProvider::parse(s).ok_or_else(|| {
                self.err(
                    "model.execution_provider",
                    format!(
                        "unknown provider {s:?}; expected auto, cpu, cuda, tensorrt or openvino"
                    ),
                )
            })?,
        };
        if raw.threads == 0 || raw.threads > 256 {
            return Err(self.err("model.threads", "must be 1..=256"));
        }
        if raw.max_batch == 0 || raw.max_batch > 64 {
            return Err(self.err("model.max_batch", "must be 1..=64"));
        }
        let unit = |key: &str, v: f32| {
            if (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(self.err(key, format!("{v} is not within 0..=1")))
            }
        };
        let score = unit("model.score_threshold", raw.score_threshold)?;
        let nms_iou = unit("model.nms_iou", raw.nms_iou)?;
        let index = |key: String, name: &str| {
            labels.iter().position(|l| l == name).ok_or_else(|| {
                self.err(
                    key,
                    format!(
                        "unknown class {name:?}; the model's labels are {}",
                        preview(&labels)
                    ),
                )
            })
        };
        let mut class_thresholds: Vec<Option<f32>> = match &raw.classes {
            None => vec![Some(score); labels.len()],
            Some(classes) => {
                let mut t = vec![None; labels.len()];
                for (i, c) in classes.iter().enumerate() {
                    t[index(format!("model.classes[{i}]"), c)?] = Some(score);
                }
                t
            }
        };
        for (name, v) in &raw.class_thresholds {
            let key = format!("model.class_thresholds.{name:?}");
            let v = unit(&key, *v)?;
            let i = index(key.clone(), name)?;
            if class_thresholds[i].is_none() {
                return Err(self.err(
                    key,
                    format!("{name:?} is not in model.classes, so it is never detected"),
                ));
            }
            class_thresholds[i] = Some(v);
        }
        let mut nms_group: Vec<usize> = (0..labels.len()).collect();
        match &raw.nms_merge {
            Some(groups) => {
                for (gi, g) in groups.iter().enumerate() {
                    let mut first = None;
                    for (i, name) in g.iter().enumerate() {
                        let c = index(format!("model.nms_merge[{gi}][{i}]"), name)?;
                        nms_group[c] = *first.get_or_insert(c);
                    }
                }
            }
            None => {
                let vehicles: Vec<usize> = ["car", "truck", "bus"]
                    .iter()
                    .filter_map(|n| labels.iter().position(|l| l == n))
                    .collect();
                if let Some(&lead) = vehicles.first() {
                    for c in vehicles {
                        nms_group[c] = lead;
                    }
                }
            }
        }
        Ok(ModelConfig {
            path,
            layout,
            resize,
            labels,
            ort_library,
            execution_provider,
            threads: raw.threads,
            max_batch: raw.max_batch,
            score_threshold: score,
            class_thresholds,
            nms_iou,
            nms_group,
        })
    }

    fn tracker(&self, t: &TrackerConfig) -> Result<(), ConfigError> {
        for (key, v) in [
            ("tracker.high_score", t.high_score),
            ("tracker.low_score", t.low_score),
            ("tracker.match_iou", t.match_iou),
            ("tracker.low_match_iou", t.low_match_iou),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(self.err(key, format!("{v} is not within 0..=1")));
            }
        }
        if t.low_score > t.high_score {
            return Err(self.err("tracker.low_score", "must not exceed tracker.high_score"));
        }
        for (key, v) in [
            ("tracker.max_lost_s", t.max_lost_s),
            ("tracker.max_lost_moving_s", t.max_lost_moving_s),
            ("tracker.update_interval_s", t.update_interval_s),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(self.err(key, "must be a positive number of seconds"));
            }
        }
        if t.min_hits == 0 {
            return Err(self.err("tracker.min_hits", "must be at least 1"));
        }
        Ok(())
    }

    fn camera(
        &self,
        key: &str,
        raw: RawCamera,
        labels: &[String],
    ) -> Result<CameraConfig, ConfigError> {
        matthan_schema::validate_segment(&raw.id).map_err(|r| self.err(format!("{key}.id"), r))?;
        let source = self.source(key, &raw.url, raw.rtsp_transport.as_deref())?;
        if raw.detect_fps == 0 || raw.detect_fps > 60 {
            return Err(self.err(format!("{key}.detect_fps"), "must be 1..=60"));
        }
        if raw.realtime && !matches!(source, Source::File(_)) {
            return Err(self.err(format!("{key}.realtime"), "only applies to file:// sources"));
        }
        if raw.loop_file && !matches!(source, Source::File(_)) {
            return Err(self.err(
                format!("{key}.loop_file"),
                "only applies to file:// sources",
            ));
        }
        let start_at = match &raw.start_at {
            None => None,
            Some(_) if !matches!(source, Source::File(_)) => {
                return Err(self.err(
                    format!("{key}.start_at"),
                    "only applies to file:// sources (a live camera is filmed now)",
                ));
            }
            Some(s) => Some(
                chrono::DateTime::parse_from_rfc3339(s)
                    .map_err(|e| {
                        self.err(
                            format!("{key}.start_at"),
                            format!("{s:?} is not an RFC 3339 time with offset: {e}"),
                        )
                    })?
                    .to_utc(),
            ),
        };
        let classes =
            |k: String, c: Option<Vec<String>>| -> Result<Option<Vec<String>>, ConfigError> {
                if let Some(list) = &c {
                    for (i, name) in list.iter().enumerate() {
                        if !labels.contains(name) {
                            return Err(self.err(
                                format!("{k}[{i}]"),
                                format!(
                                    "unknown class {name:?}; the model's labels are {}",
                                    preview(labels)
                                ),
                            ));
                        }
                    }
                }
                Ok(c)
            };
        let mut seen = HashSet::new();
        let mut lines = Vec::new();
        for (i, l) in raw.lines.into_iter().enumerate() {
            let k = format!("{key}.lines[{i}]");
            if !seen.insert(l.id.clone()) {
                return Err(self.err(
                    format!("{k}.id"),
                    format!("duplicate line/zone id {:?}", l.id),
                ));
            }
            let cls = classes(format!("{k}.classes"), l.classes)?;
            lines.push(Line::new(&l.id, &l.points, l.hysteresis, cls).map_err(|r| self.err(k, r))?);
        }
        let mut zones = Vec::new();
        for (i, z) in raw.zones.into_iter().enumerate() {
            let k = format!("{key}.zones[{i}]");
            if !seen.insert(z.id.clone()) {
                return Err(self.err(
                    format!("{k}.id"),
                    format!("duplicate line/zone id {:?}", z.id),
                ));
            }
            let cls = classes(format!("{k}.classes"), z.classes)?;
            zones.push(Zone::new(&z.id, &z.polygon, z.dwell_s, cls).map_err(|r| self.err(k, r))?);
        }
        let ground = match raw.ground {
            None => None,
            Some(g) => {
                let k = format!("{key}.ground");
                matthan_schema::validate_segment(&g.id)
                    .map_err(|r| self.err(format!("{k}.id"), r))?;
                Some(GroundPlane::new(&g.id, &g.image, &g.ground).map_err(|r| self.err(k, r))?)
            }
        };
        let mut rules = Vec::new();
        let mut rule_ids = HashSet::new();
        for (i, r) in raw.rules.into_iter().enumerate() {
            let k = format!("{key}.rules[{i}]");
            let spec = self.rule(&k, r, &zones, labels, ground.is_some())?;
            if !rule_ids.insert(spec.id.clone()) {
                return Err(self.err(
                    format!("{k}.id"),
                    format!("duplicate rule id {:?}", spec.id),
                ));
            }
            rules.push(spec);
        }
        Ok(CameraConfig {
            id: raw.id,
            source,
            detect_fps: raw.detect_fps,
            decoder: raw.decoder,
            realtime: raw.realtime,
            loop_file: raw.loop_file,
            start_at,
            lines,
            zones,
            ground,
            rules,
            violations: Vec::new(),
        })
    }

    fn rule(
        &self,
        k: &str,
        raw: RawRule,
        zones: &[Zone],
        labels: &[String],
        calibrated: bool,
    ) -> Result<RuleSpec, ConfigError> {
        let zone = |z: &str| -> Result<String, ConfigError> {
            if zones.iter().any(|x| x.id == z) {
                Ok(z.to_string())
            } else {
                Err(self.err(
                    format!("{k}.zone"),
                    format!(
                        "no zone {z:?} on this camera (zones: {})",
                        preview(&zones.iter().map(|z| z.id.clone()).collect::<Vec<_>>())
                    ),
                ))
            }
        };
        let opt_zone = |z: Option<String>| z.map(|z| zone(&z)).transpose();
        let classes = |field: &str, list: Vec<String>| -> Result<Vec<String>, ConfigError> {
            for (i, name) in list.iter().enumerate() {
                if !labels.contains(name) {
                    return Err(self.err(
                        format!("{k}.{field}[{i}]"),
                        format!(
                            "unknown class {name:?}; the model's labels are {}",
                            preview(labels)
                        ),
                    ));
                }
            }
            Ok(list)
        };
        let positive = |field: &str, v: f64| -> Result<f64, ConfigError> {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(self.err(
                    format!("{k}.{field}"),
                    format!("{v} must be a positive number"),
                ))
            }
        };
        let (id, kind) = match raw {
            RawRule::Loitering {
                id,
                zone: z,
                min_s,
                revisits,
                window_s,
                grace_s,
                classes: c,
            } => {
                if revisits.is_some_and(|n| n < 2) {
                    return Err(self.err(
                        format!("{k}.revisits"),
                        "must be at least 2 (visits within window_s that count as loitering)",
                    ));
                }
                (
                    id,
                    RuleKind::Loitering(LoiteringParams {
                        zone: zone(&z)?,
                        min_s: positive("min_s", min_s)?,
                        revisits,
                        window_s: positive("window_s", window_s)?,
                        grace_s: positive("grace_s", grace_s)?,
                        classes: classes("classes", c)?,
                    }),
                )
            }
            RawRule::Crowding {
                id,
                zone: z,
                max_people,
                max_density,
                min_s,
                clear_s,
                classes: c,
            } => {
                match (max_people, max_density) {
                    (None, None) => {
                        return Err(self.err(
                            k.to_string(),
                            "give max_people, or max_density (people per m², needs [cameras.ground])",
                        ));
                    }
                    (_, Some(_)) if !calibrated => {
                        return Err(self.err(
                            format!("{k}.max_density"),
                            "needs a ground-plane calibration ([cameras.ground]) to know the zone's area",
                        ));
                    }
                    (_, Some(d)) => {
                        positive("max_density", d)?;
                    }
                    _ => {}
                }
                (
                    id,
                    RuleKind::Crowding(CrowdingParams {
                        zone: zone(&z)?,
                        max_people,
                        max_density,
                        min_s: positive("min_s", min_s)?,
                        clear_s: positive("clear_s", clear_s.unwrap_or(min_s))?,
                        classes: classes("classes", c)?,
                    }),
                )
            }
            RawRule::Running {
                id,
                zone: z,
                speed_mps,
                min_s,
                classes: c,
            } => (
                id,
                RuleKind::Running(RunningParams {
                    zone: opt_zone(z)?,
                    speed_mps: positive("speed_mps", speed_mps)?,
                    min_s: positive("min_s", min_s)?,
                    classes: classes("classes", c)?,
                }),
            ),
            RawRule::Dispersal {
                id,
                zone: z,
                min_people,
                speed_mps,
                window_s,
                classes: c,
            } => {
                if min_people < 2 {
                    return Err(self.err(format!("{k}.min_people"), "must be at least 2"));
                }
                (
                    id,
                    RuleKind::Dispersal(DispersalParams {
                        zone: opt_zone(z)?,
                        min_people,
                        speed_mps: positive("speed_mps", speed_mps)?,
                        window_s: positive("window_s", window_s)?,
                        classes: classes("classes", c)?,
                    }),
                )
            }
            RawRule::Intrusion {
                id,
                zone: z,
                classes: c,
                hours,
                days,
                tz,
                grace_s,
            } => (
                id,
                RuleKind::Intrusion(IntrusionParams {
                    zone: zone(&z)?,
                    classes: classes("classes", c)?,
                    schedule: Schedule::new(tz.as_deref(), &hours, days.as_deref())
                        .map_err(|r| self.err(k.to_string(), r))?,
                    grace_s: positive("grace_s", grace_s)?,
                }),
            ),
            RawRule::AbandonedObject {
                id,
                zone: z,
                classes: c,
                owners,
                still_s,
                still_m,
                near_m,
            } => (
                id,
                RuleKind::AbandonedObject(AbandonedParams {
                    zone: opt_zone(z)?,
                    classes: classes("classes", c)?,
                    owners: classes("owners", owners)?,
                    still_s: positive("still_s", still_s)?,
                    still_m: positive("still_m", still_m)?,
                    near_m: positive("near_m", near_m)?,
                }),
            ),
            RawRule::WrongDirection {
                id,
                zone: z,
                direction,
                min_m,
                min_s,
                grace_s,
                classes: c,
            } => {
                let d: [[f64; 2]; 2] = direction.as_slice().try_into().map_err(|_| {
                    self.err(
                        format!("{k}.direction"),
                        format!("needs exactly 2 points (from, to), got {}", direction.len()),
                    )
                })?;
                if d.iter()
                    .flatten()
                    .any(|v| !(v.is_finite() && (0.0..=1.0).contains(v)))
                    || (d[1][0] - d[0][0]).hypot(d[1][1] - d[0][1]) < 0.01
                {
                    return Err(self.err(
                        format!("{k}.direction"),
                        "two distinct points, fractions of the frame (0..1)",
                    ));
                }
                (
                    id,
                    RuleKind::WrongDirection(DirectionParams {
                        zone: zone(&z)?,
                        direction: d,
                        min_m: positive("min_m", min_m)?,
                        min_s: positive("min_s", min_s)?,
                        grace_s: positive("grace_s", grace_s)?,
                        classes: classes("classes", c)?,
                    }),
                )
            }
        };
        matthan_schema::validate_segment(&id).map_err(|r| self.err(format!("{k}.id"), r))?;
        Ok(RuleSpec { id, kind })
    }

    fn source(&self, key: &str, url: &str, transport: Option<&str>) -> Result<Source, ConfigError> {
        let k = format!("{key}.url");
        let tcp = match transport {
            None | Some("tcp") => true,
            Some("udp") => false,
            Some(t) => {
                return Err(self.err(
                    format!("{key}.rtsp_transport"),
                    format!("{t:?} is not tcp or udp"),
                ));
            }
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            self.err(
                &k,
                format!("{url:?} is not a URL; expected file://, rtsp:// or v4l2://"),
            )
        })?;
        if transport.is_some() && scheme != "rtsp" && scheme != "rtsps" {
            return Err(self.err(
                format!("{key}.rtsp_transport"),
                "only applies to rtsp:// sources",
            ));
        }
        match scheme {
            "file" => {
                let p = self.path(Path::new(rest));
                if !p.is_file() {
                    return Err(self.err(&k, format!("video file {} does not exist", p.display())));
                }
                Ok(Source::File(p))
            }
            "rtsp" | "rtsps" => {
                let host = rest.split(['/', '?']).next().unwrap_or("");
                let host = host.rsplit('@').next().unwrap_or(host);
                if host.is_empty() {
                    return Err(self.err(&k, format!("{url:?} has no host")));
                }
                if let Some((_, port)) = host.rsplit_once(':')
                    && !host.ends_with(']')
                    && port.parse::<u16>().is_err()
                {
                    return Err(self.err(&k, format!("{url:?} has an invalid port {port:?}")));
                }
                Ok(Source::Rtsp {
                    url: url.to_string(),
                    tcp,
                })
            }
            "v4l2" => {
                if !rest.starts_with("/dev/") {
                    return Err(self.err(
                        &k,
                        format!("{url:?} must name a device, e.g. v4l2:///dev/video0"),
                    ));
                }
                Ok(Source::V4l2(PathBuf::from(rest)))
            }
            other => Err(self.err(
                &k,
                format!("unsupported scheme {other:?}; expected file, rtsp or v4l2"),
            )),
        }
    }
}

fn preview(labels: &[String]) -> String {
    let shown: Vec<&str> = labels.iter().take(8).map(String::as_str).collect();
    if labels.len() > shown.len() {
        format!("{} ... ({} in all)", shown.join(", "), labels.len())
    } else {
        shown.join(", ")
    }
}
