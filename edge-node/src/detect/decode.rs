//! Turns raw model outputs into candidate boxes in model-input pixels, one layout per function.
//! Layout facts come from the outputs' real shapes (declared shapes are often dynamic).

use super::{DetectError, Layout};

/// A box before NMS, in model-input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    pub score: f32,
    pub class: usize,
}

/// What was learnt about the model's outputs on first sight; reused for every frame after.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodedLayout {
    NanoDet {
        levels: Vec<Level>,
        reg_max: usize,
        classes: usize,
    },
    Yolov5 {
        anchors: usize,
        classes: usize,
    },
    Yolov8 {
        anchors: usize,
        classes: usize,
        transposed: bool,
    },
}

/// One NanoDet feature level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub scores: usize,
    pub boxes: usize,
    pub stride: usize,
    pub grid_w: usize,
    pub anchors: usize,
}

type Shapes<'a> = &'a [Vec<usize>];

impl DecodedLayout {
    pub fn classes(&self) -> usize {
        match self {
            Self::NanoDet { classes, .. }
            | Self::Yolov5 { classes, .. }
            | Self::Yolov8 { classes, .. } => *classes,
        }
    }

    /// Works out the layout from output shapes `[B, ..]`. `hint` is the configured layout
    /// (`None` = auto); `labels` resolves the one ambiguous case (a transposed YOLOv8 output).
    pub fn infer(
        hint: Option<super::Layout>,
        shapes: Shapes,
        input_w: usize,
        input_h: usize,
        labels: usize,
    ) -> Result<Self, String> {
        use super::Layout;
        if shapes.iter().any(|s| s.len() != 3) {
            return Err(format!(
                "every output must have rank 3 [batch, ..]; got shapes {shapes:?}"
            ));
        }
        let hint = hint.unwrap_or(if shapes.len() > 1 {
            Layout::NanoDet
        } else {
            Layout::Auto
        });
        match hint {
            Layout::NanoDet => Self::infer_nanodet(shapes, input_w, input_h),
            Layout::Yolov5 | Layout::Yolov8 | Layout::Auto if shapes.len() != 1 => Err(format!(
                "a YOLO layout has exactly one output; this model has {}",
                shapes.len()
            )),
            Layout::Yolov5 => {
                let (a, d) = (shapes[0][1], shapes[0][2]);
                if d < 6 {
                    return Err(format!(
                        "YOLOv5 output [B,A,5+C] needs at least 6 columns; got {:?}",
                        shapes[0]
                    ));
                }
                Ok(Self::Yolov5 {
                    anchors: a,
                    classes: d - 5,
                })
            }
            Layout::Yolov8 => {
                let (d1, d2) = (shapes[0][1], shapes[0][2]);
                // [B,4+C,A] is the export default; accept [B,A,4+C] when the labels say so.
                if d2 == labels + 4 && d1 != labels + 4 {
                    Ok(Self::Yolov8 {
                        anchors: d1,
                        classes: d2 - 4,
                        transposed: true,
                    })
                } else if d1 >= 5 && d1 < d2 {
                    Ok(Self::Yolov8 {
                        anchors: d2,
                        classes: d1 - 4,
                        transposed: false,
                    })
                } else {
                    Err(format!("cannot read {:?} as YOLOv8 [B,4+C,A]", shapes[0]))
                }
            }
            Layout::Auto => {
                let (d1, d2) = (shapes[0][1], shapes[0][2]);
                if d1 >= 5 && d1 < d2 {
                    Ok(Self::Yolov8 {
                        anchors: d2,
                        classes: d1 - 4,
                        transposed: false,
                    })
                } else if d2 >= 6 {
                    Ok(Self::Yolov5 {
                        anchors: d1,
                        classes: d2 - 5,
                    })
                } else {
                    Err(format!(
                        "cannot tell the layout of output {:?}; set model.layout",
                        shapes[0]
                    ))
                }
            }
        }
    }

