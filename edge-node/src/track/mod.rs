//! Multi-object tracking, one tracker per camera.

mod bytetrack;
mod kalman;

pub use bytetrack::{TrackSnapshot, Tracker, TrackerOutput};
pub use kalman::Kalman;
