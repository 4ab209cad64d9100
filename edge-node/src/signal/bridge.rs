//! A line protocol that lets a traffic simulator stand in for the cameras: each input line is
//! one JSON message (a stop-line crossing, a queue reading, a phase turning green, an interval
//! tick), answered where an answer is needed with one JSON line. Used by
//! `edge-node signal-sim` and the SUMO evaluation (`benches/sumo/`), so the simulator drives the
//! same controller code the edge runs.

use std::io::{BufRead, Write};

use serde::Deserialize;
use serde_json::json;

use super::{Controller, Load, webster};

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Msg {
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

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("line {line}: {reason}")]
    Bad { line: usize, reason: String },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

pub fn serve(
    mut c: Controller,
    input: impl BufRead,
    mut out: impl Write,
) -> Result<(), BridgeError> {
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| BridgeError::Bad {
            line: n + 1,
            reason,
        };
        let msg: Msg = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let approach = |c: &Controller, id: &str| {
            c.approach(id)
                .ok_or_else(|| bad(format!("no approach {id:?} in junction {}", c.junction.id)))
        };
        let reply = match msg {
            Msg::Crossing {
                approach: a,
                t,
                class,
            } => {
                let i = approach(&c, &a)?;
                c.crossing(i, t, &class);
                None
            }
            Msg::Queue {
                approach: a,
                t,
                classes,
            } => {
                let i = approach(&c, &a)?;
                let cl: Vec<&str> = classes.iter().map(String::as_str).collect();
                c.queue(i, t, &cl);
                None
            }
            Msg::Green { phase, t } => {
                let p = c
                    .junction
                    .phases
                    .iter()
                    .position(|x| x.id == phase)
                    .ok_or_else(|| bad(format!("no phase {phase:?}")))?;
                c.green(p, t);
                Some(json!({ "green_s": c.phase_green(p, t) }))
            }
            Msg::Tick { t, adaptive } => {
                let at = chrono::DateTime::from_timestamp_millis((t * 1000.0) as i64)
                    .unwrap_or_default();
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
                    return Err(bad(format!("flows and saturation need {n} values each")));
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
        };
        if let Some(r) = reply {
            writeln!(out, "{r}")?;
            out.flush()?;
        }
    }
    Ok(())
}
