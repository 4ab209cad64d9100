//! Licence plates read with PaddleOCR's PP-OCRv4 models (from PyPI `rapidocr-onnxruntime`,
//! see models/ppocr.md): the text detector finds text lines inside a vehicle crop, the
//! recogniser reads each line, and the lines of one plate are joined. Vietnamese motorbike
//! plates have two lines ("59-X1" over "123.45"): boxes stacked one above the other, about as
//! wide, are read top line first and joined with a dash, as the plate is written.
//!
//! No plate-specific detector exists with a clean licence, so the text detector stands in: it
//! finds any text, and a line only counts as a plate when it reads as one (letters and digits,
//! 4 to 12 of them, digits among them).

pub mod format;
pub mod tracks;

use std::path::Path;

use ort::session::Session;
use ort::value::TensorRef;

use crate::detect::{DetectError, init_ort};
use crate::frame::RgbImage;

/// Detector input: the crop's longer side scaled to this (multiple of 32).
const DET_SIDE: u32 = 480;
const DET_THRESH: f32 = 0.3;
const BOX_THRESH: f32 = 0.5;
const UNCLIP: f32 = 1.6;
const REC_H: u32 = 48;
const REC_MAX_W: u32 = 320;
/// Smaller crops cannot hold a readable plate.
const MIN_CROP: (u32, u32) = (24, 12);

/// A box in crop pixels: x1, y1, x2, y2.
pub type Rect = [u32; 4];

#[derive(Debug, Clone, PartialEq)]
pub struct Plate {
    /// Letters, digits, '.' and the dash joining two lines.
    pub text: String,
    /// Mean per-character confidence of the recogniser.
    pub score: f32,
    pub lines: usize,
    /// Where the plate is in the crop.
    pub rect: Rect,
}

pub struct PlateReader {
    det: Session,
    rec: Session,
    det_input: String,
    rec_input: String,
    /// Index 0 is CTC blank; then the model's characters; then a space.
    charset: Vec<String>,
}

/// One text line found in the crop and what it reads.
#[derive(Debug, Clone)]
struct Line {
    rect: Rect,
    text: String,
    score: f32,
}

impl PlateReader {
    pub fn new(det: &Path, rec: &Path, ort_library: Option<&Path>) -> Result<Self, DetectError> {
        Self::with_threads(det, rec, ort_library, 0)
    }

    /// As `new`, with at most `threads` threads per model (0: ONNX Runtime's default, all
    /// cores). The reader for every passing vehicle runs on one, beside the detector.
    pub fn with_threads(
        det: &Path,
        rec: &Path,
        ort_library: Option<&Path>,
        threads: usize,
    ) -> Result<Self, DetectError> {
        let env = init_ort(ort_library)?;
        let open = |p: &Path| -> Result<Session, DetectError> {
            let model = |reason: String| DetectError::Model {
                path: p.display().to_string(),
                reason,
            };
            let mut b = Session::builder(env).map_err(|e| model(e.to_string()))?;
            if threads > 0 {
                b = b
                    .with_intra_threads(threads)
                    .map_err(|e| model(e.to_string()))?;
            }
            b.commit_from_file(p).map_err(|e| model(e.to_string()))
        };
        let det_s = open(det)?;
        let rec_s = open(rec)?;
        let chars = rec_s
            .metadata()
            .ok()
            .and_then(|m| m.custom("character"))
            .ok_or_else(|| DetectError::Model {
                path: rec.display().to_string(),
                reason: "no `character` metadata (the recogniser's charset)".into(),
            })?;
        let mut charset = vec![String::new()];
        charset.extend(chars.lines().map(str::to_string));
        charset.push(" ".into());
        Ok(Self {
            det_input: det_s.inputs()[0].name().to_string(),
            rec_input: rec_s.inputs()[0].name().to_string(),
            det: det_s,
            rec: rec_s,
            charset,
        })
    }

    /// The plate in `crop` (a vehicle), if one can be read.
    pub fn read(&mut self, crop: &RgbImage) -> Result<Option<Plate>, DetectError> {
        if crop.width < MIN_CROP.0 || crop.height < MIN_CROP.1 {
            return Ok(None);
        }
        let mut lines = Vec::new();
        for rect in self.text_boxes(crop)? {
            let (text, score) = self.recognise(crop, rect)?;
            let text: String = text
                .chars()
                .filter_map(|c| {
                    let c = c.to_ascii_uppercase();
                    (c.is_ascii_alphanumeric() || c == '.' || c == '-').then_some(c)
                })
                .collect();
            let text = text.trim_matches(['.', '-']).to_string();
            if !text.is_empty() {
                lines.push(Line { rect, text, score });
            }
        }
        Ok(best_plate(&lines))
    }

