//! Multi-object tracking, one tracker per camera.

mod bytetrack;
mod config;
mod kalman;
mod reid;

pub use bytetrack::{TrackSnapshot, Tracker, TrackerOutput};
pub use config::TrackerConfig;
pub use kalman::Kalman;
