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
}
