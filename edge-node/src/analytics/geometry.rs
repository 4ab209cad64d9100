//! Lines and zones in normalised image coordinates (0..1 on both axes, origin top-left), so a
//! config survives a change of stream resolution. Both are validated on construction.

/// Which side of a directed line a point is on, once clear of the hysteresis band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Left of the line when walking from its first point to its second, as seen on screen.
    Left,
    Right,
}

/// A directed counting line. Crossing from its right side to its left side is `in`.
#[derive(Debug, Clone)]
pub struct Line {
    pub id: String,
    a: [f64; 2],
    b: [f64; 2],
    hysteresis: f64,
    pub classes: Option<Vec<String>>,
}

impl Line {
    pub fn new(
        id: &str,
        points: &[[f64; 2]],
        hysteresis: f64,
        classes: Option<Vec<String>>,
    ) -> Result<Self, String> {
        matthan_schema::validate_segment(id).map_err(|r| format!("id: {r}"))?;
        let [a, b] = points else {
            return Err(format!(
                "points: a line needs exactly 2 points, got {}",
                points.len()
            ));
        };
        check_points(points)?;
        if ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt() < 0.01 {
            return Err("points: the two points are (almost) the same; a line needs length".into());
        }
        if !(0.0..=0.2).contains(&hysteresis) {
            return Err(format!(
                "hysteresis: {hysteresis} is not within 0..=0.2 (a fraction of the frame)"
            ));
        }
        Ok(Self {
            id: id.to_string(),
            a: *a,
            b: *b,
            hysteresis,
            classes,
        })
    }

    /// The smallest rectangle holding the line (x1, y1, x2, y2 as fractions of the frame).
    pub fn bounds(&self) -> [f64; 4] {
        bounds(&[self.a, self.b])
    }

    /// The side of `p`, or None inside the hysteresis band or beyond the segment's ends.
    pub fn side(&self, p: [f64; 2]) -> Option<Side> {
        let (dx, dy) = (self.b[0] - self.a[0], self.b[1] - self.a[1]);
        let len2 = dx * dx + dy * dy;
        let t = ((p[0] - self.a[0]) * dx + (p[1] - self.a[1]) * dy) / len2;
        if !(0.0..=1.0).contains(&t) {
            return None;
        }
        // Screen coordinates have y down, so a negative cross product is the walker's left.
        let dist = (dx * (p[1] - self.a[1]) - dy * (p[0] - self.a[0])) / len2.sqrt();
        if dist < -self.hysteresis {
            Some(Side::Left)
        } else if dist > self.hysteresis {
            Some(Side::Right)
        } else {
            None
        }
    }
}

/// A named polygon zone; simple (no self-intersection) with non-zero area.
#[derive(Debug, Clone)]
pub struct Zone {
    pub id: String,
    polygon: Vec<[f64; 2]>,
    pub dwell_s: Option<f64>,
    pub classes: Option<Vec<String>>,
}

impl Zone {
    pub fn new(
        id: &str,
        polygon: &[[f64; 2]],
        dwell_s: Option<f64>,
        classes: Option<Vec<String>>,
    ) -> Result<Self, String> {
        matthan_schema::validate_segment(id).map_err(|r| format!("id: {r}"))?;
        if polygon.len() < 3 {
            return Err(format!(
                "polygon: needs at least 3 points, got {}",
                polygon.len()
            ));
        }
        if polygon.len() > 64 {
            return Err(format!("polygon: at most 64 points, got {}", polygon.len()));
        }
        check_points(polygon).map_err(|e| format!("polygon: {e}"))?;
        let n = polygon.len();
        for i in 0..n {
            for j in i + 1..n {
                // Neighbouring edges share a point; only non-adjacent pairs may not meet.
                if j == i + 1 || (i == 0 && j == n - 1) {
                    continue;
                }
                if segments_intersect(
                    polygon[i],
                    polygon[(i + 1) % n],
                    polygon[j],
                    polygon[(j + 1) % n],
                ) {
                    return Err(format!(
                        "polygon: edges {i} and {j} cross; the polygon must not intersect itself"
                    ));
                }
            }
        }
        let area: f64 = (0..n)
            .map(|i| {
                let (p, q) = (polygon[i], polygon[(i + 1) % n]);
                p[0] * q[1] - q[0] * p[1]
            })
            .sum::<f64>()
            / 2.0;
        if area.abs() < 1e-4 {
            return Err("polygon: encloses no area (points on one line?)".into());
        }
        if let Some(d) = dwell_s
            && !(d.is_finite() && d > 0.0)
        {
            return Err(format!("dwell_s: {d} must be a positive number of seconds"));
        }
        Ok(Self {
            id: id.to_string(),
            polygon: polygon.to_vec(),
            dwell_s,
            classes,
        })
    }

