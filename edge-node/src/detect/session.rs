//! ONNX Runtime: loading the shared library once, choosing the execution provider, and running
//! batches through one session shared by every camera.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider as _};
use ort::session::{Session, builder::GraphOptimizationLevel};
use ort::value::TensorRef;

use super::{
    Candidate, DecodedLayout, DetectError, Detection, Layout, Preprocess, Resize, nms_grouped,
};
use crate::config::ModelConfig;
use crate::frame::RgbImage;
use matthan_schema::BBox;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionProvider {
    /// The best one the loaded library offers: TensorRT, then CUDA, then OpenVINO, then CPU.
    Auto,
    Cpu,
    Cuda,
    TensorRt,
    OpenVino,
}

impl ExecutionProvider {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "cpu" => Some(Self::Cpu),
            "cuda" => Some(Self::Cuda),
            "tensorrt" => Some(Self::TensorRt),
            "openvino" => Some(Self::OpenVino),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::TensorRt => "tensorrt",
            Self::OpenVino => "openvino",
        }
    }

    fn available(self) -> bool {
        match self {
            Self::Auto => false,
            Self::Cpu => true,
            Self::Cuda => ep::CUDA::is_available().unwrap_or(false),
            Self::TensorRt => ep::TensorRT::is_available().unwrap_or(false),
            Self::OpenVino => ep::OpenVINO::is_available().unwrap_or(false),
        }
    }

    fn dispatch(self, search: ConvSearch) -> Option<ep::ExecutionProviderDispatch> {
        let search = match search {
            ConvSearch::Heuristic => ep::cuda::ConvAlgorithmSearch::Heuristic,
            ConvSearch::Exhaustive => ep::cuda::ConvAlgorithmSearch::Exhaustive,
        };
        match self {
            Self::Auto | Self::Cpu => None,
            Self::Cuda => Some(
                ep::CUDA::default()
                    .with_conv_algorithm_search(search)
                    .build()
                    .error_on_failure(),
            ),
            Self::TensorRt => Some(ep::TensorRT::default().build().error_on_failure()),
            Self::OpenVino => Some(ep::OpenVINO::default().build().error_on_failure()),
        }
    }
}

/// How the CUDA provider picks each convolution's cuDNN algorithm (`model.cuda_conv_search`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvSearch {
    /// cuDNN's heuristics: cheap at every new input shape. The default, because a live run's
    /// batch size changes from call to call with the cameras' timing, and since ONNX Runtime
    /// 1.20 (cuDNN frontend) convolutions set up again whenever the shape differs from the last
    /// call's (microsoft/onnxruntime#23006: 15x slower with interleaved shapes). On an H200 with
    /// exhaustive search the multi-camera live run spent 11-109 ms per frame in the model
    /// against 3 ms per call with one shape (docs/benchmarks.md, "GPU path"); PaddleX and
    /// VOICEVOX moved to heuristics for the same reason and measured no steady-state loss.
    Heuristic,
    /// Time every algorithm at each new shape (ONNX Runtime's own default): the fastest
    /// kernels for one fixed shape, paid again at every shape change.
    Exhaustive,
}

impl ConvSearch {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "heuristic" => Some(Self::Heuristic),
            "exhaustive" => Some(Self::Exhaustive),
            _ => None,
        }
    }
}

static ORT: OnceLock<Result<(Environment, PathBuf), String>> = OnceLock::new();

/// Loads `libonnxruntime.so` (from `configured`, else `ORT_DYLIB_PATH`) once per process.
pub fn init_ort(configured: Option<&Path>) -> Result<&'static Environment, DetectError> {
    let res = ORT.get_or_init(|| {
        let path = match configured {
            Some(p) => p.to_path_buf(),
            None => std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from).ok_or_else(|| {
                "no ONNX Runtime library: set model.ort_library in the config or ORT_DYLIB_PATH (scripts/setup.sh puts one in .cache/lib)".to_string()
            })?,
        };
        if !path.is_file() {
            return Err(format!("{} does not exist", path.display()));
        }
        let env = ort::init_from(&path)
            .map_err(|e| format!("cannot load {}: {e}", path.display()))?
            .with_name("matthan")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", path.display()))?;
        Ok((env, path))
    });
    match res {
        Ok((env, path)) => {
            if let Some(c) = configured
                && c != path
            {
                tracing::warn!(loaded = %path.display(), requested = %c.display(), "ONNX Runtime is already loaded from another file; keeping it");
            }
            Ok(env)
        }
        Err(e) => Err(DetectError::Runtime(e.clone())),
    }
}

pub struct Detector {
    session: Session,
    input_name: String,
    pre: Preprocess,
    layout: Option<DecodedLayout>,
    hint: Option<Layout>,
    labels: usize,
    thresholds: Vec<Option<f32>>,
    nms_iou: f32,
    nms_group: Vec<usize>,
    max_batch: usize,
    provider: &'static str,
    input: Vec<f32>,
    path: String,
    times: DetectTimes,
}

