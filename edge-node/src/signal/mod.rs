//! Signal timing: turns what the cameras measure at a junction (stop-line crossings, queues)
//! into recommendations: Webster's plan for the measured flows, an adaptive mode that sizes
//! each phase from its queue and handles oversaturation, the HCM delay each plan is expected to
//! give, and congestion warnings from a short-term flow forecast.

mod adaptive;
pub mod bridge;
pub mod control;
mod feed;
mod forecast;
mod junction;
pub mod live;
mod measure;
mod plan;

use chrono::{DateTime, Utc};
use matthan_schema::{
    ApproachInput, CongestionWarning, DecisionInput, FlowForecast, PhaseTiming, PlanInForce,
    SignalRecommendation,
};

pub use feed::{JunctionFeed, Sighting};
pub use forecast::Forecaster;
pub use junction::{
    Approach, FixedPlan, Invalid, Junction, Phase, RawApproach, RawJunction, RawPhase, RawPlan,
};
pub use measure::ApproachMeasure;
pub use plan::{
    Load, Plan, Y_OVERSATURATED, clearance_green, critical_ratios, delay, longest_cycle, webster,
};

/// Forecast horizons for congestion warnings, minutes.
pub const HORIZONS_MIN: [u32; 3] = [5, 10, 15];

pub struct Controller {
    pub junction: Junction,
    measures: Vec<ApproachMeasure>,
    forecasters: Vec<Forecaster>,
    /// The plan in force (what the delay of a recommendation is compared with).
    current: Plan,
    /// Whether `current` was configured or reported, rather than assumed (only a known plan
    /// is published as the one in force).
    current_known: bool,
    interval_start: f64,
    green_phase: Option<usize>,
    /// Greens decided so far in the cycle under way (phase order; a cycle starts when a phase
    /// at or before the last one decided turns green), so realised cycles keep their bounds.
    cycle_greens: Vec<(usize, f64)>,
}

impl Controller {
    pub fn new(junction: Junction, current: Option<Plan>) -> Self {
        let n = junction.approaches.len();
        let from_config = junction.plan.as_ref().map(|p| Plan {
            cycle_s: p.greens_s.iter().sum::<f64>() + junction.lost_time_s(),
            greens: p.greens_s.clone(),
        });
        let current_known = current.is_some() || from_config.is_some();
        let current = current.or(from_config).unwrap_or_else(|| {
            // Unknown plan in force: assume the longest cycle split evenly.
            let g = (junction.cycle_max_s - junction.lost_time_s()) / junction.phases.len() as f64;
            Plan {
                cycle_s: junction.cycle_max_s,
                greens: vec![g; junction.phases.len()],
            }
        });
        Self {
            forecasters: vec![Forecaster::new(junction.interval_s); n],
            measures: vec![ApproachMeasure::default(); n],
            junction,
            current,
            current_known,
            interval_start: 0.0,
            green_phase: None,
            cycle_greens: Vec::new(),
        }
    }

    pub fn approach(&self, id: &str) -> Option<usize> {
        self.junction.approaches.iter().position(|a| a.id == id)
    }

    /// A vehicle of `class` crossed approach `a`'s stop line at `t` (seconds).
    pub fn crossing(&mut self, a: usize, t: f64, class: &str) {
        let pcu = self.junction.pcu(class);
        self.measures[a].crossing(t, pcu);
    }

    /// The vehicles (by class) stopped in approach `a`'s queue zone at `t`.
    pub fn queue(&mut self, a: usize, t: f64, classes: &[&str]) {
        let pcu: f64 = classes.iter().map(|c| self.junction.pcu(c)).sum();
        self.measures[a].queue(t, classes.len() as f64, pcu);
    }

