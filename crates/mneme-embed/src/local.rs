//! `LocalEmbedder`: all-MiniLM-L6-v2 in process with candle, matching sentence-transformers
//! (BERT, mean pooling over real tokens, L2 normalisation, at most 256 tokens per text).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};
use tokio::sync::OnceCell;

use crate::fetch::{ModelSource, fetch_model};
use crate::install::{MODEL_FILES, MODEL_WEIGHTS_BYTES};
use crate::{EmbedError, Embedder, normalize};

/// Texts per forward pass: enough to amortise the call, few enough that padding to the longest
/// text of a batch (they are sorted by length first) wastes little.
const BATCH_SIZE: usize = 32;

/// sentence-transformers' `max_seq_length` for this model; the shipped `tokenizer.json` says
/// 128, which would give different vectors for long texts.
const MAX_TOKENS: usize = 256;

/// all-MiniLM-L6-v2 loaded from a directory holding `config.json`, `tokenizer.json` and
/// `model.safetensors`. Creating one reads nothing: the model (about 90 MB of weights) loads on
/// the first `embed`, so a server that never embeds locally never pays for it.
pub struct LocalEmbedder {
    dir: PathBuf,
    model: OnceCell<Arc<Model>>,
    /// Where to fetch the files from when they are absent; `None`: never fetch.
    fetch: Option<ModelSource>,
    /// Held while the files are fetched, so concurrent first users wait for one download.
    fetching: tokio::sync::Mutex<()>,
}