    /// Text-line boxes from the detector's probability map.
    fn text_boxes(&mut self, crop: &RgbImage) -> Result<Vec<Rect>, DetectError> {
        let scale = DET_SIDE as f32 / crop.width.max(crop.height) as f32;
        let r32 = |v: f32| (((v / 32.0).round() as u32).max(1)) * 32;
        let (w, h) = (
            r32(crop.width as f32 * scale),
            r32(crop.height as f32 * scale),
        );
        let input = tensor(crop, [0, 0, crop.width, crop.height], w, h, w);
        let shape = [1i64, 3, h as i64, w as i64];
        let t = TensorRef::from_array_view((shape, &input[..]))?;
        let out = self.det.run(ort::inputs![self.det_input.as_str() => t])?;
        let (s, prob) = out[0].try_extract_tensor::<f32>()?;
        let (mh, mw) = (s[2] as usize, s[3] as usize);
        let (sx, sy) = (
            crop.width as f32 / mw as f32,
            crop.height as f32 / mh as f32,
        );
        Ok(components(prob, mw, mh)
            .into_iter()
            .map(|[x1, y1, x2, y2]| {
                [
                    (x1 as f32 * sx) as u32,
                    (y1 as f32 * sy) as u32,
                    ((x2 as f32 * sx) as u32).min(crop.width),
                    ((y2 as f32 * sy) as u32).min(crop.height),
                ]
            })
            .filter(|r| r[2] > r[0] + 3 && r[3] > r[1] + 3)
            .collect())
    }

    fn recognise(&mut self, crop: &RgbImage, r: Rect) -> Result<(String, f32), DetectError> {
        // The detector's boxes hug the glyphs; the recogniser misses a first or last character
        // that touches the edge, so give it some margin.
        let (px, py) = ((r[3] - r[1]) * 3 / 10, (r[3] - r[1]) / 8);
        let r = [
            r[0].saturating_sub(px),
            r[1].saturating_sub(py),
            (r[2] + px).min(crop.width),
            (r[3] + py).min(crop.height),
        ];
        let (bw, bh) = (r[2] - r[0], r[3] - r[1]);
        let w = ((REC_H as f32 * bw as f32 / bh as f32).ceil() as u32).clamp(8, REC_MAX_W);
        let input = tensor(crop, r, w, REC_H, REC_MAX_W);
        let shape = [1i64, 3, REC_H as i64, REC_MAX_W as i64];
        let t = TensorRef::from_array_view((shape, &input[..]))?;
        let out = self.rec.run(ort::inputs![self.rec_input.as_str() => t])?;
        let (s, probs) = out[0].try_extract_tensor::<f32>()?;
        let (steps, classes) = (s[1] as usize, s[2] as usize);
        let mut text = String::new();
        let mut scores = Vec::new();
        let mut last = 0usize;
        for step in 0..steps {
            let row = &probs[step * classes..(step + 1) * classes];
            let (idx, p) = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, p)| (i, *p))
                .unwrap_or((0, 0.0));
            if idx != 0
                && idx != last
                && let Some(c) = self.charset.get(idx)
            {
                text.push_str(c);
                scores.push(p);
            }
            last = idx;
        }
        let score = if scores.is_empty() {
            0.0
        } else {
            scores.iter().sum::<f32>() / scores.len() as f32
        };
        Ok((text, score))
    }
}

/// `rect` of `img` resized to `w`×`h`, normalised to -1..1, BGR planes (PaddleOCR's training
/// order), padded with zeros to `pad_w` columns.
fn tensor(img: &RgbImage, rect: Rect, w: u32, h: u32, pad_w: u32) -> Vec<f32> {
    let (pw, ph) = (pad_w as usize, h as usize);
    let mut out = vec![0.0f32; 3 * pw * ph];
    let (rw, rh) = ((rect[2] - rect[0]) as f32, (rect[3] - rect[1]) as f32);
    for y in 0..h {
        let sy = (rect[1] as f32 + (y as f32 + 0.5) * rh / h as f32) as usize;
        let row = img.row(sy.min(img.height as usize - 1));
        for x in 0..w.min(pad_w) {
            let sx = (rect[0] as f32 + (x as f32 + 0.5) * rw / w as f32) as usize;
            let sx = sx.min(img.width as usize - 1);
            for c in 0..3 {
                let v = row[sx * 3 + (2 - c)] as f32 / 255.0;
                out[c * pw * ph + y as usize * pw + x as usize] = (v - 0.5) / 0.5;
            }
        }
    }
    out
}

/// Connected regions over the threshold whose mean probability passes `BOX_THRESH`, as boxes
/// grown by the unclip ratio (the detector's map shrinks text regions in training).
fn components(prob: &[f32], w: usize, h: usize) -> Vec<[usize; 4]> {
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if seen[start] || prob[start] < DET_THRESH {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x1, mut y1, mut x2, mut y2) = (w, h, 0, 0);
        let (mut n, mut sum) = (0usize, 0.0f32);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            x1 = x1.min(x);
            y1 = y1.min(y);
            x2 = x2.max(x);
            y2 = y2.max(y);
            n += 1;
            sum += prob[i];
            let mut push = |j: usize| {
                if !seen[j] && prob[j] >= DET_THRESH {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                push(i - 1);
            }
            if x + 1 < w {
                push(i + 1);
            }
            if y > 0 {
                push(i - w);
            }
            if y + 1 < h {
                push(i + w);
            }
        }
        if n < 6 || sum / (n as f32) < BOX_THRESH {
            continue;
        }
        let (bw, bh) = ((x2 - x1 + 1) as f32, (y2 - y1 + 1) as f32);
        let d = (bw * bh * UNCLIP / (2.0 * (bw + bh))).round() as usize;
        out.push([
            x1.saturating_sub(d),
            y1.saturating_sub(d),
            (x2 + 1 + d).min(w),
            (y2 + 1 + d).min(h),
        ]);
    }
    out
}

