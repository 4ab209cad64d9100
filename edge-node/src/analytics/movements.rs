//! Turning movements (`[cameras.movements]`): a track that crosses an entry line and later an
//! exit line made the movement entry → exit. Planners count them per class and interval
//! (turning-movement counts, peak-hour factor) and, where the camera has a ground calibration,
//! want each vehicle's speed from entry to exit along its path.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use matthan_schema::Direction;
use serde::Deserialize;

use super::Line;
use crate::config::{ConfigError, Scope};
use crate::rules::GroundPlane;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMovements {
    pub entries: Vec<RawGate>,
    pub exits: Vec<RawGate>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGate {
    /// The approach or exit's name (`west`, `ton-duc-thang-north`): what reports show.
    pub id: String,
    /// A line id on the camera.
    pub line: String,
    /// Which way over the line counts: `in`, `out` or `both` (default `in`).
    #[serde(default)]
    pub direction: Option<String>,
}

/// One side of a movement: crossing `line` in `way` (None: either way).
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub id: String,
    pub line: String,
    pub way: Option<Direction>,
}

impl Gate {
    fn matches(&self, line: &str, dir: Direction) -> bool {
        self.line == line && self.way.is_none_or(|w| w == dir)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MovementConfig {
    pub entries: Vec<Gate>,
    pub exits: Vec<Gate>,
}

impl RawMovements {
    pub fn validate(self, s: &Scope, lines: &[Line]) -> Result<MovementConfig, ConfigError> {
        let s = s.at("movements");
        let gates = |name: &str, raw: Vec<RawGate>| -> Result<Vec<Gate>, ConfigError> {
            if raw.is_empty() {
                return Err(s.err(name, "needs at least one"));
            }
            let mut ids = HashSet::new();
            raw.into_iter()
                .enumerate()
                .map(|(i, g)| {
                    let at = s.at(format!("{name}[{i}]"));
                    if !ids.insert(g.id.clone()) {
                        return Err(at.err("id", format!("duplicate {name} id {:?}", g.id)));
                    }
                    if !lines.iter().any(|l| l.id == g.line) {
                        return Err(at.err("line", format!("no line {:?} on this camera", g.line)));
                    }
                    let way = match g.direction.as_deref() {
                        None | Some("in") => Some(Direction::In),
                        Some("out") => Some(Direction::Out),
                        Some("both") => None,
                        Some(o) => {
                            return Err(
                                at.err("direction", format!("{o:?} is not one of in, out, both"))
                            );
                        }
                    };
                    Ok(Gate {
                        id: g.id,
                        line: g.line,
                        way,
                    })
                })
                .collect()
        };
        let entries = gates("entries", self.entries)?;
        let exits = gates("exits", self.exits)?;
        // One crossing must not both open and close a movement.
        for e in &entries {
            for x in &exits {
                let overlap =
                    e.line == x.line && (e.way.is_none() || x.way.is_none() || e.way == x.way);
                if overlap {
                    return Err(s.err(
                        "exits",
                        format!(
                            "exit {:?} and entry {:?} count the same crossings of line {:?}",
                            x.id, e.id, e.line
                        ),
                    ));
                }
            }
        }
        Ok(MovementConfig { entries, exits })
    }
}

/// Shortest step added to a path, metres (a motorbike's length).
const STEP_M: f64 = 1.5;

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// A movement a track finished (or gave up on: `to` None).
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub from: String,
    pub to: Option<String>,
    pub speed_kmh: Option<f32>,
}

#[derive(Debug)]
struct Open {
    from: String,
    since: DateTime<Utc>,
    metres: f64,
    last: Option<[f64; 2]>,
}

/// Per-camera state: which entry each track came in by, and how far it has gone since.
pub struct MovementTracker {
    cfg: MovementConfig,
    ground: Option<GroundPlane>,
    open: HashMap<u64, Open>,
}

impl MovementTracker {
    pub fn new(cfg: MovementConfig, ground: Option<GroundPlane>) -> Self {
        Self {
            cfg,
            ground,
            open: HashMap::new(),
        }
    }

