//! Sentence embeddings (all-MiniLM-L6-v2, int8) through ONNX Runtime, for ranking the words of
//! a query that did not become filters.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::Session;
use ort::value::TensorRef;
use tokenizers::Tokenizer;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("embedding model {path}: {reason}")]
    Model { path: String, reason: String },
    #[error("embedding failed: {0}")]
    Run(String),
}

static ORT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

fn environment(lib: Option<&Path>) -> Result<&'static ort::environment::Environment, EmbedError> {
    ORT.get_or_init(|| {
        let path: PathBuf = match lib {
            Some(p) => p.to_path_buf(),
            None => std::env::var_os("ORT_DYLIB_PATH")
                .map(PathBuf::from)
                .ok_or("no ONNX Runtime library: pass --ort-library or set ORT_DYLIB_PATH (scripts/setup.sh puts one in .cache/lib)")?,
        };
        ort::init_from(&path)
            .map_err(|e| format!("cannot load {}: {e}", path.display()))?
            .with_name("matthan-hub")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", path.display()))
    })
    .as_ref()
    .map_err(|e| EmbedError::Runtime(e.clone()))
}

pub struct Embedder {
    session: Session,
    tokenizer: Tokenizer,
}

/// Longer captions and queries are cut: they only need to carry attributes.
const MAX_TOKENS: usize = 64;

impl Embedder {
    pub fn load(
        model: &Path,
        tokenizer: &Path,
        ort_library: Option<&Path>,
    ) -> Result<Self, EmbedError> {
        let env = environment(ort_library)?;
        let err = |p: &Path, reason: String| EmbedError::Model {
            path: p.display().to_string(),
            reason,
        };
        let mut tokenizer =
            Tokenizer::from_file(tokenizer).map_err(|e| err(tokenizer, e.to_string()))?;
        // The shipped tokenizer pads every text to 128 tokens: a three-word query then costs as
        // much as a paragraph, and the padding was pooled into the vector. Pad per batch instead.
        tokenizer.with_padding(None);
        let session = Session::builder(env)
            .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
            .and_then(|mut b| b.commit_from_file(model))
            .map_err(|e| err(model, e.to_string()))?;
        Ok(Self { session, tokenizer })
    }

    /// Unit-length 384-d vectors, one per text.
    pub fn embed(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Run(e.to_string()))?;
        let len = enc
            .iter()
            .map(|e| e.get_ids().len().min(MAX_TOKENS))
            .max()
            .unwrap_or(1)
            .max(1);
        let n = texts.len();
        let (mut ids, mut mask, types) = (
            vec![0i64; n * len],
            vec![0i64; n * len],
            vec![0i64; n * len],
        );
        for (b, e) in enc.iter().enumerate() {
            let real = e.get_ids().iter().zip(e.get_attention_mask());
            for (k, (id, m)) in real.take(len).enumerate() {
                ids[b * len + k] = *id as i64;
                mask[b * len + k] = *m as i64;
            }
        }
        let shape = [n as i64, len as i64];
        let run = |e: ort::Error| EmbedError::Run(e.to_string());
        let outputs = self
            .session
            .run(ort::inputs![
                "input_ids" => TensorRef::from_array_view((shape, &ids[..])).map_err(run)?,
                "attention_mask" => TensorRef::from_array_view((shape, &mask[..])).map_err(run)?,
                "token_type_ids" => TensorRef::from_array_view((shape, &types[..])).map_err(run)?,
            ])
            .map_err(run)?;
        let (out_shape, hidden) = outputs[0].try_extract_tensor::<f32>().map_err(run)?;
        let dim = *out_shape.last().unwrap_or(&384) as usize;
        let mut vecs = Vec::with_capacity(n);
        for b in 0..n {
            let mut v = vec![0f32; dim];
            let mut count = 0f32;
            for k in 0..len {
                if mask[b * len + k] == 1 {
                    count += 1.0;
                    let row = &hidden[(b * len + k) * dim..(b * len + k + 1) * dim];
                    v.iter_mut().zip(row).for_each(|(a, x)| *a += x);
                }
            }
            let norm = v
                .iter()
                .map(|x| (x / count.max(1.0)).powi(2))
                .sum::<f32>()
                .sqrt()
                .max(1e-12);
            vecs.push(v.iter().map(|x| x / count.max(1.0) / norm).collect());
        }
        Ok(vecs)
    }
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Several embedders for the API: a search holds one while it ranks, so with one for all,
/// parallel searches queued on it. One per core (each session runs on one thread).
pub struct Embedders {
    all: Vec<std::sync::Mutex<Embedder>>,
    next: std::sync::atomic::AtomicUsize,
}

impl Embedders {
    pub fn load(
        model: &Path,
        tokenizer: &Path,
        ort_library: Option<&Path>,
        count: usize,
    ) -> Result<Self, EmbedError> {
        let all = (0..count.max(1))
            .map(|_| Embedder::load(model, tokenizer, ort_library).map(std::sync::Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            all,
            next: Default::default(),
        })
    }

    /// A free embedder if there is one, else waits on the next in turn.
    pub fn get(&self) -> std::sync::MutexGuard<'_, Embedder> {
        for m in &self.all {
            if let Ok(g) = m.try_lock() {
                return g;
            }
        }
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.all.len();
        self.all[i].lock().unwrap_or_else(|p| p.into_inner())
    }
}
