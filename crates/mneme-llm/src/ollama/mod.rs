//! Ollama's native API at the server's root (`http://host:11434`): `/api/chat` (NDJSON
//! streaming), `/api/tags` and `/api/show`. Letta stores the root; a URL ending in `/v1` (the
//! OpenAI-compatible API) is accepted and its suffix dropped.

mod models;
mod request;
mod response;

use mneme_types::LlmConfig;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::access::Endpoint;
use crate::exchange;
use crate::openai::OpenAiOptions;
use crate::openai::error as shared;
use crate::retry::with_retries;
use crate::{ChatRequest, ChatResponse, ChatStream, LlmError, RemoteModel};

/// The client for Ollama servers; the endpoint (and a key, for a proxy in front) per call.
#[derive(Debug, Clone)]
pub(crate) struct OllamaClient {
    http: reqwest::Client,
    options: OpenAiOptions,
}

impl OllamaClient {
    pub(crate) fn new(http: reqwest::Client, options: OpenAiOptions) -> OllamaClient {
        OllamaClient { http, options }
    }

    /// The body a non-streaming call would send, sent nowhere.
    pub(crate) fn request_body(&self, config: &LlmConfig, request: &ChatRequest) -> Value {
        request::body(config, request, false)
    }

    pub(crate) async fn chat_at(
        &self,
        to: &Endpoint,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        let body = request::body(config, request, false);
        with_retries(&self.options.retry, || async {
            let call =
                async { response::parse_response(&self.post(to, "/api/chat", &body).await?) };
            tokio::time::timeout(self.options.request_timeout, call)
                .await
                .map_err(|_| LlmError::Timeout)?
        })
        .await
    }

    pub(crate) async fn chat_stream_at(
        &self,
        to: &Endpoint,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatStream, LlmError> {
        let body = request::body(config, request, true);
        let response =
            with_retries(&self.options.retry, || self.open_stream_once(to, &body)).await?;
        let decoder = response::NdjsonDecoder::default();
        Ok(crate::framed::stream(
            response,
            self.options.request_timeout,
            decoder,
        ))
    }

    /// `GET /api/tags`, then `POST /api/show` per model for its window and capabilities.
    pub(crate) async fn list_models(&self, to: &Endpoint) -> Result<Vec<RemoteModel>, LlmError> {
        let url = format!("{}/api/tags", root(to));
        let request = authorized(self.http.get(url), to);
        let timeout = self.options.request_timeout;
        let tags = exchange::read(request, timeout, from_status).await?;
        let names = models::parse_tags(&tags)?;
        let shows = names.iter().map(|name| self.show(to, name));
        let details = futures_util::future::join_all(shows).await;
        Ok(names
            .iter()
            .zip(details)
            .filter_map(|(name, show)| models::model(name, show.as_ref()))
            .collect())
    }

    /// A model's `/api/show` answer, or `None` when it cannot be had (the model is listed
    /// without details then).
    async fn show(&self, to: &Endpoint, name: &str) -> Option<Value> {
        let body = serde_json::json!({ "model": name });
        match self.post(to, "/api/show", &body).await {
            Ok(bytes) => serde_json::from_slice(&bytes).ok(),
            Err(error) => {
                tracing::warn!(model = name, %error, "cannot read an Ollama model's details");
                None
            }
        }
    }

    async fn post(
        &self,
        to: &Endpoint,
        path: &str,
        body: &Value,
    ) -> Result<bytes::Bytes, LlmError> {
        let url = format!("{}{path}", root(to));
        let request = authorized(self.http.post(url).json(body), to);
        exchange::read(request, self.options.request_timeout, from_status).await
    }

    async fn open_stream_once(
        &self,
        to: &Endpoint,
        body: &Value,
    ) -> Result<reqwest::Response, LlmError> {
        let url = format!("{}/api/chat", root(to));
        let request = authorized(self.http.post(url).json(body), to);
        exchange::open(request, self.options.request_timeout, from_status).await
    }
}

/// Ollama itself takes no key; one configured is for a proxy in front of it.
fn authorized(request: reqwest::RequestBuilder, to: &Endpoint) -> reqwest::RequestBuilder {
    match &to.api_key {
        Some(key) => request.bearer_auth(key),
        None => request,
    }
}

/// Ollama's errors are `{"error": "..."}`; a prompt over `num_ctx` is only said in words.
fn from_status(status: u16, headers: &HeaderMap, body: &[u8]) -> LlmError {
    let error = shared::from_status(status, headers, body);
    match error {
        LlmError::BadRequest(message) if is_context_overflow(&message) => {
            LlmError::ContextWindowExceeded(message)
        }
        other => other,
    }
}

fn is_context_overflow(message: &str) -> bool {
    let message = message.to_lowercase();
    message.contains("context length") && message.contains("exceed")
}

/// The native root: the endpoint without a trailing `/v1`.
fn root(to: &Endpoint) -> &str {
    to.kind.spec().native_base_url(Some(&to.base_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ollama_errors_are_classified() {
        let classify = |status, body: &str| from_status(status, &HeaderMap::new(), body.as_bytes());
        assert!(matches!(
            classify(
                400,
                r#"{"error":"the input length exceeds the context length"}"#
            ),
            LlmError::ContextWindowExceeded(_)
        ));
        assert_eq!(
            classify(
                404,
                r#"{"error":"model \"nope\" not found, try pulling it first"}"#
            ),
            LlmError::BadRequest("model \"nope\" not found, try pulling it first".into())
        );
        assert!(classify(500, r#"{"error":"llama runner process has terminated"}"#).is_retryable());
    }
}
