//! Recorded files resume where they stopped. A file camera's position (the PTS of the last
//! analysed frame) is committed to the outbox with the events of the frames before it, so
//! after a crash or a restart the file goes on from there instead of being analysed again
//! from frame 0 with new event ids (13 crossings were repeated before). While a violation's
//! evidence is still being built the position holds, so a crash never skips a violation (a
//! bundle that fails to build holds it for the rest of the run: frames are then analysed
//! again after a restart, never skipped).
//! Tracks open at the restart start afresh. Live sources have no position, and a looping file
//! starts over by design; neither is resumed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::config::{EdgeConfig, Source};
use crate::outbox::DONE;
use crate::publish::Publisher;
use crate::queue::FrameQueues;

use super::emit::Emitter;

/// The identity of each camera's file (None: not resumable).
pub struct Resume {
    sources: Vec<Option<String>>,
    ids: Vec<String>,
}

/// Path, size and modification time: the same name with different content is another file.
fn identity(path: &std::path::Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(format!("{}|{}|{mtime}", path.display(), meta.len()))
}

impl Resume {
    /// Reads each file camera's position from the outbox and tells its ingest thread where to
    /// go on from. Call before the cameras start.
    pub fn start(cfg: &EdgeConfig, publisher: &Publisher, queues: &FrameQueues) -> Self {
        let sources: Vec<Option<String>> = cfg
            .cameras
            .iter()
            .map(|c| match &c.source {
                Source::File(p) if !c.loop_file => identity(p),
                _ => None,
            })
            .collect();
        for (i, (cam, source)) in cfg.cameras.iter().zip(&sources).enumerate() {
            let Some(source) = source else { continue };
            let saved = match publisher.progress(&cam.id) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(camera = %cam.id, error = %e, "no saved position; from the start");
                    None
                }
            };
            match saved {
                Some((s, pts)) if &s == source && pts == DONE => {
                    tracing::info!(camera = %cam.id, "file already analysed to its end; skipped");
                    queues.resume[i].store(u64::MAX, Ordering::Relaxed);
                }
                Some((s, pts)) if &s == source && pts >= 0 => {
                    tracing::info!(camera = %cam.id, at_s = pts as f64 / 1000.0, "resuming file");
                    // Frames before this PTS are skipped: up to and including the saved one.
                    let ns = Duration::from_millis(pts as u64 + 1).as_nanos() as u64;
                    queues.resume[i].store(ns, Ordering::Relaxed);
                }
                _ => {}
            }
        }
        Self {
            sources,
            ids: cfg.cameras.iter().map(|c| c.id.clone()).collect(),
        }
    }

    /// A frame of camera `i` at `pts` is analysed (its events are in `em`'s batch).
    pub fn analysed(&self, i: usize, pts: Duration, evidence_in_flight: u32, em: &mut Emitter) {
        if evidence_in_flight > 0 {
            return;
        }
        if let Some(source) = &self.sources[i] {
            em.progress(&self.ids[i], source, pts.as_millis() as i64);
        }
    }

    /// Camera `i`'s file ended cleanly: a restart skips it.
    pub fn ended(&self, i: usize, evidence_in_flight: u32, em: &mut Emitter) {
        if let Some(source) = &self.sources[i]
            && evidence_in_flight == 0
        {
            em.progress(&self.ids[i], source, DONE);
        }
    }
}
