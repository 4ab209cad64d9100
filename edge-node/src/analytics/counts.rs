//! Per-interval counts, aligned to the wall clock (e.g. 08:00:00–08:01:00) using capture time,
//! so intervals from different cameras and edge boxes line up.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use matthan_schema::{Counts, Direction, LineCount, MovementCount, ZoneCount};

use super::movements::Finished;

/// Entry, exit (none: never reached one) and class.
type MovementKey = (String, Option<String>, String);

#[derive(Debug)]
pub struct CountWindow {
    interval_s: i64,
    start: Option<i64>,
    lines: BTreeMap<(String, String), (u32, u32)>,
    zones: BTreeMap<(String, String), ZoneTally>,
    movements: BTreeMap<MovementKey, (u32, Vec<f32>)>,
    frames: u32,
}

#[derive(Debug, Default)]
struct ZoneTally {
    entered: u32,
    max: u32,
    sum: u64,
}

impl CountWindow {
    pub fn new(interval_s: u32) -> Self {
        Self {
            interval_s: interval_s as i64,
            start: None,
            lines: BTreeMap::new(),
            zones: BTreeMap::new(),
            movements: BTreeMap::new(),
            frames: 0,
        }
    }

    /// Moves to the interval holding `now`, returning the finished one if it changed.
    pub fn advance(&mut self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Counts)> {
        let slot = now.timestamp().div_euclid(self.interval_s) * self.interval_s;
        match self.start {
            None => {
                self.start = Some(slot);
                None
            }
            Some(s) if slot > s => {
                let done = self.take();
                self.start = Some(slot);
                done
            }
            _ => None,
        }
    }

    pub fn crossing(&mut self, line: &str, class: &str, dir: Direction) {
        let e = self
            .lines
            .entry((line.to_string(), class.to_string()))
            .or_default();
        match dir {
            Direction::In => e.0 += 1,
            Direction::Out => e.1 += 1,
        }
    }

    /// A finished movement of a track of `class`, counted in the interval it finished in.
    pub fn movement(&mut self, m: Finished, class: &str) {
        let e = self
            .movements
            .entry((m.from, m.to, class.to_string()))
            .or_default();
        e.0 += 1;
        e.1.extend(m.speed_kmh);
    }

    pub fn entered(&mut self, zone: &str, class: &str) {
        self.zones
            .entry((zone.to_string(), class.to_string()))
            .or_default()
            .entered += 1;
    }

    /// Records one frame's occupancy: how many of each class are inside each zone.
    pub fn occupancy(&mut self, inside: &BTreeMap<(String, String), u32>) {
        self.frames += 1;
        for ((z, c), n) in inside {
            let t = self.zones.entry((z.clone(), c.clone())).or_default();
            t.max = t.max.max(*n);
            t.sum += *n as u64;
        }
    }

    /// Closes the current interval (stream end or shutdown).
    pub fn flush(&mut self) -> Option<(DateTime<Utc>, Counts)> {
        let done = self.take();
        self.start = None;
        done
    }

    fn take(&mut self) -> Option<(DateTime<Utc>, Counts)> {
        let start = Utc.timestamp_opt(self.start?, 0).single()?;
        let end = start + chrono::Duration::seconds(self.interval_s);
        let frames = self.frames.max(1) as f32;
        let counts = Counts {
            interval_start: start,
            interval_end: end,
            lines: std::mem::take(&mut self.lines)
                .into_iter()
                .map(|((line, class), (i, o))| LineCount {
                    line,
                    class,
                    in_count: i,
                    out_count: o,
                })
                .collect(),
            zones: std::mem::take(&mut self.zones)
                .into_iter()
                .map(|((zone, class), t)| ZoneCount {
                    zone,
                    class,
                    entered: t.entered,
                    max_occupancy: t.max,
                    mean_occupancy: t.sum as f32 / frames,
                })
                .collect(),
            movements: std::mem::take(&mut self.movements)
                .into_iter()
                .map(|((from, to, class), (count, speeds_kmh))| MovementCount {
                    from,
                    to,
                    class,
                    count,
                    speeds_kmh,
                })
                .collect(),
        };
        self.frames = 0;
        // Stamped at the interval's end: that is when the figures became final.
        Some((end, counts))
    }
}
