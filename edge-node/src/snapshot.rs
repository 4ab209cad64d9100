//! The best picture of each track: a small JPEG crop taken when the detector is most sure of
//! the object, named by its sha256. Track events carry the name; the blob itself is published
//! once as evidence, so the hub can show a thumbnail on every result card.

use std::collections::HashMap;
use std::sync::Arc;

use image::codecs::jpeg::JpegEncoder;
use image::{ImageBuffer, Rgb, imageops};
use matthan_schema::BBox;
use sha2::{Digest, Sha256};

use crate::colour::{self, Colours};
use crate::frame::RgbImage;

/// A new crop is taken only when the score beats the kept one by this much: a handful of
/// encodes per track, not one per frame.
const IMPROVEMENT: f32 = 0.05;
/// Longest side of a snapshot, in pixels.
const MAX_SIDE: u32 = 160;
/// Context kept around the box, as a fraction of its size.
const MARGIN: f32 = 0.15;

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub score: f32,
    pub sha256: String,
    pub jpeg: Arc<Vec<u8>>,
    pub published: bool,
    /// Named colours at this sighting (the best view of the object is the one to name).
    pub colours: Colours,
}

#[derive(Default)]
pub struct SnapshotKeeper {
    best: HashMap<u64, Snapshot>,
    /// Plates read for a track (every vehicle's reading, or its violation evidence's), for
    /// the track's own events.
    plates: HashMap<u64, TrackPlate>,
}

/// A track's plate as its events carry it.
#[derive(Debug, Clone)]
pub struct TrackPlate {
    pub text: String,
    pub score: f32,
    pub format: matthan_schema::PlateFormat,
    /// The plate's crop (sha256, JPEG), published once with the first event naming it.
    pub image: Option<(String, Arc<Vec<u8>>)>,
    pub image_sent: bool,
}

impl TrackPlate {
    pub fn new(text: String, score: f32, jpeg: Option<Vec<u8>>) -> Self {
        Self {
            format: crate::plate::format::shape_of(&text),
            text,
            score,
            image: jpeg.map(|j| (format!("{:x}", Sha256::digest(&j)), Arc::new(j))),
            image_sent: false,
        }
    }
}

impl SnapshotKeeper {
    /// Considers this sighting of `track`; crops and encodes only if it is clearly better.
    pub fn offer(&mut self, track: u64, score: f32, bbox: &BBox, image: &RgbImage, person: bool) {
        if self
            .best
            .get(&track)
            .is_some_and(|s| score < s.score + IMPROVEMENT)
        {
            return;
        }
        if let Some(jpeg) = crop_jpeg(image, bbox) {
            let sha256 = format!("{:x}", Sha256::digest(&jpeg));
            self.best.insert(
                track,
                Snapshot {
                    score,
                    sha256,
                    jpeg: Arc::new(jpeg),
                    published: false,
                    colours: colour::of_box(image, bbox, person),
                },
            );
        }
    }

    /// The current snapshot of `track`, marking it published; the blob is returned only the
    /// first time, so each is sent once.
    pub fn take_for_event(&mut self, track: u64) -> Option<(String, Option<Arc<Vec<u8>>>)> {
        let s = self.best.get_mut(&track)?;
        let blob = (!s.published).then(|| s.jpeg.clone());
        s.published = true;
        Some((s.sha256.clone(), blob))
    }

    pub fn colours(&self, track: u64) -> Option<Colours> {
        self.best.get(&track).map(|s| s.colours)
    }

    /// A newer plate for `track`. A violation's reading without a crop keeps the crop
    /// already published for the track.
    pub fn set_plate(&mut self, track: u64, mut plate: TrackPlate) {
        if let Some(old) = self.plates.get(&track)
            && plate.image.is_none()
        {
            plate.image.clone_from(&old.image);
            plate.image_sent = old.image_sent;
        }
        self.plates.insert(track, plate);
    }

    /// The plate of `track`, with its crop's blob the first time it is named.
    pub fn plate_for_event(&mut self, track: u64) -> Option<(TrackPlate, Option<Arc<Vec<u8>>>)> {
        let p = self.plates.get_mut(&track)?;
        let blob = match &p.image {
            Some((_, j)) if !p.image_sent => Some(j.clone()),
            _ => None,
        };
        p.image_sent = true;
        Some((p.clone(), blob))
    }

    pub fn forget(&mut self, track: u64) {
        self.best.remove(&track);
        self.plates.remove(&track);
    }
}

