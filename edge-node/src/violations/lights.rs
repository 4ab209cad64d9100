//! What colour each phase of each junction showed at a given moment: from the controller's
//! messages on `matthan/{site}/{junction}/signal/state` while they keep coming, else from the
//! fixed-time plan in the config. Crossings are judged against the light at their own capture
//! time, so a few changes per phase are kept.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use matthan_schema::{Colour, SignalSource, SignalState};

use crate::signal::Junction;

/// Changes kept per phase: a few cycles, more than any crossing is judged late.
const KEEP: usize = 16;
/// Controller messages further ahead of the edge's clock than this are refused: a controller
/// with a wrong clock must not make vehicles run reds they never saw.
const FUTURE_S: f64 = 2.0;
/// Without a controller message for this long, the fixed plan (if any) is used again.
const CONTROLLER_STALE_S: f64 = 300.0;
/// Vietnam's clock for the fixed plan, which is written in local time of day.
const LOCAL_OFFSET_S: f64 = 7.0 * 3600.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Light {
    pub colour: Colour,
    pub since: DateTime<Utc>,
    pub source: SignalSource,
    pub yellow_s: f64,
    pub red_s: Option<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LightsError {
    #[error("{topic}: not JSON of a signal state ({reason})")]
    Malformed { topic: String, reason: String },
    #[error("{topic}: unknown junction {junction:?}")]
    UnknownJunction { topic: String, junction: String },
    #[error("{topic}: junction {junction} has no phase {phase:?}")]
    UnknownPhase {
        topic: String,
        junction: String,
        phase: String,
    },
    #[error(
        "{topic}: phase {phase} change at {since} is {ahead_s:.1} s ahead of this box's clock; refused"
    )]
    Future {
        topic: String,
        phase: String,
        since: String,
        ahead_s: f64,
    },
    #[error("{topic}: phase {phase} change at {since} is older than one already applied; ignored")]
    OutOfOrder {
        topic: String,
        phase: String,
        since: String,
    },
}

/// A phase change: since, colour, announced yellow and red lengths.
type Change = (DateTime<Utc>, Colour, Option<f64>, Option<f64>);

struct Controlled {
    changes: VecDeque<Change>,
}

struct JunctionLights {
    junction: Junction,
    controlled: HashMap<String, Controlled>,
    last_message: Option<DateTime<Utc>>,
}

/// Every junction's lights, as this edge knows them.
pub struct Lights {
    junctions: HashMap<String, JunctionLights>,
}

fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

fn at(s: f64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros((s * 1e6).round() as i64).unwrap_or_default()
}