    fn infer_nanodet(shapes: Shapes, w: usize, h: usize) -> Result<Self, String> {
        if !shapes.len().is_multiple_of(2) || shapes.is_empty() {
            return Err(format!(
                "NanoDet has pairs of score and box outputs; got {} outputs",
                shapes.len()
            ));
        }
        // Box outputs have 4*(reg_max+1) columns; score outputs have one per class. The score
        // and box outputs of a level share the anchor count.
        let mut by_anchors: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, s) in shapes.iter().enumerate() {
            match by_anchors.iter_mut().find(|(n, _)| *n == s[1]) {
                Some((_, v)) => v.push(i),
                None => by_anchors.push((s[1], vec![i])),
            }
        }
        let mut levels = Vec::new();
        let (mut classes, mut reg_max) = (None, None);
        for (n, outs) in &by_anchors {
            let [a, b] = outs[..] else {
                return Err(format!(
                    "NanoDet outputs with {n} anchors: expected one score and one box output, got {}",
                    outs.len()
                ));
            };
            // The box output's width is a multiple of 4; with equal widths the first is scores.
            let (si, bi) =
                if shapes[b][2].is_multiple_of(4) && (!shapes[a][2].is_multiple_of(4) || a < b) {
                    (a, b)
                } else {
                    (b, a)
                };
            let stride = [8usize, 16, 32, 64, 128]
                .into_iter()
                .find(|s| w.div_ceil(*s) * h.div_ceil(*s) == *n)
                .ok_or_else(|| format!("{n} anchors match no stride of a {w}x{h} input"))?;
            let c = shapes[si][2];
            let r = shapes[bi][2] / 4 - 1;
            if *classes.get_or_insert(c) != c || *reg_max.get_or_insert(r) != r {
                return Err(format!(
                    "NanoDet levels disagree on class or bin count: {shapes:?}"
                ));
            }
            levels.push(Level {
                scores: si,
                boxes: bi,
                stride,
                grid_w: w.div_ceil(stride),
                anchors: *n,
            });
        }
        levels.sort_by_key(|l| l.stride);
        Ok(Self::NanoDet {
            levels,
            reg_max: reg_max.unwrap_or(0),
            classes: classes.unwrap_or(0),
        })
    }

    /// Candidates of batch item `b` whose class threshold (`thresholds[class]`, None = filtered
    /// out) is met. `outputs[i]` is output `i`'s whole tensor, all batch items.
    pub fn decode(
        &self,
        outputs: &[&[f32]],
        b: usize,
        thresholds: &[Option<f32>],
        out: &mut Vec<Candidate>,
    ) {
        match self {
            Self::NanoDet {
                levels,
                reg_max,
                classes,
            } => {
                let bins = 4 * (reg_max + 1);
                for &Level {
                    scores,
                    boxes,
                    stride,
                    grid_w: gw,
                    anchors,
                } in levels
                {
                    let scores =
                        &outputs[scores][b * anchors * classes..(b + 1) * anchors * classes];
                    let boxes = &outputs[boxes][b * anchors * bins..(b + 1) * anchors * bins];
                    for i in 0..anchors {
                        let Some((class, score)) =
                            best(&scores[i * classes..(i + 1) * classes], thresholds)
                        else {
                            continue;
                        };
                        let (cx, cy) = (((i % gw) * stride) as f32, ((i / gw) * stride) as f32);
                        let d = &boxes[i * bins..(i + 1) * bins];
                        let side = |k: usize| {
                            dfl(&d[k * (reg_max + 1)..(k + 1) * (reg_max + 1)]) * stride as f32
                        };
                        out.push(Candidate {
                            x1: cx - side(0),
                            y1: cy - side(1),
                            x2: cx + side(2),
                            y2: cy + side(3),
                            score,
                            class,
                        });
                    }
                }
            }
            Self::Yolov5 { anchors, classes } => {
                let cols = 5 + classes;
                let item = &outputs[0][b * anchors * cols..(b + 1) * anchors * cols];
                for row in item.chunks_exact(cols) {
                    let obj = row[4];
                    if obj < min_threshold(thresholds) {
                        continue;
                    }
                    let scaled: Vec<f32> = row[5..].iter().map(|c| c * obj).collect();
                    if let Some((class, score)) = best(&scaled, thresholds) {
                        out.push(xywh(row[0], row[1], row[2], row[3], score, class));
                    }
                }
            }
            Self::Yolov8 {
                anchors,
                classes,
                transposed,
            } => {
                let rows = 4 + classes;
                let item = &outputs[0][b * anchors * rows..(b + 1) * anchors * rows];
                let mut scores = vec![0.0; *classes];
                for a in 0..*anchors {
                    let at = |r: usize| {
                        if *transposed {
                            item[a * rows + r]
                        } else {
                            item[r * anchors + a]
                        }
                    };
                    for (c, s) in scores.iter_mut().enumerate() {
                        *s = at(4 + c);
                    }
                    if let Some((class, score)) = best(&scores, thresholds) {
                        out.push(xywh(at(0), at(1), at(2), at(3), score, class));
                    }
                }
            }
        }
    }
}