impl LocalEmbedder {
    pub fn new(dir: impl Into<PathBuf>) -> LocalEmbedder {
        LocalEmbedder {
            dir: dir.into(),
            model: OnceCell::new(),
            fetch: None,
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Fetches the files from `source` when they are absent at first use.
    pub fn with_fetch(mut self, source: ModelSource) -> LocalEmbedder {
        self.fetch = Some(source);
        self
    }

    /// Whether absent files are fetched rather than reported.
    pub fn fetches(&self) -> bool {
        self.fetch.is_some()
    }

    /// Makes sure the files are there, fetching them if they are absent and fetching is on;
    /// loads nothing (the server calls it at start so the first embed does not wait for the
    /// download, without paying the model's memory before it is used).
    pub async fn prepare(&self) -> Result<(), EmbedError> {
        if self.check_files().is_ok() {
            return Ok(());
        }
        let Some(source) = &self.fetch else {
            return self.check_files();
        };
        let _guard = self.fetching.lock().await;
        // Another caller may have fetched them while this one waited.
        if self.check_files().is_ok() {
            return Ok(());
        }
        fetch_model(source, &self.dir).await.map_err(|e| {
            EmbedError::Model(format!(
                "the local embedding model is not installed in {} and fetching it failed: {e}; \
                 install it with scripts/fetch-model or set MNEME_EMBEDDING_MODEL_DIR",
                self.dir.display()
            ))
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the model is in memory (a first `embed` has succeeded).
    pub fn is_loaded(&self) -> bool {
        self.model.initialized()
    }

    /// `ModelMissing` when a model file is absent, without loading anything (a few `stat`s).
    pub fn check_files(&self) -> Result<(), EmbedError> {
        check_files(&self.dir)
    }

    /// The model, loaded by the first caller; concurrent first callers wait for that one load.
    /// A failed load is not cached, so fetching the files later makes the next call work.
    async fn model(&self) -> Result<Arc<Model>, EmbedError> {
        let model = self
            .model
            .get_or_try_init(|| {
                let dir = self.dir.clone();
                async move {
                    self.prepare().await?;
                    tokio::task::spawn_blocking(move || Model::load(&dir))
                        .await
                        .map_err(|e| EmbedError::Model(format!("the loading task failed: {e}")))?
                        .map(Arc::new)
                }
            })
            .await?;
        Ok(Arc::clone(model))
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    #[tracing::instrument(skip_all, fields(embedder = "local/all-MiniLM-L6-v2", inputs = texts.len()))]
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.model().await?;
        let texts = texts.to_vec();
        // Compute-bound (~10 ms per short text, ~0.3 s per 256-token text on two cores): it must
        // not run on an async worker thread.
        tokio::task::spawn_blocking(move || model.embed(&texts))
            .await
            .map_err(|e| EmbedError::Model(format!("the embedding task failed: {e}")))?
    }

    fn name(&self) -> &str {
        "local/all-MiniLM-L6-v2"
    }
}

/// The loaded network and tokenizer.
struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl Model {
    fn load(dir: &Path) -> Result<Model, EmbedError> {
        let started = Instant::now();
        check_files(dir)?;
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path)
                .map_err(|e| EmbedError::Model(format!("cannot read {}: {e}", path.display())))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| EmbedError::Model(format!("config.json: {e}")))?;
        let weights = read("model.safetensors")?;
        if weights.len() as u64 != MODEL_WEIGHTS_BYTES {
            return Err(EmbedError::Model(format!(
                "model.safetensors in {} has {} bytes, expected {MODEL_WEIGHTS_BYTES}; \
                 fetch the model again with scripts/fetch-model",
                dir.display(),
                weights.len()
            )));
        }
        let device = Device::Cpu;
        // The buffered loader rather than the mmap one: mapping a file is `unsafe` in candle
        // (another process could change it under us) and the workspace forbids unsafe code. The
        // buffer is dropped once the tensors are built from it.
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| EmbedError::Model(format!("model.safetensors: {e}")))?;
        let bert = BertModel::load(vb, &config)
            .map_err(|e| EmbedError::Model(format!("model.safetensors: {e}")))?;
        let tokenizer = load_tokenizer(&dir.join("tokenizer.json"))?;
        tracing::info!(
            dir = %dir.display(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "local embedding model loaded"
        );
        Ok(Model {
            bert,
            tokenizer,
            device,
        })
    }

    /// Vectors in input order; the texts are embedded in batches of similar length.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut vectors = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH_SIZE) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
            let embedded = self
                .embed_batch(inputs)
                .map_err(|e| EmbedError::Model(e.to_string()))?;
            for (&i, vector) in batch.iter().zip(embedded) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }

    fn embed_batch(&self, texts: Vec<&str>) -> Result<Vec<Vec<f32>>, BatchError> {
        let encodings = self.tokenizer.encode_batch(texts, true)?;
        let rows = |field: fn(&tokenizers::Encoding) -> &[u32]| {
            let rows = encodings
                .iter()
                .map(|e| Tensor::new(field(e), &self.device))
                .collect::<Result<Vec<_>, _>>()?;
            Tensor::stack(&rows, 0)
        };
        let ids = rows(tokenizers::Encoding::get_ids)?;
        let mask = rows(tokenizers::Encoding::get_attention_mask)?;
        // A single segment: every token type is 0.
        let type_ids = ids.zeros_like()?;
        let hidden = self.bert.forward(&ids, &type_ids, Some(&mask))?; // (n, tokens, 384)
        // Mean over the real tokens only: padding positions have mask 0.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, tokens, 1)
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (n, 384)
        let counts = mask.sum(1)?; // (n, 1), at least 2: [CLS] and [SEP]
        let mut vectors = summed.broadcast_div(&counts)?.to_vec2::<f32>()?;
        vectors.iter_mut().for_each(|v| normalize(v));
        Ok(vectors)
    }
}

/// The errors of one forward pass, turned into `EmbedError::Model` by the caller.
#[derive(Debug, thiserror::Error)]
enum BatchError {
    #[error("tokenizer: {0}")]
    Tokenizer(#[from] tokenizers::Error),
    #[error("model: {0}")]
    Candle(#[from] candle_core::Error),
}

/// The shipped tokenizer with sentence-transformers' settings: pad each batch to its longest
/// text (not to a fixed 128) and truncate at 256 tokens (not 128).
fn load_tokenizer(path: &Path) -> Result<Tokenizer, EmbedError> {
    let mut tokenizer = Tokenizer::from_file(path)
        .map_err(|e| EmbedError::Model(format!("tokenizer.json: {e}")))?;
    let padding = PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..tokenizer.get_padding().cloned().unwrap_or_default()
    };
    let truncation = TruncationParams {
        max_length: MAX_TOKENS,
        ..tokenizer.get_truncation().cloned().unwrap_or_default()
    };
    tokenizer.with_padding(Some(padding));
    tokenizer
        .with_truncation(Some(truncation))
        .map_err(|e| EmbedError::Model(format!("tokenizer.json: {e}")))?;
    Ok(tokenizer)
}

fn check_files(dir: &Path) -> Result<(), EmbedError> {
    match MODEL_FILES.iter().find(|name| !dir.join(name).is_file()) {
        Some(name) => Err(EmbedError::ModelMissing {
            dir: dir.to_owned(),
            missing: (*name).to_owned(),
        }),
        None => Ok(()),
    }
}
