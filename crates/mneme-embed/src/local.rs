//! `LocalEmbedder`: all-MiniLM-L6-v2 in process, matching sentence-transformers (BERT, mean
//! pooling over the tokens, L2 normalisation, at most 256 tokens per text), on the hand-written
//! forward pass of `bert.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tokenizers::{Tokenizer, TruncationParams};
use tokio::sync::OnceCell;

use crate::bert::{Bert, Config, WeightsError};
use crate::fetch::{ModelSource, fetch_model};
use crate::install::{MODEL_FILES, MODEL_WEIGHTS_BYTES};
use crate::{EmbedError, Embedder, normalize};

/// Tokens per forward pass: bounds the scratch matrices (the widest, the feed-forward's, holds
/// 1536 floats a token: 25 MB at this size) while amortising the weights' trips through cache.
const TOKENS_PER_PASS: usize = 4096;

/// From how many tokens a pass is split across two threads: below, starting a thread (tens of
/// microseconds) costs more than it saves.
const PARALLEL_TOKENS: usize = 64;

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
        // Compute-bound (~2 ms per short text, ~0.1 s per 256-token text): it must not run on
        // an async worker thread.
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
    bert: Bert,
    tokenizer: Tokenizer,
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
        let config = Config::parse(&read("config.json")?).map_err(model_error)?;
        let weights = read("model.safetensors")?;
        if weights.len() as u64 != MODEL_WEIGHTS_BYTES {
            return Err(EmbedError::Model(format!(
                "model.safetensors in {} has {} bytes, expected {MODEL_WEIGHTS_BYTES}; \
                 fetch the model again with scripts/fetch-model",
                dir.display(),
                weights.len()
            )));
        }
        if config.max_positions() < MAX_TOKENS {
            return Err(EmbedError::Model(format!(
                "config.json: {} positions, fewer than the {MAX_TOKENS} tokens a text may have",
                config.max_positions()
            )));
        }
        // The file's bytes are dropped once the weights are packed from them.
        let bert = Bert::load(config, &weights).map_err(model_error)?;
        let tokenizer = load_tokenizer(&dir.join("tokenizer.json"))?;
        tracing::info!(
            dir = %dir.display(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "local embedding model loaded"
        );
        Ok(Model { bert, tokenizer })
    }

    /// Vectors in input order. Texts are cut into passes of at most `TOKENS_PER_PASS` tokens
    /// (bounding the scratch memory), and each pass split across two threads when it is big
    /// enough to pay for one.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.iter().map(String::as_str).collect(), true)
            .map_err(|e| EmbedError::Model(format!("tokenizer: {e}")))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        // The tokenizer adds [CLS] and [SEP], so no text is empty; a vocabulary that did not
        // would make mean pooling divide by zero.
        if ids.iter().any(|t| t.is_empty()) {
            return Err(EmbedError::Model("the tokenizer produced no tokens".into()));
        }
        let mut vectors = Vec::with_capacity(texts.len());
        for pass in passes(&ids, TOKENS_PER_PASS) {
            vectors.extend(self.embed_pass(pass));
        }
        vectors.iter_mut().for_each(|v| normalize(v));
        Ok(vectors)
    }

    /// Two halves of about equal token counts on two threads when the pass is large; one text
    /// never is split, so threading does not change any vector.
    fn embed_pass(&self, texts: &[&[u32]]) -> Vec<Vec<f32>> {
        let tokens: usize = texts.iter().map(|t| t.len()).sum();
        if texts.len() < 2 || tokens < PARALLEL_TOKENS {
            return self.bert.mean_pooled(texts);
        }
        let mut seen = 0;
        let split = texts
            .iter()
            .position(|t| {
                seen += t.len();
                2 * seen >= tokens
            })
            .map_or(texts.len() / 2, |i| (i + 1).min(texts.len() - 1));
        let (first, second) = texts.split_at(split);
        std::thread::scope(|scope| {
            let other = scope.spawn(|| self.bert.mean_pooled(second));
            let mut vectors = self.bert.mean_pooled(first);
            // A panic in the forward pass is a bug; re-raising it keeps its message.
            match other.join() {
                Ok(rest) => vectors.extend(rest),
                Err(panic) => std::panic::resume_unwind(panic),
            }
            vectors
        })
    }
}

/// Consecutive runs of texts holding at most `budget` tokens each (a longer text alone).
fn passes<'a, 'b>(texts: &'b [&'a [u32]], budget: usize) -> Vec<&'b [&'a [u32]]> {
    let mut passes = Vec::new();
    let mut start = 0;
    let mut tokens = 0;
    for (i, text) in texts.iter().enumerate() {
        if i > start && tokens + text.len() > budget {
            passes.push(&texts[start..i]);
            start = i;
            tokens = 0;
        }
        tokens += text.len();
    }
    if start < texts.len() {
        passes.push(&texts[start..]);
    }
    passes
}

fn model_error(error: WeightsError) -> EmbedError {
    EmbedError::Model(error.to_string())
}

/// The shipped tokenizer with sentence-transformers' settings: no padding (the forward pass
/// takes texts of different lengths side by side) and truncation at 256 tokens (not 128).
fn load_tokenizer(path: &Path) -> Result<Tokenizer, EmbedError> {
    let mut tokenizer = Tokenizer::from_file(path)
        .map_err(|e| EmbedError::Model(format!("tokenizer.json: {e}")))?;
    let truncation = TruncationParams {
        max_length: MAX_TOKENS,
        ..tokenizer.get_truncation().cloned().unwrap_or_default()
    };
    tokenizer.with_padding(None);
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
