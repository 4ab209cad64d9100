//! ONNX Runtime: loading the shared library once, choosing the execution provider, and running
//! batches through one session shared by every camera.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider as _};
use ort::session::{Session, builder::GraphOptimizationLevel};
use ort::value::TensorRef;

use super::decode::Layouts;
use super::region::{Region, Window};
use super::{Candidate, DetectError, Detection, Layout, Preprocess, Resize, nms_grouped};
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
    layouts: Layouts,
    /// Whether the model takes any height and width (so it can run on a window of the frame).
    any_size: bool,
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
    /// Model input pixels run (per image, its window's width × height): the model's work, free
    /// of the machine's speed, for comparing whole frames with regions and motion windows.
    pub input_px: u64,
}

/// A box within this many input pixels of a window's inner edge is taken as cut by it.
const EDGE_PX: f32 = 2.0;

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
        // Dynamic spatial dims take the size the model's metadata names (this project's
        // variants say "416x416"), else the usual export size.
        let named = session
            .metadata()
            .ok()
            .and_then(|m| m.custom("input_size"))
            .and_then(|v| {
                let (w, h) = v.split_once('x')?;
                Some((
                    w.trim().parse::<usize>().ok()?,
                    h.trim().parse::<usize>().ok()?,
                ))
            })
            .filter(|&(w, h)| w > 0 && h > 0);
        let any_size = shape[2] <= 0 && shape[3] <= 0;
        let dim = |d: i64, n: usize| if d > 0 { d as usize } else { n };
        let (w, h) = named.unwrap_or((640, 640));
        let (h, w) = (dim(shape[2], h), dim(shape[3], w));
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
            layouts: Layouts {
                known: Vec::new(),
                hint,
                labels: cfg.labels.len(),
            },
            any_size,
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
        let whole: Vec<_> = images.iter().map(|i| (*i, None)).collect();
        self.detect_in(&whole)
    }

    /// Whether the model can run on part of the frame (`[cameras.detect_region]`): only when
    /// it takes any height and width.
    pub fn supports_regions(&self) -> bool {
        self.any_size
    }

    /// The window of the model's whole-frame input that `region` needs on `img`.
    pub fn window(&self, img: &RgbImage, region: Option<&Region>) -> Window {
        let full = Window::full(self.pre.width, self.pre.height);
        match region {
            Some(r) if self.any_size => r.window(
                self.pre.width,
                self.pre.height,
                self.pre.content(img.width, img.height),
            ),
            _ => full,
        }
    }

    /// Runs the model once at each window size the regions need, where an accelerator's first
    /// call at a new shape is slow (see `warm_up`); assumes the frame fills the input, which
    /// stretched models (NanoDet) always do.
    pub fn warm_up_regions(&mut self, regions: &[Region]) -> Result<(), DetectError> {
        if self.provider == "cpu" || !self.any_size {
            return Ok(());
        }
        let (w, h) = (self.pre.width, self.pre.height);
        let grey = RgbImage::filled(w as u32, h as u32, [114; 3]);
        let mut seen = Vec::new();
        for r in regions {
            let win = r.window(w, h, [0.0, 0.0, w as f64, h as f64]);
            if !seen.contains(&(win.w, win.h)) {
                seen.push((win.w, win.h));
                for batch in 1..=self.max_batch {
                    self.detect_in(&vec![(&grey, Some(r)); batch])?;
                }
            }
        }
        self.times = DetectTimes::default();
        Ok(())
    }

    /// Detects objects in each image, within its camera's region where it has one; frames
    /// whose windows have the same size share a run.
    pub fn detect_in(
        &mut self,
        items: &[(&RgbImage, Option<&Region>)],
    ) -> Result<Vec<Vec<Detection>>, DetectError> {
        let windows: Vec<Window> = items.iter().map(|(i, r)| self.window(i, *r)).collect();
        let mut all: Vec<Vec<Detection>> = vec![Vec::new(); items.len()];
        let mut sizes: Vec<(usize, usize)> = Vec::new();
        for w in &windows {
            if !sizes.contains(&(w.w, w.h)) {
                sizes.push((w.w, w.h));
            }
        }
        for size in sizes {
            let group: Vec<usize> = (0..items.len())
                .filter(|&i| (windows[i].w, windows[i].h) == size)
                .collect();
            for chunk in group.chunks(self.max_batch) {
                let batch: Vec<_> = chunk.iter().map(|&i| (items[i].0, windows[i])).collect();
                for (&i, found) in chunk.iter().zip(self.detect_chunk(&batch)?) {
                    all[i] = found;
                }
            }
        }
        Ok(all)
    }

    /// One run over frames whose windows share a size.
    fn detect_chunk(
        &mut self,
        items: &[(&RgbImage, Window)],
    ) -> Result<Vec<Vec<Detection>>, DetectError> {
        let n = items.len();
        let (w, h) = (items[0].1.w, items[0].1.h);
        let started = std::time::Instant::now();
        let len = 3 * w * h;
        self.input.resize(n * len, 0.0);
        let transforms: Vec<_> = items
            .iter()
            .zip(self.input.chunks_exact_mut(len))
            .map(|((img, win), buf)| self.pre.fill_window(img, *win, buf))
            .collect();
        let shape = [n as i64, 3, h as i64, w as i64];
        let tensor = TensorRef::from_array_view((shape, &self.input[..n * len]))?;
        let ran = std::time::Instant::now();
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])?;
        let ended = std::time::Instant::now();
        self.times.frames += n as u64;
        self.times.input_px += (n * w * h) as u64;
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
        let at = self.layouts.index(&shapes, w, h, &self.path)?;
        let layout = &self.layouts.known[at].1;
        let mut found = Vec::with_capacity(n);
        let mut cands: Vec<Candidate> = Vec::new();
        let (full_w, full_h) = (self.pre.width, self.pre.height);
        for (b, (t, (_, win))) in transforms.iter().zip(items).enumerate() {
            cands.clear();
            layout.decode(&data, b, &self.thresholds, &mut cands);
            // Objects cut by a window's edge inside the frame are seen in part, as boxes that
            // grow while they come in and that a tracker reads as fast motion (running
            // alerts on vtest); they are dropped, and seen whole a few frames later.
            let inner = [
                win.x > 0,
                win.y > 0,
                win.x + win.w < full_w,
                win.y + win.h < full_h,
            ];
            if inner.contains(&true) {
                let (w, h) = (win.w as f32 - EDGE_PX, win.h as f32 - EDGE_PX);
                cands.retain(|c| {
                    !(inner[0] && c.x1 < EDGE_PX
                        || inner[1] && c.y1 < EDGE_PX
                        || inner[2] && c.x2 > w
                        || inner[3] && c.y2 > h)
                });
            }
            let kept = nms_grouped(
                std::mem::take(&mut cands),
                self.nms_iou,
                MAX_DETECTIONS,
                &self.nms_group,
            );
            found.push(
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
        Ok(found)
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
