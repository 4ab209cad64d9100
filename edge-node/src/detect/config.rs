//! `[model]` (the detector) and `[[classifiers]]` (secondary crop classifiers), as written and
//! as validated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ClassifierConfig, ConvSearch, ExecutionProvider, Layout, Resize};
use crate::config::{ConfigError, Scope, preview};

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub path: PathBuf,
    pub layout: Layout,
    pub resize: Option<Resize>,
    pub labels: Vec<String>,
    pub ort_library: Option<PathBuf>,
    pub execution_provider: ExecutionProvider,
    /// How the CUDA provider picks convolution algorithms (heuristic by default).
    pub cuda_conv_search: ConvSearch,
    pub threads: usize,
    pub max_batch: usize,
    pub score_threshold: f32,
    /// Per-class thresholds by label index; classes not in `classes` are dropped at decode.
    pub class_thresholds: Vec<Option<f32>>,
    pub nms_iou: f32,
    /// NMS group of each class (by label index): classes of one group suppress each other.
    pub nms_group: Vec<usize>,
}

impl ModelConfig {
    /// The score a detection of `class` must reach, or None when the class is filtered out.
    pub fn threshold(&self, class: usize) -> Option<f32> {
        self.class_thresholds.get(class).copied().flatten()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    path: PathBuf,
    #[serde(default)]
    layout: Option<String>,
    #[serde(default)]
    resize: Option<String>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    ort_library: Option<PathBuf>,
    #[serde(default)]
    execution_provider: Option<String>,
    #[serde(default)]
    cuda_conv_search: Option<String>,
    #[serde(default = "d_threads")]
    threads: usize,
    #[serde(default = "d_batch")]
    max_batch: usize,
    #[serde(default = "d_score")]
    score_threshold: f32,
    #[serde(default)]
    classes: Option<Vec<String>>,
    #[serde(default)]
    class_thresholds: BTreeMap<String, f32>,
    #[serde(default = "d_nms")]
    nms_iou: f32,
    /// Classes that suppress each other in NMS; by default car, truck and bus (one vehicle is
    /// often seen as two of them). `[]` keeps NMS strictly per class.
    #[serde(default)]
    nms_merge: Option<Vec<Vec<String>>>,
}

fn d_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
fn d_batch() -> usize {
    8
}
fn d_score() -> f32 {
    0.35
}
fn d_nms() -> f32 {
    0.5
}

/// An ONNX model is a protobuf `ModelProto` whose first field is `ir_version` (tag 0x08): a
/// cheap check that catches a text file or an HTML error page saved under the model's name.
fn onnx_file(s: &Scope, field: &str, p: &Path) -> Result<PathBuf, ConfigError> {
    let p = s.existing_file(field, p, "")?;
    let mut first = [0u8; 1];
    let ok = std::fs::File::open(&p)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut first))
        .is_ok_and(|_| first[0] == 0x08);
    if !ok {
        return Err(s.err(field, format!("{} is not an ONNX model file", p.display())));
    }
    Ok(p)
}

impl RawModel {
    pub fn validate(self, s: &Scope) -> Result<ModelConfig, ConfigError> {
        let path = onnx_file(s, "path", &self.path)?;
        let layout = match self.layout.as_deref() {
            None => Layout::Auto,
            Some(l) => Layout::parse(l).ok_or_else(|| {
                s.err(
                    "layout",
                    format!(
                        "unknown layout {l:?}; expected auto, nanodet, yolov5, yolov8 or yolo11"
                    ),
                )
            })?,
        };
        let resize = match self.resize.as_deref() {
            None => None,
            Some("letterbox") => Some(Resize::Letterbox),
            Some("stretch") => Some(Resize::Stretch),
            Some(r) => {
                return Err(s.err(
                    "resize",
                    format!("unknown resize {r:?}; expected letterbox or stretch"),
                ));
            }
        };
        let labels = match self.labels {
            Some(l) if l.is_empty() => return Err(s.err("labels", "must not be empty")),
            Some(l) => l,
            None => crate::labels::coco80(),
        };
        let ort_library = self
            .ort_library
            .map(|p| s.existing_file("ort_library", &p, ""))
            .transpose()?;
        let execution_provider = match self.execution_provider.as_deref() {
            None => ExecutionProvider::Auto,
            Some(e) => ExecutionProvider::parse(e).ok_or_else(|| {
                s.err(
                    "execution_provider",
                    format!(
                        "unknown provider {e:?}; expected auto, cpu, cuda, tensorrt or openvino"
                    ),
                )
            })?,
        };
        let cuda_conv_search = match self.cuda_conv_search.as_deref() {
            None => ConvSearch::Heuristic,
            Some(c) => ConvSearch::parse(c).ok_or_else(|| {
                // ONNX Runtime's third mode, "default", is left out on purpose: with cuDNN 9
                // it is the frontend's fallback mode, slow on every call.
                s.err(
                    "cuda_conv_search",
                    format!("unknown search {c:?}; expected heuristic or exhaustive"),
                )
            })?,
        };
        if self.threads == 0 || self.threads > 256 {
            return Err(s.err("threads", "must be 1..=256"));
        }
        if self.max_batch == 0 || self.max_batch > 64 {
            return Err(s.err("max_batch", "must be 1..=64"));
        }
        let score = s.unit("score_threshold", self.score_threshold)?;
        let nms_iou = s.unit("nms_iou", self.nms_iou)?;
        let class_thresholds =
            thresholds(s, &labels, score, &self.classes, &self.class_thresholds)?;
        let nms_group = nms_groups(s, &labels, self.nms_merge.as_deref())?;
        Ok(ModelConfig {
            path,
            layout,
            resize,
            labels,
            ort_library,
            execution_provider,
            cuda_conv_search,
            threads: self.threads,
            max_batch: self.max_batch,
            score_threshold: score,
            class_thresholds,
            nms_iou,
            nms_group,
        })
    }
}

