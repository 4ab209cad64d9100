//! Physical ranges for every number an event carries. A value outside them is not a
//! measurement but a fault or a forgery (a dwell of 1e39 s, a 5,000 km/h motorbike), and it
//! is refused naming the field rather than stored to skew counts, sort above real events or
//! serialise as `null` and make its event unreadable.

use super::Body;

/// `(lo, hi)` inclusive.
type Range = (f64, f64);

const SCORE: Range = (0.0, 1.0);
/// Faster than anything on a city road by a wide margin, below a radar's glitch.
const SPEED_KMH: Range = (0.0, 400.0);
/// A track, zone stay or alert lasting more than a week is a stuck clock.
const DURATION_S: Range = (0.0, 7.0 * 86_400.0);
/// Compass degrees clockwise from north (360 is north again).
const DEGREES: Range = (0.0, 360.0);
/// Signal times: no cycle or phase is longer than an hour.
const SIGNAL_S: Range = (0.0, 3_600.0);
/// Passenger-car units per hour on one approach.
const FLOW_PCU_H: Range = (0.0, 100_000.0);
/// Flow ratios and degrees of saturation: far past 1 is already a jam.
const RATIO: Range = (0.0, 100.0);
const FPS: Range = (0.0, 1_000.0);
/// Objects in one zone, or vehicles in one queue.
const OCCUPANCY: Range = (0.0, 100_000.0);
/// Delays per vehicle: an hour is already gridlock.
const DELAY_S: Range = (0.0, 86_400.0);
/// Metres moved against the flow within one camera's view.
const DISTANCE_M: Range = (0.0, 10_000.0);
/// Alert measures (people in a crowd, metres, seconds, km/h): only their magnitude is bounded.
const MEASURE: Range = (-1e9, 1e9);

/// Every number of the body with its field name and range (absent optionals are skipped).
fn numbers(body: &Body) -> Vec<(&'static str, Option<f32>, Range)> {
    match body {
        Body::Track(t) => {
            let a = &t.attributes;
            vec![
                ("body.score", Some(t.score), SCORE),
                ("body.attributes.plate_score", a.plate_score, SCORE),
                ("body.attributes.speed_kmh", a.speed_kmh, SPEED_KMH),
                ("body.attributes.heading_deg", a.heading_deg, DEGREES),
            ]
        }
        Body::Zone(z) => vec![("body.duration_s", Some(z.duration_s), DURATION_S)],
        Body::Counts(c) => c
            .zones
            .iter()
            .map(|z| {
                (
                    "body.zones.mean_occupancy",
                    Some(z.mean_occupancy),
                    OCCUPANCY,
                )
            })
            .chain(c.movements.iter().flat_map(|m| {
                m.speeds_kmh
                    .iter()
                    .map(|v| ("body.movements.speeds_kmh", Some(*v), SPEED_KMH))
            }))
            .collect(),
        Body::CameraStatus(s) => vec![
            ("body.fps_in", Some(s.fps_in), FPS),
            ("body.fps_out", Some(s.fps_out), FPS),
        ],
        Body::Alert(a) => vec![
            ("body.duration_s", Some(a.duration_s), DURATION_S),
            ("body.measure", a.measure, MEASURE),
        ],
        Body::SignalRecommendation(r) => recommendation(r),
        Body::CongestionWarning(w) => vec![
            (
                "body.forecast_flow_pcu_h",
                Some(w.forecast_flow_pcu_h),
                FLOW_PCU_H,
            ),
            ("body.forecast_degree", Some(w.forecast_degree), RATIO),
            ("body.threshold", Some(w.threshold), RATIO),
        ],
        Body::Violation(v) => {
            let c = &v.context;
            let mut out = vec![
                ("body.plate_score", v.plate_score, SCORE),
                ("body.context.speed_kmh", c.speed_kmh, SPEED_KMH),
                ("body.context.limit_kmh", c.limit_kmh, SPEED_KMH),
                ("body.context.tolerance_kmh", c.tolerance_kmh, SPEED_KMH),
                ("body.context.dwell_s", c.dwell_s, DURATION_S),
                ("body.context.distance_m", c.distance_m, DISTANCE_M),
                ("body.context.score", c.score, SCORE),
            ];
            if let Some(s) = &c.signal {
                out.push((
                    "body.context.signal.into_red_s",
                    Some(s.into_red_s),
                    SIGNAL_S,
                ));
                out.push(("body.context.signal.yellow_s", Some(s.yellow_s), SIGNAL_S));
                out.push(("body.context.signal.red_s", s.red_s, SIGNAL_S));
                out.push(("body.context.signal.grace_s", Some(s.grace_s), SIGNAL_S));
            }
            out
        }
        _ => vec![],
    }
}

