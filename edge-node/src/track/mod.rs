//! Multi-object tracking, one tracker per camera.

mod bytetrack;
mod config;
mod kalman;
mod reid;

pub use bytetrack::{TrackSnapshot, Tracker, TrackerOutput, box_iou};
pub use config::TrackerConfig;
pub use kalman::Kalman;