/// Where the detector's time went since it was last asked (`Detector::take_times`), in
/// nanoseconds of the calling thread's wall clock: filling the input tensor, the model, and
/// decoding its outputs with NMS. The model's share is what no code of ours can shorten.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DetectTimes {
    pub frames: u64,
    pub preprocess_ns: u64,
    pub inference_ns: u64,
    pub postprocess_ns: u64,
}

/// At most this many detections per frame survive NMS.
const MAX_DETECTIONS: usize = 300;

impl Detector {
    pub fn new(cfg: &ModelConfig) -> Result<Self, DetectError> {
        let env = init_ort(cfg.ort_library.as_deref())?;
        let path = cfg.path.display().to_string();
        let model_err = |reason: String| DetectError::Model {
            path: path.clone(),
            reason,
        };
        let (session, provider) = build_session(env, cfg).map_err(|e| model_err(e.to_string()))?;
        // Loading and optimising the graph leaves ~15 MiB freed in the heap; give it back.
        crate::memory::release_free_heap();

        let input = session
            .inputs()
            .first()
            .ok_or_else(|| model_err("the model has no input".into()))?;
        let shape = input
            .dtype()
            .tensor_shape()
            .ok_or_else(|| model_err(format!("input {} is not a tensor", input.name())))?
            .to_vec();
        if shape.len() != 4 || (shape[1] != 3 && shape[1] != -1) {
            return Err(model_err(format!(
                "input {} has shape {shape:?}; expected [batch,3,height,width]",
                input.name()
            )));
        }
        // Dynamic spatial dims take the usual export size.
        let dim = |d: i64| if d > 0 { d as usize } else { 640 };
        let (h, w) = (dim(shape[2]), dim(shape[3]));
        let batchable = shape[0] <= 0;
        let hint = match cfg.layout {
            Layout::Auto => None,
            l => Some(l),
        };
        let nanodet =
            hint == Some(Layout::NanoDet) || (hint.is_none() && session.outputs().len() > 1);
        let mut pre = if nanodet {
            Preprocess::nanodet(w, h)
        } else {
            Preprocess::yolo(w, h)
        };
        if let Some(r) = cfg.resize {
            pre.resize = r;
            if r == Resize::Stretch {
                pre.pad = 0.0;
            }
        }
        let max_batch = if batchable { cfg.max_batch } else { 1 };
        tracing::info!(
            model = %path,
            execution_provider = provider,
            input = %format!("{}x{}", w, h),
            max_batch,
            "detector ready"
        );
        let mut det = Self {
            input_name: input.name().to_string(),
            session,
            pre,
            layout: None,
            hint,
            labels: cfg.labels.len(),
            thresholds: cfg.class_thresholds.clone(),
            nms_iou: cfg.nms_iou,
            nms_group: cfg.nms_group.clone(),
            max_batch,
            provider,
            input: Vec::new(),
            path,
            times: DetectTimes::default(),
        };
        det.warm_up()?;
        Ok(det)
    }

    /// On an accelerator, runs every batch size once before any camera starts: the CUDA
    /// provider's first call at an input shape is slow (it plans its convolutions with cuDNN and
    /// allocates for that shape), and that belongs at start-up, not on a live frame. On an H200
    /// (exhaustive search then) the one-stream pipeline bench went from 0.846 to 0.951 of
    /// min(decode, inference) with it (docs/benchmarks.md, "GPU path").
    fn warm_up(&mut self) -> Result<(), DetectError> {
        if self.provider == "cpu" {
            return Ok(());
        }
        let grey = RgbImage::filled(self.pre.width as u32, self.pre.height as u32, [114; 3]);
        for batch in 1..=self.max_batch {
            self.detect(&vec![&grey; batch])?;
        }
        self.times = DetectTimes::default();
        Ok(())
    }

    /// The time spent since the last call, by part; resets it.
    pub fn take_times(&mut self) -> DetectTimes {
        std::mem::take(&mut self.times)
    }

    /// The execution provider actually in use.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// How many frames one call of `detect` takes at most (1 for fixed-batch models).
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    pub fn input_size(&self) -> (usize, usize) {
        (self.pre.width, self.pre.height)
    }

    /// Detects objects in every image, batching them into one run where the model allows.
    pub fn detect(&mut self, images: &[&RgbImage]) -> Result<Vec<Vec<Detection>>, DetectError> {
        let mut all = Vec::with_capacity(images.len());
        for chunk in images.chunks(self.max_batch) {
            self.detect_chunk(chunk, &mut all)?;
        }
        Ok(all)
    }

