//! Fills a model's NCHW float input straight from packed RGB pixels in one pass: resize
//! (bilinear), channel reorder and normalisation together, so no intermediate image is made.

use crate::frame::RgbImage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// Scale each axis independently to the input size (what NanoDet was trained with).
    Stretch,
    /// Keep the aspect ratio and pad with grey (what the YOLO exports expect).
    Letterbox,
}

#[derive(Debug, Clone)]
pub struct Preprocess {
    pub width: usize,
    pub height: usize,
    pub resize: Resize,
    /// Model channel `c` takes RGB channel `order[c]`.
    pub order: [usize; 3],
    /// Per model channel: value = (pixel - mean) / std.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Padding pixel value (before normalisation) for letterbox borders.
    pub pad: f32,
}

/// Maps model-input coordinates back to frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    pub scale_x: f32,
    pub scale_y: f32,
    pub pad_x: f32,
    pub pad_y: f32,
    pub frame_w: f32,
    pub frame_h: f32,
}

impl Transform {
    pub fn to_frame(&self, x: f32, y: f32) -> (f32, f32) {
        (
            ((x - self.pad_x) / self.scale_x).clamp(0.0, self.frame_w),
            ((y - self.pad_y) / self.scale_y).clamp(0.0, self.frame_h),
        )
    }
}

impl Preprocess {
    /// NanoDet: stretch, BGR, ImageNet-style mean/std in 0..255 units.
    pub fn nanodet(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            resize: Resize::Stretch,
            order: [2, 1, 0],
            mean: [103.53, 116.28, 123.675],
            std: [57.375, 57.12, 58.395],
            pad: 0.0,
        }
    }

    /// Ultralytics YOLO: letterbox with grey 114, RGB, 0..1.
    pub fn yolo(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            resize: Resize::Letterbox,
            order: [0, 1, 2],
            mean: [0.0; 3],
            std: [255.0; 3],
            pad: 114.0,
        }
    }

    pub fn tensor_len(&self) -> usize {
        3 * self.width * self.height
    }

    /// Writes one image into `out` (length `tensor_len()`), returning how to map boxes back.
    pub fn fill(&self, img: &RgbImage, out: &mut [f32]) -> Transform {
        assert_eq!(
            out.len(),
            self.tensor_len(),
            "tensor buffer of the wrong size"
        );
        let (fw, fh) = (img.width as f32, img.height as f32);
        let (sx, sy, nw, nh) = match self.resize {
            Resize::Stretch => (
                self.width as f32 / fw,
                self.height as f32 / fh,
                self.width,
                self.height,
            ),
            Resize::Letterbox => {
                let s = (self.width as f32 / fw).min(self.height as f32 / fh);
                let nw = ((fw * s).round() as usize).clamp(1, self.width);
                let nh = ((fh * s).round() as usize).clamp(1, self.height);
                (s, s, nw, nh)
            }
        };
        let pad_x = (self.width - nw) / 2;
        let pad_y = (self.height - nh) / 2;
        let plane = self.width * self.height;
        let inv_std = self.std.map(|s| 1.0 / s);
        if nw < self.width || nh < self.height {
            let pad_vals: [f32; 3] =
                std::array::from_fn(|c| (self.pad - self.mean[c]) * inv_std[c]);
            for (c, v) in pad_vals.iter().enumerate() {
                out[c * plane..(c + 1) * plane].fill(*v);
            }
        }

        // Source sample positions per output column, computed once per call rather than per pixel.
        let max_x = img.width as usize - 1;
        let cols: Vec<(usize, usize, f32)> = (0..nw)
            .map(|x| {
                let src = ((x as f32 + 0.5) / nw as f32 * fw - 0.5).clamp(0.0, max_x as f32);
                let x0 = src.floor() as usize;
                (x0 * 3, (x0 + 1).min(max_x) * 3, src - x0 as f32)
            })
            .collect();
        // Separable, vertical first: each output row blends its two source rows whole (contiguous
        // bytes, which the compiler vectorises), then samples that one row at the output columns.
        // Horizontal first gathered ~1.4 source rows per output row, the slow part: 768x576 into
        // 416x416 took 0.92 ms that way, 0.60 ms this way, 1.46 ms per pixel from four samples.
        let mut mid = vec![0f32; img.width as usize * 3];
        let max_y = img.height as usize - 1;
        for y in 0..nh {
            let src = ((y as f32 + 0.5) / nh as f32 * fh - 0.5).clamp(0.0, max_y as f32);
            let y0 = src.floor() as usize;
            let wy = src - y0 as f32;
            let (top, bot) = (img.row(y0), img.row((y0 + 1).min(max_y)));
            for ((m, &t), &b) in mid.iter_mut().zip(top).zip(bot) {
                let t = t as f32;
                *m = t + (b as f32 - t) * wy;
            }
            let base = (y + pad_y) * self.width + pad_x;
            let [p0, p1, p2] = planes(out, plane, base, nw);
            let [k0, k1, k2] = self.order;
            let lerp = |l: f32, r: f32, w: f32| l + (r - l) * w;
            for (((d0, d1), d2), &(a, b, wx)) in p0
                .iter_mut()
                .zip(p1.iter_mut())
                .zip(p2.iter_mut())
                .zip(&cols)
            {
                let (l, r) = (&mid[a..a + 3], &mid[b..b + 3]);
                *d0 = (lerp(l[k0], r[k0], wx) - self.mean[0]) * inv_std[0];
                *d1 = (lerp(l[k1], r[k1], wx) - self.mean[1]) * inv_std[1];
                *d2 = (lerp(l[k2], r[k2], wx) - self.mean[2]) * inv_std[2];
            }
        }
        Transform {
            scale_x: nw as f32 / fw,
            scale_y: nh as f32 / fh,
            pad_x: pad_x as f32,
            pad_y: pad_y as f32,
            frame_w: fw,
            frame_h: fh,
        }
        .with_stretch_scale(self.resize, sx, sy)
    }
}

