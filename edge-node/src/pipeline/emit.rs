//! The emitter: owns the batch of messages the current detector batch produced, so they reach
//! the outbox in one durable commit. Track events name their snapshot; its blob is queued just
//! before the first event naming it.

use chrono::{DateTime, Utc};
use matthan_schema::{Body, Event, Kind, Recording, TrackPhase};

use crate::config::RecordedVideo;

use crate::outbox::Message;
use crate::publish::{self, Publisher};
use crate::snapshot::SnapshotKeeper;

pub struct Emitter {
    site: String,
    /// Cameras analysing a case's video: (camera id, the video, its first frame's time).
    recorded: Vec<(String, RecordedVideo, DateTime<Utc>)>,
    /// The last offset a recorded event was stamped with, and how many events of each kind
    /// it has had: the ordinal in the event's derived id.
    ordinals: Vec<(String, u64, Kind, u32)>,
    pending: Vec<Message>,
    /// File cameras' positions, committed with the next batch (see `resume.rs`).
    progress: Vec<crate::outbox::Progress>,
    progress_at: std::time::Instant,
    /// Events emitted since the run started.
    pub events: u64,
}

impl Emitter {
    pub fn new(cfg: &crate::config::EdgeConfig) -> Self {
        Self {
            site: cfg.site.clone(),
            recorded: cfg
                .cameras
                .iter()
                .filter_map(|c| {
                    let v = c.recorded.clone()?;
                    Some((c.id.clone(), v, c.start_at?))
                })
                .collect(),
            ordinals: Vec::new(),
            pending: Vec::new(),
            progress: Vec::new(),
            progress_at: std::time::Instant::now(),
            events: 0,
        }
    }

    /// An event with no track attached (status, counts, junction bodies).
    pub fn emit(&mut self, camera: &str, ts: DateTime<Utc>, body: Body) {
        self.events += 1;
        let event = match self.recorded.iter().find(|(id, ..)| id == camera) {
            None => Event::new(&self.site, camera, ts, body),
            // A case video's "camera" status says nothing about the video (its job's state
            // at the hub does), and is stamped with the worker's clock, not the video's.
            Some(_) if body.kind() == Kind::CameraStatus => {
                self.events -= 1;
                return;
            }
            Some((_, video, start)) => {
                let offset_ms = (ts - *start).num_milliseconds().max(0) as u64;
                let recording = Recording {
                    case: video.case,
                    video: video.video,
                    sha256: video.sha256.clone(),
                    offset_ms,
                };
                let ordinal = next_ordinal(&mut self.ordinals, camera, offset_ms, body.kind());
                Event::recorded(&self.site, camera, ts, body, recording, ordinal)
            }
        };
        self.pending.push(publish::message(&event));
    }

    /// An event about a track: its colours, plate and snapshot come from `snaps`.
    pub fn emit_tracked(
        &mut self,
        camera: &str,
        ts: DateTime<Utc>,
        mut body: Body,
        snaps: &mut SnapshotKeeper,
    ) {
        match &mut body {
            Body::Track(t) => {
                if let Some(col) = snaps.colours(t.track_id) {
                    let a = &mut t.attributes;
                    a.color = a.color.take().or(col.body.map(String::from));
                    a.upper_color = a.upper_color.take().or(col.upper.map(String::from));
                    a.lower_color = a.lower_color.take().or(col.lower.map(String::from));
                }
                if t.attributes.plate.is_none()
                    && let Some((p, blob)) = snaps.plate_for_event(t.track_id)
                {
                    t.attributes.plate = Some(p.text);
                    t.attributes.plate_score = Some(p.score);
                    t.attributes.plate_format = Some(p.format);
                    if let Some((sha, _)) = p.image {
                        if let Some(b) = blob {
                            self.pending.push(publish::blob(&self.site, &sha, &b));
                        }
                        t.plate_image = Some(sha);
                    }
                }
                if let Some(sha) = self.snapshot(snaps, t.track_id) {
                    t.snapshot = Some(sha);
                    if t.phase == TrackPhase::End {
                        snaps.forget(t.track_id);
                    }
                }
            }
            // An alert shows its main track; the crop is the same blob the track names.
            Body::Alert(a) => {
                if let Some(&track) = a.track_ids.first()
                    && let Some(sha) = self.snapshot(snaps, track)
                {
                    a.snapshot = Some(sha);
                }
            }
            _ => {}
        }
        self.emit(camera, ts, body);
    }

    /// The track's snapshot hash, queuing its blob the first time it is named.
    fn snapshot(&mut self, snaps: &mut SnapshotKeeper, track: u64) -> Option<String> {
        let (sha, blob) = snaps.take_for_event(track)?;
        if let Some(b) = blob {
            self.pending.push(publish::blob(&self.site, &sha, &b));
        }
        Some(sha)
    }

    /// A finished violation: its blobs first, then the event naming them.
    pub fn emit_violation(&mut self, d: crate::evidence::Done) {
        for (sha, blob) in &d.blobs {
            // Over the MQTT limit it could never be sent and would hold up the outbox; it
            // stays in the bundle on disk and the hub shows the bundle as incomplete.
            if blob.len() + 1024 > publish::MAX_PACKET {
                tracing::error!(sha = %sha, bytes = blob.len(), "evidence file too large to publish; kept on disk only");
                continue;
            }
            self.pending.push(publish::blob(&self.site, sha, blob));
        }
        self.emit(&d.camera, d.at, d.body);
    }

    /// A message built elsewhere (the edge's own status).
    pub fn push(&mut self, event: &Event) {
        self.events += 1;
        self.pending.push(publish::message(event));
    }

    /// Notes how far a file camera got; it goes out with the next commit. Called per frame, so
    /// a camera already noted only has its position updated (no allocation).
    pub fn progress(&mut self, camera: &str, source: &str, pts_ms: i64) {
        match self.progress.iter_mut().find(|q| q.camera == camera) {
            Some(q) => q.pts_ms = pts_ms,
            None => self.progress.push(crate::outbox::Progress {
                camera: camera.to_string(),
                source: source.to_string(),
                pts_ms,
            }),
        }
    }

    /// Writes the batch to the outbox in one commit, with the cameras' positions. Positions
    /// alone are written at most once a second (each commit is a disk sync).
    pub fn flush(&mut self, publisher: &mut Publisher) -> Result<(), crate::outbox::OutboxError> {
        let done = self
            .progress
            .iter()
            .any(|p| p.pts_ms == crate::outbox::DONE);
        let due = done || self.progress_at.elapsed() >= std::time::Duration::from_secs(1);
        if self.pending.is_empty() && !due {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        let progress = std::mem::take(&mut self.progress);
        if !progress.is_empty() {
            self.progress_at = std::time::Instant::now();
        }
        publisher.push_with(&batch, &progress)
    }
}

/// The ordinal of the next `kind` event at `offset_ms` on `camera`: counts restart when the
/// camera's offset moves on (events come in frame order).
fn next_ordinal(
    counts: &mut Vec<(String, u64, Kind, u32)>,
    camera: &str,
    offset_ms: u64,
    kind: Kind,
) -> u32 {
    counts.retain(|(c, at, ..)| c != camera || *at == offset_ms);
    match counts
        .iter_mut()
        .find(|(c, _, k, _)| c == camera && *k == kind)
    {
        Some((.., n)) => {
            *n += 1;
            *n
        }
        None => {
            counts.push((camera.to_string(), offset_ms, kind, 0));
            0
        }
    }
}