fn index(s: &Scope, labels: &[String], key: &str, name: &str) -> Result<usize, ConfigError> {
    labels.iter().position(|l| l == name).ok_or_else(|| {
        s.err(
            key,
            format!(
                "unknown class {name:?}; the model's labels are {}",
                preview(labels)
            ),
        )
    })
}

fn thresholds(
    s: &Scope,
    labels: &[String],
    score: f32,
    classes: &Option<Vec<String>>,
    per_class: &BTreeMap<String, f32>,
) -> Result<Vec<Option<f32>>, ConfigError> {
    let mut t: Vec<Option<f32>> = match classes {
        None => vec![Some(score); labels.len()],
        Some(classes) => {
            let mut t = vec![None; labels.len()];
            for (i, c) in classes.iter().enumerate() {
                t[index(s, labels, &format!("classes[{i}]"), c)?] = Some(score);
            }
            t
        }
    };
    for (name, v) in per_class {
        let key = format!("class_thresholds.{name:?}");
        let v = s.unit(&key, *v)?;
        let i = index(s, labels, &key, name)?;
        if t[i].is_none() {
            return Err(s.err(
                &key,
                format!("{name:?} is not in model.classes, so it is never detected"),
            ));
        }
        t[i] = Some(v);
    }
    Ok(t)
}

fn nms_groups(
    s: &Scope,
    labels: &[String],
    merge: Option<&[Vec<String>]>,
) -> Result<Vec<usize>, ConfigError> {
    let mut group: Vec<usize> = (0..labels.len()).collect();
    match merge {
        Some(groups) => {
            for (gi, g) in groups.iter().enumerate() {
                let mut first = None;
                for (i, name) in g.iter().enumerate() {
                    let c = index(s, labels, &format!("nms_merge[{gi}][{i}]"), name)?;
                    group[c] = *first.get_or_insert(c);
                }
            }
        }
        None => {
            let vehicles: Vec<usize> = ["car", "truck", "bus"]
                .iter()
                .filter_map(|n| labels.iter().position(|l| l == n))
                .collect();
            if let Some(&lead) = vehicles.first() {
                for c in vehicles {
                    group[c] = lead;
                }
            }
        }
    }
    Ok(group)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClassifier {
    id: String,
    path: PathBuf,
    /// Model input width and height.
    input: [u32; 2],
    labels: Vec<String>,
    #[serde(default = "crate::violations::vehicle_classes")]
    classes: Vec<String>,
    #[serde(default = "d_every_n")]
    every_n: u32,
    #[serde(default = "d_mean")]
    mean: [f32; 3],
    #[serde(default = "d_std")]
    std: [f32; 3],
}

fn d_every_n() -> u32 {
    2
}
fn d_mean() -> [f32; 3] {
    [0.0; 3]
}
fn d_std() -> [f32; 3] {
    [1.0; 3]
}

impl RawClassifier {
    fn validate(self, s: &Scope, labels: &[String]) -> Result<ClassifierConfig, ConfigError> {
        matthan_schema::validate_segment(&self.id).map_err(|e| s.err("id", e))?;
        let path = onnx_file(s, "path", &self.path)?;
        if self.input.iter().any(|&v| !(8..=1024).contains(&v)) {
            return Err(s.err("input", "width and height must be 8..=1024"));
        }
        if self.labels.is_empty() {
            return Err(s.err("labels", "list the model's output labels in order"));
        }
        if self.every_n == 0 {
            return Err(s.err("every_n", "must be at least 1"));
        }
        if self.std.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(s.err("std", "must be positive"));
        }
        let classes = s.classes("classes", self.classes, labels)?;
        Ok(ClassifierConfig {
            id: self.id,
            path,
            input: (self.input[0], self.input[1]),
            labels: self.labels,
            classes,
            every_n: self.every_n,
            mean: self.mean,
            std: self.std,
        })
    }
}

/// Every `[[classifiers]]` entry; ids are unique.
pub fn classifiers(
    raws: Vec<RawClassifier>,
    s: &Scope,
    labels: &[String],
) -> Result<Vec<ClassifierConfig>, ConfigError> {
    let mut out: Vec<ClassifierConfig> = Vec::new();
    for (i, r) in raws.into_iter().enumerate() {
        let at = s.at(format!("[{i}]"));
        let c = r.validate(&at, labels)?;
        if out.iter().any(|x| x.id == c.id) {
            return Err(at.err("id", format!("duplicate classifier id {:?}", c.id)));
        }
        out.push(c);
    }
    Ok(out)
}