fn xywh(cx: f32, cy: f32, w: f32, h: f32, score: f32, class: usize) -> Candidate {
    Candidate {
        x1: cx - w / 2.0,
        y1: cy - h / 2.0,
        x2: cx + w / 2.0,
        y2: cy + h / 2.0,
        score,
        class,
    }
}

fn min_threshold(thresholds: &[Option<f32>]) -> f32 {
    thresholds
        .iter()
        .flatten()
        .copied()
        .fold(f32::INFINITY, f32::min)
}

/// The best-scoring class that passes its threshold.
fn best(scores: &[f32], thresholds: &[Option<f32>]) -> Option<(usize, f32)> {
    let mut found: Option<(usize, f32)> = None;
    for (c, &s) in scores.iter().enumerate() {
        if let Some(Some(t)) = thresholds.get(c)
            && s >= *t
            && found.is_none_or(|(_, f)| s > f)
        {
            found = Some((c, s));
        }
    }
    found
}

/// Distribution focal loss decoding: the expected bin index under a softmax over the bins.
fn dfl(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut acc) = (0.0, 0.0);
    for (i, l) in logits.iter().enumerate() {
        let e = (l - max).exp();
        sum += e;
        acc += e * i as f32;
    }
    acc / sum
}

/// Output layouts learnt per input size (NanoDet's grids depend on it), from the outputs'
/// shapes on first sight.
pub(super) struct Layouts {
    pub known: Vec<((usize, usize), DecodedLayout)>,
    pub hint: Option<Layout>,
    pub labels: usize,
}

impl Layouts {
    /// Where the layout at a `w`×`h` input is in `known`.
    pub fn index(
        &mut self,
        shapes: &[Vec<usize>],
        w: usize,
        h: usize,
        path: &str,
    ) -> Result<usize, DetectError> {
        if let Some(i) = self.known.iter().position(|(s, _)| *s == (w, h)) {
            return Ok(i);
        }
        let model_err = |reason: String| DetectError::Model {
            path: path.to_string(),
            reason,
        };
        let layout =
            DecodedLayout::infer(self.hint, shapes, w, h, self.labels).map_err(model_err)?;
        if layout.classes() != self.labels {
            return Err(model_err(format!(
                "the model predicts {} classes but the config has {} labels; list them in model.labels",
                layout.classes(),
                self.labels
            )));
        }
        if self.known.is_empty() {
            tracing::info!(layout = ?layout_name(&layout), classes = layout.classes(), "model output layout");
        }
        self.known.push(((w, h), layout));
        Ok(self.known.len() - 1)
    }
}