    /// The track's anchor this frame (normalised image point): extends the open movement's
    /// path by whole steps of at least `STEP_M`, so that a box's frame-to-frame jitter does
    /// not add length (summed per frame, it overstated speeds through turns by 15 %).
    pub fn observe(&mut self, id: u64, p: [f64; 2]) {
        let (Some(g), Some(o)) = (&self.ground, self.open.get_mut(&id)) else {
            return;
        };
        let Some(here) = g.to_ground(p) else { return };
        match o.last {
            Some(last) if dist(last, here) >= STEP_M => {
                o.metres += dist(last, here);
                o.last = Some(here);
            }
            Some(_) => {}
            None => o.last = Some(here),
        }
    }

    /// A line crossing of a track: opens a movement at an entry (the first entry wins: a
    /// track re-crossing its own stop line is still the same vehicle), closes it at an exit.
    pub fn crossing(
        &mut self,
        id: u64,
        line: &str,
        dir: Direction,
        at: [f64; 2],
        now: DateTime<Utc>,
    ) -> Option<Finished> {
        if let Some(x) = self.cfg.exits.iter().find(|g| g.matches(line, dir)) {
            let mut o = self.open.remove(&id)?;
            if let (Some(g), Some(last)) = (&self.ground, o.last)
                && let Some(here) = g.to_ground(at)
            {
                o.metres += dist(last, here);
            }
            let secs = (now - o.since).as_seconds_f64();
            let speed_kmh = (self.ground.is_some() && secs > 0.0 && o.metres > 0.0)
                .then(|| (o.metres / secs * 3.6) as f32);
            return Some(Finished {
                from: o.from,
                to: Some(x.id.clone()),
                speed_kmh,
            });
        }
        if let Some(e) = self.cfg.entries.iter().find(|g| g.matches(line, dir))
            && !self.open.contains_key(&id)
        {
            let last = self.ground.as_ref().and_then(|g| g.to_ground(at));
            self.open.insert(
                id,
                Open {
                    from: e.id.clone(),
                    since: now,
                    metres: 0.0,
                    last,
                },
            );
        }
        None
    }

    /// The track ended: a movement it opened and never closed is counted without an exit.
    pub fn ended(&mut self, id: u64) -> Option<Finished> {
        self.open.remove(&id).map(|o| Finished {
            from: o.from,
            to: None,
            speed_kmh: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(id: &str, line: &str, way: Option<Direction>) -> Gate {
        Gate {
            id: id.into(),
            line: line.into(),
            way,
        }
    }

    fn tracker() -> MovementTracker {
        let cfg = MovementConfig {
            entries: vec![gate("west", "w", Some(Direction::In))],
            exits: vec![
                gate("east", "e", Some(Direction::In)),
                gate("south", "s", None),
            ],
        };
        MovementTracker::new(cfg, None)
    }

    #[test]
    fn entry_then_exit_is_one_movement_and_wrong_ways_do_not_count() {
        let mut m = tracker();
        let t = Utc::now();
        let p = [0.5, 0.5];
        // Crossing the entry backwards opens nothing; an exit without an entry closes nothing.
        assert_eq!(m.crossing(1, "w", Direction::Out, p, t), None);
        assert_eq!(m.crossing(1, "e", Direction::In, p, t), None);
        assert_eq!(m.crossing(1, "w", Direction::In, p, t), None);
        // Re-crossing the stop line keeps the first entry.
        assert_eq!(m.crossing(1, "w", Direction::In, p, t), None);
        assert_eq!(
            m.crossing(1, "e", Direction::Out, p, t),
            None,
            "exit counts `in` only"
        );
        let done = m.crossing(1, "e", Direction::In, p, t).expect("closed");
        assert_eq!(
            (done.from.as_str(), done.to.as_deref()),
            ("west", Some("east"))
        );
        assert_eq!(done.speed_kmh, None, "no ground calibration, no speed");
        assert_eq!(m.ended(1), None, "already closed");
        // `both` takes either way; a track that ends before an exit is reported without one.
        m.crossing(2, "w", Direction::In, p, t);
        assert_eq!(
            m.crossing(2, "s", Direction::Out, p, t)
                .unwrap()
                .to
                .as_deref(),
            Some("south")
        );
        m.crossing(3, "w", Direction::In, p, t);
        assert_eq!(m.ended(3).unwrap().to, None);
    }
}
