//! A junction as the signal-timing code sees it: approaches (each measured by a camera's stop
//! line and, optionally, a queue zone), phases (which approaches each serves, minimum greens)
//! and the clearance times and cycle bounds. Validated once: every approach is served, and the
//! minimum greens fit the longest cycle allowed.

use std::collections::BTreeMap;

use serde::Deserialize;

mod parts;
use parts::{approaches, numbers, phases, plan};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJunction {
    pub id: String,
    /// Camera measuring the approaches unless one names its own.
    #[serde(default)]
    pub camera: Option<String>,
    /// Passenger-car units per motorbike (dense, weaving motorbikes use far less road than a car).
    #[serde(default = "d_moto_pcu")]
    pub motorbike_pcu: f64,
    /// PCU per class where a survey says otherwise than the defaults (motorcycle and bicycle:
    /// `motorbike_pcu`; car 1; bus and truck 2; anything else 1).
    #[serde(default)]
    pub pcu: BTreeMap<String, f64>,
    /// Start-up lost time of a discharging queue, seconds (added to each queue-clearing green).
    #[serde(default = "d_startup")]
    pub startup_lost_s: f64,
    /// Demand counts as unbalanced when one phase's flow ratio is over this many times another's;
    /// the busiest phase then gets at least `busy_floor` of its Webster green.
    #[serde(default = "d_unbalanced")]
    pub unbalanced_ratio: f64,
    #[serde(default = "d_busy_floor")]
    pub busy_floor: f64,
    /// A permitted (yielding) movement's gap acceptance: critical gap and follow-up headway,
    /// seconds (HCM's permitted left-turn defaults).
    #[serde(default = "d_gap_critical")]
    pub gap_critical_s: f64,
    #[serde(default = "d_gap_follow")]
    pub gap_follow_s: f64,
    #[serde(default = "d_cycle_min")]
    pub cycle_min_s: f64,
    #[serde(default = "d_cycle_max")]
    pub cycle_max_s: f64,
    #[serde(default = "d_yellow")]
    pub yellow_s: f64,
    #[serde(default = "d_all_red")]
    pub all_red_s: f64,
    /// Saturation flow per lane until enough discharges have been measured.
    #[serde(default = "d_sat")]
    pub saturation_pcu_h_per_lane: f64,
    /// How often a recommendation is made (the measurement interval), seconds.
    #[serde(default = "d_interval")]
    pub interval_s: f64,
    /// Degree of saturation that a forecast must not reach without a warning.
    #[serde(default = "d_warn")]
    pub warn_degree: f64,
    /// `webster` (the optimal fixed-time plan for what was measured) or `adaptive` (sized from
    /// the queues each interval, with oversaturation handling).
    #[serde(default)]
    pub mode: Option<String>,
    /// The fixed-time plan the controller runs today, when there is no controller feed: greens
    /// per phase in phase order, from `offset_s` past midnight local time. Lets the edge tell
    /// when each green starts (for saturation flow) and compare its recommendation's delay.
    #[serde(default)]
    pub plan: Option<RawPlan>,
    /// Live control: answer the junction controller's requests for the next green over MQTT
    /// (`matthan/{site}/{id}/signal/request` → `.../signal/decision`) and take its detectors'
    /// readings there too. The controller says when each green starts, so the fixed plan
    /// clock is not used once it asks.
    #[serde(default)]
    pub answer_requests: bool,
    pub approaches: Vec<RawApproach>,
    pub phases: Vec<RawPhase>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    pub greens_s: Vec<f64>,
    #[serde(default)]
    pub offset_s: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApproach {
    pub id: String,
    #[serde(default)]
    pub camera: Option<String>,
    /// The stop line (a line id on the camera); vehicles crossing it are the approach's flow.
    pub line: String,
    /// The zone behind the stop line where the queue forms.
    #[serde(default)]
    pub queue_zone: Option<String>,
    #[serde(default = "d_lanes")]
    pub lanes: u32,
    /// Saturation flow of the whole approach from a survey, PCU/h; else `lanes` times the
    /// junction's per-lane default. Measured discharges replace either.
    #[serde(default)]
    pub saturation_pcu_h: Option<f64>,
    /// A permitted movement (a left turn without its own phase) yields to these approaches'
    /// flow: its saturation flow comes from the gaps they leave (HCM permitted-left model).
    #[serde(default)]
    pub opposed_by: Vec<String>,
    /// Which way over the line enters the junction (`in`, `out` or `both`).
    #[serde(default = "d_direction")]
    pub direction: String,
}

fn d_direction() -> String {
    "in".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    pub id: String,
    pub approaches: Vec<String>,
    #[serde(default = "d_min_green")]
    pub min_green_s: f64,
    /// Pedestrian crossing time the phase's green must allow.
    #[serde(default)]
    pub pedestrian_min_s: f64,
    /// Longest green the phase may get.
    #[serde(default = "d_max_green")]
    pub max_green_s: f64,
}

fn d_moto_pcu() -> f64 {
    0.3
}
fn d_cycle_min() -> f64 {
    40.0
}
fn d_cycle_max() -> f64 {
    150.0
}
fn d_yellow() -> f64 {
    3.0
}
fn d_all_red() -> f64 {
    2.0
}
fn d_startup() -> f64 {
    2.0
}
fn d_unbalanced() -> f64 {
    2.0
}
fn d_busy_floor() -> f64 {
    0.8
}
fn d_gap_critical() -> f64 {
    4.5
}
fn d_gap_follow() -> f64 {
    2.5
}
fn d_sat() -> f64 {
    1800.0
}
fn d_interval() -> f64 {
    300.0
}
fn d_warn() -> f64 {
    0.9
}
fn d_lanes() -> u32 {
    1
}
fn d_min_green() -> f64 {
    7.0
}
fn d_max_green() -> f64 {
    90.0
}

#[derive(Debug, Clone)]
pub struct Approach {
    pub id: String,
    pub camera: String,
    pub line: String,
    pub queue_zone: Option<String>,
    pub lanes: u32,
    /// Crossing directions that count: `Some(In)`, `Some(Out)`, or None for both.
    pub direction: Option<matthan_schema::Direction>,
    /// Saturation flow until measured (survey, or lanes × the junction's default), PCU/h.
    pub saturation_pcu_h: f64,
    /// Approaches whose flow this permitted movement yields to (indices); empty if protected.
    pub opposed_by: Vec<usize>,
}

/// A fixed-time plan in force: green per phase, starting `offset_s` after local midnight.
#[derive(Debug, Clone)]
pub struct FixedPlan {
    pub greens_s: Vec<f64>,
    pub offset_s: f64,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub id: String,
    /// Indices into `Junction::approaches`.
    pub approaches: Vec<usize>,
    /// The larger of the minimum green and the pedestrian minimum.
    pub min_green_s: f64,
    pub max_green_s: f64,
}

/// A validated junction.
#[derive(Debug, Clone)]
pub struct Junction {
    pub id: String,
    pub motorbike_pcu: f64,
    pub pcu: BTreeMap<String, f64>,
    pub startup_lost_s: f64,
    pub unbalanced_ratio: f64,
    pub busy_floor: f64,
    pub gap_critical_s: f64,
    pub gap_follow_s: f64,
    pub cycle_min_s: f64,
    pub cycle_max_s: f64,
    pub yellow_s: f64,
    pub all_red_s: f64,
    pub saturation_pcu_h_per_lane: f64,
    pub interval_s: f64,
    pub warn_degree: f64,
    pub adaptive: bool,
    pub plan: Option<FixedPlan>,
    pub answer_requests: bool,
    pub approaches: Vec<Approach>,
    pub phases: Vec<Phase>,
}

/// A junction config error: which key, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub key: String,
    pub reason: String,
}