fn layout_name(l: &DecodedLayout) -> &'static str {
    match l {
        DecodedLayout::NanoDet { .. } => "nanodet",
        DecodedLayout::Yolov5 { .. } => "yolov5",
        DecodedLayout::Yolov8 {
            transposed: false, ..
        } => "yolov8",
        DecodedLayout::Yolov8 {
            transposed: true, ..
        } => "yolov8-transposed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Layout;

    #[test]
    fn infers_each_layout_and_class_count() {
        let v8 = DecodedLayout::infer(None, &[vec![1, 84, 8400]], 640, 640, 80).unwrap();
        assert_eq!(
            v8,
            DecodedLayout::Yolov8 {
                anchors: 8400,
                classes: 80,
                transposed: false
            }
        );
        let v5 = DecodedLayout::infer(None, &[vec![1, 25200, 85]], 640, 640, 80).unwrap();
        assert_eq!(
            v5,
            DecodedLayout::Yolov5 {
                anchors: 25200,
                classes: 80
            }
        );
        let custom = DecodedLayout::infer(None, &[vec![1, 7, 2100]], 320, 320, 3).unwrap();
        assert_eq!(custom.classes(), 3);
        let t =
            DecodedLayout::infer(Some(Layout::Yolov8), &[vec![1, 8400, 84]], 640, 640, 80).unwrap();
        assert_eq!(
            t,
            DecodedLayout::Yolov8 {
                anchors: 8400,
                classes: 80,
                transposed: true
            }
        );
        let nd = DecodedLayout::infer(
            None,
            &[
                vec![1, 2704, 80],
                vec![1, 676, 80],
                vec![1, 169, 80],
                vec![1, 2704, 44],
                vec![1, 676, 44],
                vec![1, 169, 44],
            ],
            416,
            416,
            80,
        )
        .unwrap();
        assert_eq!(
            nd,
            DecodedLayout::NanoDet {
                levels: vec![
                    Level {
                        scores: 0,
                        boxes: 3,
                        stride: 8,
                        grid_w: 52,
                        anchors: 2704
                    },
                    Level {
                        scores: 1,
                        boxes: 4,
                        stride: 16,
                        grid_w: 26,
                        anchors: 676
                    },
                    Level {
                        scores: 2,
                        boxes: 5,
                        stride: 32,
                        grid_w: 13,
                        anchors: 169
                    },
                ],
                reg_max: 10,
                classes: 80
            }
        );
        assert!(DecodedLayout::infer(None, &[vec![1, 2, 3, 4]], 640, 640, 80).is_err());
        assert!(
            DecodedLayout::infer(
                Some(Layout::NanoDet),
                &[vec![1, 100, 80], vec![1, 100, 44]],
                416,
                416,
                80
            )
            .is_err()
        );
    }

    #[test]
    fn dfl_is_the_expected_bin() {
        assert!((dfl(&[0.0, 100.0, 0.0]) - 1.0).abs() < 1e-4);
        assert!((dfl(&[0.0, 0.0]) - 0.5).abs() < 1e-4);
    }

    #[test]
    fn yolov5_multiplies_objectness() {
        // Two anchors, two classes: the first passes only through class 1 (0.9*0.8).
        let out = [
            50.0, 60.0, 20.0, 10.0, 0.9, 0.1, 0.8, 1.0, 1.0, 1.0, 1.0, 0.2, 0.9, 0.9,
        ];
        let layout = DecodedLayout::Yolov5 {
            anchors: 2,
            classes: 2,
        };
        let mut c = Vec::new();
        layout.decode(&[&out], 0, &[Some(0.5), Some(0.5)], &mut c);
        assert_eq!(
            c,
            vec![Candidate {
                x1: 40.0,
                y1: 55.0,
                x2: 60.0,
                y2: 65.0,
                score: 0.9 * 0.8,
                class: 1
            }]
        );
    }
}