    fn detect_chunk(
        &mut self,
        images: &[&RgbImage],
        all: &mut Vec<Vec<Detection>>,
    ) -> Result<(), DetectError> {
        let n = images.len();
        let started = std::time::Instant::now();
        let len = self.pre.tensor_len();
        self.input.resize(n * len, 0.0);
        let transforms: Vec<_> = images
            .iter()
            .zip(self.input.chunks_exact_mut(len))
            .map(|(img, buf)| self.pre.fill(img, buf))
            .collect();
        let shape = [n as i64, 3, self.pre.height as i64, self.pre.width as i64];
        let tensor = TensorRef::from_array_view((shape, &self.input[..]))?;
        let ran = std::time::Instant::now();
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])?;
        let ended = std::time::Instant::now();
        self.times.frames += n as u64;
        self.times.preprocess_ns += (ran - started).as_nanos() as u64;
        self.times.inference_ns += (ended - ran).as_nanos() as u64;

        let mut shapes = Vec::with_capacity(outputs.len());
        let mut data = Vec::with_capacity(outputs.len());
        for i in 0..outputs.len() {
            let (shape, values) =
                outputs[i]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| DetectError::Model {
                        path: self.path.clone(),
                        reason: format!("output {i}: {e}"),
                    })?;
            shapes.push(shape.iter().map(|d| *d as usize).collect::<Vec<_>>());
            data.push(values);
        }
        if self.layout.is_none() {
            let layout = DecodedLayout::infer(
                self.hint,
                &shapes,
                self.pre.width,
                self.pre.height,
                self.labels,
            )
            .map_err(|reason| DetectError::Model {
                path: self.path.clone(),
                reason,
            })?;
            if layout.classes() != self.labels {
                return Err(DetectError::Model {
                    path: self.path.clone(),
                    reason: format!(
                        "the model predicts {} classes but the config has {} labels; list them in model.labels",
                        layout.classes(),
                        self.labels
                    ),
                });
            }
            tracing::info!(layout = ?layout_name(&layout), classes = layout.classes(), "model output layout");
            self.layout = Some(layout);
        }
        let layout = self.layout.as_ref().expect("set above");
        let mut cands: Vec<Candidate> = Vec::new();
        for (b, t) in transforms.iter().enumerate() {
            cands.clear();
            layout.decode(&data, b, &self.thresholds, &mut cands);
            let kept = nms_grouped(
                std::mem::take(&mut cands),
                self.nms_iou,
                MAX_DETECTIONS,
                &self.nms_group,
            );
            all.push(
                kept.into_iter()
                    .map(|c| {
                        let (x1, y1) = t.to_frame(c.x1, c.y1);
                        let (x2, y2) = t.to_frame(c.x2, c.y2);
                        Detection {
                            bbox: BBox { x1, y1, x2, y2 },
                            score: c.score,
                            class: c.class,
                        }
                    })
                    .filter(|d| d.bbox.x2 > d.bbox.x1 && d.bbox.y2 > d.bbox.y1)
                    .collect(),
            );
        }
        self.times.postprocess_ns += ended.elapsed().as_nanos() as u64;
        Ok(())
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

/// Builds the session on the requested provider, falling back (with a log line saying so) to
/// the next candidate and finally to the CPU.
fn build_session(
    env: &Environment,
    cfg: &ModelConfig,
) -> Result<(Session, &'static str), ort::Error> {
    use ExecutionProvider as Ep;
    let wanted: Vec<Ep> = match cfg.execution_provider {
        Ep::Auto => vec![Ep::TensorRt, Ep::Cuda, Ep::OpenVino],
        Ep::Cpu => vec![],
        other => vec![other],
    };
    for ep in wanted {
        if !ep.available() {
            if cfg.execution_provider != Ep::Auto {
                tracing::warn!(
                    requested = ep.name(),
                    "execution provider is not in the loaded ONNX Runtime library; using cpu"
                );
            }
            continue;
        }
        let dispatch = ep
            .dispatch(cfg.cuda_conv_search)
            .expect("non-cpu providers dispatch");
        let attempt = base_builder(env, cfg)?
            .with_execution_providers([dispatch])
            .map_err(recover)
            .and_then(|mut b| b.commit_from_file(&cfg.path));
        match attempt {
            Ok(s) => return Ok((s, ep.name())),
            Err(e) => {
                tracing::warn!(provider = ep.name(), error = %e, "execution provider failed to start; trying the next")
            }
        }
    }
    let session = base_builder(env, cfg)?.commit_from_file(&cfg.path)?;
    Ok((session, "cpu"))
}

fn base_builder(
    env: &Environment,
    cfg: &ModelConfig,
) -> Result<ort::session::builder::SessionBuilder, ort::Error> {
    Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(recover)?
        .with_intra_threads(cfg.threads)
        .map_err(recover)?
        // Planned memory patterns keep one block the size of every intermediate tensor for the
        // whole run, on top of the arena: 16 MiB more peak RSS with NanoDet-m 416, and no faster
        // (45-46 inferences/s either way on this 2-core box).
        .with_memory_pattern(false)
        .map_err(recover)
}

fn recover(e: ort::Error<ort::session::builder::SessionBuilder>) -> ort::Error {
    e.into()
}
