//! A secondary classifier run on vehicle crops (helmet / no helmet, number of riders): any
//! ONNX model with one image input [N,3,H,W] (RGB, `(pixel/255 - mean) / std`) and one output
//! [N,labels]. Outputs already in 0..1 are taken as probabilities, anything else as logits and
//! put through a softmax.

use std::path::PathBuf;

use ort::session::Session;
use ort::value::TensorRef;

use super::{DetectError, init_ort};
use crate::frame::RgbImage;
use matthan_schema::BBox;

#[derive(Debug, Clone)]
pub struct ClassifierConfig {
    pub id: String,
    pub path: PathBuf,
    /// Width, height.
    pub input: (u32, u32),
    pub labels: Vec<String>,
    /// Detector classes whose crops it is run on.
    pub classes: Vec<String>,
    /// Run on every n-th sighting of a track (crops of consecutive frames are nearly equal).
    pub every_n: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

pub struct Classifier {
    pub cfg: ClassifierConfig,
    session: Session,
    input_name: String,
    buf: Vec<f32>,
}

impl Classifier {
    pub fn new(
        cfg: ClassifierConfig,
        ort_library: Option<&std::path::Path>,
    ) -> Result<Self, DetectError> {
        let env = init_ort(ort_library)?;
        let path = cfg.path.display().to_string();
        let model_err = |reason: String| DetectError::Model {
            path: path.clone(),
            reason,
        };
        let session = Session::builder(env)
            .and_then(|mut b| b.commit_from_file(&cfg.path))
            .map_err(|e| model_err(e.to_string()))?;
        let input = session
            .inputs()
            .first()
            .ok_or_else(|| model_err("the model has no input".into()))?;
        let input_name = input.name().to_string();
        if session.outputs().len() != 1 {
            return Err(model_err(format!(
                "expected one output [N,{}], the model has {}",
                cfg.labels.len(),
                session.outputs().len()
            )));
        }
        Ok(Self {
            cfg,
            session,
            input_name,
            buf: Vec::new(),
        })
    }

    /// Scores per label for the crop `bbox` of `image`; None when the box is empty.
    pub fn classify(
        &mut self,
        image: &RgbImage,
        bbox: &BBox,
    ) -> Result<Option<Vec<(String, f32)>>, DetectError> {
        let (w, h) = self.cfg.input;
        let x1 = bbox.x1.max(0.0);
        let y1 = bbox.y1.max(0.0);
        let x2 = bbox.x2.min(image.width as f32);
        let y2 = bbox.y2.min(image.height as f32);
        if !(x2 - x1 >= 2.0 && y2 - y1 >= 2.0) {
            return Ok(None);
        }
        let plane = (w * h) as usize;
        self.buf.resize(3 * plane, 0.0);
        for ty in 0..h {
            let sy = (y1 + (ty as f32 + 0.5) * (y2 - y1) / h as f32) as usize;
            let row = image.row(sy.min(image.height as usize - 1));
            for tx in 0..w {
                let sx = (x1 + (tx as f32 + 0.5) * (x2 - x1) / w as f32) as usize;
                let sx = sx.min(image.width as usize - 1);
                for c in 0..3 {
                    let v = row[sx * 3 + c] as f32 / 255.0;
                    self.buf[c * plane + (ty * w + tx) as usize] =
                        (v - self.cfg.mean[c]) / self.cfg.std[c];
                }
            }
        }
        let shape = [1i64, 3, h as i64, w as i64];
        let tensor = TensorRef::from_array_view((shape, &self.buf[..]))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])?;
        let (_, values) =
            outputs[0]
                .try_extract_tensor::<f32>()
                .map_err(|e| DetectError::Model {
                    path: self.cfg.path.display().to_string(),
                    reason: format!("output: {e}"),
                })?;
        if values.len() != self.cfg.labels.len() {
            return Err(DetectError::Model {
                path: self.cfg.path.display().to_string(),
                reason: format!(
                    "output has {} values, the config lists {} labels",
                    values.len(),
                    self.cfg.labels.len()
                ),
            });
        }
        let probs: Vec<f32> = if values.iter().all(|v| (0.0..=1.0).contains(v)) {
            values.to_vec()
        } else {
            let m = values.iter().copied().fold(f32::MIN, f32::max);
            let e: Vec<f32> = values.iter().map(|v| (v - m).exp()).collect();
            let s: f32 = e.iter().sum();
            e.iter().map(|v| v / s).collect()
        };
        Ok(Some(self.cfg.labels.iter().cloned().zip(probs).collect()))
    }
}
