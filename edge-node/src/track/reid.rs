//! Identity through occlusion. A vehicle that drives behind a bus is lost to the detector for
//! a second or three and comes out further on, where ByteTrack's IoU match cannot find it: the
//! last boxes before it vanished were cut by the bus (the filter's velocity slowed with them),
//! and the first boxes after are cut the other way. So each track keeps a short trail of its
//! boxes; when a new track is about to be confirmed, a lost moving track whose motion (the
//! speed of its box edge that moved fastest: the one the bus or the frame's border did not cut)
//! puts it where the new one is (its leading edge, its ground line, its height) hands it its
//! id instead.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use matthan_schema::BBox;

/// Seconds of boxes kept per track.
const TRAIL_S: f64 = 2.0;

/// Below this share of the horizontal speed, a box's vertical drift is noise (see `expected`).
const VY_SHARE: f32 = 0.2;

/// A track's recent boxes, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Trail(VecDeque<(DateTime<Utc>, BBox)>);

/// Where a lost track's vehicle is expected now, from its trail of boxes.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    pub bbox: BBox,
    /// Pixels per second, x and y.
    pub velocity: (f32, f32),
    /// Seconds since its last box.
    pub gap_s: f32,
    /// Its ground line (box bottom) when last seen: the lane it was in.
    pub last_ground: f32,
    /// Whether it was seen whole (see `Trail::seen_whole`): if not, its length is not known.
    pub seen_whole: bool,
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
    /// measure its motion. Its speed is that of the box edge that moved fastest over the last
    /// 0.6 s, 1.2 s or the whole trail (least squares): an edge cut by the frame's border or by
    /// something in front stands still (or moves with the occluder), so the other edge, or the
    /// same one before or after the cut, shows the vehicle's own speed (box centres and
    /// full-size boxes both slowed down with the cuts). Its trailing edge, which goes behind an
    /// occluder last, is carried on; the front is a vehicle's length ahead (the widest box
    /// seen). The ground line is fitted over the whole trail: one box's bottom jitters by more
    /// than a lane's tolerance once carried on for seconds.
    pub fn expected(&self, now: DateTime<Utc>) -> Option<Expected> {
        let &(t1, last) = self.0.back()?;
        let edges: [fn(&BBox) -> f32; 2] = [|b| b.x1, |b| b.x2];
        let (vx, trailing) = [0.6, 1.2, TRAIL_S]
            .into_iter()
            .flat_map(|span| edges.map(|e| (span, e)))
            .filter_map(|(span, e)| self.fit(span, e))
            .max_by(|a, b| a.0.abs().total_cmp(&b.0.abs()))
            .map(|(v, _)| v)
            .and_then(|v| {
                let e = if v >= 0.0 { edges[0] } else { edges[1] };
                let (_, at) = [0.6, 1.2, TRAIL_S]
                    .into_iter()
                    .filter_map(|span| self.fit(span, e))
                    .max_by(|a, b| a.0.abs().total_cmp(&b.0.abs()))?;
                Some((v, at))
            })?;
        let (vy, ground) = self.fit(TRAIL_S, |b| b.y2).unwrap_or((0.0, last.y2));
        // A box cut by an occluder also loses a little of its bottom (measured: the ground line
        // drifted 3-5 px/s on trucks going behind a bus), which over seconds hidden is more
        // than a lane's tolerance: vertical motion counts only when it is a real share of it.
        let vy = if vy.abs() < VY_SHARE * vx.abs() {
            0.0
        } else {
            vy
        };
        let w = self.0.iter().map(|(_, b)| b.x2 - b.x1).fold(0.0, f32::max);
        let mut hs: Vec<f32> = self.0.iter().map(|(_, b)| b.y2 - b.y1).collect();
        hs.sort_by(f32::total_cmp);
        let h = hs[hs.len() / 2];
        let gap = (now - t1).as_seconds_f64() as f32;
        let (lead, y2) = (trailing + vx * gap, ground + vy * gap);
        let (x1, x2) = if vx >= 0.0 {
            (lead, lead + w)
        } else {
            (lead - w, lead)
        };
        Some(Expected {
            bbox: BBox {
                x1,
                y1: y2 - h,
                x2,
                y2,
            },
            velocity: (vx, vy),
            gap_s: gap,
            last_ground: ground,
            seen_whole: self.seen_whole(w),
        })
    }

    /// Whether one of its boxes showed the whole vehicle: about as wide as the widest, and
    /// both edges moved alike since the box before. A vehicle entering behind a bus, or from
    /// the frame's border, only ever shows boxes with one edge standing still (the cut one),
    /// and the widest of those is less than its length.
    fn seen_whole(&self, widest: f32) -> bool {
        self.0
            .iter()
            .zip(self.0.iter().skip(1))
            .any(|((_, a), (_, b))| {
                let (d1, d2) = (b.x1 - a.x1, b.x2 - a.x2);
                let step = d1.abs().max(d2.abs());
                b.x2 - b.x1 >= 0.9 * widest && step >= 1.0 && (d1 - d2).abs() <= 0.3 * step
            })
    }

    /// Least-squares line through one box coordinate over the last `span_s` seconds: its
    /// speed (pixels per second) and its value at the last box; none when the boxes span less
    /// than 0.3 s.
    fn fit(&self, span_s: f64, coord: fn(&BBox) -> f32) -> Option<(f32, f32)> {
        let &(t1, _) = self.0.back()?;
        let pts: Vec<(f32, f32)> = self
            .0
            .iter()
            .map(|(t, b)| ((*t - t1).as_seconds_f64() as f32, coord(b)))
            .filter(|(t, _)| -*t <= span_s as f32 + 1e-3)
            .collect();
        if pts.len() < 3 || -pts[0].0 < 0.3 {
            return None;
        }
        let n = pts.len() as f32;
        let (mt, mv) = pts
            .iter()
            .fold((0.0, 0.0), |(a, b), (t, v)| (a + t / n, b + v / n));
        let (sxy, sxx) = pts.iter().fold((0.0, 0.0), |(a, b), (t, v)| {
            (a + (t - mt) * (v - mv), b + (t - mt) * (t - mt))
        });
        let slope = sxy / sxx.max(1e-6);
        Some((slope, mv - slope * mt))
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
    // vehicles boxed as one). Unless it was never seen whole: then it is longer than it showed
    // (measured: a truck that entered behind a bus showed 117 px of its 190).
    if !(0.7..=1.4).contains(&(fh / h.max(1.0))) || (e.seen_whole && fw > 1.3 * w) {
        return None;
    }
    // Where its drift takes it, or still in the lane it was in: the drift is fitted on boxes
    // the occluder was cutting, whose bottoms creep up (measured: -30 px/s on a truck whose
    // lane was level, 140 px off after 4.6 s hidden).
    let dy = (found.y2 - x.y2)
        .abs()
        .min((found.y2 - e.last_ground).abs());
    if dy > 0.3 * h {
        return None;
    }
    let (lead, trail) = if e.velocity.0 >= 0.0 {
        (found.x2 - x.x2, found.x1 - x.x1)
    } else {
        (found.x1 - x.x1, found.x2 - x.x2)
    };
    // Its front is carried on from its rear by its length, unknown if it was never seen whole:
    // then a box that shows its rear again is matched by that.
    let dx = if e.seen_whole {
        lead
    } else {
        lead.abs().min(trail.abs())
    };
    // Speed changes while hidden: allow a share of the distance travelled, plus half a body.
    let tolerance = 0.5 * w + 0.3 * e.velocity.0.abs() * e.gap_s;
    (dx.abs() <= tolerance).then_some(dx.abs() + dy)
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
    fn the_vehicle_is_expected_where_its_uncut_edge_takes_it() {
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
    fn a_vehicle_never_seen_whole_is_found_by_its_rear() {
        // Eastbound at 100 px/s, entering with its front already behind a bus at x 300: only
        // its rear edge moves, the boxes narrow from 150 px to 60. Its length is 230 px.
        let mut t = Trail::default();
        for i in 0..10 {
            let x1 = 150.0 + 10.0 * i as f32;
            t.push(at(i * 100), b(x1, 300.0 - x1));
        }
        let e = t.expected(at(5000)).unwrap();
        assert!(!e.seen_whole, "{e:?}");
        // 4.1 s on its rear is at 650: out whole, wider than any box it showed.
        let out = b(650.0, 230.0);
        assert!(distance(&e, &out).is_some(), "{e:?}");
        // Something whole in its lane 300 px behind is not it.
        assert!(distance(&e, &b(350.0, 230.0)).is_none());
        // Seen whole first (both edges moving alike), the same wider box is something else.
        let mut whole = Trail::default();
        for i in 0..10 {
            whole.push(at(i * 100), b(150.0 + 10.0 * i as f32, 150.0));
        }
        let e = whole.expected(at(5000)).unwrap();
        assert!(e.seen_whole);
        assert!(distance(&e, &b(650.0, 230.0)).is_none());
    }

    #[test]
    fn a_vehicle_is_found_in_the_lane_it_was_in_despite_a_fitted_drift() {
        // The boxes' bottoms creep up 3 px a sighting as the bus cuts them (30 px/s against
        // 100 px/s along): carried on for 4 s that is 120 px, out of the lane.
        let mut t = Trail::default();
        for i in 0..10 {
            let x = 100.0 + 10.0 * i as f32;
            let dy = 3.0 * i as f32;
            t.push(
                at(i * 100),
                BBox {
                    x1: x,
                    y1: 300.0 - dy,
                    x2: x + 150.0,
                    y2: 375.0 - dy,
                },
            );
        }
        let e = t.expected(at(5000)).unwrap();
        assert!(e.bbox.y2 < 250.0, "the drift is carried on: {e:?}");
        // Out again in its lane, where its last box was (bottom 348), on time.
        let out = BBox {
            x1: 590.0,
            y1: 273.0,
            x2: 740.0,
            y2: 348.0,
        };
        assert!(distance(&e, &out).is_some(), "{e:?}");
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
