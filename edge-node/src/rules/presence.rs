//! Being inside a zone, with the two kinds of noise a detector adds taken out: a box edge that
//! flickers across the boundary for a frame (entering needs two frames in a row), and a person
//! who steps out for a moment (leaving needs `grace_s` outside without coming back).

use chrono::{DateTime, Utc};

pub const ENTER_FRAMES: u8 = 2;

#[derive(Debug, Default, Clone)]
pub struct Presence {
    inside: bool,
    streak: u8,
    out_since: Option<DateTime<Utc>>,
    pub entered: Option<DateTime<Utc>>,
    /// Last time the track was actually seen inside (not counting a grace period).
    pub last_inside: Option<DateTime<Utc>>,
}

#[derive(Debug, PartialEq)]
pub enum Change {
    None,
    Entered,
    /// Left; the time it had entered.
    Left(DateTime<Utc>),
}

impl Presence {
    pub fn inside(&self) -> bool {
        self.inside
    }

    /// Seconds of the current stay, up to the last time it was seen inside.
    pub fn stay_s(&self) -> f64 {
        match (self.entered, self.last_inside) {
            (Some(a), Some(b)) if self.inside => (b - a).as_seconds_f64().max(0.0),
            _ => 0.0,
        }
    }

    pub fn observe(&mut self, inside: bool, now: DateTime<Utc>, grace_s: f64) -> Change {
        if inside {
            self.out_since = None;
            self.last_inside = Some(now);
            if self.inside {
                return Change::None;
            }
            self.streak += 1;
            if self.streak >= ENTER_FRAMES {
                self.inside = true;
                self.streak = 0;
                self.entered = Some(now);
                return Change::Entered;
            }
            return Change::None;
        }
        self.streak = 0;
        if !self.inside {
            return Change::None;
        }
        let since = *self.out_since.get_or_insert(now);
        if (now - since).as_seconds_f64() >= grace_s {
            self.inside = false;
            self.out_since = None;
            return Change::Left(self.entered.take().unwrap_or(since));
        }
        Change::None
    }
}
