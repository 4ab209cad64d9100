//! The control protocol: the messages that drive a junction's controller from outside the
//! cameras (a simulator's detectors, a signal controller asking for its next green) and the one
//! function that applies them. `edge-node signal-sim` reads them as JSON lines on stdin
//! (`bridge`), a running edge reads them from MQTT (`live`); both call `handle`, so what the
//! SUMO evaluation measures is the code a junction's controller talks to.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Controller, Load, webster};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Msg {
    /// A vehicle crossed a stop line. No answer.
    Crossing {
        approach: String,
        t: f64,
        class: String,
    },
    /// Vehicles stopped in an approach's queue zone now. No answer.
    Queue {
        approach: String,
        t: f64,
        classes: Vec<String>,
    },
    /// A phase turns green now; answered with `{"green_s": ...}` (the adaptive decision).
    Green { phase: String, t: f64 },
    /// End of a measurement interval? Answered with `{"recommendation": ..., "warnings": [...]}`
    /// or `{"recommendation": null}` before the interval is complete.
    Tick { t: f64, adaptive: bool },
    /// Webster's plan for given flows and saturation flows (PCU/h): `{"cycle_s", "greens"}`.
    Webster {
        flows: Vec<f64>,
        saturation: Vec<f64>,
    },
}

/// Applies one message to `c`; the answer, when the message asks for one, or why it was refused
/// (an approach or phase the junction does not have, wrong lengths).
pub fn handle(c: &mut Controller, msg: Msg) -> Result<Option<Value>, String> {
    let approach = |c: &Controller, id: &str| {
        c.approach(id)
            .ok_or_else(|| format!("no approach {id:?} in junction {}", c.junction.id))
    };
    Ok(match msg {
        Msg::Crossing {
            approach: a,
            t,
            class,
        } => {
            let i = approach(c, &a)?;
            c.crossing(i, finite("t", t)?, &class);
            None
        }
        Msg::Queue {
            approach: a,
            t,
            classes,
        } => {
            let i = approach(c, &a)?;
            let cl: Vec<&str> = classes.iter().map(String::as_str).collect();
            c.queue(i, finite("t", t)?, &cl);
            None
        }
        Msg::Green { phase, t } => {
            let p = phase_index(c, &phase)?;
            let t = finite("t", t)?;
            c.green(p, t);
            Some(json!({ "green_s": c.decide_green(p, t) }))
        }
        Msg::Tick { t, adaptive } => {
            let t = finite("t", t)?;
            let at =
                chrono::DateTime::from_timestamp_millis((t * 1000.0) as i64).unwrap_or_default();
            match c.tick(t, at, adaptive, 0.0) {
                Some((rec, warnings)) => {
                    Some(json!({ "recommendation": rec, "warnings": warnings }))
                }
                None => Some(json!({ "recommendation": null })),
            }
        }
        Msg::Webster { flows, saturation } => {
            let n = c.junction.approaches.len();
            if flows.len() != n || saturation.len() != n {
                return Err(format!("flows and saturation need {n} values each"));
            }
            let loads: Vec<Load> = flows
                .iter()
                .zip(&saturation)
                .map(|(f, s)| Load {
                    flow: *f,
                    saturation: *s,
                    queue: 0.0,
                })
                .collect();
            let (plan, y, over) = webster(&c.junction, &loads);
            Some(
                json!({ "cycle_s": plan.cycle_s, "greens": plan.greens, "y": y, "oversaturated": over }),
            )
        }
    })
}

pub fn phase_index(c: &Controller, phase: &str) -> Result<usize, String> {
    c.junction
        .phases
        .iter()
        .position(|x| x.id == phase)
        .ok_or_else(|| format!("no phase {phase:?} in junction {}", c.junction.id))
}

/// Times are seconds on the sender's clock; NaN or infinity would poison every flow after it.
fn finite(key: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{key} must be a finite number of seconds"))
    }
}