impl Lights {
    pub fn new(junctions: &[Junction]) -> Self {
        Self {
            junctions: junctions
                .iter()
                .map(|j| {
                    (
                        j.id.clone(),
                        JunctionLights {
                            junction: j.clone(),
                            controlled: HashMap::new(),
                            last_message: None,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Applies one controller message; `now` is this box's clock.
    pub fn apply(
        &mut self,
        topic: &str,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), LightsError> {
        let malformed = |reason: String| LightsError::Malformed {
            topic: topic.to_string(),
            reason,
        };
        let (_, junction) = matthan_schema::parse_signal_state_topic(topic)
            .ok_or_else(|| malformed("not a signal-state topic".into()))?;
        let msg: SignalState =
            serde_json::from_slice(payload).map_err(|e| malformed(e.to_string()))?;
        let finite = |v: Option<f32>| v.is_none_or(|v| v.is_finite() && v >= 0.0);
        if !finite(msg.yellow_s) || !finite(msg.red_s) {
            return Err(malformed(
                "yellow_s and red_s must be non-negative numbers".into(),
            ));
        }
        let j = self
            .junctions
            .get_mut(junction)
            .ok_or_else(|| LightsError::UnknownJunction {
                topic: topic.to_string(),
                junction: junction.to_string(),
            })?;
        if !j.junction.phases.iter().any(|p| p.id == msg.phase) {
            return Err(LightsError::UnknownPhase {
                topic: topic.to_string(),
                junction: junction.to_string(),
                phase: msg.phase,
            });
        }
        let ahead = (msg.since - now).as_seconds_f64();
        if ahead > FUTURE_S {
            return Err(LightsError::Future {
                topic: topic.to_string(),
                phase: msg.phase,
                since: matthan_schema::format_ts(&msg.since),
                ahead_s: ahead,
            });
        }
        let c = j
            .controlled
            .entry(msg.phase.clone())
            .or_insert_with(|| Controlled {
                changes: VecDeque::new(),
            });
        if let Some(last) = c.changes.back() {
            if msg.since < last.0 {
                return Err(LightsError::OutOfOrder {
                    topic: topic.to_string(),
                    phase: msg.phase,
                    since: matthan_schema::format_ts(&msg.since),
                });
            }
            if msg.since == last.0 && msg.colour == last.1 {
                // A repeat (QoS 1 redelivery, or a controller re-announcing): nothing new.
                return Ok(());
            }
        }
        c.changes.push_back((
            msg.since,
            msg.colour,
            msg.yellow_s.map(f64::from),
            msg.red_s.map(f64::from),
        ));
        while c.changes.len() > KEEP {
            c.changes.pop_front();
        }
        j.last_message = Some(j.last_message.map_or(now, |t| t.max(now)));
        Ok(())
    }

    /// The light `phase` of `junction` showed at `t`.
    pub fn at(&self, junction: &str, phase: &str, t: DateTime<Utc>) -> Option<Light> {
        let j = self.junctions.get(junction)?;
        let fresh = j
            .last_message
            .is_some_and(|m| (t - m).as_seconds_f64() < CONTROLLER_STALE_S);
        if fresh && let Some(mut l) = j.controlled.get(phase).and_then(|c| controlled_at(c, t)) {
            if l.yellow_s <= 0.0 {
                l.yellow_s = j.junction.yellow_s;
            }
            return Some(l);
        }
        plan_at(&j.junction, phase, t)
    }
}

fn controlled_at(c: &Controlled, t: DateTime<Utc>) -> Option<Light> {
    let i = c.changes.iter().rposition(|(since, ..)| *since <= t)?;
    let (since, colour, yellow, red) = c.changes[i];
    // The yellow that preceded a red, if the controller announced it.
    let yellow_s = yellow.unwrap_or_else(|| {
        if colour == Colour::Red && i > 0 && c.changes[i - 1].1 == Colour::Yellow {
            (since - c.changes[i - 1].0).as_seconds_f64()
        } else {
            0.0
        }
    });
    Some(Light {
        colour,
        since,
        source: SignalSource::Controller,
        yellow_s,
        red_s: red,
    })
}

/// The fixed plan's light: phases in order, each green then yellow, red the rest of the cycle
/// (its all-red included).
fn plan_at(j: &Junction, phase: &str, t: DateTime<Utc>) -> Option<Light> {
    let plan = j.plan.as_ref()?;
    let idx = j.phases.iter().position(|p| p.id == phase)?;
    let cycle = j.plan_cycle_s()?;
    let start: f64 = plan.greens_s[..idx]
        .iter()
        .map(|g| g + j.yellow_s + j.all_red_s)
        .sum();
    let g = plan.greens_s[idx];
    // The plan is written against local time of day, as the junction feed reads it.
    let local = (secs(t) + LOCAL_OFFSET_S).rem_euclid(86400.0);
    let rel = (local - plan.offset_s - start).rem_euclid(cycle);
    let (colour, into) = if rel < g {
        (Colour::Green, rel)
    } else if rel < g + j.yellow_s {
        (Colour::Yellow, rel - g)
    } else {
        (Colour::Red, rel - g - j.yellow_s)
    };
    Some(Light {
        colour,
        since: at(secs(t) - into),
        source: SignalSource::FixedPlan,
        yellow_s: j.yellow_s,
        red_s: Some(cycle - g - j.yellow_s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::RawJunction;
    use chrono::Duration;

    fn junction(plan: bool) -> Junction {
        let plan = if plan {
            "[plan]\ngreens_s = [30.0, 20.0]\n"
        } else {
            ""
        };
        let text = format!(
            r#"
id = "j1"
camera = "cam"
yellow_s = 3.0
all_red_s = 2.0
{plan}
[[approaches]]
id = "n"
line = "stop-n"
[[approaches]]
id = "e"
line = "stop-e"
[[phases]]
id = "ns"
approaches = ["n"]
[[phases]]
id = "ew"
approaches = ["e"]
"#
        );
        let raw: RawJunction = toml::from_str(&text).unwrap();
        Junction::validate(raw, |_, _| true, |_, _| true).unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn msg(phase: &str, colour: &str, since: &str) -> Vec<u8> {
        format!(r#"{{"phase":"{phase}","colour":"{colour}","since":"{since}"}}"#).into_bytes()
    }

    const TOPIC: &str = "matthan/hcmc/j1/signal/state";

    #[test]
    fn fixed_plan_cycles_green_yellow_red() {
        let l = Lights::new(&[junction(true)]);
        // Local midnight (17:00 UTC) starts a cycle of 30+5+20+5 = 60 s.
        let base = t("2026-11-25T17:00:00Z");
        let at = |s: f64| base + Duration::milliseconds((s * 1000.0) as i64);
        assert_eq!(l.at("j1", "ns", at(10.0)).unwrap().colour, Colour::Green);
        assert_eq!(l.at("j1", "ns", at(31.0)).unwrap().colour, Colour::Yellow);
        let red = l.at("j1", "ns", at(40.0)).unwrap();
        assert_eq!(red.colour, Colour::Red);
        assert_eq!(red.since, at(33.0));
        assert_eq!(red.red_s, Some(27.0));
        assert_eq!(red.source, SignalSource::FixedPlan);
        assert_eq!(l.at("j1", "ew", at(40.0)).unwrap().colour, Colour::Green);
        assert_eq!(l.at("j1", "ew", at(10.0)).unwrap().colour, Colour::Red);
        assert!(l.at("j1", "nope", at(1.0)).is_none());
    }

    #[test]
    fn controller_messages_override_the_plan_and_bad_ones_are_refused() {
        let mut l = Lights::new(&[junction(true)]);
        let now = t("2026-11-26T08:00:10Z");
        l.apply(TOPIC, &msg("ns", "yellow", "2026-11-26T08:00:00Z"), now)
            .unwrap();
        l.apply(TOPIC, &msg("ns", "red", "2026-11-26T08:00:03Z"), now)
            .unwrap();
        let red = l.at("j1", "ns", t("2026-11-26T08:00:05Z")).unwrap();
        assert_eq!(red.source, SignalSource::Controller);
        assert_eq!(red.colour, Colour::Red);
        assert_eq!(red.yellow_s, 3.0);
        assert_eq!(
            l.at("j1", "ns", t("2026-11-26T08:00:01Z")).unwrap().colour,
            Colour::Yellow
        );
        // Out of order: older than what was applied.
        let e = l
            .apply(TOPIC, &msg("ns", "green", "2026-11-26T07:59:00Z"), now)
            .unwrap_err();
        assert!(matches!(e, LightsError::OutOfOrder { .. }), "{e}");
        // From the future.
        let e = l
            .apply(TOPIC, &msg("ns", "green", "2026-11-26T08:05:00Z"), now)
            .unwrap_err();
        assert!(e.to_string().contains("ahead of this box's clock"), "{e}");
        // Unknown phase, junction, garbage.
        assert!(matches!(
            l.apply(TOPIC, &msg("xx", "red", "2026-11-26T08:00:04Z"), now),
            Err(LightsError::UnknownPhase { .. })
        ));
        assert!(matches!(
            l.apply(
                "matthan/hcmc/j9/signal/state",
                &msg("ns", "red", "2026-11-26T08:00:04Z"),
                now
            ),
            Err(LightsError::UnknownJunction { .. })
        ));
        assert!(matches!(
            l.apply(TOPIC, b"{\"phase\":1}", now),
            Err(LightsError::Malformed { .. })
        ));
        // The state stands after the refusals.
        assert_eq!(
            l.at("j1", "ns", t("2026-11-26T08:00:09Z")).unwrap().colour,
            Colour::Red
        );
    }

    #[test]
    fn without_plan_or_messages_the_light_is_unknown() {
        let l = Lights::new(&[junction(false)]);
        assert!(l.at("j1", "ns", t("2026-11-26T08:00:00Z")).is_none());
    }
}
