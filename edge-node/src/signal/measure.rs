//! What the cameras measure per approach: flow (PCU/h), the queue behind the stop line,
//! occupancy of the queue zone, and saturation flow from discharge headways when green starts.

use std::collections::VecDeque;

/// Vehicles counted into the saturation estimate before it replaces the configured default.
const MIN_SAT_SAMPLES: usize = 15;
/// The first vehicles of a discharging queue still accelerate (HCM counts from the fifth;
/// counting from the third was tried and underestimates saturation flow by a third).
const SKIP_FIRST: usize = 4;
/// A gap longer than this ends a saturated discharge.
const SATURATED_GAP_S: f64 = 4.0;
/// Crossings kept for flow (enough for the longest forecast window).
const KEEP_S: f64 = 3.0 * 3600.0;

#[derive(Debug, Default, Clone)]
struct Discharge {
    queued: f64,
    n: usize,
    last: Option<f64>,
    /// PCU and seconds of saturated discharge measured in this green.
    pcu: f64,
    secs: f64,
}

#[derive(Debug, Default, Clone)]
pub struct ApproachMeasure {
    crossings: VecDeque<(f64, f64)>,
    pub queue_veh: f64,
    pub queue_pcu: f64,
    queue_since: Option<(f64, bool)>,
    occupied_s: f64,
    occupancy_from: f64,
    discharge: Option<Discharge>,
    sat_pcu: f64,
    sat_secs: f64,
    sat_samples: usize,
}

impl ApproachMeasure {
    /// A vehicle of `pcu` units crossed the stop line at `t` (seconds).
    pub fn crossing(&mut self, t: f64, pcu: f64) {
        self.crossings.push_back((t, pcu));
        while self.crossings.front().is_some_and(|(x, _)| t - x > KEEP_S) {
            self.crossings.pop_front();
        }
        if let Some(d) = &mut self.discharge {
            d.n += 1;
            let gap = d.last.map(|l| t - l);
            d.last = Some(t);
            let saturated =
                gap.is_none_or(|g| g <= SATURATED_GAP_S) && (d.n as f64) <= d.queued + 0.5;
            if !saturated {
                self.close_discharge();
            } else if d.n > SKIP_FIRST
                && let Some(g) = gap
            {
                d.pcu += pcu;
                d.secs += g;
            }
        }
    }

    fn close_discharge(&mut self) {
        if let Some(d) = self.discharge.take()
            && d.n > SKIP_FIRST + 1
            && d.secs > 0.0
        {
            self.sat_pcu += d.pcu;
            self.sat_secs += d.secs;
            self.sat_samples += d.n - SKIP_FIRST - 1;
        }
    }

    /// Green started for this approach at `t`: measure the discharge of the queue it had.
    pub fn green_started(&mut self, _t: f64) {
        self.close_discharge();
        self.discharge = Some(Discharge {
            queued: self.queue_veh,
            ..Discharge::default()
        });
    }

    /// Green ended: whatever was being measured is complete.
    pub fn green_ended(&mut self) {
        self.close_discharge();
    }

    /// Vehicles stopped in the queue zone at `t` (and their PCU).
    pub fn queue(&mut self, t: f64, vehicles: f64, pcu: f64) {
        if let Some((since, occ)) = self.queue_since
            && occ
        {
            self.occupied_s += (t - since).max(0.0);
        }
        self.queue_since = Some((t, vehicles > 0.0));
        self.queue_veh = vehicles;
        self.queue_pcu = pcu;
    }

    /// PCU/h over the last `window_s` before `now`.
    pub fn flow(&self, now: f64, window_s: f64) -> f64 {
        let pcu: f64 = self
            .crossings
            .iter()
            .filter(|(t, _)| now - t <= window_s && *t <= now)
            .map(|(_, p)| p)
            .sum();
        pcu * 3600.0 / window_s
    }

    /// Measured saturation flow (PCU/h of green), once enough discharges were seen.
    pub fn saturation(&self) -> Option<f64> {
        (self.sat_samples >= MIN_SAT_SAMPLES && self.sat_secs > 0.0)
            .then(|| self.sat_pcu * 3600.0 / self.sat_secs)
    }

    /// Fraction of time since the last call the queue zone held a vehicle; restarts the count.
    pub fn take_occupancy(&mut self, now: f64) -> f64 {
        if let Some((since, true)) = self.queue_since {
            self.occupied_s += (now - since).max(0.0);
            self.queue_since = Some((now, true));
        }
        let span = (now - self.occupancy_from).max(1e-9);
        let occ = (self.occupied_s / span).clamp(0.0, 1.0);
        self.occupied_s = 0.0;
        self.occupancy_from = now;
        occ
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_flow_comes_from_headways_after_the_fourth_vehicle() {
        let mut a = ApproachMeasure::default();
        for cycle in 0..3 {
            let t0 = cycle as f64 * 90.0;
            a.queue(t0, 10.0, 10.0);
            a.green_started(t0);
            // Start-up: 3 s between the first four, then a steady 2 s headway (1800 PCU/h).
            let mut t = t0 + 3.0;
            for i in 0..10 {
                a.crossing(t, 1.0);
                t += if i < 3 { 3.0 } else { 2.0 };
            }
            a.green_ended();
        }
        let s = a.saturation().expect("15 samples measured");
        assert!((s - 1800.0).abs() < 1.0, "{s}");
    }

    #[test]
    fn arrivals_without_a_queue_say_nothing_about_saturation() {
        let mut a = ApproachMeasure::default();
        for k in 0..50 {
            let t0 = k as f64 * 60.0;
            a.queue(t0, 0.0, 0.0);
            a.green_started(t0);
            a.crossing(t0 + 10.0, 1.0);
            a.crossing(t0 + 20.0, 1.0);
            a.green_ended();
        }
        assert_eq!(a.saturation(), None);
        assert!((a.flow(3000.0, 600.0) - 120.0).abs() < 1e-6);
    }
}
