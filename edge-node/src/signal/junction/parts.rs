//! Validation of a junction's parts: approaches on lines and zones that exist, phases that
//! serve known approaches within their bounds, and the fixed plan in force.

use super::{Approach, FixedPlan, Invalid, Phase, RawJunction};

/// The approaches, each on a camera line (and optionally a queue zone) that exists.
pub(super) fn approaches(
    raw: &RawJunction,
    line_ok: impl Fn(&str, &str) -> bool,
    zone_ok: impl Fn(&str, &str) -> bool,
) -> Result<Vec<Approach>, Invalid> {
    let err = |key: String, reason: String| Invalid { key, reason };
    let mut approaches = Vec::new();
    for (i, a) in raw.approaches.iter().enumerate() {
        let k = format!("approaches[{i}]");
        matthan_schema::validate_segment(&a.id).map_err(|r| err(format!("{k}.id"), r))?;
        if approaches.iter().any(|x: &Approach| x.id == a.id) {
            return Err(err(
                format!("{k}.id"),
                format!("duplicate approach {:?}", a.id),
            ));
        }
        let camera = a
            .camera
            .clone()
            .or_else(|| raw.camera.clone())
            .ok_or_else(|| {
                err(
                    format!("{k}.camera"),
                    "no camera for this approach (set it here or on the junction)".into(),
                )
            })?;
        if !line_ok(&camera, &a.line) {
            return Err(err(
                format!("{k}.line"),
                format!("camera {camera:?} has no line {:?}", a.line),
            ));
        }
        if let Some(z) = &a.queue_zone
            && !zone_ok(&camera, z)
        {
            return Err(err(
                format!("{k}.queue_zone"),
                format!("camera {camera:?} has no zone {z:?}"),
            ));
        }
        if a.lanes == 0 || a.lanes > 12 {
            return Err(err(format!("{k}.lanes"), "must be 1..=12".into()));
        }
        let direction = match a.direction.as_str() {
            "in" => Some(matthan_schema::Direction::In),
            "out" => Some(matthan_schema::Direction::Out),
            "both" => None,
            d => {
                return Err(err(
                    format!("{k}.direction"),
                    format!("{d:?}: expected in, out or both"),
                ));
            }
        };
        let saturation_pcu_h = match a.saturation_pcu_h {
            Some(s) if s.is_finite() && s > 0.0 => s,
            Some(s) => {
                return Err(err(
                    format!("{k}.saturation_pcu_h"),
                    format!("{s} must be a positive flow"),
                ));
            }
            None => raw.saturation_pcu_h_per_lane * a.lanes as f64,
        };
        approaches.push(Approach {
            id: a.id.clone(),
            camera,
            line: a.line.clone(),
            queue_zone: a.queue_zone.clone(),
            lanes: a.lanes,
            direction,
            saturation_pcu_h,
            opposed_by: Vec::new(),
        });
    }
    opposing(raw, &mut approaches)?;
    Ok(approaches)
}

/// Resolves each permitted movement's `opposed_by` to approach indices (known, not itself).
fn opposing(raw: &RawJunction, approaches: &mut [Approach]) -> Result<(), Invalid> {
    for (i, a) in raw.approaches.iter().enumerate() {
        let mut idx = Vec::new();
        for (j, o) in a.opposed_by.iter().enumerate() {
            let key = format!("approaches[{i}].opposed_by[{j}]");
            let n = approaches
                .iter()
                .position(|x| &x.id == o)
                .ok_or_else(|| Invalid {
                    key: key.clone(),
                    reason: format!("no approach {o:?}"),
                })?;
            if n == i {
                return Err(Invalid {
                    key,
                    reason: "an approach cannot yield to itself".into(),
                });
            }
            idx.push(n);
        }
        approaches[i].opposed_by = idx;
    }
    Ok(())
}

