//! One `[[cameras]]` entry: its source, lines, zones, ground calibration, and the rules and
//! violation rules dispatched by `kind` to their registries.

use std::collections::HashSet;

use serde::Deserialize;

use super::ConfigError;
use super::scope::{CamScope, Known, Scope, dispatch};
use crate::analytics::{Line, MovementConfig, RawLine, RawMovements, RawZone, Zone};
use crate::ingest::{DecoderChoice, Source};
use crate::motion::{MotionConfig, RawMotion};
use crate::rules::{GroundPlane, RawGround, RuleSpec};
use crate::signal::Junction;
use crate::violations::ViolationSpec;

#[derive(Debug, Clone)]
pub struct CameraConfig {
    pub id: String,
    pub source: Source,
    pub detect_fps: u32,
    pub decoder: DecoderChoice,
    /// Threads of a software (libav) decoder; none: the decoder's own choice (one per core
    /// plus one). One by default: a box decodes several cameras side by side, and libav's frame
    /// threads each hold their own pictures (more memory, more CPU for the same frames).
    pub decode_threads: Option<std::num::NonZeroU32>,
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
    /// Compass bearing the camera looks along (degrees clockwise from north: the direction
    /// "up the image" points on the ground), so tracks carry a compass heading.
    pub bearing_deg: Option<f32>,
    pub rules: Vec<RuleSpec>,
    pub violations: Vec<ViolationSpec>,
    /// Motion gating (`[cameras.motion]`); none: every frame goes to the detector.
    pub motion: Option<MotionConfig>,
    /// Turning movements between entry and exit lines (`[cameras.movements]`).
    pub movements: Option<MovementConfig>,
    /// The part of the frame the detector runs on (`[cameras.detect_region]`); none: all of it.
    pub detect_region: Option<crate::detect::Region>,
    /// Set by `index-worker` for a case's video (never from a config file): its events carry
    /// where in the video they were seen, and ids derived from it.
    pub recorded: Option<RecordedVideo>,
}

/// The case video a file camera is analysing (see `matthan_schema::Recording`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedVideo {
    pub case: u64,
    pub video: u64,
    pub sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCamera {
    pub id: String,
    url: String,
    #[serde(default = "d_fps")]
    detect_fps: u32,
    #[serde(default = "d_decoder")]
    decoder: DecoderChoice,
    /// 0: the decoder's own choice.
    #[serde(default = "d_decode_threads")]
    decode_threads: u32,
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
    bearing_deg: Option<f64>,
    /// `kind`-tagged entries, read by the rule registry (`rules::REGISTRY`).
    #[serde(default)]
    rules: Vec<toml::Table>,
    /// `kind`-tagged entries, read by the violation registry (`violations::REGISTRY`).
    #[serde(default)]
    violations: Vec<toml::Table>,
    #[serde(default)]
    motion: Option<RawMotion>,
    #[serde(default)]
    movements: Option<RawMovements>,
    #[serde(default)]
    detect_region: Option<crate::detect::RawRegion>,
}

fn d_fps() -> u32 {
    10
}
fn d_decoder() -> DecoderChoice {
    DecoderChoice::Auto
}
fn d_decode_threads() -> u32 {
    1
}

/// A camera's rule entries, validated once the junctions and classifiers are known.
pub(super) struct PendingRules {
    rules: Vec<toml::Table>,
    violations: Vec<toml::Table>,
}

