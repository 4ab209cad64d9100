//! Signal plans: Webster's optimal cycle and green split for measured flows, the HCM delay
//! estimate that compares plans, and the queue-clearance green the adaptive mode gives a phase
//! at its start.

use super::junction::Junction;

/// Above this sum of critical flow ratios Webster's cycle runs away; the junction is treated as
/// oversaturated.
pub const Y_OVERSATURATED: f64 = 0.9;

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub cycle_s: f64,
    /// Effective green per phase, seconds.
    pub greens: Vec<f64>,
}

impl Plan {
    /// The green approach `a` gets per cycle: an approach served by several phases gets their
    /// greens together.
    pub fn green_of(&self, j: &Junction, a: usize) -> f64 {
        j.phases
            .iter()
            .zip(&self.greens)
            .filter(|(p, _)| p.approaches.contains(&a))
            .map(|(_, g)| g)
            .sum()
    }
}

/// Per approach: flow and saturation in PCU/h, and the queue waiting now in PCU.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub flow: f64,
    pub saturation: f64,
    pub queue: f64,
}

/// The critical (largest) flow ratio each phase serves.
pub fn critical_ratios(j: &Junction, loads: &[Load]) -> Vec<f64> {
    j.phases
        .iter()
        .map(|p| {
            p.approaches
                .iter()
                .map(|&a| loads[a].flow / loads[a].saturation.max(1.0))
                .fold(0.0, f64::max)
        })
        .collect()
}

/// Splits `total` green seconds over phases in proportion to `weights`, never below each
/// phase's minimum nor above its maximum.
fn split(j: &Junction, total: f64, weights: &[f64]) -> Vec<f64> {
    let n = j.phases.len();
    let mut g = vec![0.0; n];
    let mut fixed = vec![false; n];
    // Phases pinned at a bound take their bound; the rest share what is left; repeat until stable.
    for _ in 0..=n {
        let free: f64 = total - (0..n).filter(|&i| fixed[i]).map(|i| g[i]).sum::<f64>();
        let wsum: f64 = (0..n)
            .filter(|&i| !fixed[i])
            .map(|i| weights[i].max(1e-6))
            .sum();
        let mut changed = false;
        for i in (0..n).filter(|&i| !fixed[i]) {
            g[i] = free * weights[i].max(1e-6) / wsum;
        }
        let open: Vec<usize> = (0..n).filter(|&i| !fixed[i]).collect();
        for i in open {
            let p = &j.phases[i];
            if g[i] < p.min_green_s {
                g[i] = p.min_green_s;
                fixed[i] = true;
                changed = true;
            } else if g[i] > p.max_green_s {
                g[i] = p.max_green_s;
                fixed[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    g
}

/// Webster's optimal cycle C0 = (1.5 L + 5) / (1 - Y), greens in proportion to the critical
/// flow ratios. Oversaturated (Y ≥ 0.9): the longest cycle allowed, and the residual queues
/// weigh in, so the longest queues are served first; minimum greens always hold.
pub fn webster(j: &Junction, loads: &[Load]) -> (Plan, f64, bool) {
    let ys = critical_ratios(j, loads);
    let y: f64 = ys.iter().sum();
    let l = j.lost_time_s();
    let over = y >= Y_OVERSATURATED;
    let cycle = if over {
        j.cycle_max_s
    } else {
        ((1.5 * l + 5.0) / (1.0 - y)).clamp(j.cycle_min_s, j.cycle_max_s)
    };
    let weights: Vec<f64> = if over {
        j.phases
            .iter()
            .map(|p| {
                p.approaches
                    .iter()
                    .map(|&a| {
                        let ld = loads[a];
                        // Arrivals over a cycle plus the queue already waiting, as a ratio of
                        // what a full cycle of green would discharge.
                        (ld.flow * cycle / 3600.0 + ld.queue)
                            / (ld.saturation.max(1.0) * cycle / 3600.0)
                    })
                    .fold(0.0, f64::max)
            })
            .collect()
    } else {
        ys.clone()
    };
    let greens = split(j, cycle - l, &weights);
    let cycle = greens.iter().sum::<f64>() + l;
    (
        Plan {
            cycle_s: cycle,
            greens,
        },
        y,
        over,
    )
}

/// The longest cycle allowed, greens in proportion to the critical flow ratios (minimums and
/// maximums kept): the most capacity the junction can give all its approaches together.
pub fn longest_cycle(j: &Junction, loads: &[Load]) -> Plan {
    let greens = split(
        j,
        j.cycle_max_s - j.lost_time_s(),
        &critical_ratios(j, loads),
    );
    Plan {
        cycle_s: greens.iter().sum::<f64>() + j.lost_time_s(),
        greens,
    }
}

/// Mean control delay per PCU (seconds) under `plan`: HCM 2000 uniform + incremental delay per
/// approach (analysis period 15 min), weighted by flow. Defined for oversaturated approaches too.
pub fn delay(j: &Junction, plan: &Plan, loads: &[Load]) -> f64 {
    let c = plan.cycle_s.max(1.0);
    let t = 0.25;
    let (mut sum, mut flow) = (0.0, 0.0);
    for (i, ld) in loads.iter().enumerate() {
        if ld.flow <= 0.0 {
            continue;
        }
        let g = plan.green_of(j, i);
        let lambda = (g / c).clamp(0.01, 1.0);
        let cap = ld.saturation.max(1.0) * lambda;
        let x = ld.flow / cap;
        let d1 = 0.5 * c * (1.0 - lambda).powi(2) / (1.0 - x.min(1.0) * lambda).max(1e-6);
        let d2 = 900.0 * t * ((x - 1.0) + ((x - 1.0).powi(2) + 8.0 * 0.5 * x / (cap * t)).sqrt());
        sum += ld.flow * (d1 + d2);
        flow += ld.flow;
    }
    if flow > 0.0 { sum / flow } else { 0.0 }
}

/// The green that clears the queue a phase has at its start, counting the vehicles that join
/// while it discharges: g = (Q·h) / (1 − λ·h) for the slowest of its approaches (h: seconds per
/// PCU at saturation, λ: arrivals in PCU/s), plus the start-up lost time, within the phase's
/// bounds.
pub fn clearance_green(j: &Junction, phase: usize, loads: &[Load], startup_s: f64) -> f64 {
    let p = &j.phases[phase];
    let need = p
        .approaches
        .iter()
        .map(|&a| {
            let ld = loads[a];
            let h = 3600.0 / ld.saturation.max(1.0);
            let lambda = ld.flow / 3600.0;
            let rho = (lambda * h).min(0.95);
            startup_s + ld.queue * h / (1.0 - rho)
        })
        .fold(0.0, f64::max);
    need.clamp(p.min_green_s, p.max_green_s)
}
