//! Per-camera analytics over confirmed tracks: directed counting lines, zones with dwell, and
//! per-interval counts and turning movements. Geometry lives in `geometry`; the per-track state machines in `camera`.

mod camera;
mod config;
mod counts;
mod geometry;
mod movements;

pub use camera::CameraAnalytics;
pub use config::{AnalyticsConfig, RawLine, RawZone};
pub use geometry::{Line, Side, Zone};
pub use movements::{Gate, MovementConfig, MovementTracker, RawGate, RawMovements};
