//! Object detection: one ONNX model behind one `Detector`, whatever its output layout.
//!
//! The stage is split so each part can be tested alone: `preprocess` fills the model's input
//! tensor straight from RGB pixels, `decode` turns each supported output layout into candidate
//! boxes, `nms` keeps the best per class, and `session` owns ONNX Runtime.

mod classifier;
mod config;
mod decode;
mod nms;
mod preprocess;
mod region;
mod session;

pub use classifier::{Classifier, ClassifierConfig};
pub use config::{ModelConfig, RawClassifier, RawModel, classifiers};
pub use decode::{Candidate, DecodedLayout};
pub use nms::{iou, nms_grouped, nms_per_class};
pub use preprocess::{Preprocess, Resize, Transform};
pub use region::{DEFAULT_MARGIN, RawRegion, Region, Window};
pub use session::{ConvSearch, DetectTimes, Detector, ExecutionProvider, init_ort};

use matthan_schema::BBox;

/// One detection in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub bbox: BBox,
    pub score: f32,
    pub class: usize,
}

/// The output layout the model was exported with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Decide from the outputs' number and shapes at load.
    Auto,
    /// NanoDet: per-stride class scores `[B,N,C]` and DFL box distributions `[B,N,4*(R+1)]`.
    NanoDet,
    /// YOLOv5: `[B,A,5+C]` with objectness.
    Yolov5,
    /// YOLOv8 and YOLO11: `[B,4+C,A]` (or transposed `[B,A,4+C]`), no objectness.
    Yolov8,
}

impl Layout {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "nanodet" => Some(Self::NanoDet),
            "yolov5" => Some(Self::Yolov5),
            "yolov8" | "yolo11" | "yolov11" => Some(Self::Yolov8),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("ONNX Runtime library: {0}")]
    Runtime(String),
    #[error("model {path}: {reason}")]
    Model { path: String, reason: String },
    #[error("inference failed: {0}")]
    Inference(#[from] ort::Error),
}
