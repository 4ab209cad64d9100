//! Everything one camera's tracks turn into: track lifecycle events, line crossings, zone
//! enter/exit/dwell, and interval counts.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use matthan_schema::{
    Attributes, Body, Crossing, Direction, TrackEvent, TrackPhase, ZoneAction, ZoneEvent,
};

use super::counts::CountWindow;
use super::movements::MovementTracker;
use super::{Line, Side, Zone};
use crate::track::{TrackSnapshot, TrackerOutput};

/// Frames in a row a track must be inside (or outside) a zone before it counts as entered
/// (or left): one flickering box edge must not produce an enter/exit pair.
const ZONE_DEBOUNCE: u8 = 2;
const MAX_PATH_POINTS: usize = 32;

#[derive(Debug, Default)]
struct ZoneState {
    inside: bool,
    streak: u8,
    entered_at: Option<DateTime<Utc>>,
    dwell_sent: bool,
}

#[derive(Debug)]
struct TrackState {
    sides: Vec<Option<Side>>,
    zones: Vec<ZoneState>,
    zones_entered: Vec<String>,
    path: Vec<[f32; 2]>,
    last_update: DateTime<Utc>,
}

pub struct CameraAnalytics {
    lines: Vec<Line>,
    zones: Vec<Zone>,
    labels: Vec<String>,
    update_interval: chrono::Duration,
    tracks: HashMap<u64, TrackState>,
    counts: CountWindow,
    /// The camera's compass bearing, for track headings.
    bearing: Option<f32>,
    /// The last frame's size (pixels), for tracks ended between frames.
    frame: (f64, f64),
    movements: Option<MovementTracker>,
}

impl CameraAnalytics {
    pub fn new(
        lines: Vec<Line>,
        zones: Vec<Zone>,
        labels: Vec<String>,
        count_interval_s: u32,
        update_interval_s: f64,
    ) -> Self {
        Self {
            lines,
            zones,
            labels,
            update_interval: chrono::Duration::milliseconds((update_interval_s * 1000.0) as i64),
            tracks: HashMap::new(),
            counts: CountWindow::new(count_interval_s),
            bearing: None,
            frame: (1.0, 1.0),
            movements: None,
        }
    }

    /// Tracks get a compass heading (`attributes.heading_deg`) from the camera's bearing.
    pub fn with_bearing(mut self, bearing_deg: Option<f32>) -> Self {
        self.bearing = bearing_deg;
        self
    }

    /// Turning movements between the camera's entry and exit lines (`[cameras.movements]`).
    pub fn with_movements(mut self, m: Option<MovementTracker>) -> Self {
        self.movements = m;
        self
    }

    fn label(&self, class: usize) -> &str {
        self.labels.get(class).map_or("unknown", String::as_str)
    }

    /// These tracks' next sighting gives an update event whatever the interval (a plate was
    /// just read: a watch list must hear of it now).
    pub fn update_soon(&mut self, ids: &[u64]) {
        for id in ids {
            if let Some(st) = self.tracks.get_mut(id) {
                st.last_update -= self.update_interval;
            }
        }
    }

