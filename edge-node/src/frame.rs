//! A decoded frame as it travels through the pipeline.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Packed RGB8 pixels, rows `stride` bytes apart (GStreamer pads rows to 4 bytes).
#[derive(Debug, Clone)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub data: Vec<u8>,
}

impl RgbImage {
    /// A tightly packed image filled with one colour, for tests and synthetic inputs.
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Self {
        let data = rgb
            .iter()
            .copied()
            .cycle()
            .take(width as usize * height as usize * 3)
            .collect();
        Self {
            width,
            height,
            stride: width as usize * 3,
            data,
        }
    }

    pub fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.stride..y * self.stride + self.width as usize * 3]
    }

    /// A copy of `rect` (x1, y1, x2, y2; inside the image), tightly packed.
    pub fn crop(&self, rect: [u32; 4]) -> RgbImage {
        let [x1, y1, x2, y2] = rect;
        let w = x2.saturating_sub(x1);
        let mut data = Vec::with_capacity((w * y2.saturating_sub(y1) * 3) as usize);
        for y in y1..y2 {
            data.extend_from_slice(&self.row(y as usize)[x1 as usize * 3..x2 as usize * 3]);
        }
        RgbImage {
            width: w,
            height: y2.saturating_sub(y1),
            stride: w as usize * 3,
            data,
        }
    }

    /// `rect` encoded as JPEG; none when the rectangle is empty.
    pub fn jpeg(&self, rect: [u32; 4], quality: u8) -> Option<Vec<u8>> {
        use image::codecs::jpeg::JpegEncoder;
        let [x1, y1, x2, y2] = rect;
        if x2 <= x1 || y2 <= y1 {
            return None;
        }
        let c = self.crop(rect);
        let buf: image::ImageBuffer<image::Rgb<u8>, Vec<u8>> =
            image::ImageBuffer::from_raw(c.width, c.height, c.data)?;
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(&buf)
            .ok()?;
        Some(out)
    }

    /// The box with a margin (a fraction of its size), clamped to the image.
    pub fn around(&self, b: &matthan_schema::BBox, margin: f32) -> [u32; 4] {
        let (w, h) = (b.x2 - b.x1, b.y2 - b.y1);
        [
            ((b.x1 - w * margin).max(0.0) as u32).min(self.width),
            ((b.y1 - h * margin).max(0.0) as u32).min(self.height),
            ((b.x2 + w * margin).max(0.0) as u32).min(self.width),
            ((b.y2 + h * margin).max(0.0) as u32).min(self.height),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Frame {
    /// Index of the camera in the config, cheap to carry and to look up.
    pub camera: usize,
    pub camera_id: Arc<str>,
    /// Frame number since the camera (re)started, counting frames that were dropped later.
    pub seq: u64,
    /// Stream running time of the frame (its PTS): monotonic within one stream.
    pub pts: Duration,
    /// Wall-clock capture time: the stream's start on the wall clock plus `pts`.
    pub captured: DateTime<Utc>,
    pub image: Arc<RgbImage>,
    /// The motion gate's thumbnail, made on the camera's thread (cameras with `[motion]`).
    pub thumb: Option<crate::motion::Thumb>,
}