    /// Phase `p` turned green at `t` (the others are red).
    pub fn green(&mut self, p: usize, t: f64) {
        if let Some(old) = self.green_phase {
            for &a in &self.junction.phases[old].approaches {
                self.measures[a].green_ended();
            }
        }
        for &a in &self.junction.phases[p].approaches.clone() {
            self.measures[a].green_started(t);
        }
        self.green_phase = Some(p);
    }

    /// Measurement starts at `t` (the first interval ends `interval_s` later).
    pub fn start_at(&mut self, t: f64) {
        self.interval_start = t;
    }

    pub fn set_current(&mut self, plan: Plan) {
        self.current = plan;
        self.current_known = true;
    }

    /// A plan as phase timings with this junction's clearances.
    fn timings(&self, plan: &Plan) -> Vec<PhaseTiming> {
        self.junction
            .phases
            .iter()
            .zip(&plan.greens)
            .map(|(p, g)| PhaseTiming {
                phase: p.id.clone(),
                green_s: *g as f32,
                yellow_s: self.junction.yellow_s as f32,
                all_red_s: self.junction.all_red_s as f32,
            })
            .collect()
    }

    /// Flows over the last `window_s`, saturation (measured or default), queues now.
    pub fn loads(&self, now: f64, window_s: f64) -> Vec<(Load, bool)> {
        self.junction
            .approaches
            .iter()
            .zip(&self.measures)
            .enumerate()
            .map(|(i, (a, m))| {
                let measured = m.saturation();
                let saturation = measured.unwrap_or_else(|| {
                    if a.opposed_by.is_empty() {
                        a.saturation_pcu_h
                    } else {
                        let opposing: f64 = a
                            .opposed_by
                            .iter()
                            .map(|&o| self.measures[o].flow(now, window_s))
                            .sum();
                        self.junction.permitted_saturation(i, opposing)
                    }
                });
                (
                    Load {
                        flow: m.flow(now, window_s),
                        saturation,
                        queue: m.queue_pcu,
                    },
                    measured.is_some(),
                )
            })
            .collect()
    }

    /// What a green decided at `now` is based on, per approach (flows over the last interval,
    /// queues, saturation), for the decision's record.
    pub fn decision_inputs(&self, now: f64) -> Vec<DecisionInput> {
        self.junction
            .approaches
            .iter()
            .zip(self.loads(now, self.junction.interval_s))
            .map(|(a, (l, _))| DecisionInput {
                approach: a.id.clone(),
                flow_pcu_h: l.flow as f32,
                queue_pcu: l.queue as f32,
                saturation_pcu_h: l.saturation as f32,
            })
            .collect()
    }

