//! `OpenAiEmbedder`: the OpenAI `POST /embeddings` protocol, which OpenAI, Ollama (under
//! `/v1`), vLLM and LM Studio all speak.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use crate::{EmbedError, Embedder, http, normalize};

/// Where requests go when neither the config nor the server names an OpenAI endpoint: the
/// registry's URL for OpenAI.
pub const OPENAI_BASE_URL: &str = match mneme_types::ProviderKind::Openai.spec().default_base_url {
    Some(url) => url,
    None => panic!("the registry gives OpenAI a base URL"),
};

/// Batching, retries and timeouts of an `OpenAiEmbedder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiEmbedderOptions {
    /// Inputs per request. OpenAI accepts up to 2048, but smaller requests stay well under the
    /// per-request token limit and fail cheaper.
    pub batch_size: usize,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles for each further one (with jitter).
    pub backoff: Duration,
    /// One whole request.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for OpenAiEmbedderOptions {
    fn default() -> OpenAiEmbedderOptions {
        OpenAiEmbedderOptions {
            batch_size: 256,
            max_attempts: 3,
            backoff: Duration::from_millis(250),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// An `Embedder` for one model on one OpenAI-compatible server.
pub struct OpenAiEmbedder {
    http: reqwest::Client,
    /// `{base_url}/embeddings`.
    url: String,
    model: String,
    api_key: Option<String>,
    name: String,
    options: OpenAiEmbedderOptions,
}

impl OpenAiEmbedder {
    /// `base_url` is the API root, such as `https://api.openai.com/v1` or
    /// `http://localhost:11434/v1`. Fails only when the HTTP client cannot be built.
    pub fn new(
        base_url: &str,
        model: impl Into<String>,
        api_key: Option<String>,
        options: OpenAiEmbedderOptions,
    ) -> Result<OpenAiEmbedder, EmbedError> {
        let http = http::client(&options)?;
        let model = model.into();
        Ok(OpenAiEmbedder {
            http,
            url: format!("{}/embeddings", base_url.trim_end_matches('/')),
            name: format!("openai/{model}"),
            model,
            // An empty key (an unset variable passed through) means none, not `Bearer `.
            api_key: api_key.filter(|k| !k.is_empty()),
            options,
        })
    }

    /// Replaces the label `name()` returns (by default `openai/<model>`).
    pub fn with_name(mut self, name: impl Into<String>) -> OpenAiEmbedder {
        self.name = name.into();
        self
    }

    /// The endpoint requests go to, `{base_url}/embeddings`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// One batch, retried on outages and overload.
    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        http::with_retries(&self.name, &self.options, || self.embed_once(texts)).await
    }

    async fn embed_once(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = json!({"model": self.model, "input": texts, "encoding_format": "float"});
        let mut request = self.http.post(&self.url).json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let bytes = http::send(request, &self.url).await?;
        parse_response(&bytes, texts.len())
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    #[tracing::instrument(skip_all, fields(embedder = %self.name, inputs = texts.len()))]
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.options.batch_size.max(1)) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        Ok(vectors)
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[derive(Deserialize)]
struct EmbeddingList {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    /// Some servers omit it; the position in `data` is used then.
    index: Option<usize>,
    embedding: Vec<f32>,
}

/// The vectors of a 2xx body, in input order and normalised. OpenAI documents `data` in input
/// order but also gives each item an `index`; the index is what we trust.
fn parse_response(bytes: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    let list: EmbeddingList = serde_json::from_slice(bytes)
        .map_err(|e| EmbedError::BadResponse(format!("not an embedding list: {e}")))?;
    if list.data.len() != expected {
        return Err(EmbedError::BadResponse(format!(
            "{expected} inputs but {} embeddings",
            list.data.len()
        )));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, item) in list.data.into_iter().enumerate() {
        let index = item.index.unwrap_or(position);
        let slot = slots.get_mut(index).ok_or_else(|| {
            EmbedError::BadResponse(format!("embedding index {index} out of range"))
        })?;
        if slot.is_some() {
            return Err(EmbedError::BadResponse(format!(
                "embedding index {index} repeated"
            )));
        }
        if item.embedding.is_empty() {
            return Err(EmbedError::BadResponse(format!(
                "embedding {index} is empty"
            )));
        }
        let mut vector = item.embedding;
        normalize(&mut vector);
        *slot = Some(vector);
    }
    // Every slot is filled: as many items as slots, none repeated, none out of range.
    Ok(slots.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_ordered_by_index_and_normalised() {
        let body = br#"{"data": [
            {"index": 1, "embedding": [0.0, 2.0], "object": "embedding"},
            {"index": 0, "embedding": [3.0, 4.0]}
        ], "model": "m", "usage": {}}"#;
        let vectors = parse_response(body, 2).unwrap();
        assert_eq!(vectors, vec![vec![0.6, 0.8], vec![0.0, 1.0]]);
    }

    #[test]
    fn missing_index_means_position() {
        let body = br#"{"data": [{"embedding": [1.0]}, {"embedding": [-2.0]}]}"#;
        assert_eq!(
            parse_response(body, 2).unwrap(),
            vec![vec![1.0], vec![-1.0]]
        );
    }

    #[test]
    fn wrong_counts_and_indices_are_bad_responses() {
        let bad = |body: &[u8], n| match parse_response(body, n) {
            Err(EmbedError::BadResponse(m)) => m,
            other => panic!("expected BadResponse, got {other:?}"),
        };
        assert!(bad(br#"{"data": [{"embedding": [1.0]}]}"#, 2).contains("2 inputs but 1"));
        assert!(
            bad(
                br#"{"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]}"#,
                2
            )
            .contains("repeated")
        );
        assert!(bad(br#"{"data": [{"index": 5, "embedding": [1.0]}]}"#, 1).contains("range"));
        assert!(bad(br#"{"data": [{"embedding": []}]}"#, 1).contains("empty"));
        assert!(bad(b"<html>", 1).contains("not an embedding list"));
    }
}
