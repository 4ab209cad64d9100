//! One camera's run: frame bookkeeping and health (resolution changes, frozen pictures, fps and
//! drops) around its list of stages.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use matthan_schema::{Body, CameraState, CameraStatus};

use super::emit::Emitter;
use super::stage::{Board, CamState, Cx, End, Frame, Restart, Shared, Stage};
use crate::queue::FrameQueues;
use crate::stale::{Change, FrozenCheck};

/// `edge_node::pipeline::stages::TrackStage` → `track`.
fn stage_name(s: &dyn Stage) -> &'static str {
    let full = s.type_name();
    let last = full.rsplit("::").next().unwrap_or(full);
    let short = last.strip_suffix("Stage").unwrap_or(last);
    // Names are few and live for the run: leak each once rather than allocate per frame.
    Box::leak(short.to_ascii_lowercase().into_boxed_str())
}

/// How often each camera reports fps and drops.
pub const STATUS_EVERY: Duration = Duration::from_secs(10);

pub struct CameraRun {
    pub index: usize,
    pub state: CamState,
    pub stages: Vec<Box<dyn Stage>>,
    /// Each stage's name (its type's, without `Stage`) and its time on the last frame (ns).
    pub stage_times: Vec<(&'static str, u64)>,
    /// Only live sources: a file may legitimately hold a still picture.
    pub frozen: Option<FrozenCheck>,
    pub frames: u64,
    pub last_capture: Option<DateTime<Utc>>,
    pub frame_size: (u32, u32),
    pub ended: bool,
    /// The state last reported, so a camera with no frames is never reported up.
    last_state: CameraState,
    /// Counters at the last status, to report rates since then.
    status_at: Instant,
    status_pushed: u64,
    status_frames: u64,
    status_dropped: u64,
}

impl CameraRun {
    pub fn new(
        index: usize,
        state: CamState,
        stages: Vec<Box<dyn Stage>>,
        frozen: Option<FrozenCheck>,
    ) -> Self {
        let stage_times = stages.iter().map(|s| (stage_name(s.as_ref()), 0)).collect();
        Self {
            index,
            state,
            stage_times,
            stages,
            frozen,
            frames: 0,
            last_capture: None,
            frame_size: (0, 0),
            ended: false,
            last_state: CameraState::Up,
            status_at: Instant::now(),
            status_pushed: 0,
            status_frames: 0,
            status_dropped: 0,
        }
    }

    /// One frame through the camera's stages, in order.
    pub fn on_frame(&mut self, f: &Frame, q: &FrameQueues, shared: &mut Shared, em: &mut Emitter) {
        self.frames += 1;
        self.last_capture = Some(f.captured);
        if self.frame_size != (0, 0) && self.frame_size != f.size {
            // Lines and zones are fractions of the frame, so they still hold.
            self.restart(f.captured, Restart::Resized, shared, em);
            let detail = format!(
                "resolution changed from {}x{} to {}x{}; tracks restarted",
                self.frame_size.0, self.frame_size.1, f.size.0, f.size.1
            );
            tracing::warn!(camera = %self.state.id, %detail, "stream changed");
            self.status(q, CameraState::Up, Some(detail), f.captured, em);
        }
        self.frame_size = f.size;
        if let Some(change) = self
            .frozen
            .as_mut()
            .and_then(|fc| fc.observe(f.image, f.captured))
        {
            let (state, detail) = match change {
                Change::Froze => (
                    CameraState::Degraded,
                    "frozen picture: the same image keeps arriving",
                ),
                Change::Thawed => (CameraState::Up, "picture moving again"),
            };
            tracing::warn!(camera = %self.state.id, detail, "camera picture");
            self.status(q, state, Some(detail.to_string()), f.captured, em);
        }
        let mut board = Board::default();
        let mut cx = Cx {
            cam: &mut self.state,
            shared,
            em,
        };
        for (s, t) in self.stages.iter_mut().zip(&mut self.stage_times) {
            let started = Instant::now();
            s.on_frame(&mut cx, f, &mut board);
            t.1 = started.elapsed().as_nanos() as u64;
        }
    }

    /// The stream ended or failed for good: close everything and report the camera down.
    pub fn on_end(
        &mut self,
        error: Option<String>,
        q: &FrameQueues,
        shared: &mut Shared,
        em: &mut Emitter,
    ) {
        let now = self.last_capture.unwrap_or_else(Utc::now);
        self.restart(now, Restart::EndOfStream, shared, em);
        let detail = error.unwrap_or_else(|| "end of stream".to_string());
        self.status(q, CameraState::Down, Some(detail), now, em);
        self.ended = true;
    }

    /// Every stage closes what it holds (in order: the tracker first, so later stages see the
    /// tracks it ended), then the shared history starts again.
    fn restart(&mut self, at: DateTime<Utc>, why: Restart, shared: &mut Shared, em: &mut Emitter) {
        let mut end = End {
            at,
            why,
            ended: Vec::new(),
        };
        let mut cx = Cx {
            cam: &mut self.state,
            shared,
            em,
        };
        for s in &mut self.stages {
            s.finish(&mut cx, &mut end);
        }
        self.state.history.reset();
    }

    /// A periodic status when one is due.
    pub fn status_if_due(&mut self, q: &FrameQueues, em: &mut Emitter) {
        if self.ended || self.status_at.elapsed() < STATUS_EVERY {
            return;
        }
        let dropped_now = q.dropped[self.index].load(Ordering::Relaxed);
        let (state, detail) = if self.frames == self.status_frames {
            // A source retrying its connection sends nothing: it stays down (or, if it never
            // said so, degraded), never "up at 0 fps".
            let state = match self.last_state {
                CameraState::Down => CameraState::Down,
                _ => CameraState::Degraded,
            };
            let secs = self.status_at.elapsed().as_secs();
            (state, Some(format!("no frames in the last {secs} s")))
        } else if dropped_now > self.status_dropped {
            (CameraState::Degraded, None)
        } else {
            (CameraState::Up, None)
        };
        let at = self.last_capture.unwrap_or_else(Utc::now);
        self.status(q, state, detail, at, em);
    }

    /// A status with rates measured since this camera's previous status.
    pub fn status(
        &mut self,
        q: &FrameQueues,
        state: CameraState,
        detail: Option<String>,
        at: DateTime<Utc>,
        em: &mut Emitter,
    ) {
        let i = self.index;
        let secs = self.status_at.elapsed().as_secs_f32().max(1e-3);
        let pushed = q.pushed[i].load(Ordering::Relaxed);
        let dropped = q.dropped[i].load(Ordering::Relaxed);
        let body = CameraStatus {
            state,
            fps_in: pushed.saturating_sub(self.status_pushed) as f32 / secs,
            fps_out: self.frames.saturating_sub(self.status_frames) as f32 / secs,
            dropped_frames: dropped,
            detail,
        };
        self.status_at = Instant::now();
        self.status_pushed = pushed;
        self.status_frames = self.frames;
        self.status_dropped = dropped;
        self.last_state = state;
        em.emit(&self.state.id, at, Body::CameraStatus(body));
    }
}