    /// Every `interval_s`: the recommendation for the interval just measured, and warnings for
    /// approaches whose forecast degree of saturation crosses the junction's threshold.
    /// `local` converts seconds to local time of day for the forecast's profile.
    pub fn tick(
        &mut self,
        now: f64,
        at: DateTime<Utc>,
        adaptive: bool,
        local_offset_s: f64,
    ) -> Option<(SignalRecommendation, Vec<CongestionWarning>)> {
        if now - self.interval_start < self.junction.interval_s {
            return None;
        }
        let window = now - self.interval_start;
        let loads_m = self.loads(now, window);
        let loads: Vec<Load> = loads_m.iter().map(|l| l.0).collect();
        let (mut plan, y, over) = webster(&self.junction, &loads);
        if adaptive {
            // Each phase as long as its queue needs, within the Webster cycle's bounds.
            let greens: Vec<f64> = (0..self.junction.phases.len())
                .map(|p| {
                    clearance_green(&self.junction, p, &loads, self.junction.startup_lost_s)
                        .max(plan.greens[p])
                })
                .collect();
            let cycle = (greens.iter().sum::<f64>() + self.junction.lost_time_s())
                .min(self.junction.cycle_max_s);
            if cycle >= self.junction.cycle_max_s {
                plan = webster(&self.junction, &loads).0;
            } else {
                plan = Plan {
                    cycle_s: cycle,
                    greens,
                };
            }
        }
        let before = delay(&self.junction, &self.current, &loads);
        let after = delay(&self.junction, &plan, &loads);
        let inputs = self
            .junction
            .approaches
            .iter()
            .zip(&loads_m)
            .zip(&mut self.measures)
            .map(|((a, (l, measured)), m)| ApproachInput {
                approach: a.id.clone(),
                flow_pcu_h: l.flow as f32,
                saturation_pcu_h: l.saturation as f32,
                saturation_measured: *measured,
                queue_veh: m.queue_veh as f32,
                occupancy: m.take_occupancy(now) as f32,
                flow_ratio: (l.flow / l.saturation.max(1.0)) as f32,
            })
            .collect();
        let interval_start = at - chrono::Duration::milliseconds((window * 1000.0) as i64);
        let (warnings, forecasts) = self.forecast(now + local_offset_s, &loads_m);
        let rec = SignalRecommendation {
            junction: self.junction.id.clone(),
            mode: if adaptive { "adaptive" } else { "webster" }.into(),
            cycle_s: plan.cycle_s as f32,
            phases: self.timings(&plan),
            inputs,
            y_total: y as f32,
            oversaturated: over,
            delay_current_s: before as f32,
            delay_expected_s: after as f32,
            interval_start,
            in_force: self.current_known.then(|| PlanInForce {
                cycle_s: self.current.cycle_s as f32,
                phases: self.timings(&self.current),
            }),
            forecasts,
            decisions: Vec::new(),
        };
        self.interval_start = now;
        Some((rec, warnings))
    }

    /// Each approach's flow forecast (observed first: this interval is history now), and a
    /// warning per approach whose forecast degree of saturation reaches the junction's
    /// threshold at the nearest horizon that does. The degree is taken under the longest cycle
    /// split by the forecast flows: the most the junction could give every approach at once.
    /// (Against the recommended plan's capacity, every approach at a peak the controller then
    /// served warned: in SUMO no queue followed any of them.)
    fn forecast(
        &mut self,
        local: f64,
        loads_m: &[(Load, bool)],
    ) -> (Vec<CongestionWarning>, Vec<FlowForecast>) {
        let (mut warnings, mut forecasts) = (Vec::new(), Vec::new());
        for (i, (l, _)) in loads_m.iter().enumerate() {
            self.forecasters[i].observe(local, l.flow);
        }
        let mut warned = vec![false; loads_m.len()];
        for h in HORIZONS_MIN {
            let ahead: Vec<Option<f64>> = (0..loads_m.len())
                .map(|i| self.forecasters[i].forecast(local, h as f64 * 60.0))
                .collect();
            let loads: Vec<Load> = loads_m
                .iter()
                .zip(&ahead)
                .map(|((l, _), f)| Load {
                    flow: f.unwrap_or(l.flow),
                    ..*l
                })
                .collect();
            let plan = longest_cycle(&self.junction, &loads);
            for (i, f) in ahead.iter().enumerate() {
                let Some(f) = *f else { continue };
                let approach = &self.junction.approaches[i].id;
                forecasts.push(FlowForecast {
                    approach: approach.clone(),
                    horizon_min: h,
                    flow_pcu_h: f as f32,
                });
                let cap =
                    loads[i].saturation * plan.green_of(&self.junction, i) / plan.cycle_s.max(1.0);
                let x = f / cap.max(1.0);
                if !warned[i] && x >= self.junction.warn_degree {
                    warned[i] = true;
                    warnings.push(CongestionWarning {
                        junction: self.junction.id.clone(),
                        approach: approach.clone(),
                        horizon_min: h,
                        forecast_flow_pcu_h: f as f32,
                        forecast_degree: x as f32,
                        threshold: self.junction.warn_degree as f32,
                    });
                }
            }
        }
        // Published approach by approach, as before.
        forecasts.sort_by_key(|f| (self.approach(&f.approach), f.horizon_min));
        (warnings, forecasts)
    }
}
