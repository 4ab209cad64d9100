//! The hand-off between camera decode threads and the detector: one small queue per camera
//! behind one lock, so the detector can take a batch across cameras in one wake-up.
//!
//! Live cameras drop their oldest *frame* when the detector falls behind (counted, reported in
//! camera status); recorded files block instead, so analysing footage never skips frames.
//! Control messages (status changes, end of stream) are never dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use matthan_schema::CameraState;

use crate::frame::Frame;

#[derive(Debug)]
pub enum Msg {
    Frame(Frame),
    Status {
        camera: usize,
        state: CameraState,
        detail: Option<String>,
    },
    /// The camera's source ended for good (a file reached its end, or failed).
    End {
        camera: usize,
        error: Option<String>,
    },
}

impl Msg {
    fn camera(&self) -> usize {
        match self {
            Msg::Frame(f) => f.camera,
            Msg::Status { camera, .. } | Msg::End { camera, .. } => *camera,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    DropOldest,
    Block,
}

pub struct FrameQueues {
    inner: Mutex<Inner>,
    changed: Condvar,
    capacity: usize,
    policy: Vec<Overflow>,
    pub dropped: Vec<AtomicU64>,
    pub pushed: Vec<AtomicU64>,
    /// Per camera, frames before this PTS (ns) were analysed in an earlier run and are skipped
    /// (0: none); `u64::MAX`: the file was analysed to its end. Set before the cameras start.
    pub resume: Vec<AtomicU64>,
}

struct Inner {
    queues: Vec<VecDeque<Msg>>,
    frames: Vec<usize>,
    next: usize,
    closed: bool,
}

impl FrameQueues {
    pub fn new(policy: Vec<Overflow>, capacity: usize) -> Self {
        let n = policy.len();
        Self {
            inner: Mutex::new(Inner {
                queues: (0..n).map(|_| VecDeque::new()).collect(),
                frames: vec![0; n],
                next: 0,
                closed: false,
            }),
            changed: Condvar::new(),
            capacity: capacity.max(1),
            policy,
            dropped: (0..n).map(|_| AtomicU64::new(0)).collect(),
            pushed: (0..n).map(|_| AtomicU64::new(0)).collect(),
            resume: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Queues a message; returns false once the queues are closed (shutting down).
    pub fn push(&self, msg: Msg) -> bool {
        let cam = msg.camera();
        let mut g = self.inner.lock().expect("queue lock");
        if let Msg::Frame(_) = msg {
            self.pushed[cam].fetch_add(1, Ordering::Relaxed);
            while g.frames[cam] >= self.capacity && !g.closed {
                match self.policy[cam] {
                    Overflow::Block => g = self.changed.wait(g).expect("queue lock"),
                    Overflow::DropOldest => {
                        let q = &mut g.queues[cam];
                        let pos = q
                            .iter()
                            .position(|m| matches!(m, Msg::Frame(_)))
                            .expect("frames counted");
                        q.remove(pos);
                        g.frames[cam] -= 1;
                        self.dropped[cam].fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            g.frames[cam] += 1;
        }
        if g.closed {
            return false;
        }
        g.queues[cam].push_back(msg);
        drop(g);
        self.changed.notify_all();
        true
    }

    /// Takes up to `max` messages, round-robin over cameras so none starves, waiting up to
    /// `wait` for the first. Empty when nothing came in time or the queues are closed and empty.
    pub fn pop_batch(&self, max: usize, wait: Duration) -> Vec<Msg> {
        let mut g = self.inner.lock().expect("queue lock");
        if g.queues.iter().all(VecDeque::is_empty) && !g.closed {
            g = self.changed.wait_timeout(g, wait).expect("queue lock").0;
        }
        let mut out = Vec::new();
        let n = g.queues.len();
        let mut frames_taken = 0;
        'outer: while frames_taken < max {
            let mut took = false;
            for k in 0..n {
                let cam = (g.next + k) % n;
                if let Some(m) = g.queues[cam].pop_front() {
                    took = true;
                    if let Msg::Frame(_) = m {
                        g.frames[cam] -= 1;
                        frames_taken += 1;
                    }
                    out.push(m);
                    if frames_taken >= max {
                        g.next = (cam + 1) % n;
                        break 'outer;
                    }
                }
            }
            if !took {
                break;
            }
        }
        drop(g);
        if !out.is_empty() {
            self.changed.notify_all();
        }
        out
    }

    pub fn close(&self) {
        self.inner.lock().expect("queue lock").closed = true;
        self.changed.notify_all();
    }
}
