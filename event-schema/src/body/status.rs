//! Camera and edge health.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    Up,
    Degraded,
    Down,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraStatus {
    pub state: CameraState,
    pub fps_in: f32,
    pub fps_out: f32,
    /// Frames dropped by back-pressure since the camera started (never events).
    pub dropped_frames: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeState {
    Online,
    /// Sent by the broker as the edge's MQTT last will, or by the edge on a clean shutdown.
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeStatus {
    pub state: EdgeState,
    pub cameras: Vec<String>,
    pub version: String,
    /// Messages dropped from the edge's outbox for lack of disk, since it was created.
    #[serde(default)]
    pub outbox_dropped: u64,
    /// Messages waiting in the outbox for the broker.
    #[serde(default)]
    pub outbox_pending: u64,
}
