//! Metres on the ground. With a calibration (four image points and where they lie on the ground,
//! in metres) positions go through a homography; without one, a track's pixels are scaled by
//! its class's typical height over its box height, which is rough but keeps thresholds in
//! metres meaningful for people walking across a scene.

use nalgebra::{Matrix3, SMatrix, SVector, Vector3};

/// A validated image→ground homography. Image points are normalised (0..1) like zones.
#[derive(Debug, Clone)]
pub struct GroundPlane {
    pub id: String,
    h: Matrix3<f64>,
}

/// `[cameras.ground]`: four points in the image (fractions of the frame) and the same four
/// points on the ground, in metres.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGround {
    id: String,
    image: Vec<[f64; 2]>,
    ground: Vec<[f64; 2]>,
}

impl RawGround {
    pub fn validate(
        self,
        s: &crate::config::Scope,
    ) -> Result<GroundPlane, crate::config::ConfigError> {
        matthan_schema::validate_segment(&self.id).map_err(|r| s.err("id", r))?;
        GroundPlane::new(&self.id, &self.image, &self.ground).map_err(|r| s.err("", r))
    }
}

/// Twice the area of triangle abc; near zero when the points are on one line.
fn area2(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    ((b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])).abs()
}

fn degenerate(points: &[[f64; 2]; 4], eps: f64) -> Option<String> {
    for (i, j, k) in [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)] {
        if area2(points[i], points[j], points[k]) < eps {
            return Some(format!("points {i}, {j} and {k} are (almost) on one line"));
        }
    }
    None
}

impl GroundPlane {
    pub fn new(id: &str, image: &[[f64; 2]], world: &[[f64; 2]]) -> Result<Self, String> {
        let (Ok(img), Ok(wld)) = (
            <[[f64; 2]; 4]>::try_from(image),
            <[[f64; 2]; 4]>::try_from(world),
        ) else {
            return Err(format!(
                "needs exactly 4 image points and 4 ground points, got {} and {}",
                image.len(),
                world.len()
            ));
        };
        if img
            .iter()
            .flatten()
            .any(|v| !(v.is_finite() && (0.0..=1.0).contains(v)))
        {
            return Err("image points must be fractions of the frame (0..1)".into());
        }
        if wld.iter().flatten().any(|v| !v.is_finite()) {
            return Err("ground points must be finite metres".into());
        }
        if let Some(why) = degenerate(&img, 1e-4) {
            return Err(format!("image: {why}; the homography would be degenerate"));
        }
        if let Some(why) = degenerate(&wld, 1e-3) {
            return Err(format!("ground: {why}; the homography would be degenerate"));
        }
        // Direct linear transform with h33 = 1: eight equations, eight unknowns.
        let mut a = SMatrix::<f64, 8, 8>::zeros();
        let mut b = SVector::<f64, 8>::zeros();
        for i in 0..4 {
            let ([x, y], [u, v]) = (img[i], wld[i]);
            a.set_row(
                2 * i,
                &SMatrix::<f64, 1, 8>::from_row_slice(&[x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y]),
            );
            a.set_row(
                2 * i + 1,
                &SMatrix::<f64, 1, 8>::from_row_slice(&[0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y]),
            );
            b[2 * i] = u;
            b[2 * i + 1] = v;
        }
        let sol = a
            .lu()
            .solve(&b)
            .ok_or("the point pairs admit no homography (degenerate)")?;
        let h = Matrix3::new(
            sol[0], sol[1], sol[2], sol[3], sol[4], sol[5], sol[6], sol[7], 1.0,
        );
        let plane = Self { id: id.into(), h };
        for i in 0..4 {
            let got = plane
                .to_ground(img[i])
                .ok_or("a calibration point maps to infinity")?;
            let err = ((got[0] - wld[i][0]).powi(2) + (got[1] - wld[i][1]).powi(2)).sqrt();
            if !err.is_finite() || err > 0.01 {
                return Err(format!(
                    "point {i} maps {err:.3} m from where it was given; the points are inconsistent"
                ));
            }
        }
        Ok(plane)
    }

    /// Ground position in metres of a normalised image point; None near the horizon line.
    pub fn to_ground(&self, p: [f64; 2]) -> Option<[f64; 2]> {
        let v = self.h * Vector3::new(p[0], p[1], 1.0);
        if v.z.abs() < 1e-9 {
            return None;
        }
        let g = [v.x / v.z, v.y / v.z];
        g.iter().all(|c| c.is_finite()).then_some(g)
    }

    /// Area in m² of a polygon given in normalised image points.
    pub fn area(&self, polygon: &[[f64; 2]]) -> Option<f64> {
        let pts: Option<Vec<[f64; 2]>> = polygon.iter().map(|p| self.to_ground(*p)).collect();
        let pts = pts?;
        let n = pts.len();
        let twice: f64 = (0..n)
            .map(|i| {
                let (p, q) = (pts[i], pts[(i + 1) % n]);
                p[0] * q[1] - q[0] * p[1]
            })
            .sum();
        Some(twice.abs() / 2.0)
    }
}

/// Typical height in metres of an object of `class`, for the uncalibrated estimate.
pub fn typical_height_m(class: &str) -> f64 {
    match class {
        "person" => 1.7,
        "bicycle" => 1.1,
        "motorcycle" => 1.2,
        "car" => 1.5,
        "bus" => 3.2,
        "truck" => 3.0,
        "backpack" => 0.5,
        "handbag" => 0.35,
        "suitcase" => 0.65,
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> [[f64; 2]; 4] {
        [[0.2, 0.5], [0.8, 0.5], [0.9, 0.9], [0.1, 0.9]]
    }

    #[test]
    fn maps_the_calibration_points_and_between_them() {
        let g = GroundPlane::new(
            "c1",
            &square(),
            &[[0.0, 20.0], [10.0, 20.0], [10.0, 0.0], [0.0, 0.0]],
        )
        .unwrap();
        let p = g.to_ground([0.5, 0.9]).unwrap();
        assert!((p[0] - 5.0).abs() < 1e-6 && p[1].abs() < 1e-6, "{p:?}");
        // A trapezoid in the image is a rectangle on the ground: 10 m × 20 m.
        let a = g.area(&square()).unwrap();
        assert!((a - 200.0).abs() < 1e-6, "{a}");
    }

    #[test]
    fn degenerate_calibrations_are_refused_with_a_reason() {
        let line = [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.9, 0.1]];
        let e = GroundPlane::new(
            "c",
            &line,
            &[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
        )
        .unwrap_err();
        assert!(e.contains("image") && e.contains("one line"), "{e}");
        let e = GroundPlane::new(
            "c",
            &square(),
            &[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 5.0]],
        )
        .unwrap_err();
        assert!(e.contains("ground"), "{e}");
        let e = GroundPlane::new("c", &square()[..3], &square()).unwrap_err();
        assert!(e.contains("exactly 4"), "{e}");
        let e = GroundPlane::new(
            "c",
            &square(),
            &[[0.0, f64::NAN], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
        )
        .unwrap_err();
        assert!(e.contains("finite"), "{e}");
    }
}
