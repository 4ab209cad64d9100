//! Builds bundles on a thread of their own (JPEG and H.264 encoding and plate reading take
//! tens to hundreds of milliseconds, which the detector loop must not wait for), and hands back
//! the violation event and its blobs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use matthan_schema::{Artefact, BBox, Body, Violation};
use sha2::{Digest, Sha256};

use super::{EvidenceConfig, Job, Shot};
use crate::frame::RgbImage;
use crate::plate::PlateReader;
use crate::signing::{self, SigningKey};

/// A finished violation: its event body (stamped with the violation's time), the blobs to
/// publish before it, and the plate for the track's own events.
pub struct Done {
    pub camera: String,
    pub at: DateTime<Utc>,
    pub body: Body,
    pub blobs: Vec<(String, Arc<Vec<u8>>)>,
    pub plate: Option<(u64, String, f32)>,
}

pub struct Worker {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("evidence signing key: {0}")]
    Key(#[from] signing::SigningError),
    #[error("plate reader: {0}")]
    Plate(#[from] crate::detect::DetectError),
    #[error("evidence dir {0}: {1}")]
    Dir(PathBuf, std::io::Error),
}

impl Worker {
    /// Loads the key and the plate reader now, so a bad key or model fails the start, not the
    /// first violation.
    pub fn start(
        cfg: &EvidenceConfig,
        site: &str,
        ort_library: Option<&Path>,
    ) -> Result<Self, EvidenceError> {
        let key = SigningKey::load(&cfg.key)?;
        let plates = match &cfg.ocr {
            Some(o) => Some(PlateReader::new(&o.det, &o.rec, ort_library)?),
            None => None,
        };
        std::fs::create_dir_all(&cfg.dir).map_err(|e| EvidenceError::Dir(cfg.dir.clone(), e))?;
        let (jtx, jrx) = channel::<Job>();
        let (dtx, drx) = channel::<Done>();
        let mut b = Builder {
            dir: cfg.dir.clone(),
            site: site.to_string(),
            fps: cfg.clip_fps,
            key,
            plates,
        };
        let thread = std::thread::Builder::new()
            .name("evidence".into())
            .spawn(move || {
                for job in jrx {
                    match b.build(job) {
                        Ok(d) => {
                            if dtx.send(d).is_err() {
                                break;
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "evidence bundle failed"),
                    }
                }
            })
            .map_err(|e| EvidenceError::Dir(cfg.dir.clone(), e))?;
        Ok(Self {
            jobs: Some(jtx),
            done: drx,
            thread: Some(thread),
        })
    }

    pub fn submit(&self, job: Job) {
        if let Some(tx) = &self.jobs {
            let _ = tx.send(job);
        }
    }

    /// Bundles finished so far.
    pub fn ready(&self) -> Vec<Done> {
        self.done.try_iter().collect()
    }

    /// Waits for every submitted bundle.
    pub fn finish(mut self) -> Vec<Done> {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.done.try_iter().collect()
    }
}

struct Builder {
    dir: PathBuf,
    site: String,
    fps: u32,
    key: SigningKey,
    plates: Option<PlateReader>,
}

/// A bundle file: name, bytes, MIME type, capture time.
type File = (String, Vec<u8>, &'static str, Option<DateTime<Utc>>);

fn sha_hex(b: &[u8]) -> String {
    format!("{:x}", Sha256::digest(b))
}

fn nearest(frames: &[Shot], t: DateTime<Utc>) -> Option<&Shot> {
    frames
        .iter()
        .min_by_key(|s| (s.ts - t).num_microseconds().unwrap_or(i64::MAX).abs())
}

impl Builder {
    fn build(&mut self, job: Job) -> Result<Done, String> {
        let h = &job.hit;
        let id = format!(
            "{}-{}-{}",
            h.at.format("%Y%m%dT%H%M%S%3f"),
            h.track,
            &sha_hex(h.rule_id.as_bytes())[..8]
        );
        let mut files: Vec<File> = Vec::new();
        let plate = self.images(&job, &mut files);
        let dir = self.dir.join(&job.camera).join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        self.clip(&job, &dir, &id, &mut files)?;
        let plate_text = plate.as_ref().map(|(p, ..)| (p.text.clone(), p.score));
        let context = serde_json::json!({
            "violation_id": id,
            "rule": h.rule.as_str(),
            "rule_id": h.rule_id,
            "track_id": h.track,
            "class": h.class,
            "at": matthan_schema::format_ts(&h.at),
            "zone": h.zone,
            "line": h.line,
            "measured": h.context,
            "plate": plate_text.as_ref().map(|(t, s)| serde_json::json!({"text": t, "score": s})),
            "captured": files.iter().map(|(n, _, _, t)| (n.clone(), t.map(|t| matthan_schema::format_ts(&t)))).collect::<std::collections::BTreeMap<_, _>>(),
        });
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b, ..)| (n.as_str(), b.as_slice()))
            .collect();
        signing::write_bundle(
            &dir,
            &self.key,
            &self.site,
            &job.camera,
            &h.rule_id,
            context,
            &refs,
        )
        .map_err(|e| e.to_string())?;
        let manifest = std::fs::read(dir.join(signing::MANIFEST)).map_err(|e| e.to_string())?;
        let sig =
            std::fs::read_to_string(dir.join(signing::SIGNATURE)).map_err(|e| e.to_string())?;
        let mut blobs = Vec::new();
        let evidence = files
            .into_iter()
            .map(|(name, bytes, mime, captured)| {
                let sha = sha_hex(&bytes);
                let a = Artefact {
                    name,
                    sha256: sha.clone(),
                    bytes: bytes.len() as u64,
                    mime: mime.into(),
                    captured,
                };
                blobs.push((sha, Arc::new(bytes)));
                a
            })
            .collect();
        let manifest_sha = sha_hex(&manifest);
        blobs.push((manifest_sha.clone(), Arc::new(manifest)));
        let body = Body::Violation(Violation {
            rule: h.rule,
            rule_id: h.rule_id.clone(),
            violation_id: id,
            track_id: h.track,
            class: h.class.clone(),
            at: h.at,
            zone: h.zone.clone(),
            line: h.line.clone(),
            context: h.context.clone(),
            plate: plate_text.as_ref().map(|(t, _)| t.clone()),
            plate_score: plate_text.as_ref().map(|(_, s)| *s),
            color: h.color.clone(),
            evidence,
            manifest: Some(manifest_sha),
            signature: Some(sig.trim().to_string()),
            public_key: Some(self.key.public_hex()),
        });
        Ok(Done {
            camera: job.camera,
            at: h.at,
            body,
            blobs,
            plate: plate_text.map(|(t, s)| (h.track, t, s)),
        })
    }

    /// The two overview images, the vehicle at its largest, and the best plate reading (with
    /// its crop) among the three largest views.
    fn images(
        &mut self,
        job: &Job,
        files: &mut Vec<File>,
    ) -> Option<(crate::plate::Plate, RgbImage, DateTime<Utc>)> {
        let h = &job.hit;
        for (i, m) in h.moments.iter().enumerate() {
            if let Some(s) = nearest(&job.frames, *m)
                && let Some(j) = s.image.jpeg([0, 0, s.image.width, s.image.height], 90)
            {
                files.push((
                    format!("overview-{}.jpg", i + 1),
                    j,
                    "image/jpeg",
                    Some(s.ts),
                ));
            }
        }
        // The vehicle at its largest among the frames kept (closest to the camera, sharpest
        // plate), and the plate read from the best few.
        let mut views: Vec<(&Shot, BBox)> = job
            .boxes
            .iter()
            .filter_map(|(t, b)| job.frames.iter().find(|s| s.ts == *t).map(|s| (s, *b)))
            .collect();
        views.sort_by(|a, b| {
            let area = |b: &BBox| (b.x2 - b.x1) * (b.y2 - b.y1);
            area(&b.1).total_cmp(&area(&a.1))
        });
        let mut plate = None;
        if let Some((s, b)) = views.first() {
            let rect = s.image.around(b, 0.1);
            if let Some(j) = s.image.jpeg(rect, 92) {
                files.push(("vehicle.jpg".into(), j, "image/jpeg", Some(s.ts)));
            }
        }
        let mut readings = Vec::new();
        if let Some(reader) = &mut self.plates {
            for (s, b) in views.iter().take(3) {
                let crop = s.image.crop(s.image.around(b, 0.05));
                match reader.read(&crop) {
                    Ok(Some(p)) => {
                        readings.push((p.text.clone(), p.score));
                        if plate
                            .as_ref()
                            .is_none_or(|(q, ..): &(crate::plate::Plate, _, _)| p.score > q.score)
                        {
                            plate = Some((p, crop, s.ts));
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "plate reading failed"),
                }
            }
        }
        // The views read together, character by character; the crop shown is the best one's.
        if let (Some((p, ..)), Some((text, score))) =
            (&mut plate, crate::plate::format::fuse(&readings))
        {
            (p.text, p.score) = (text, score);
        }
        if let Some((p, crop, ts)) = &plate
            && let Some(j) = crop.jpeg(p.rect, 95)
        {
            files.push(("plate.jpg".into(), j, "image/jpeg", Some(*ts)));
        }
        plate
    }

    /// The MP4 clip of the frames kept around the violation (none if encoding fails).
    fn clip(
        &self,
        job: &Job,
        dir: &std::path::Path,
        id: &str,
        files: &mut Vec<File>,
    ) -> Result<(), String> {
        let clip_frames: Vec<Arc<RgbImage>> = job.frames.iter().map(|s| s.image.clone()).collect();
        if !clip_frames.is_empty() {
            let tmp = dir.join(".clip.mp4");
            match super::encode_mp4(&clip_frames, self.fps, &tmp) {
                Ok(()) => {
                    let bytes = std::fs::read(&tmp).map_err(|e| e.to_string())?;
                    let _ = std::fs::remove_file(&tmp);
                    files.push((
                        "clip.mp4".into(),
                        bytes,
                        "video/mp4",
                        job.frames.first().map(|s| s.ts),
                    ));
                }
                Err(e) => tracing::warn!(error = %e, violation = %id, "clip not encoded"),
            }
        }
        Ok(())
    }
}
