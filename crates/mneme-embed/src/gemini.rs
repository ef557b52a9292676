//! `GeminiEmbedder`: Gemini's `models/{model}:batchEmbedContents`, key in `x-goog-api-key`,
//! the vector size asked with `outputDimensionality` so that it matches the config's
//! `embedding_dim` whatever the model's default (3072 for gemini-embedding-001).

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::{EmbedError, Embedder, OpenAiEmbedderOptions, http, normalize};

/// Gemini takes at most this many texts per batch request.
const MAX_BATCH: usize = 100;

/// An `Embedder` for one Gemini embedding model.
pub struct GeminiEmbedder {
    http: reqwest::Client,
    /// `{root}/v1beta/models/{model}:batchEmbedContents`.
    url: String,
    /// `models/{model}`, as each request of the batch names it.
    model: String,
    api_key: Option<String>,
    dimensions: Option<u32>,
    name: String,
    options: OpenAiEmbedderOptions,
}

impl GeminiEmbedder {
    /// `base_url` is the API host (`https://generativelanguage.googleapis.com`, with or
    /// without `/v1beta`). Fails only when the HTTP client cannot be built.
    pub fn new(
        base_url: &str,
        model: &str,
        api_key: Option<String>,
        dimensions: Option<u32>,
        options: OpenAiEmbedderOptions,
    ) -> Result<GeminiEmbedder, EmbedError> {
        let root = base_url.trim_end_matches('/');
        let root = root.strip_suffix("/v1beta").unwrap_or(root);
        let model = model.strip_prefix("models/").unwrap_or(model);
        Ok(GeminiEmbedder {
            http: http::client(&options)?,
            url: format!("{root}/v1beta/models/{model}:batchEmbedContents"),
            model: format!("models/{model}"),
            api_key: api_key.filter(|k| !k.is_empty()),
            dimensions: dimensions.filter(|d| *d > 0),
            name: format!("google_ai/{model}"),
            options,
        })
    }

    /// The endpoint requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn embed_once(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let requests: Vec<Value> = texts
            .iter()
            .map(|text| {
                let mut request =
                    json!({"model": self.model, "content": {"parts": [{"text": text}]}});
                if let Some(dimensions) = self.dimensions {
                    request["outputDimensionality"] = json!(dimensions);
                }
                request
            })
            .collect();
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({"requests": requests}));
        if let Some(key) = &self.api_key {
            request = request.header("x-goog-api-key", key);
        }
        let bytes = http::send(request, &self.url).await?;
        parse_response(&bytes, texts.len())
    }
}

#[async_trait]
impl Embedder for GeminiEmbedder {
    #[tracing::instrument(skip_all, fields(embedder = %self.name, inputs = texts.len()))]
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        let size = self.options.batch_size.clamp(1, MAX_BATCH);
        for batch in texts.chunks(size) {
            let attempt = || self.embed_once(batch);
            vectors.extend(http::with_retries(&self.name, &self.options, attempt).await?);
        }
        Ok(vectors)
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// `{"embeddings": [{"values": [...]}, ...]}`, in input order, normalised (Gemini's vectors
/// cut to a smaller `outputDimensionality` are not unit length).
fn parse_response(bytes: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| EmbedError::BadResponse(format!("not JSON: {e}")))?;
    let Some(items) = body["embeddings"].as_array() else {
        return Err(EmbedError::BadResponse("no `embeddings` list".to_owned()));
    };
    if items.len() != expected {
        return Err(EmbedError::BadResponse(format!(
            "{expected} inputs but {} embeddings",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let values = item["values"].as_array().filter(|v| !v.is_empty());
            let values = values.ok_or_else(|| {
                EmbedError::BadResponse(format!("embedding {index} has no values"))
            })?;
            let mut vector: Vec<f32> = values
                .iter()
                .map(|v| v.as_f64().map(|x| x as f32))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    EmbedError::BadResponse(format!("embedding {index} is not numbers"))
                })?;
            normalize(&mut vector);
            Ok(vector)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_read_in_order_and_normalised() {
        let body = br#"{"embeddings": [{"values": [3.0, 4.0]}, {"values": [0.0, 2.0]}]}"#;
        assert_eq!(
            parse_response(body, 2).unwrap(),
            vec![vec![0.6, 0.8], vec![0.0, 1.0]]
        );
        let bad =
            |body: &[u8], n| matches!(parse_response(body, n), Err(EmbedError::BadResponse(_)));
        assert!(bad(br#"{"embeddings": [{"values": [1.0]}]}"#, 2));
        assert!(bad(br#"{"embeddings": [{"values": []}]}"#, 1));
        assert!(bad(br#"{"embeddings": [{"values": ["x"]}]}"#, 1));
        assert!(bad(br#"{"embedding": {"values": [1.0]}}"#, 1));
    }

    #[test]
    fn the_url_takes_the_host_or_the_versioned_root() {
        let options = OpenAiEmbedderOptions::default();
        for base in ["https://g.example", "https://g.example/v1beta/"] {
            let embedder = GeminiEmbedder::new(
                base,
                "models/text-embedding-004",
                None,
                Some(768),
                options.clone(),
            )
            .unwrap();
            assert_eq!(
                embedder.url(),
                "https://g.example/v1beta/models/text-embedding-004:batchEmbedContents"
            );
            assert_eq!(embedder.name(), "google_ai/text-embedding-004");
        }
    }
}
