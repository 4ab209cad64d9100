//! Identity through occlusion. A vehicle that drives behind a bus is lost to the detector for
//! a second or three and comes out further on, where ByteTrack's IoU match cannot find it: the
//! last boxes before it vanished were cut by the bus (the filter's velocity slowed with them),
//! and the first boxes after are cut the other way. So each track keeps a short trail of its
//! boxes; when a new track is about to be confirmed, a lost moving track whose motion, carried
//! on from its last full-size boxes, puts it where the new one is (its leading edge, its
//! ground line, its height) and whose class is alike hands it its id instead.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use matthan_schema::BBox;

/// Seconds of boxes kept per track.
const TRAIL_S: f64 = 2.0;

/// A track's recent boxes, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Trail(VecDeque<(DateTime<Utc>, BBox)>);

/// Where a lost track's vehicle is expected now, from its last full-size boxes.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    pub bbox: BBox,
    /// Pixels per second, x and y.
    pub velocity: (f32, f32),
    /// Seconds since the last full-size box.
    pub gap_s: f32,
}

impl Trail {
    pub fn push(&mut self, at: DateTime<Utc>, b: BBox) {
        self.0.push_back((at, b));
        while self
            .0
            .front()
            .is_some_and(|(t, _)| (at - *t).as_seconds_f64() > TRAIL_S)
        {
            self.0.pop_front();
        }
    }

    /// The vehicle carried on to `now`; none without boxes far enough apart in time to
    /// measure its motion. Best from its full-size boxes; a vehicle never seen whole moves
    /// as the box edge that moved most (while it enters, its rear is cut by the frame's edge
    /// and stands still; while it goes behind something, its front does).
    pub fn expected(&self, now: DateTime<Utc>) -> Option<Expected> {
        self.by_full_size(now).or_else(|| self.by_edges(now))
    }

    /// From the boxes at full size (at least 0.9 of the widest): neither edge cut.
    fn by_full_size(&self, now: DateTime<Utc>) -> Option<Expected> {
        let widest = self.0.iter().map(|(_, b)| b.x2 - b.x1).fold(0.0, f32::max);
        let full: Vec<&(DateTime<Utc>, BBox)> = self
            .0
            .iter()
            .filter(|(_, b)| b.x2 - b.x1 >= 0.9 * widest)
            .collect();
        let (t0, a) = **full.first()?;
        let (t1, b) = **full.last()?;
        let dt = (t1 - t0).as_seconds_f64() as f32;
        if dt < 0.3 {
            return None;
        }
        let v = (
            ((b.x1 + b.x2) - (a.x1 + a.x2)) / 2.0 / dt,
            (b.y2 - a.y2) / dt,
        );
        let gap = (now - t1).as_seconds_f64() as f32;
        let (dx, dy) = (v.0 * gap, v.1 * gap);
        Some(Expected {
            bbox: BBox {
                x1: b.x1 + dx,
                y1: b.y1 + dy,
                x2: b.x2 + dx,
                y2: b.y2 + dy,
            },
            velocity: v,
            gap_s: gap,
        })
    }

    /// Never seen whole (it entered the frame straight behind the occluder): from the edge
    /// that moved most.
    fn by_edges(&self, now: DateTime<Utc>) -> Option<Expected> {
        let (&(t0, a), &(t1, b)) = (self.0.front()?, self.0.back()?);
        let dt = (t1 - t0).as_seconds_f64() as f32;
        if dt < 0.3 {
            return None;
        }
        let (v1, v2) = ((b.x1 - a.x1) / dt, (b.x2 - a.x2) / dt);
        let vx = if v1.abs() >= v2.abs() { v1 } else { v2 };
        let vy = (b.y2 - a.y2) / dt;
        // Its length: the widest box seen (at least part of it may never have shown).
        let w = self.0.iter().map(|(_, b)| b.x2 - b.x1).fold(0.0, f32::max);
        let gap = (now - t1).as_seconds_f64() as f32;
        let (dx, dy) = (vx * gap, vy * gap);
        // The trailing edge was not cut when it vanished: carry it on, the front is a length ahead.
        let (x1, x2) = if vx >= 0.0 {
            (b.x1 + dx, b.x1 + dx + w)
        } else {
            (b.x2 + dx - w, b.x2 + dx)
        };
        Some(Expected {
            bbox: BBox {
                x1,
                y1: b.y1 + dy,
                x2,
                y2: b.y2 + dy,
            },
            velocity: (vx, vy),
            gap_s: gap,
        })
    }
}