/// Single lines that read as a plate, and pairs stacked like a two-line plate; the most
/// confident wins.
fn best_plate(lines: &[Line]) -> Option<Plate> {
    let mut cands: Vec<Plate> = Vec::new();
    for (i, top) in lines.iter().enumerate() {
        for (j, bottom) in lines.iter().enumerate() {
            if i == j {
                continue;
            }
            let (t, b) = (top.rect, bottom.rect);
            let (th, bh) = ((t[3] - t[1]) as f32, (b[3] - b[1]) as f32);
            let overlap = t[2].min(b[2]) as f32 - t[0].max(b[0]) as f32;
            let narrower = (t[2] - t[0]).min(b[2] - b[0]) as f32;
            let gap = b[1] as f32 - (t[1] as f32 + th * 0.5);
            let stacked = b[1] + b[3] > t[1] + t[3]
                && overlap > 0.5 * narrower
                && gap > 0.0
                && gap < 1.6 * th.max(bh)
                && (0.5..=2.0).contains(&(th / bh));
            if !stacked {
                continue;
            }
            let text = format!(
                "{}-{}",
                top.text.trim_end_matches('-'),
                bottom.text.trim_start_matches('-')
            );
            if let Some(p) = format::parse(&text, true) {
                cands.push(Plate {
                    text: p.text,
                    score: (top.score + bottom.score) / 2.0,
                    lines: 2,
                    rect: [t[0].min(b[0]), t[1], t[2].max(b[2]), b[3]],
                });
            }
        }
        if let Some(p) = format::parse(&top.text, false) {
            cands.push(Plate {
                text: p.text,
                score: top.score,
                lines: 1,
                rect: top.rect,
            });
        }
    }
    cands.retain(|p| p.score >= 0.5);
    // Two lines that read beat either line alone: the pair holds the whole plate.
    let best = cands.iter().max_by(|a, b| {
        (a.lines, a.score)
            .partial_cmp(&(b.lines, b.score))
            .unwrap_or(std::cmp::Ordering::Equal)
    })?;
    // A second plate elsewhere in the crop: the box holds two vehicles (the detector boxed
    // neighbours as one), and which plate is this vehicle's cannot be told.
    let apart = |a: &Rect, b: &Rect| a[2] <= b[0] || b[2] <= a[0] || a[3] <= b[1] || b[3] <= a[1];
    if cands
        .iter()
        .any(|c| c.text != best.text && apart(&c.rect, &best.rect))
    {
        return None;
    }
    Some(best.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(rect: Rect, text: &str) -> Line {
        Line {
            rect,
            text: text.into(),
            score: 0.9,
        }
    }

    #[test]
    fn two_stacked_lines_join_top_first() {
        let lines = vec![
            line([10, 40, 60, 55], "123.45"),
            line([12, 20, 58, 36], "59-X1"),
        ];
        let p = best_plate(&lines).unwrap();
        assert_eq!(p.text, "59-X1-123.45");
        assert_eq!(p.lines, 2);
        assert_eq!(p.rect, [10, 20, 60, 55]);
    }

    #[test]
    fn a_crop_with_two_plates_reads_as_neither() {
        let lines = vec![
            line([10, 20, 90, 35], "51F-133.45"),
            line([300, 200, 380, 215], "30B-566.12"),
        ];
        assert!(best_plate(&lines).is_none());
        let one = vec![line([10, 20, 90, 35], "51F-133.45")];
        assert_eq!(best_plate(&one).unwrap().text, "51F-133.45");
    }

    #[test]
    fn side_by_side_lines_are_not_one_plate() {
        let lines = vec![line([10, 20, 40, 35], "ABC"), line([60, 20, 100, 35], "12")];
        assert!(best_plate(&lines).is_none());
        let lines = vec![line([10, 20, 90, 35], "51F-987.65")];
        assert_eq!(best_plate(&lines).unwrap().text, "51F-987.65");
    }

    #[test]
    fn words_without_digits_are_not_plates() {
        assert!(best_plate(&[line([0, 0, 50, 10], "TAXI")]).is_none());
    }

    #[test]
    fn components_find_blobs_and_grow_them() {
        let (w, h) = (20, 10);
        let mut p = vec![0.0; w * h];
        for y in 3..6 {
            for x in 4..14 {
                p[y * w + x] = 0.9;
            }
        }
        p[0] = 0.9; // a speck: too small
        let c = components(&p, w, h);
        assert_eq!(c.len(), 1);
        let [x1, y1, x2, y2] = c[0];
        assert!(x1 < 4 && y1 < 3 && x2 > 14 && y2 > 6, "{:?}", c[0]);
    }
}