impl Junction {
    /// Saturation flow of a permitted movement on approach `a` while its opposing approaches
    /// carry `opposing` PCU/h, per lane (HCM permitted left turn: s = v e^(-v tc) / (1 - e^(-v tf)),
    /// v in PCU/s; 3600 / tf when nothing opposes), never above the approach's own saturation.
    pub fn permitted_saturation(&self, a: usize, opposing: f64) -> f64 {
        let own = self.approaches[a].saturation_pcu_h;
        let v = opposing.max(0.0) / 3600.0;
        let per_lane = if v < 1e-6 {
            3600.0 / self.gap_follow_s
        } else {
            3600.0 * v * (-v * self.gap_critical_s).exp() / (1.0 - (-v * self.gap_follow_s).exp())
        };
        (per_lane * self.approaches[a].lanes as f64).min(own)
    }

    /// Lost time per cycle: each phase change costs its yellow and all-red (start-up lost time
    /// taken as equal to the part of the yellow drivers still use).
    pub fn lost_time_s(&self) -> f64 {
        self.phases.len() as f64 * (self.yellow_s + self.all_red_s)
    }

    /// Checks `raw`; `line_ok(camera, line)` and `zone_ok(camera, zone)` say whether the camera
    /// has them.
    pub fn validate(
        raw: RawJunction,
        line_ok: impl Fn(&str, &str) -> bool,
        zone_ok: impl Fn(&str, &str) -> bool,
    ) -> Result<Self, Invalid> {
        let err = |key: String, reason: String| Invalid { key, reason };
        matthan_schema::validate_segment(&raw.id).map_err(|r| err("id".into(), r))?;
        numbers(&raw)?;
        if raw.cycle_min_s > raw.cycle_max_s {
            return Err(err(
                "cycle_min_s".into(),
                format!(
                    "{} is above cycle_max_s {}",
                    raw.cycle_min_s, raw.cycle_max_s
                ),
            ));
        }
        if raw.approaches.is_empty() {
            return Err(err(
                "approaches".into(),
                "a junction needs at least one approach".into(),
            ));
        }
        if raw.phases.len() < 2 {
            return Err(err(
                "phases".into(),
                "a signalised junction needs at least 2 phases".into(),
            ));
        }
        let approaches = approaches(&raw, line_ok, zone_ok)?;
        let phases = phases(&raw, &approaches)?;
        for (i, a) in approaches.iter().enumerate() {
            if !phases.iter().any(|p| p.approaches.contains(&i)) {
                return Err(err(
                    format!("approaches[{i}]"),
                    format!(
                        "approach {:?} is served by no phase; its traffic would never get a green",
                        a.id
                    ),
                ));
            }
        }
        let adaptive = match raw.mode.as_deref() {
            None | Some("webster") => false,
            Some("adaptive") => true,
            Some(m) => {
                return Err(err(
                    "mode".into(),
                    format!("{m:?}: expected webster or adaptive"),
                ));
            }
        };
        let plan = plan(&raw, phases.len())?;
        let j = Junction {
            id: raw.id,
            motorbike_pcu: raw.motorbike_pcu,
            pcu: raw.pcu,
            startup_lost_s: raw.startup_lost_s,
            unbalanced_ratio: raw.unbalanced_ratio,
            busy_floor: raw.busy_floor,
            gap_critical_s: raw.gap_critical_s,
            gap_follow_s: raw.gap_follow_s,
            cycle_min_s: raw.cycle_min_s,
            cycle_max_s: raw.cycle_max_s,
            yellow_s: raw.yellow_s,
            all_red_s: raw.all_red_s,
            saturation_pcu_h_per_lane: raw.saturation_pcu_h_per_lane,
            interval_s: raw.interval_s,
            warn_degree: raw.warn_degree,
            adaptive,
            answer_requests: raw.answer_requests,
            plan,
            approaches,
            phases,
        };
        let need: f64 = j.phases.iter().map(|p| p.min_green_s).sum::<f64>() + j.lost_time_s();
        if need > j.cycle_max_s {
            return Err(err(
                "phases".into(),
                format!(
                    "minimum greens ({}) plus clearance ({} s) need {need} s, more than cycle_max_s {}",
                    j.phases
                        .iter()
                        .map(|p| format!("{} {} s", p.id, p.min_green_s))
                        .collect::<Vec<_>>()
                        .join(", "),
                    j.lost_time_s(),
                    j.cycle_max_s
                ),
            ));
        }
        Ok(j)
    }

