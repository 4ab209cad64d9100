//! `[[cameras.violations]]` entries, checked against the camera's lines and zones, the
//! junctions, the classifiers and the model's labels. Defaults suit urban roads in Vietnam.

use matthan_schema::Direction;
use serde::Deserialize;

use super::{
    CropVoteParams, ForbiddenParams, ParkingParams, RedLightParams, SpeedingParams, ViolationKind,
    ViolationSpec, vehicle_classes,
};
use crate::analytics::{Line, Zone};
use crate::rules::{DirectionParams, Schedule};
use crate::signal::Junction;

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawViolation {
    RedLight {
        id: String,
        line: String,
        #[serde(default)]
        direction: Option<Direction>,
        junction: String,
        phase: String,
        #[serde(default = "d_red_grace")]
        grace_s: f64,
        #[serde(default = "vehicle_classes")]
        classes: Vec<String>,
    },
    WrongWay {
        id: String,
        zone: String,
        direction: Vec<[f64; 2]>,
        #[serde(default = "d_wrong_m")]
        min_m: f64,
        #[serde(default = "d_wrong_s")]
        min_s: f64,
        #[serde(default = "vehicle_classes")]
        classes: Vec<String>,
    },
    ForbiddenZone {
        id: String,
        zone: String,
        classes: Vec<String>,
        #[serde(default)]
        hours: Vec<String>,
        #[serde(default)]
        days: Option<Vec<String>>,
        #[serde(default)]
        tz: Option<String>,
        #[serde(default = "d_forbidden_s")]
        min_s: f64,
    },
    IllegalParking {
        id: String,
        zone: String,
        #[serde(default = "d_stop_s")]
        max_stop_s: f64,
        #[serde(default = "d_still_m")]
        still_m: f64,
        #[serde(default = "d_hidden_s")]
        hidden_s: f64,
        #[serde(default = "vehicle_classes")]
        classes: Vec<String>,
    },
    Speeding {
        id: String,
        #[serde(default)]
        zone: Option<String>,
        limit_kmh: f64,
        #[serde(default = "d_tolerance")]
        tolerance_kmh: f64,
        #[serde(default = "d_window_s")]
        window_s: f64,
        #[serde(default = "d_over_s")]
        min_s: f64,
        #[serde(default = "vehicle_classes")]
        classes: Vec<String>,
    },
    NoHelmet(RawVote),
    TooManyRiders(RawVote),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVote {
    id: String,
    classifier: String,
    /// `no_helmet` / `three_riders` unless the classifier names it otherwise.
    #[serde(default)]
    label: Option<String>,
    #[serde(default = "d_threshold")]
    threshold: f32,
    #[serde(default = "d_votes")]
    min_votes: u32,
    #[serde(default = "d_ratio")]
    min_ratio: f32,
    #[serde(default = "d_two_wheelers")]
    classes: Vec<String>,
}

fn d_red_grace() -> f64 {
    0.5
}
fn d_wrong_m() -> f64 {
    5.0
}
fn d_wrong_s() -> f64 {
    1.0
}
fn d_forbidden_s() -> f64 {
    1.0
}
fn d_stop_s() -> f64 {
    60.0
}
fn d_still_m() -> f64 {
    1.5
}
fn d_hidden_s() -> f64 {
    60.0
}
fn d_tolerance() -> f64 {
    5.0
}
fn d_window_s() -> f64 {
    1.0
}
fn d_over_s() -> f64 {
    0.5
}
fn d_threshold() -> f32 {
    0.6
}
fn d_votes() -> u32 {
    3
}
fn d_ratio() -> f32 {
    0.5
}
fn d_two_wheelers() -> Vec<String> {
    vec!["motorcycle".into(), "bicycle".into()]
}

/// What a violation entry is checked against.
pub struct Known<'a> {
    pub lines: &'a [Line],
    pub zones: &'a [Zone],
    pub labels: &'a [String],
    pub calibrated: bool,
    pub junctions: &'a [Junction],
    /// Classifier ids with their labels.
    pub classifiers: &'a [(String, Vec<String>)],
}

