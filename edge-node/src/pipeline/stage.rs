//! The per-camera stages after detection, behind one interface, and the list a camera runs in
//! data-flow order. Each stage owns its component; what stages hand each other within one frame
//! (tracker output, crossings, classifier votes, violation hits) travels on the `Board`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use matthan_schema::Crossing;

use super::emit::Emitter;
use super::stages::{
    AnalyticsStage, ClassifyStage, EvidenceStage, HistoryStage, JunctionStage, PlateStage,
    RulesStage, SnapshotStage, TrackStage, ViolationStage,
};
use crate::config::{CameraConfig, EdgeConfig};
use crate::detect::{Classifier, Detection};
use crate::evidence::Worker;
use crate::frame::RgbImage;
use crate::rules::History;
use crate::signal::JunctionFeed;
use crate::snapshot::SnapshotKeeper;
use crate::track::{TrackSnapshot, TrackerOutput};
use crate::violations::{Hit, Lights, Vote};

/// One analysed frame of one camera.
pub struct Frame<'a> {
    pub captured: DateTime<Utc>,
    pub image: &'a Arc<RgbImage>,
    pub size: (u32, u32),
    pub seen: Seen<'a>,
}

/// What the detector made of a frame.
#[derive(Clone, Copy, Debug)]
pub enum Seen<'a> {
    /// What the detector found on it.
    Detected(&'a [Detection]),
    /// What the detector found within windows of it (frame pixels) around what moved
    /// (`[cameras.motion] windows`); nothing outside them was looked at.
    Within(&'a [Detection], &'a [matthan_schema::BBox]),
    /// The motion gate kept it from the detector: nothing moved since the camera's last
    /// detected frame (`motion`).
    Still,
}

/// What the stages of one frame hand each other, in the order they fill it.
#[derive(Default)]
pub struct Board {
    pub out: TrackerOutput,
    pub crossings: Vec<(DateTime<Utc>, Crossing)>,
    pub votes: Vec<Vote>,
    pub hits: Vec<Hit>,
    /// Tracks whose plate was just read: their next event is due now.
    pub plates_read: Vec<u64>,
}

/// Why a camera's tracks restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// The stream ended (or failed for good).
    EndOfStream,
    /// The resolution changed: pixel boxes of the old size mean nothing in the new one.
    Resized,
}

/// A restart of one camera's tracks.
pub struct End {
    pub at: DateTime<Utc>,
    pub why: Restart,
    /// The tracks the tracker ended, filled by the tracker stage.
    pub ended: Vec<TrackSnapshot>,
}

/// What one camera's stages share: its snapshots (read when events are emitted) and the track
/// history behaviour and violation rules both read.
pub struct CamState {
    pub id: String,
    pub snapshots: SnapshotKeeper,
    pub history: History,
    /// Violations handed to the evidence worker and not yet emitted: while any is, a file
    /// camera's position does not advance (a restart must see those frames again).
    pub evidence_in_flight: u32,
    /// The tracker's boxes after the last frame (fractions of the frame) and whether each was
    /// moving: what the next frame's motion window must take in.
    pub tracks: Vec<([f64; 4], bool)>,
}

/// What every camera's stages share: the detector's labels, the signal lights, the secondary
/// classifiers, the evidence worker and the junctions (which several cameras feed).
pub struct Shared {
    pub labels: Vec<String>,
    pub lights: Lights,
    pub classifiers: Vec<Classifier>,
    pub evidence: Option<Worker>,
    pub junctions: Vec<JunctionFeed>,
    /// The plate reader for every vehicle track (`[plates]`).
    pub plates: Option<crate::plate::tracks::PlateWorker>,
}

/// Everything a stage may touch besides the frame and the board.
pub struct Cx<'a> {
    pub cam: &'a mut CamState,
    pub shared: &'a mut Shared,
    pub em: &'a mut Emitter,
}

/// A step of a camera's analysis. Stages never block: anything slow (JPEG, H.264, OCR) goes to
/// a worker thread.
pub trait Stage: Send {
    fn on_frame(&mut self, cx: &mut Cx, f: &Frame, b: &mut Board);
    /// The camera's tracks restart; close whatever the stage holds open.
    fn finish(&mut self, _cx: &mut Cx, _end: &mut End) {}
    /// The implementing type's path, for per-stage timings (each impl gets its own copy of
    /// this default, so it names the concrete stage behind a `dyn Stage`).
    fn type_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// The stages of one camera, in data-flow order; only those its config uses.
pub fn stages(cfg: &EdgeConfig, cam: &CameraConfig, shared: &Shared) -> Vec<Box<dyn Stage>> {
    let labels = &cfg.model.labels;
    let judging = !cam.violations.is_empty();
    let mut s: Vec<Box<dyn Stage>> = vec![
        Box::new(TrackStage::new(
            cfg.tracker.clone(),
            cam.motion.as_ref().is_some_and(|m| m.windows),
        )),
        Box::new(SnapshotStage::new(labels)),
    ];
    if let Some(p) = &cfg.plates
        && shared.plates.is_some()
    {
        let file = crate::ingest::overflow_policy(cam) == crate::queue::Overflow::Block;
        s.push(Box::new(PlateStage::new(p.clone(), file)));
    }
    if !cam.rules.is_empty() || judging {
        s.push(Box::new(HistoryStage));
    }
    if !cam.rules.is_empty() {
        s.push(Box::new(RulesStage::new(cam)));
    }
    s.push(Box::new(AnalyticsStage::new(cfg, cam)));
    if judging {
        s.push(Box::new(ClassifyStage::default()));
        s.push(Box::new(ViolationStage::new(cam)));
        if let Some(e) = &cfg.evidence
            && shared.evidence.is_some()
        {
            s.push(Box::new(EvidenceStage::new(&cam.id, e)));
        }
    }
    if !shared.junctions.is_empty() {
        s.push(Box::new(JunctionStage::new(cam)));
    }
    s
}