    /// Cycle length of the plan in force, if known.
    pub fn plan_cycle_s(&self) -> Option<f64> {
        self.plan
            .as_ref()
            .map(|p| p.greens_s.iter().sum::<f64>() + self.lost_time_s())
    }

    /// Which phase of the fixed plan is green at `local_s` seconds after local midnight, and
    /// since when (same clock); None during clearance intervals.
    pub fn plan_green_at(&self, local_s: f64) -> Option<(usize, f64)> {
        let p = self.plan.as_ref()?;
        let c = self.plan_cycle_s()?;
        let into = (local_s - p.offset_s).rem_euclid(c);
        let cycle_start = local_s - into;
        let mut t = 0.0;
        for (i, g) in p.greens_s.iter().enumerate() {
            if into < t + g {
                return Some((i, cycle_start + t));
            }
            t += g + self.yellow_s + self.all_red_s;
            if into < t {
                return None;
            }
        }
        None
    }

    /// PCU of one vehicle of `class`.
    pub fn pcu(&self, class: &str) -> f64 {
        if let Some(v) = self.pcu.get(class) {
            return *v;
        }
        match class {
            "motorcycle" | "bicycle" => self.motorbike_pcu,
            "bus" | "truck" => 2.0,
            _ => 1.0,
        }
    }
}