/// A recommendation's numbers: its plan, inputs, plan in force, forecasts and live decisions.
fn recommendation(r: &crate::SignalRecommendation) -> Vec<(&'static str, Option<f32>, Range)> {
    let mut v = vec![
        ("body.cycle_s", Some(r.cycle_s), SIGNAL_S),
        ("body.y_total", Some(r.y_total), RATIO),
        ("body.delay_current_s", Some(r.delay_current_s), DELAY_S),
        ("body.delay_expected_s", Some(r.delay_expected_s), DELAY_S),
    ];
    for p in &r.phases {
        v.push(("body.phases.green_s", Some(p.green_s), SIGNAL_S));
        v.push(("body.phases.yellow_s", Some(p.yellow_s), SIGNAL_S));
        v.push(("body.phases.all_red_s", Some(p.all_red_s), SIGNAL_S));
    }
    for i in &r.inputs {
        v.push(("body.inputs.flow_pcu_h", Some(i.flow_pcu_h), FLOW_PCU_H));
        v.push((
            "body.inputs.saturation_pcu_h",
            Some(i.saturation_pcu_h),
            FLOW_PCU_H,
        ));
        v.push(("body.inputs.queue_veh", Some(i.queue_veh), OCCUPANCY));
        v.push(("body.inputs.occupancy", Some(i.occupancy), SCORE));
        v.push(("body.inputs.flow_ratio", Some(i.flow_ratio), RATIO));
    }
    if let Some(p) = &r.in_force {
        v.push(("body.in_force.cycle_s", Some(p.cycle_s), SIGNAL_S));
        for g in &p.phases {
            v.push(("body.in_force.phases.green_s", Some(g.green_s), SIGNAL_S));
            v.push(("body.in_force.phases.yellow_s", Some(g.yellow_s), SIGNAL_S));
            v.push((
                "body.in_force.phases.all_red_s",
                Some(g.all_red_s),
                SIGNAL_S,
            ));
        }
    }
    for f in &r.forecasts {
        v.push(("body.forecasts.flow_pcu_h", Some(f.flow_pcu_h), FLOW_PCU_H));
    }
    for d in &r.decisions {
        v.push(("body.decisions.green_s", Some(d.green_s), SIGNAL_S));
        for i in &d.inputs {
            v.push((
                "body.decisions.inputs.flow_pcu_h",
                Some(i.flow_pcu_h),
                FLOW_PCU_H,
            ));
            v.push((
                "body.decisions.inputs.queue_pcu",
                Some(i.queue_pcu),
                OCCUPANCY,
            ));
            v.push((
                "body.decisions.inputs.saturation_pcu_h",
                Some(i.saturation_pcu_h),
                FLOW_PCU_H,
            ));
        }
    }
    v
}

/// The first number outside its range, as `(field, reason)`.
pub(super) fn check(body: &Body) -> Result<(), (&'static str, String)> {
    for (field, value, (lo, hi)) in numbers(body) {
        let Some(v) = value else { continue };
        let v = v as f64;
        if !v.is_finite() {
            return Err((field, "must be a finite number".into()));
        }
        if !(lo..=hi).contains(&v) {
            return Err((
                field,
                format!("{v} is outside the physical range {lo}..={hi}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, ZoneAction, ZoneEvent};

    fn zone(duration_s: f32) -> Vec<u8> {
        let e = Event::new(
            "hcmc",
            "cam-1",
            // A fixed time: at hh:mm:42.0xx the clock once held the "42.0" the test replaces.
            chrono::DateTime::from_timestamp(1_764_576_000, 0).unwrap(),
            Body::Zone(ZoneEvent {
                zone: "plaza".into(),
                action: ZoneAction::Exit,
                class: "person".into(),
                track_id: 1,
                duration_s,
            }),
        );
        e.to_json()
    }

    #[test]
    fn a_number_outside_its_range_is_refused_naming_the_field() {
        assert!(Event::from_json(&zone(42.0)).is_ok());
        // 1e39 does not fit an f32: it would be stored as `null` and the event lost.
        let text = String::from_utf8(zone(42.0))
            .unwrap()
            .replace("\"duration_s\":42.0", "\"duration_s\":1e39");
        let err = Event::from_json(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("body.duration_s"), "{err}");
        let err = Event::from_json(&zone(-1.0)).unwrap_err().to_string();
        assert!(
            err.contains("body.duration_s") && err.contains("physical range"),
            "{err}"
        );
        let err = Event::from_json(&zone(30.0 * 86_400.0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("body.duration_s"), "{err}");
    }
}
