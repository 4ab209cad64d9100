//! Short-term flow forecast per approach: Holt's linear smoothing of the recent interval flows
//! until the time-of-day profile (mean flow in the same 15-minute slot on earlier days) has seen
//! enough days; then the profile at the horizon scaled by how busy today is against it (a
//! smoothed ratio of the recent flows to the profile's), blended with Holt.

use std::collections::HashMap;

const ALPHA: f64 = 0.5;
const BETA: f64 = 0.2;
const SLOT_S: f64 = 900.0;
const DAY_S: f64 = 86400.0;
/// Days a slot must have been seen before the profile counts.
const PROFILE_MIN: u32 = 3;
/// Weight of the scaled profile against Holt once the profile counts, and the smoothing of
/// today's ratio to the profile per interval (about the last hour and a half counts). Fitted on
/// the tuning week of `benches/sumo/forecast.py` (seed 1); reported on seed 2.
const PROFILE_WEIGHT: f64 = 0.85;
const RATIO_ALPHA: f64 = 0.05;

/// One 15-minute slot of the day: the flows seen in it and on how many different days (several
/// intervals fall in one slot each day, so counting observations would count one day thrice).
#[derive(Debug, Default, Clone)]
struct Slot {
    sum: f64,
    n: u32,
    days: u32,
    last_day: Option<i64>,
}

#[derive(Debug, Default, Clone)]
pub struct Forecaster {
    level: Option<f64>,
    trend: f64,
    interval_s: f64,
    profile: HashMap<u32, Slot>,
    /// Today's flows over the profile's, smoothed; None until a profile slot counted.
    ratio: Option<f64>,
}

fn slot(t: f64) -> u32 {
    (t.rem_euclid(DAY_S) / SLOT_S) as u32
}

impl Forecaster {
    pub fn new(interval_s: f64) -> Self {
        Self {
            interval_s,
            ..Self::default()
        }
    }

    /// The flow (PCU/h) measured over the interval ending at `t` (seconds of local time).
    pub fn observe(&mut self, t: f64, flow: f64) {
        match self.level {
            None => self.level = Some(flow),
            Some(l) => {
                let new = ALPHA * flow + (1.0 - ALPHA) * (l + self.trend);
                self.trend = BETA * (new - l) + (1.0 - BETA) * self.trend;
                self.level = Some(new);
            }
        }
        if let Some(p) = self.usual(t) {
            let r = (flow / p.max(1.0)).clamp(0.2, 5.0);
            self.ratio = Some(match self.ratio {
                None => r,
                Some(old) => RATIO_ALPHA * r + (1.0 - RATIO_ALPHA) * old,
            });
        }
        let day = (t / DAY_S).floor() as i64;
        let e = self.profile.entry(slot(t)).or_default();
        e.sum += flow;
        e.n += 1;
        if e.last_day != Some(day) {
            e.days += 1;
            e.last_day = Some(day);
        }
    }

    /// The usual flow at time of day `t`: the profile's mean for its slot, once counted.
    fn usual(&self, t: f64) -> Option<f64> {
        self.profile
            .get(&slot(t))
            .filter(|p| p.days >= PROFILE_MIN)
            .map(|p| p.sum / p.n as f64)
    }

    /// Flow expected `ahead_s` after `t`, never negative.
    pub fn forecast(&self, t: f64, ahead_s: f64) -> Option<f64> {
        let l = self.level?;
        let steps = ahead_s / self.interval_s.max(1.0);
        let holt = (l + self.trend * steps).max(0.0);
        Some(match self.usual(t + ahead_s) {
            Some(p) => {
                let scaled = p * self.ratio.unwrap_or(1.0);
                (1.0 - PROFILE_WEIGHT) * holt + PROFILE_WEIGHT * scaled
            }
            None => holt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rising_flow_is_forecast_to_keep_rising() {
        let mut f = Forecaster::new(300.0);
        for k in 0..12 {
            f.observe(k as f64 * 300.0, 600.0 + 50.0 * k as f64);
        }
        let now = 11.0 * 300.0;
        let in15 = f.forecast(now, 900.0).unwrap();
        assert!(in15 > 1150.0 + 100.0, "{in15}");
    }

    #[test]
    fn the_time_of_day_profile_pulls_the_forecast() {
        let mut f = Forecaster::new(900.0);
        // Three days: 8:00-8:15 always busy (2000), the rest quiet (500).
        for day in 0..3 {
            for s in 0..96 {
                let t = day as f64 * DAY_S + s as f64 * 900.0;
                f.observe(t, if s == 32 { 2000.0 } else { 500.0 });
            }
        }
        let t = 3.0 * DAY_S + 31.0 * 900.0; // 7:45 on day four, quiet so far
        f.observe(t, 500.0);
        let at8 = f.forecast(t, 900.0).unwrap();
        assert!(at8 > 1000.0, "{at8}");
    }

    #[test]
    fn the_profile_counts_days_not_intervals() {
        // Five-minute intervals: three in each slot, but all on one day.
        let mut f = Forecaster::new(300.0);
        for k in 0..288 {
            let t = k as f64 * 300.0;
            f.observe(t, if (96..99).contains(&k) { 2000.0 } else { 500.0 });
        }
        let t = DAY_S + 95.0 * 300.0; // 7:55 on day two
        f.observe(t, 500.0);
        let at8 = f.forecast(t, 300.0).unwrap();
        assert!(
            at8 < 700.0,
            "one day of history is not a profile yet: {at8}"
        );
    }
}