    /// Even-odd ray casting.
    /// The smallest rectangle holding the zone (x1, y1, x2, y2 as fractions of the frame).
    pub fn bounds(&self) -> [f64; 4] {
        bounds(&self.polygon)
    }

    pub fn polygon(&self) -> &[[f64; 2]] {
        &self.polygon
    }

    pub fn contains(&self, p: [f64; 2]) -> bool {
        let mut inside = false;
        let n = self.polygon.len();
        let mut j = n - 1;
        for i in 0..n {
            let (a, b) = (self.polygon[i], self.polygon[j]);
            if (a[1] > p[1]) != (b[1] > p[1])
                && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
            {
                inside = !inside;
            }
            j = i;
        }
        inside
    }
}

fn bounds(points: &[[f64; 2]]) -> [f64; 4] {
    points.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |[x1, y1, x2, y2], p| [x1.min(p[0]), y1.min(p[1]), x2.max(p[0]), y2.max(p[1])],
    )
}

fn check_points(points: &[[f64; 2]]) -> Result<(), String> {
    for (i, p) in points.iter().enumerate() {
        if !p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)) {
            return Err(format!(
                "point {i} {p:?} is outside 0..1; coordinates are fractions of the frame's width and height"
            ));
        }
    }
    Ok(())
}

fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

fn segments_intersect(p1: [f64; 2], p2: [f64; 2], q1: [f64; 2], q2: [f64; 2]) -> bool {
    let (d1, d2) = (orient(q1, q2, p1), orient(q1, q2, p2));
    let (d3, d4) = (orient(p1, p2, q1), orient(p1, p2, q2));
    ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_sides_follow_the_walkers_left_and_hysteresis() {
        // Walking right along y=0.5: up on screen (smaller y) is the left.
        let l = Line::new("l", &[[0.1, 0.5], [0.9, 0.5]], 0.02, None).unwrap();
        assert_eq!(l.side([0.5, 0.3]), Some(Side::Left));
        assert_eq!(l.side([0.5, 0.7]), Some(Side::Right));
        assert_eq!(l.side([0.5, 0.51]), None, "inside the band");
        assert_eq!(l.side([0.95, 0.3]), None, "beyond the segment");
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(Line::new("l", &[[0.1, 0.5]], 0.01, None).is_err());
        assert!(Line::new("l", &[[0.1, 0.5], [0.1, 0.5]], 0.01, None).is_err());
        assert!(Line::new("l", &[[0.1, 0.5], [1.5, 0.5]], 0.01, None).is_err());
        assert!(Line::new("l", &[[0.1, 0.5], [0.9, 0.5]], 0.5, None).is_err());
        assert!(Line::new("a/b", &[[0.1, 0.5], [0.9, 0.5]], 0.01, None).is_err());
    }

    #[test]
    fn zone_contains_and_rejects_bad_polygons() {
        let z = Zone::new(
            "z",
            &[[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]],
            Some(5.0),
            None,
        )
        .unwrap();
        assert!(z.contains([0.5, 0.5]));
        assert!(!z.contains([0.1, 0.5]));
        let bowtie = Zone::new(
            "z",
            &[[0.2, 0.2], [0.8, 0.8], [0.8, 0.2], [0.2, 0.8]],
            None,
            None,
        )
        .unwrap_err();
        assert!(bowtie.contains("cross"), "{bowtie}");
        assert!(
            Zone::new("z", &[[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]], None, None)
                .unwrap_err()
                .contains("no area")
        );
        assert!(Zone::new("z", &[[0.1, 0.1], [0.5, 0.5]], None, None).is_err());
        assert!(Zone::new("z", &[[0.1, 0.1], [0.5, 0.1], [f64::NAN, 0.9]], None, None).is_err());
        assert!(Zone::new("z", &[[0.2, 0.2], [0.8, 0.2], [0.8, 0.8]], Some(-1.0), None).is_err());
    }
}