    /// Turns one frame's tracker output into events, in the order they happened.
    pub fn update(
        &mut self,
        now: DateTime<Utc>,
        frame_size: (u32, u32),
        out: &TrackerOutput,
    ) -> Vec<(DateTime<Utc>, Body)> {
        let mut events = Vec::new();
        if let Some(done) = self.counts.advance(now) {
            events.push((done.0, Body::Counts(done.1)));
        }
        let (fw, fh) = (frame_size.0.max(1) as f64, frame_size.1.max(1) as f64);
        self.frame = (fw, fh);
        for snap in &out.seen {
            let class = self.label(snap.class).to_string();
            let p = [
                ((snap.bbox.x1 + snap.bbox.x2) as f64 / 2.0) / fw,
                snap.bbox.y2 as f64 / fh,
            ];
            let is_new = !self.tracks.contains_key(&snap.id);
            let st = self.tracks.entry(snap.id).or_insert_with(|| TrackState {
                sides: vec![None; self.lines.len()],
                zones: (0..self.zones.len())
                    .map(|_| ZoneState::default())
                    .collect(),
                zones_entered: Vec::new(),
                path: Vec::new(),
                last_update: now,
            });
            if let Some(m) = &mut self.movements {
                m.observe(snap.id, p);
            }
            push_path(
                &mut st.path,
                [(p[0] * fw) as f32, (p[1] * fh) as f32],
                (fw.min(fh) * 0.02) as f32,
            );

            for (li, line) in self.lines.iter().enumerate() {
                if !allowed(&line.classes, &class) {
                    continue;
                }
                let Some(side) = line.side(p) else { continue };
                let prev = st.sides[li].replace(side);
                if let Some(prev) = prev
                    && prev != side
                {
                    let direction = if side == Side::Left {
                        Direction::In
                    } else {
                        Direction::Out
                    };
                    self.counts.crossing(&line.id, &class, direction);
                    if let Some(done) = self
                        .movements
                        .as_mut()
                        .and_then(|m| m.crossing(snap.id, &line.id, direction, p, now))
                    {
                        self.counts.movement(done, &class);
                    }
                    events.push((
                        now,
                        Body::Crossing(Crossing {
                            line: line.id.clone(),
                            direction,
                            class: class.clone(),
                            track_id: snap.id,
                        }),
                    ));
                }
            }
            zone_events(
                &self.zones,
                st,
                p,
                &class,
                snap.id,
                now,
                &mut self.counts,
                &mut events,
            );
            let phase = if is_new || out.confirmed.contains(&snap.id) {
                Some(TrackPhase::New)
            } else if now - st.last_update >= self.update_interval {
                Some(TrackPhase::Update)
            } else {
                None
            };
            if let Some(phase) = phase {
                st.last_update = now;
                let t = track_event(phase, snap, class, st, self.bearing, self.frame);
                events.push((now, Body::Track(t)));
            }
        }
        let mut inside: BTreeMap<(String, String), u32> = BTreeMap::new();
        for (id, st) in &self.tracks {
            let class = out
                .seen
                .iter()
                .find(|s| s.id == *id)
                .map(|s| self.label(s.class).to_string());
            for (zi, zs) in st.zones.iter().enumerate() {
                if zs.inside
                    && let Some(c) = &class
                {
                    *inside
                        .entry((self.zones[zi].id.clone(), c.clone()))
                        .or_default() += 1;
                }
            }
        }
        self.counts.occupancy(&inside);
        for snap in &out.ended {
            events.extend(self.end_track(snap, now));
        }
        events
    }

    /// Ends tracks still open and closes the current count interval (stream end, shutdown).
    pub fn finish(
        &mut self,
        ended: &[TrackSnapshot],
        now: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, Body)> {
        let mut events = self.end_tracks(ended, now);
        if let Some((_, counts)) = self.counts.flush() {
            // A partial interval is stamped with the last capture time, not its nominal end.
            events.push((now, Body::Counts(counts)));
        }
        events
    }

    /// Ends the given tracks (exits from zones, then `end`), leaving the count interval open.
    pub fn end_tracks(
        &mut self,
        ended: &[TrackSnapshot],
        now: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, Body)> {
        ended.iter().flat_map(|s| self.end_track(s, now)).collect()
    }

    fn end_track(
        &mut self,
        snap: &TrackSnapshot,
        now: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, Body)> {
        let Some(mut st) = self.tracks.remove(&snap.id) else {
            return Vec::new();
        };
        let class = self.label(snap.class).to_string();
        if let Some(done) = self.movements.as_mut().and_then(|m| m.ended(snap.id)) {
            self.counts.movement(done, &class);
        }
        let mut events = Vec::new();
        for (zi, zs) in st.zones.iter_mut().enumerate() {
            if zs.inside {
                let d = since(zs.entered_at.take(), snap.last_seen);
                events.push((
                    now,
                    zone_event(&self.zones[zi], ZoneAction::Exit, &class, snap.id, d),
                ));
            }
        }
        let t = track_event(TrackPhase::End, snap, class, &st, self.bearing, self.frame);
        events.push((now, Body::Track(t)));
        events
    }
}

fn allowed(filter: &Option<Vec<String>>, class: &str) -> bool {
    filter.as_ref().is_none_or(|c| c.iter().any(|x| x == class))
}