impl RawCamera {
    pub(super) fn validate(
        self,
        s: &Scope,
        labels: &[String],
    ) -> Result<(CameraConfig, PendingRules), ConfigError> {
        matthan_schema::validate_segment(&self.id).map_err(|r| s.err("id", r))?;
        let source = crate::ingest::source(s, &self.url, self.rtsp_transport.as_deref())?;
        if self.detect_fps == 0 || self.detect_fps > 60 {
            return Err(s.err("detect_fps", "must be 1..=60"));
        }
        let file = matches!(source, Source::File(_));
        if self.realtime && !file {
            return Err(s.err("realtime", "only applies to file:// sources"));
        }
        if self.loop_file && !file {
            return Err(s.err("loop_file", "only applies to file:// sources"));
        }
        let start_at = match &self.start_at {
            None => None,
            Some(_) if !file => {
                return Err(s.err(
                    "start_at",
                    "only applies to file:// sources (a live camera is filmed now)",
                ));
            }
            Some(t) => Some(
                chrono::DateTime::parse_from_rfc3339(t)
                    .map_err(|e| {
                        s.err(
                            "start_at",
                            format!("{t:?} is not an RFC 3339 time with offset: {e}"),
                        )
                    })?
                    .to_utc(),
            ),
        };
        let mut seen = HashSet::new();
        let mut lines = Vec::new();
        for (i, l) in self.lines.into_iter().enumerate() {
            lines.push(l.validate(&s.at(format!("lines[{i}]")), labels, &mut seen)?);
        }
        let mut zones = Vec::new();
        for (i, z) in self.zones.into_iter().enumerate() {
            zones.push(z.validate(&s.at(format!("zones[{i}]")), labels, &mut seen)?);
        }
        let ground = self
            .ground
            .map(|g| g.validate(&s.at("ground")))
            .transpose()?;
        if let Some(b) = self.bearing_deg
            && !(0.0..360.0).contains(&b)
        {
            return Err(s.err(
                "bearing_deg",
                format!("{b} is not a compass bearing (0 = north, 90 = east, below 360)"),
            ));
        }
        let motion = self
            .motion
            .map(|m| m.validate(&s.at("motion")))
            .transpose()?;
        let movements = self.movements.map(|m| m.validate(s, &lines)).transpose()?;
        let detect_region = self
            .detect_region
            .map(|r| r.validate(&s.at("detect_region"), &lines, &zones))
            .transpose()?;
        let cam = CameraConfig {
            id: self.id,
            source,
            detect_fps: self.detect_fps,
            decoder: self.decoder,
            decode_threads: std::num::NonZeroU32::new(self.decode_threads),
            realtime: self.realtime,
            loop_file: self.loop_file,
            start_at,
            lines,
            zones,
            ground,
            bearing_deg: self.bearing_deg.map(|b| b as f32),
            rules: Vec::new(),
            violations: Vec::new(),
            motion,
            movements,
            detect_region,
            recorded: None,
        };
        let rest = PendingRules {
            rules: self.rules,
            violations: self.violations,
        };
        Ok((cam, rest))
    }
}

impl CameraConfig {
    /// Rules and violation rules share one id space per camera: alerts and violations name them.
    pub(super) fn validate_rules(
        &mut self,
        raw: PendingRules,
        s: &Scope,
        labels: &[String],
        junctions: &[Junction],
        classifiers: &[(String, Vec<String>)],
    ) -> Result<(), ConfigError> {
        let known = Known {
            labels,
            lines: &self.lines,
            zones: &self.zones,
            calibrated: self.ground.is_some(),
            junctions,
            classifiers,
        };
        let mut ids = HashSet::new();
        let mut rules = Vec::new();
        for (i, t) in raw.rules.into_iter().enumerate() {
            let cx = CamScope {
                at: s.at(format!("rules[{i}]")),
                known: &known,
            };
            let (id, kind, build) = dispatch(crate::rules::REGISTRY, t, &cx)?;
            if !ids.insert(id.clone()) {
                return Err(cx.err("id", format!("duplicate rule id {id:?}")));
            }
            rules.push(RuleSpec { id, kind, build });
        }
        let mut violations = Vec::new();
        for (i, t) in raw.violations.into_iter().enumerate() {
            let cx = CamScope {
                at: s.at(format!("violations[{i}]")),
                known: &known,
            };
            let (id, kind, build) = dispatch(crate::violations::REGISTRY, t, &cx)?;
            if !ids.insert(id.clone()) {
                return Err(cx.err("id", format!("duplicate rule id {id:?} on this camera")));
            }
            violations.push(ViolationSpec { id, kind, build });
        }
        self.rules = rules;
        self.violations = violations;
        Ok(())
    }
}