/// Validates one entry; errors name the key (below `k`) and why.
pub fn validate(k: &str, raw: RawViolation, kn: &Known) -> Result<ViolationSpec, (String, String)> {
    let err = |field: &str, reason: String| (format!("{k}.{field}"), reason);
    let zone = |z: &str| -> Result<String, (String, String)> {
        if kn.zones.iter().any(|x| x.id == z) {
            Ok(z.to_string())
        } else {
            Err(err(
                "zone",
                format!(
                    "no zone {z:?} on this camera (zones: {})",
                    kn.zones
                        .iter()
                        .map(|z| z.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    };
    let classes = |field: &str, list: Vec<String>| -> Result<Vec<String>, (String, String)> {
        if let Some((i, c)) = list
            .iter()
            .enumerate()
            .find(|(_, c)| !kn.labels.contains(c))
        {
            return Err(err(
                &format!("{field}[{i}]"),
                format!("unknown class {c:?}: not one of the model's labels"),
            ));
        }
        Ok(list)
    };
    let positive = |field: &str, v: f64| -> Result<f64, (String, String)> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(err(field, format!("{v} must be a positive number")))
        }
    };
    let vote = |v: RawVote, default_label: &str| -> Result<CropVoteParams, (String, String)> {
        let classifier = v.classifier;
        let label = v.label.unwrap_or_else(|| default_label.to_string());
        let Some((_, labels)) = kn.classifiers.iter().find(|(id, _)| *id == classifier) else {
            return Err(err(
                "classifier",
                format!("no [[classifiers]] entry with id {classifier:?}"),
            ));
        };
        if !labels.contains(&label) {
            return Err(err(
                "label",
                format!(
                    "classifier {classifier:?} has no label {label:?} (labels: {})",
                    labels.join(", ")
                ),
            ));
        }
        if !(v.threshold > 0.0 && v.threshold <= 1.0) {
            return Err(err("threshold", "must be in (0, 1]".into()));
        }
        if v.min_votes == 0 {
            return Err(err("min_votes", "must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&v.min_ratio) {
            return Err(err("min_ratio", "must be in [0, 1]".into()));
        }
        Ok(CropVoteParams {
            classifier,
            label,
            threshold: v.threshold,
            min_votes: v.min_votes,
            min_ratio: v.min_ratio,
            classes: classes("classes", v.classes)?,
        })
    };
    let (id, kind) = match raw {
        RawViolation::RedLight {
            id,
            line,
            direction,
            junction,
            phase,
            grace_s,
            classes: c,
        } => {
            if !kn.lines.iter().any(|l| l.id == line) {
                return Err(err("line", format!("no line {line:?} on this camera")));
            }
            let Some(j) = kn.junctions.iter().find(|j| j.id == junction) else {
                return Err(err(
                    "junction",
                    format!("no [[junctions]] entry with id {junction:?}"),
                ));
            };
            if !j.phases.iter().any(|p| p.id == phase) {
                return Err(err(
                    "phase",
                    format!("junction {junction:?} has no phase {phase:?}"),
                ));
            }
            if !(grace_s.is_finite() && grace_s >= 0.0) {
                return Err(err("grace_s", format!("{grace_s} must be 0 or more")));
            }
            (
                id,
                ViolationKind::RedLight(RedLightParams {
                    line,
                    direction,
                    junction,
                    phase,
                    grace_s,
                    classes: classes("classes", c)?,
                }),
            )
        }
        RawViolation::WrongWay {
            id,
            zone: z,
            direction,
            min_m,
            min_s,
            classes: c,
        } => {
            let d: [[f64; 2]; 2] = direction.as_slice().try_into().map_err(|_| {
                err(
                    "direction",
                    format!("needs exactly 2 points (from, to), got {}", direction.len()),
                )
            })?;
            if d.iter()
                .flatten()
                .any(|v| !(v.is_finite() && (0.0..=1.0).contains(v)))
                || (d[1][0] - d[0][0]).hypot(d[1][1] - d[0][1]) < 0.01
            {
                return Err(err(
                    "direction",
                    "two distinct points, fractions of the frame (0..1)".into(),
                ));
            }
            (
                id,
                ViolationKind::WrongWay(DirectionParams {
                    zone: zone(&z)?,
                    direction: d,
                    min_m: positive("min_m", min_m)?,
                    min_s: positive("min_s", min_s)?,
                    grace_s: 1.5,
                    classes: classes("classes", c)?,
                }),
            )
        }
        RawViolation::ForbiddenZone {
            id,
            zone: z,
            classes: c,
            hours,
            days,
            tz,
            min_s,
        } => {
            if c.is_empty() {
                return Err(err(
                    "classes",
                    "list the classes not allowed in the zone".into(),
                ));
            }
            (
                id,
                ViolationKind::ForbiddenZone(ForbiddenParams {
                    zone: zone(&z)?,
                    classes: classes("classes", c)?,
                    schedule: Schedule::new(tz.as_deref(), &hours, days.as_deref())
                        .map_err(|r| (k.to_string(), r))?,
                    min_s: positive("min_s", min_s)?,
                    grace_s: 1.5,
                }),
            )
        }
        RawViolation::IllegalParking {
            id,
            zone: z,
            max_stop_s,
            still_m,
            hidden_s,
            classes: c,
        } => (
            id,
            ViolationKind::IllegalParking(ParkingParams {
                zone: zone(&z)?,
                max_stop_s: positive("max_stop_s", max_stop_s)?,
                still_m: positive("still_m", still_m)?,
                hidden_s: positive("hidden_s", hidden_s)?,
                classes: classes("classes", c)?,
            }),
        ),
        RawViolation::Speeding {
            id,
            zone: z,
            limit_kmh,
            tolerance_kmh,
            window_s,
            min_s,
            classes: c,
        } => {
            if !kn.calibrated {
                return Err((
                    k.to_string(),
                    "speeding needs a ground-plane calibration ([cameras.ground]): without one, speeds are guesses and cannot support a fine".into(),
                ));
            }
            if !(tolerance_kmh.is_finite() && tolerance_kmh >= 0.0) {
                return Err(err("tolerance_kmh", "must be 0 or more".into()));
            }
            (
                id,
                ViolationKind::Speeding(SpeedingParams {
                    zone: z.map(|z| zone(&z)).transpose()?,
                    limit_kmh: positive("limit_kmh", limit_kmh)?,
                    tolerance_kmh,
                    window_s: positive("window_s", window_s)?,
                    min_s: positive("min_s", min_s)?,
                    classes: classes("classes", c)?,
                }),
            )
        }
        RawViolation::NoHelmet(v) => (v.id.clone(), ViolationKind::NoHelmet(vote(v, "no_helmet")?)),
        RawViolation::TooManyRiders(v) => (
            v.id.clone(),
            ViolationKind::TooManyRiders(vote(v, "three_riders")?),
        ),
    };
    matthan_schema::validate_segment(&id).map_err(|r| err("id", r))?;
    Ok(ViolationSpec { id, kind })
}
