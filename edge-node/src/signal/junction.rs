//! A junction as the signal-timing code sees it: approaches (each measured by a camera's stop
//! line and, optionally, a queue zone), phases (which approaches each serves, minimum greens)
//! and the clearance times and cycle bounds. Validated once: every approach is served, and the
//! minimum greens fit the longest cycle allowed.

use serde::Deserialize;

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
        let positive = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(err(key.into(), format!("{v} must be a positive number")))
            }
        };
        positive("motorbike_pcu", raw.motorbike_pcu)?;
        positive("cycle_min_s", raw.cycle_min_s)?;
        positive("cycle_max_s", raw.cycle_max_s)?;
        positive("saturation_pcu_h_per_lane", raw.saturation_pcu_h_per_lane)?;
        positive("interval_s", raw.interval_s)?;
        positive("warn_degree", raw.warn_degree)?;
        if !(raw.yellow_s.is_finite() && raw.yellow_s >= 0.0) {
            return Err(err("yellow_s".into(), "must be 0 or more seconds".into()));
        }
        if !(raw.all_red_s.is_finite() && raw.all_red_s >= 0.0) {
            return Err(err("all_red_s".into(), "must be 0 or more seconds".into()));
        }
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
        match class {
            "motorcycle" | "bicycle" => self.motorbike_pcu,
            "bus" | "truck" => 2.0,
            _ => 1.0,
        }
    }
}

/// The approaches, each on a camera line (and optionally a queue zone) that exists.
fn approaches(
    raw: &RawJunction,
    line_ok: impl Fn(&str, &str) -> bool,
    zone_ok: impl Fn(&str, &str) -> bool,
) -> Result<Vec<Approach>, Invalid> {
    let err = |key: String, reason: String| Invalid { key, reason };
    let mut approaches = Vec::new();
    for (i, a) in raw.approaches.iter().enumerate() {
        let k = format!("approaches[{i}]");
        matthan_schema::validate_segment(&a.id).map_err(|r| err(format!("{k}.id"), r))?;
        if approaches.iter().any(|x: &Approach| x.id == a.id) {
            return Err(err(
                format!("{k}.id"),
                format!("duplicate approach {:?}", a.id),
            ));
        }
        let camera = a
            .camera
            .clone()
            .or_else(|| raw.camera.clone())
            .ok_or_else(|| {
                err(
                    format!("{k}.camera"),
                    "no camera for this approach (set it here or on the junction)".into(),
                )
            })?;
        if !line_ok(&camera, &a.line) {
            return Err(err(
                format!("{k}.line"),
                format!("camera {camera:?} has no line {:?}", a.line),
            ));
        }
        if let Some(z) = &a.queue_zone
            && !zone_ok(&camera, z)
        {
            return Err(err(
                format!("{k}.queue_zone"),
                format!("camera {camera:?} has no zone {z:?}"),
            ));
        }
        if a.lanes == 0 || a.lanes > 12 {
            return Err(err(format!("{k}.lanes"), "must be 1..=12".into()));
        }
        let direction = match a.direction.as_str() {
            "in" => Some(matthan_schema::Direction::In),
            "out" => Some(matthan_schema::Direction::Out),
            "both" => None,
            d => {
                return Err(err(
                    format!("{k}.direction"),
                    format!("{d:?}: expected in, out or both"),
                ));
            }
        };
        approaches.push(Approach {
            id: a.id.clone(),
            camera,
            line: a.line.clone(),
            queue_zone: a.queue_zone.clone(),
            lanes: a.lanes,
            direction,
        });
    }
    Ok(approaches)
}

/// The phases, each serving known approaches, with greens that fit their minimums.
fn phases(raw: &RawJunction, approaches: &[Approach]) -> Result<Vec<Phase>, Invalid> {
    let err = |key: String, reason: String| Invalid { key, reason };
    let mut phases: Vec<Phase> = Vec::new();
    for (i, p) in raw.phases.iter().enumerate() {
        let k = format!("phases[{i}]");
        matthan_schema::validate_segment(&p.id).map_err(|r| err(format!("{k}.id"), r))?;
        if phases.iter().any(|x| x.id == p.id) {
            return Err(err(
                format!("{k}.id"),
                format!("duplicate phase {:?}", p.id),
            ));
        }
        let mut idx = Vec::new();
        for (j, a) in p.approaches.iter().enumerate() {
            let n = approaches
                .iter()
                .position(|x| &x.id == a)
                .ok_or_else(|| err(format!("{k}.approaches[{j}]"), format!("no approach {a:?}")))?;
            idx.push(n);
        }
        if idx.is_empty() {
            return Err(err(
                format!("{k}.approaches"),
                "a phase must serve at least one approach".into(),
            ));
        }
        for (key, v) in [
            ("min_green_s", p.min_green_s),
            ("pedestrian_min_s", p.pedestrian_min_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(err(
                    format!("{k}.{key}"),
                    "must be 0 or more seconds".into(),
                ));
            }
        }
        let min = p.min_green_s.max(p.pedestrian_min_s);
        if !(p.max_green_s.is_finite() && p.max_green_s >= min) {
            return Err(err(
                format!("{k}.max_green_s"),
                format!("{} is below the phase's minimum green {min}", p.max_green_s),
            ));
        }
        phases.push(Phase {
            id: p.id.clone(),
            approaches: idx,
            min_green_s: min,
            max_green_s: p.max_green_s,
        });
    }
    Ok(phases)
}

/// The fixed plan in force, if configured: one green per phase.
fn plan(raw: &RawJunction, n_phases: usize) -> Result<Option<FixedPlan>, Invalid> {
    let err = |key: String, reason: String| Invalid { key, reason };
    Ok(match &raw.plan {
        None => None,
        Some(p) => {
            if p.greens_s.len() != n_phases {
                return Err(err(
                    "plan.greens_s".into(),
                    format!("{} greens for {} phases", p.greens_s.len(), n_phases),
                ));
            }
            if p.greens_s.iter().any(|g| !(g.is_finite() && *g > 0.0)) || !p.offset_s.is_finite() {
                return Err(err(
                    "plan".into(),
                    "greens must be positive seconds, offset finite".into(),
                ));
            }
            Some(FixedPlan {
                greens_s: p.greens_s.clone(),
                offset_s: p.offset_s,
            })
        }
    })
}