fn since(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> f32 {
    at.map_or(0.0, |a| (now - a).as_seconds_f64().max(0.0) as f32)
}

fn zone_event(
    zone: &Zone,
    action: ZoneAction,
    class: &str,
    track_id: u64,
    duration_s: f32,
) -> Body {
    Body::Zone(ZoneEvent {
        zone: zone.id.clone(),
        action,
        class: class.to_string(),
        track_id,
        duration_s,
    })
}

/// Compass heading of a path: the camera's bearing plus the angle of the image
/// displacement (first to last point) clockwise from "up the image". A flat-ground
/// approximation that holds for a camera looking along the road; none without a bearing,
/// or when the object moved less than 5% of the frame's smaller side (a parked car's
/// jitter is not a direction).
fn heading(bearing: Option<f32>, path: &[[f32; 2]], (fw, fh): (f64, f64)) -> Option<f32> {
    let bearing = bearing?;
    let (a, z) = (path.first()?, path.last()?);
    let (dx, dy) = (z[0] - a[0], z[1] - a[1]);
    if dx.hypot(dy) < (fw.min(fh) * 0.05) as f32 {
        return None;
    }
    // Image y grows downwards: "up the image" is -y, and atan2(dx, -dy) turns clockwise.
    Some((bearing + dx.atan2(-dy).to_degrees()).rem_euclid(360.0))
}

fn track_event(
    phase: TrackPhase,
    snap: &TrackSnapshot,
    class: String,
    st: &TrackState,
    bearing: Option<f32>,
    frame: (f64, f64),
) -> TrackEvent {
    TrackEvent {
        phase,
        track_id: snap.id,
        class,
        score: snap.score.clamp(0.0, 1.0),
        bbox: snap.bbox,
        first_seen: snap.first_seen,
        last_seen: snap.last_seen,
        zones: st.zones_entered.clone(),
        path: st.path.clone(),
        attributes: Attributes {
            heading_deg: heading(bearing, &st.path, frame),
            ..Attributes::default()
        },
        snapshot: None,
        plate_image: None,
    }
}

/// Keeps a thinned path: points at least `min_step` apart, halved when it grows too long.
fn push_path(path: &mut Vec<[f32; 2]>, p: [f32; 2], min_step: f32) {
    if let Some(last) = path.last()
        && ((last[0] - p[0]).powi(2) + (last[1] - p[1]).powi(2)).sqrt() < min_step
    {
        return;
    }
    path.push(p);
    if path.len() > MAX_PATH_POINTS {
        let mut i = 0;
        path.retain(|_| {
            i += 1;
            i % 2 == 1
        });
    }
}

/// Zone enters, exits (debounced) and dwell notices of one track at point `p`.
#[allow(clippy::too_many_arguments)]
fn zone_events(
    zones: &[Zone],
    st: &mut TrackState,
    p: [f64; 2],
    class: &str,
    track: u64,
    now: DateTime<Utc>,
    counts: &mut CountWindow,
    events: &mut Vec<(DateTime<Utc>, Body)>,
) {
    for (zi, zone) in zones.iter().enumerate() {
        if !allowed(&zone.classes, class) {
            continue;
        }
        let zs = &mut st.zones[zi];
        let inside = zone.contains(p);
        if inside == zs.inside {
            zs.streak = 0;
        } else {
            zs.streak += 1;
            if zs.streak >= ZONE_DEBOUNCE {
                zs.inside = inside;
                zs.streak = 0;
                let duration_s;
                let action = if inside {
                    zs.entered_at = Some(now);
                    zs.dwell_sent = false;
                    duration_s = 0.0;
                    counts.entered(&zone.id, class);
                    if !st.zones_entered.contains(&zone.id) {
                        st.zones_entered.push(zone.id.clone());
                    }
                    ZoneAction::Enter
                } else {
                    duration_s = since(zs.entered_at.take(), now);
                    ZoneAction::Exit
                };
                events.push((now, zone_event(zone, action, class, track, duration_s)));
            }
        }
        if zs.inside
            && !zs.dwell_sent
            && let (Some(limit), Some(at)) = (zone.dwell_s, zs.entered_at)
            && (now - at).as_seconds_f64() >= limit
        {
            zs.dwell_sent = true;
            events.push((
                now,
                zone_event(zone, ZoneAction::Dwell, class, track, since(Some(at), now)),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use matthan_schema::BBox;

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::milliseconds(ms)
    }

    fn snap(id: u64, cx: f32, bottom: f32, at: DateTime<Utc>) -> TrackSnapshot {
        TrackSnapshot {
            id,
            class: 0,
            score: 0.9,
            bbox: BBox {
                x1: cx - 10.0,
                y1: bottom - 40.0,
                x2: cx + 10.0,
                y2: bottom,
            },
            first_seen: t(0),
            last_seen: at,
            hits: 5,
        }
    }

    fn analytics() -> CameraAnalytics {
        let line = Line::new("mid", &[[0.0, 0.5], [1.0, 0.5]], 0.02, None).unwrap();
        let zone = Zone::new(
            "box",
            &[[0.6, 0.0], [1.0, 0.0], [1.0, 1.0], [0.6, 1.0]],
            Some(1.0),
            None,
        )
        .unwrap();
        CameraAnalytics::new(vec![line], vec![zone], vec!["person".into()], 60, 5.0)
    }

    #[test]
    fn jitter_on_the_line_counts_once_and_directions_are_right() {
        let mut a = analytics();
        let mut all = Vec::new();
        // Walk down across y=0.5 (of 100 px), jittering around the line on the way.
        let ys = [
            30.0, 40.0, 49.0, 51.0, 49.5, 50.5, 49.0, 60.0, 70.0, 60.0, 40.0, 30.0,
        ];
        for (i, y) in ys.iter().enumerate() {
            let out = TrackerOutput {
                seen: vec![snap(1, 20.0, *y, t(i as i64 * 100))],
                confirmed: vec![],
                ended: vec![],
            };
            all.extend(a.update(t(i as i64 * 100), (100, 100), &out));
        }
        let dirs: Vec<Direction> = all
            .iter()
            .filter_map(|(_, b)| {
                if let Body::Crossing(c) = b {
                    Some(c.direction)
                } else {
                    None
                }
            })
            .collect();
        // Down on screen is from the walker's left (top) to the right: out; then back: in.
        assert_eq!(dirs, vec![Direction::Out, Direction::In]);
        let flushed = a.finish(&[], t(2000));
        let Body::Counts(c) = &flushed.last().unwrap().1 else {
            panic!("counts last")
        };
        assert_eq!((c.lines[0].in_count, c.lines[0].out_count), (1, 1));
    }

    #[test]
    fn zone_enter_dwell_exit_once_each_despite_flicker() {
        let mut a = analytics();
        let mut all = Vec::new();
        // x in px of 100: outside, one-frame blip inside, then a stay of 2 s, then leave.
        let xs: Vec<f32> = [50.0, 70.0, 50.0]
            .into_iter()
            .chain(std::iter::repeat_n(80.0, 20))
            .chain([40.0, 40.0, 40.0])
            .collect();
        for (i, x) in xs.iter().enumerate() {
            let out = TrackerOutput {
                seen: vec![snap(3, *x, 80.0, t(i as i64 * 100))],
                confirmed: vec![],
                ended: vec![],
            };
            all.extend(a.update(t(i as i64 * 100), (100, 100), &out));
        }
        let actions: Vec<ZoneAction> = all
            .iter()
            .filter_map(|(_, b)| {
                if let Body::Zone(z) = b {
                    Some(z.action)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(
            actions,
            vec![ZoneAction::Enter, ZoneAction::Dwell, ZoneAction::Exit]
        );
        let phases: Vec<TrackPhase> = all
            .iter()
            .filter_map(|(_, b)| {
                if let Body::Track(t) = b {
                    Some(t.phase)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(phases, vec![TrackPhase::New]);
        let end = a.finish(&[snap(3, 40.0, 80.0, t(2600))], t(2600));
        let Body::Track(te) = &end[0].1 else {
            panic!("track end first")
        };
        assert_eq!(
            (te.phase, te.zones.clone()),
            (TrackPhase::End, vec!["box".to_string()])
        );
    }

    /// A camera looking east: up the image is east, right is south, down is west, left north.
    #[test]
    fn headings_are_compass_degrees_from_the_camera_bearing() {
        let ended_heading = |bearing, from: (f32, f32), to: (f32, f32)| {
            let mut a = analytics().with_bearing(bearing);
            for (i, (x, y)) in [from, to].into_iter().enumerate() {
                let out = TrackerOutput {
                    seen: vec![snap(7, x, y, t(i as i64 * 100))],
                    confirmed: vec![],
                    ended: vec![],
                };
                a.update(t(i as i64 * 100), (100, 100), &out);
            }
            let end = a.end_tracks(&[snap(7, to.0, to.1, t(200))], t(200));
            let Some((_, Body::Track(te))) = end.last() else {
                panic!("track end last")
            };
            te.attributes.heading_deg.map(|h| h.round() as i32)
        };
        let east = Some(90.0);
        assert_eq!(ended_heading(east, (20.0, 90.0), (20.0, 60.0)), Some(90));
        assert_eq!(ended_heading(east, (20.0, 90.0), (50.0, 90.0)), Some(180));
        assert_eq!(ended_heading(east, (20.0, 60.0), (20.0, 90.0)), Some(270));
        assert_eq!(ended_heading(east, (50.0, 90.0), (20.0, 90.0)), Some(0));
        // Up and to the right: north-east of the image, south-east on the ground.
        assert_eq!(ended_heading(east, (20.0, 90.0), (40.0, 70.0)), Some(135));
        assert_eq!(ended_heading(None, (20.0, 90.0), (20.0, 60.0)), None);
        assert_eq!(
            ended_heading(east, (20.0, 90.0), (22.0, 88.0)),
            None,
            "jitter"
        );
    }
}