/// The phases, each serving known approaches, with greens that fit their minimums.
pub(super) fn phases(raw: &RawJunction, approaches: &[Approach]) -> Result<Vec<Phase>, Invalid> {
    let err = |key: String, reason: String| Invalid { key, reason };
    let mut phases: Vec<Phase> = Vec::new();
    for (i, p) in raw.phases.iter().enumerate() {
        let k = format!("phases[{i}]");
        matthan_schema::validate_segment(&p.id).map_err(|r| err(format!("{k}.id"), r))?;
        if phases.iter().any(|x| x.id == p.id) {
            return Err(err(
                format!("{k}.id"),
                format!("duplicate phase {:?}", p.id),
            ));
        }
        let mut idx = Vec::new();
        for (j, a) in p.approaches.iter().enumerate() {
            let n = approaches
                .iter()
                .position(|x| &x.id == a)
                .ok_or_else(|| err(format!("{k}.approaches[{j}]"), format!("no approach {a:?}")))?;
            idx.push(n);
        }
        if idx.is_empty() {
            return Err(err(
                format!("{k}.approaches"),
                "a phase must serve at least one approach".into(),
            ));
        }
        for (key, v) in [
            ("min_green_s", p.min_green_s),
            ("pedestrian_min_s", p.pedestrian_min_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(err(
                    format!("{k}.{key}"),
                    "must be 0 or more seconds".into(),
                ));
            }
        }
        let min = p.min_green_s.max(p.pedestrian_min_s);
        if !(p.max_green_s.is_finite() && p.max_green_s >= min) {
            return Err(err(
                format!("{k}.max_green_s"),
                format!("{} is below the phase's minimum green {min}", p.max_green_s),
            ));
        }
        phases.push(Phase {
            id: p.id.clone(),
            approaches: idx,
            min_green_s: min,
            max_green_s: p.max_green_s,
        });
    }
    Ok(phases)
}

/// The fixed plan in force, if configured: one green per phase.
pub(super) fn plan(raw: &RawJunction, n_phases: usize) -> Result<Option<FixedPlan>, Invalid> {
    let err = |key: String, reason: String| Invalid { key, reason };
    Ok(match &raw.plan {
        None => None,
        Some(p) => {
            if p.greens_s.len() != n_phases {
                return Err(err(
                    "plan.greens_s".into(),
                    format!("{} greens for {} phases", p.greens_s.len(), n_phases),
                ));
            }
            if p.greens_s.iter().any(|g| !(g.is_finite() && *g > 0.0)) || !p.offset_s.is_finite() {
                return Err(err(
                    "plan".into(),
                    "greens must be positive seconds, offset finite".into(),
                ));
            }
            Some(FixedPlan {
                greens_s: p.greens_s.clone(),
                offset_s: p.offset_s,
            })
        }
    })
}

/// Every number of the junction: positive where it must be, within its range where it has one.
pub(super) fn numbers(raw: &RawJunction) -> Result<(), Invalid> {
    let err = |key: String, reason: String| Invalid { key, reason };
    let positive = |key: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(err(key.into(), format!("{v} must be a positive number")))
        }
    };
    positive("motorbike_pcu", raw.motorbike_pcu)?;
    positive("cycle_min_s", raw.cycle_min_s)?;
    positive("cycle_max_s", raw.cycle_max_s)?;
    positive("saturation_pcu_h_per_lane", raw.saturation_pcu_h_per_lane)?;
    positive("interval_s", raw.interval_s)?;
    positive("warn_degree", raw.warn_degree)?;
    positive("unbalanced_ratio", raw.unbalanced_ratio)?;
    positive("gap_critical_s", raw.gap_critical_s)?;
    positive("gap_follow_s", raw.gap_follow_s)?;
    if !(raw.startup_lost_s.is_finite() && (0.0..=10.0).contains(&raw.startup_lost_s)) {
        return Err(err(
            "startup_lost_s".into(),
            "must be 0..=10 seconds".into(),
        ));
    }
    if !(raw.busy_floor.is_finite() && (0.0..=1.0).contains(&raw.busy_floor)) {
        return Err(err("busy_floor".into(), "must be 0..=1".into()));
    }
    for (class, v) in &raw.pcu {
        positive(&format!("pcu.{class}"), *v)?;
    }
    if !(raw.yellow_s.is_finite() && raw.yellow_s >= 0.0) {
        return Err(err("yellow_s".into(), "must be 0 or more seconds".into()));
    }
    if !(raw.all_red_s.is_finite() && raw.all_red_s >= 0.0) {
        return Err(err("all_red_s".into(), "must be 0 or more seconds".into()));
    }
    Ok(())
}
