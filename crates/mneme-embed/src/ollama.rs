//! `OllamaEmbedder`: Ollama's native `POST /api/embed` at the server's root (a URL given with
//! the OpenAI-compatible `/v1` is accepted and the suffix dropped).

use async_trait::async_trait;
use serde_json::json;

use crate::{EmbedError, Embedder, OpenAiEmbedderOptions, http, normalize};

/// An `Embedder` for one model on one Ollama server.
pub struct OllamaEmbedder {
    http: reqwest::Client,
    /// `{root}/api/embed`.
    url: String,
    model: String,
    /// For a proxy in front of Ollama; Ollama itself takes none.
    api_key: Option<String>,
    name: String,
    options: OpenAiEmbedderOptions,
}

impl OllamaEmbedder {
    /// Fails only when the HTTP client cannot be built.
    pub fn new(
        base_url: &str,
        model: impl Into<String>,
        api_key: Option<String>,
        options: OpenAiEmbedderOptions,
    ) -> Result<OllamaEmbedder, EmbedError> {
        let root = mneme_types::ProviderKind::Ollama
            .spec()
            .native_base_url(Some(base_url));
        let model = model.into();
        Ok(OllamaEmbedder {
            http: http::client(&options)?,
            url: format!("{root}/api/embed"),
            name: format!("ollama/{model}"),
            model,
            api_key: api_key.filter(|k| !k.is_empty()),
            options,
        })
    }

    /// The endpoint requests go to, `{root}/api/embed`.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn embed_once(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = json!({"model": self.model, "input": texts});
        let mut request = self.http.post(&self.url).json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let bytes = http::send(request, &self.url).await?;
        parse_response(&bytes, texts.len())
    }
}

#[async_trait]
impl Embedder for OllamaEmbedder {
    #[tracing::instrument(skip_all, fields(embedder = %self.name, inputs = texts.len()))]
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.options.batch_size.max(1)) {
            let attempt = || self.embed_once(batch);
            vectors.extend(http::with_retries(&self.name, &self.options, attempt).await?);
        }
        Ok(vectors)
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// `{"embeddings": [[...], ...]}` in input order (Ollama normalises already; once more is
/// harmless and keeps the crate's promise for any server).
fn parse_response(bytes: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    #[derive(serde::Deserialize)]
    struct Embeddings {
        embeddings: Vec<Vec<f32>>,
    }
    let body: Embeddings = serde_json::from_slice(bytes)
        .map_err(|e| EmbedError::BadResponse(format!("not an embedding list: {e}")))?;
    if body.embeddings.len() != expected {
        return Err(EmbedError::BadResponse(format!(
            "{expected} inputs but {} embeddings",
            body.embeddings.len()
        )));
    }
    body.embeddings
        .into_iter()
        .enumerate()
        .map(|(index, mut vector)| {
            if vector.is_empty() {
                return Err(EmbedError::BadResponse(format!(
                    "embedding {index} is empty"
                )));
            }
            normalize(&mut vector);
            Ok(vector)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_read_and_counted() {
        let body = br#"{"model": "m", "embeddings": [[3.0, 4.0], [1.0, 0.0]]}"#;
        assert_eq!(
            parse_response(body, 2).unwrap(),
            vec![vec![0.6, 0.8], vec![1.0, 0.0]]
        );
        assert!(matches!(
            parse_response(body, 3),
            Err(EmbedError::BadResponse(_))
        ));
        assert!(matches!(
            parse_response(br#"{"embeddings": [[]]}"#, 1),
            Err(EmbedError::BadResponse(_))
        ));
    }

    #[test]
    fn the_root_is_used_even_when_given_with_v1() {
        let options = OpenAiEmbedderOptions::default();
        let embedder =
            OllamaEmbedder::new("http://h:11434/v1/", "nomic-embed-text", None, options).unwrap();
        assert_eq!(embedder.url(), "http://h:11434/api/embed");
    }
}
