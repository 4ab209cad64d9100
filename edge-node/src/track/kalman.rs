//! Constant-velocity Kalman filter over (centre x, centre y, aspect ratio, height), the state
//! space and noise model of SORT/ByteTrack: noise scales with box height, so near and far
//! objects are tracked equally well.

use nalgebra::{SMatrix, SVector};

type V8 = SVector<f32, 8>;
type M8 = SMatrix<f32, 8, 8>;
type V4 = SVector<f32, 4>;
type M4 = SMatrix<f32, 4, 4>;
type M48 = SMatrix<f32, 4, 8>;

const STD_POS: f32 = 1.0 / 20.0;
const STD_VEL: f32 = 1.0 / 160.0;

#[derive(Debug, Clone)]
pub struct Kalman {
    pub mean: V8,
    cov: M8,
}

fn motion() -> M8 {
    let mut f = M8::identity();
    for i in 0..4 {
        f[(i, i + 4)] = 1.0;
    }
    f
}

fn observe() -> M48 {
    M48::from_fn(|r, c| if r == c { 1.0 } else { 0.0 })
}

impl Kalman {
    /// Starts a filter at measurement `z` = (cx, cy, w/h, h) with zero velocity.
    pub fn new(z: [f32; 4]) -> Self {
        let h = z[3];
        let std = [
            2.0 * STD_POS * h,
            2.0 * STD_POS * h,
            1e-2,
            2.0 * STD_POS * h,
            10.0 * STD_VEL * h,
            10.0 * STD_VEL * h,
            1e-5,
            10.0 * STD_VEL * h,
        ];
        let mut mean = V8::zeros();
        mean.fixed_rows_mut::<4>(0).copy_from(&V4::from(z));
        Self {
            mean,
            cov: M8::from_diagonal(&V8::from_fn(|i, _| std[i] * std[i])),
        }
    }

    pub fn predict(&mut self) {
        let h = self.mean[3].max(1.0);
        let q = [
            STD_POS * h,
            STD_POS * h,
            1e-2,
            STD_POS * h,
            STD_VEL * h,
            STD_VEL * h,
            1e-5,
            STD_VEL * h,
        ];
        let f = motion();
        self.mean = f * self.mean;
        self.cov =
            f * self.cov * f.transpose() + M8::from_diagonal(&V8::from_fn(|i, _| q[i] * q[i]));
    }

    pub fn update(&mut self, z: [f32; 4]) {
        let h = self.mean[3].max(1.0);
        let r = [STD_POS * h, STD_POS * h, 1e-1, STD_POS * h];
        let hm = observe();
        let s =
            hm * self.cov * hm.transpose() + M4::from_diagonal(&V4::from_fn(|i, _| r[i] * r[i]));
        let Some(s_inv) = s.try_inverse() else {
            // A singular innovation means a degenerate box; restart from the measurement.
            *self = Self::new(z);
            return;
        };
        let k = self.cov * hm.transpose() * s_inv;
        self.mean += k * (V4::from(z) - hm * self.mean);
        self.cov = (M8::identity() - k * hm) * self.cov;
    }

    /// Stops drift of the box size while an object is unseen (ByteTrack zeroes the height rate).
    pub fn freeze_size(&mut self) {
        self.mean[6] = 0.0;
        self.mean[7] = 0.0;
    }

    /// Speed of the centre in pixels per frame.
    pub fn speed(&self) -> f32 {
        (self.mean[4] * self.mean[4] + self.mean[5] * self.mean[5]).sqrt()
    }

    pub fn state(&self) -> [f32; 4] {
        [self.mean[0], self.mean[1], self.mean[2], self.mean[3]]
    }
}