/// How far `found` (a new track's box, maybe still cut by the occluder on its trailing side)
/// is from where the lost vehicle is expected, in pixels; none when it cannot be that vehicle.
/// The leading edge (in the direction of travel), the ground line and the height are compared:
/// a vehicle coming out from behind something shows its front first.
pub fn distance(e: &Expected, found: &BBox) -> Option<f32> {
    let x = &e.bbox;
    let (w, h) = (x.x2 - x.x1, x.y2 - x.y1);
    let (fw, fh) = (found.x2 - found.x1, found.y2 - found.y1);
    // Coming out it shows part of itself, never more: a wider box is something else (or two
    // vehicles boxed as one).
    if !(0.7..=1.4).contains(&(fh / h.max(1.0))) || fw > 1.3 * w {
        return None;
    }
    if (found.y2 - x.y2).abs() > 0.3 * h {
        return None;
    }
    let dx = if e.velocity.0 >= 0.0 {
        found.x2 - x.x2
    } else {
        found.x1 - x.x1
    };
    // Speed changes while hidden: allow a share of the distance travelled, plus half a body.
    let tolerance = 0.5 * w + 0.3 * e.velocity.0.abs() * e.gap_s;
    (dx.abs() <= tolerance).then_some(dx.abs() + (found.y2 - x.y2).abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32, w: f32) -> BBox {
        BBox {
            x1: x,
            y1: 300.0,
            x2: x + w,
            y2: 375.0,
        }
    }

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_764_000_000_000 + ms).unwrap()
    }

    #[test]
    fn the_vehicle_is_expected_where_its_full_size_motion_takes_it() {
        let mut t = Trail::default();
        // 200 px/s to the right, full size (195 px) until the bus starts cutting its front.
        for i in 0..10 {
            t.push(at(i * 100), b(i as f32 * 20.0, 195.0));
        }
        for (i, w) in [(10, 150.0), (11, 110.0), (12, 60.0)] {
            t.push(at(i * 100), b(i as f32 * 20.0, w));
        }
        let e = t.expected(at(3000)).unwrap();
        assert!((e.velocity.0 - 200.0).abs() < 1.0, "{e:?}");
        // At 3 s the box starts at 600 (its rear at 1.2 s: 240 + 1.8 s × 200).
        assert!((e.bbox.x1 - 600.0).abs() < 1.0, "{e:?}");
        // Coming out: only its front 80 px show, its leading edge where expected.
        let front = BBox {
            x1: 715.0,
            y1: 300.0,
            x2: 795.0,
            y2: 375.0,
        };
        assert!(distance(&e, &front).is_some());
        // Something in another lane, or twice the height, or far behind, is not it.
        let other_lane = BBox {
            y1: 365.0,
            y2: 440.0,
            ..front
        };
        assert!(distance(&e, &other_lane).is_none());
        let bus = BBox { y1: 225.0, ..front };
        assert!(distance(&e, &bus).is_none());
        assert!(distance(&e, &b(100.0, 195.0)).is_none());
        let two = BBox { x1: 500.0, ..front };
        assert!(distance(&e, &two).is_none(), "wider than the vehicle");
    }

    #[test]
    fn a_vehicle_keeps_its_id_behind_a_bus() {
        // 20 px per frame to the right, 195 px long; a bus covers x 210-590. Its front goes
        // behind the bus first and comes out first.
        let mut tr = crate::track::Tracker::new(crate::track::TrackerConfig::default());
        let (bus1, bus2) = (210.0, 590.0);
        let frames: Vec<Vec<crate::detect::Detection>> = (0..50)
            .map(|i| {
                let x1 = -100.0 + 20.0 * i as f32;
                let x2 = x1 + 195.0;
                // The visible part: left of the bus, right of it, or both cut.
                let (a, b) = if x2 <= bus1 || x1 >= bus2 {
                    (x1, x2)
                } else if x1 < bus1 {
                    (x1, bus1)
                } else if x2 > bus2 {
                    (bus2, x2)
                } else {
                    return vec![];
                };
                if b - a < 40.0 {
                    return vec![];
                }
                vec![crate::detect::Detection {
                    bbox: BBox {
                        x1: a,
                        y1: 300.0,
                        x2: b,
                        y2: 375.0,
                    },
                    score: 0.9,
                    class: 0,
                }]
            })
            .collect();
        let seen: Vec<Vec<(u64, f32)>> = frames
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let out = tr.update(d, at(i as i64 * 100));
                out.seen.iter().map(|s| (s.id, s.bbox.x1)).collect()
            })
            .collect();
        let ids: std::collections::BTreeSet<u64> =
            seen.iter().flatten().map(|(id, _)| *id).collect();
        assert_eq!(ids.len(), 1, "one vehicle, one id: {seen:?}");
        assert!(
            seen[45].iter().any(|(_, x)| *x > 590.0),
            "seen past the bus"
        );
    }

    #[test]
    fn no_expectation_without_a_measured_motion() {
        let mut t = Trail::default();
        t.push(at(0), b(0.0, 195.0));
        assert!(t.expected(at(1000)).is_none());
    }
}