/// Crops `bbox` (plus a margin) out of the frame, shrinks it to at most `MAX_SIDE`, encodes JPEG.
pub fn crop_jpeg(image: &RgbImage, bbox: &BBox) -> Option<Vec<u8>> {
    if !bbox.is_valid() {
        return None;
    }
    let (w, h) = (bbox.x2 - bbox.x1, bbox.y2 - bbox.y1);
    let x1 = (bbox.x1 - w * MARGIN).max(0.0) as u32;
    let y1 = (bbox.y1 - h * MARGIN).max(0.0) as u32;
    let x2 = ((bbox.x2 + w * MARGIN) as u32).min(image.width);
    let y2 = ((bbox.y2 + h * MARGIN) as u32).min(image.height);
    if x2 <= x1 + 1 || y2 <= y1 + 1 {
        return None;
    }
    let (cw, ch) = (x2 - x1, y2 - y1);
    let mut data = Vec::with_capacity((cw * ch * 3) as usize);
    for y in y1..y2 {
        let row = image.row(y as usize);
        data.extend_from_slice(&row[x1 as usize * 3..x2 as usize * 3]);
    }
    let crop: ImageBuffer<Rgb<u8>, Vec<u8>> = ImageBuffer::from_raw(cw, ch, data)?;
    let scale = (MAX_SIDE as f32 / cw.max(ch) as f32).min(1.0);
    let small = if scale < 1.0 {
        let (nw, nh) = (
            ((cw as f32 * scale) as u32).max(1),
            ((ch as f32 * scale) as u32).max(1),
        );
        imageops::resize(&crop, nw, nh, imageops::FilterType::Triangle)
    } else {
        crop
    };
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&small)
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> RgbImage {
        let mut img = RgbImage::filled(200, 100, [10, 10, 10]);
        for y in 20..80 {
            for x in 50..90 {
                let i = y * img.stride + x * 3;
                img.data[i..i + 3].copy_from_slice(&[220, 30, 30]);
            }
        }
        img
    }

    #[test]
    fn keeps_the_best_crop_and_publishes_it_once() {
        let img = frame();
        let b = BBox {
            x1: 50.0,
            y1: 20.0,
            x2: 90.0,
            y2: 80.0,
        };
        let mut k = SnapshotKeeper::default();
        k.offer(1, 0.5, &b, &img, false);
        let (first, blob) = k.take_for_event(1).unwrap();
        let blob = blob.expect("first time carries the blob");
        let decoded = image::load_from_memory(&blob).unwrap().to_rgb8();
        let centre = decoded.get_pixel(decoded.width() / 2, decoded.height() / 2);
        assert!(
            centre[0] > 150 && centre[1] < 90,
            "the crop shows the red object: {centre:?}"
        );
        assert_eq!(format!("{:x}", Sha256::digest(&*blob)), first);
        assert!(k.take_for_event(1).unwrap().1.is_none(), "sent once");
        k.offer(1, 0.52, &b, &img, false);
        assert_eq!(
            k.take_for_event(1).unwrap().0,
            first,
            "not clearly better: kept"
        );
        let shifted = BBox { x1: 40.0, ..b };
        k.offer(1, 0.9, &shifted, &img, false);
        let (better, blob) = k.take_for_event(1).unwrap();
        assert_ne!(better, first);
        assert!(blob.is_some(), "a new snapshot is published");
    }

    #[test]
    fn degenerate_boxes_make_no_snapshot() {
        let img = frame();
        assert!(
            crop_jpeg(
                &img,
                &BBox {
                    x1: 300.0,
                    y1: 0.0,
                    x2: 310.0,
                    y2: 10.0
                }
            )
            .is_none()
        );
        assert!(
            crop_jpeg(
                &img,
                &BBox {
                    x1: 5.0,
                    y1: 5.0,
                    x2: 5.5,
                    y2: 5.5
                }
            )
            .is_none()
        );
        assert!(
            crop_jpeg(
                &img,
                &BBox {
                    x1: f32::NAN,
                    y1: 0.0,
                    x2: 1.0,
                    y2: 1.0
                }
            )
            .is_none()
        );
        let big = crop_jpeg(
            &img,
            &BBox {
                x1: 0.0,
                y1: 0.0,
                x2: 200.0,
                y2: 100.0,
            },
        )
        .unwrap();
        let d = image::load_from_memory(&big).unwrap();
        assert_eq!(
            (d.width(), d.height()),
            (160, 80),
            "shrunk to 160 px on the long side"
        );
    }
}
