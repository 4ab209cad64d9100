//! Wrong way: a vehicle moving at least `min_m` against a lane's declared direction, judged
//! by the behaviour rules' wrong-direction logic; each of its alert starts is a violation.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::{AlertPhase, ViolationContext, ViolationRule};

use super::{BuildCheck, Check, Cx, Env, Hit, vehicle_classes};
use crate::config::{CamScope, ConfigError, Registration};
use crate::rules::direction::WrongDirection;
use crate::rules::{DirectionParams, Rule, Tracks};

/// `kind = "wrong_way"`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    zone: String,
    direction: Vec<[f64; 2]>,
    #[serde(default = "d_min_m")]
    min_m: f64,
    #[serde(default = "d_min_s")]
    min_s: f64,
    #[serde(default = "vehicle_classes")]
    classes: Vec<String>,
}

fn d_min_m() -> f64 {
    5.0
}
fn d_min_s() -> f64 {
    1.0
}

pub(super) const REGISTRATION: Registration<Arc<dyn BuildCheck>> = Registration {
    kind: "wrong_way",
    parse,
};

fn parse(t: toml::Table, cx: &CamScope) -> Result<Arc<dyn BuildCheck>, ConfigError> {
    let r: Raw = cx.deserialize(t)?;
    Ok(Arc::new(WrongWayParams(DirectionParams {
        zone: cx.zone(&r.zone)?,
        direction: cx.direction("direction", &r.direction)?,
        min_m: cx.positive("min_m", r.min_m)?,
        min_s: cx.positive("min_s", r.min_s)?,
        grace_s: 1.5,
        classes: cx.classes("classes", r.classes)?,
    })))
}

#[derive(Debug, Clone)]
struct WrongWayParams(DirectionParams);

impl BuildCheck for WrongWayParams {
    fn build(&self, id: String, env: &Env) -> Box<dyn Check + Send> {
        let p = &self.0;
        Box::new(WrongWay {
            rule: WrongDirection::new(id, p.clone(), env.zone(&p.zone), env.ground),
            zone: p.zone.clone(),
            calibration: env.calibration(),
        })
    }
}

/// The behaviour rules' wrong-direction logic, reporting its alert starts as violations.
struct WrongWay {
    rule: WrongDirection,
    zone: String,
    calibration: Option<String>,
}

impl Check for WrongWay {
    fn update(&mut self, cx: &Cx, out: &mut Vec<Hit>) {
        let mut alerts = Vec::new();
        let rcx = crate::rules::Ctx {
            now: cx.now,
            seen: cx.seen,
            tracks: cx.tracks,
        };
        self.rule.update(&rcx, &mut alerts);
        for a in alerts.into_iter().filter(|a| a.phase == AlertPhase::Start) {
            let Some(&root) = a.track_ids.first() else {
                continue;
            };
            let Some(m) = cx.tracks.get(root) else {
                continue;
            };
            out.push(Hit {
                rule: ViolationRule::WrongWay,
                rule_id: a.rule_id,
                track: m.last_id,
                class: m.class.clone(),
                at: cx.now,
                zone: Some(self.zone.clone()),
                line: None,
                context: ViolationContext {
                    distance_m: a.measure,
                    calibration: self.calibration.clone(),
                    ..ViolationContext::default()
                },
                moments: [a.started, cx.now],
                color: None,
            });
        }
    }

    fn track_ended(&mut self, id: u64, now: DateTime<Utc>) {
        let rcx = crate::rules::Ctx {
            now,
            seen: &[],
            tracks: &Tracks::new(None, Vec::new()),
        };
        self.rule.track_ended(id, &rcx, &mut Vec::new());
    }
}