/// Output row `base..base + len` of each of the three planes.
fn planes(out: &mut [f32], plane: usize, base: usize, len: usize) -> [&mut [f32]; 3] {
    let (first, rest) = out.split_at_mut(plane);
    let (second, third) = rest.split_at_mut(plane);
    [first, second, third].map(|p| &mut p[base..base + len])
}

impl Transform {
    // Stretch maps exactly by the axis ratios; letterbox by the rounded inner size.
    fn with_stretch_scale(mut self, resize: Resize, sx: f32, sy: f32) -> Self {
        if resize == Resize::Stretch {
            self.scale_x = sx;
            self.scale_y = sy;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanodet_is_bgr_and_normalised() {
        let img = RgbImage::filled(20, 10, [10, 20, 30]);
        let p = Preprocess::nanodet(8, 8);
        let mut out = vec![0.0; p.tensor_len()];
        let t = p.fill(&img, &mut out);
        let b = (30.0 - 103.53) / 57.375;
        let r = (10.0 - 123.675) / 58.395;
        assert!((out[0] - b).abs() < 1e-4, "first plane is blue");
        assert!((out[2 * 64] - r).abs() < 1e-4, "last plane is red");
        assert_eq!(t.to_frame(8.0, 8.0), (20.0, 10.0));
    }

    #[test]
    fn letterbox_pads_and_maps_back() {
        // 40x20 into 16x16: scale 0.4, inner 16x8, 4 rows of padding above and below.
        let img = RgbImage::filled(40, 20, [255, 255, 255]);
        let p = Preprocess::yolo(16, 16);
        let mut out = vec![0.0; p.tensor_len()];
        let t = p.fill(&img, &mut out);
        assert!((out[0] - 114.0 / 255.0).abs() < 1e-6, "top-left is padding");
        assert!((out[8 * 16 + 8] - 1.0).abs() < 1e-6, "centre is image");
        assert_eq!(t.pad_y, 4.0);
        let (x, y) = t.to_frame(8.0, 8.0);
        assert!((x - 20.0).abs() < 1e-4 && (y - 10.0).abs() < 1e-4);
    }

    /// The four-sample blend per pixel that `fill` computes separably.
    fn reference(p: &Preprocess, img: &RgbImage, out: &mut [f32]) {
        let t = p.fill(img, out); // padding and the inner size
        let (fw, fh) = (img.width as f32, img.height as f32);
        let (nw, nh) = (
            (t.scale_x * fw).round() as usize,
            (t.scale_y * fh).round() as usize,
        );
        let (nw, nh) = (nw.min(p.width), nh.min(p.height));
        let plane = p.width * p.height;
        let (max_x, max_y) = (img.width as usize - 1, img.height as usize - 1);
        for y in 0..nh {
            let sy = ((y as f32 + 0.5) / nh as f32 * fh - 0.5).clamp(0.0, max_y as f32);
            let (y0, wy) = (sy.floor() as usize, sy - sy.floor());
            let (r0, r1) = (img.row(y0), img.row((y0 + 1).min(max_y)));
            for x in 0..nw {
                let sx = ((x as f32 + 0.5) / nw as f32 * fw - 0.5).clamp(0.0, max_x as f32);
                let x0 = sx.floor() as usize;
                let (a, b, wx) = (x0 * 3, (x0 + 1).min(max_x) * 3, sx - x0 as f32);
                for c in 0..3 {
                    let k = p.order[c];
                    let top = r0[a + k] as f32 + (r0[b + k] as f32 - r0[a + k] as f32) * wx;
                    let bot = r1[a + k] as f32 + (r1[b + k] as f32 - r1[a + k] as f32) * wx;
                    let v = top + (bot - top) * wy;
                    let i = c * plane + (y + t.pad_y as usize) * p.width + t.pad_x as usize + x;
                    out[i] = (v - p.mean[c]) / p.std[c];
                }
            }
        }
    }

    #[test]
    fn separable_fill_equals_the_per_pixel_blend() {
        for (w, h) in [(97, 61), (13, 29), (416, 416), (5, 3)] {
            let mut img = RgbImage::filled(w, h, [0, 0, 0]);
            for (i, v) in img.data.iter_mut().enumerate() {
                *v = ((i * 7919) % 251) as u8;
            }
            for p in [Preprocess::nanodet(32, 24), Preprocess::yolo(40, 40)] {
                let (mut a, mut b) = (vec![0.0; p.tensor_len()], vec![0.0; p.tensor_len()]);
                p.fill(&img, &mut a);
                reference(&p, &img, &mut b);
                for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-5 * y.abs().max(1.0),
                        "{w}x{h} at {i}: {x} vs {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn honours_row_stride() {
        // 2x2 image with rows padded to 8 bytes; padding bytes must never be read as pixels.
        let img = RgbImage {
            width: 2,
            height: 2,
            stride: 8,
            data: vec![
                50, 50, 50, 50, 50, 50, 255, 255, 50, 50, 50, 50, 50, 50, 255, 255,
            ],
        };
        let p = Preprocess {
            mean: [0.0; 3],
            std: [1.0; 3],
            ..Preprocess::yolo(4, 4)
        };
        let mut out = vec![0.0; p.tensor_len()];
        p.fill(&img, &mut out);
        assert!(out.iter().all(|v| (*v - 50.0).abs() < 1e-3), "{out:?}");
    }
}
