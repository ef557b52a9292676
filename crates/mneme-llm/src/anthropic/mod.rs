//! Anthropic's Messages API (`POST {base}/messages`): tool use, extended thinking with signed
//! blocks sent back on later turns, prompt-cache breakpoints, streaming.

mod error;
mod messages;
mod request;
mod response;
mod stream;

use crate::access::Endpoint;
use crate::exchange;
use crate::openai::error::from_reqwest;
use crate::openai::{OpenAiOptions, deltas_of};
use crate::retry::with_retries;
use crate::{ChatRequest, ChatResponse, ChatStream, LlmError, RemoteModel};
use mneme_types::LlmConfig;
use request::Prepared;
use reqwest::header::HeaderValue;
use serde_json::Value;

/// The API version every request names (the only one Anthropic has published).
const API_VERSION: &str = "2023-06-01";

/// Lets Claude 4 think between tool calls when thinking has a budget (Letta sends it too).
const INTERLEAVED_THINKING_BETA: &str = "interleaved-thinking-2025-05-14";

/// The client for Anthropic; the endpoint and key come with each call. Timeouts and retries
/// are the same options as the OpenAI client's.
#[derive(Debug, Clone)]
pub(crate) struct AnthropicClient {
    http: reqwest::Client,
    options: OpenAiOptions,
}

impl AnthropicClient {
    pub(crate) fn new(http: reqwest::Client, options: OpenAiOptions) -> AnthropicClient {
        AnthropicClient { http, options }
    }

    /// The body a non-streaming call would send, sent nowhere.
    pub(crate) fn request_body(&self, config: &LlmConfig, request: &ChatRequest) -> Value {
        request::prepare(config, request, false).body
    }

    pub(crate) async fn chat_at(
        &self,
        to: &Endpoint,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        let prepared = request::prepare(config, request, false);
        let call = || self.complete_once(to, &prepared);
        with_retries(&self.options.retry, call).await
    }

    pub(crate) async fn chat_stream_at(
        &self,
        to: &Endpoint,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatStream, LlmError> {
        let prepared = request::prepare(config, request, true);
        let open = || self.open_stream_once(to, &prepared);
        let response = with_retries(&self.options.retry, open).await?;
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            // A proxy that ignored `stream: true` answered with a whole message.
            let bytes = response.bytes().await.map_err(|e| from_reqwest(&e))?;
            let message = response::parse_message(&bytes, prepared.answer_tool)?;
            return Ok(deltas_of(message));
        }
        let idle = self.options.request_timeout;
        Ok(stream::deltas(response, idle, prepared.answer_tool))
    }

    /// `GET {base}/models`: every model the key can use.
    pub(crate) async fn list_models(&self, to: &Endpoint) -> Result<Vec<RemoteModel>, LlmError> {
        let url = format!("{}/models?limit=1000", api_root(&to.base_url));
        let request = self.authorized(self.http.get(url), to);
        let timeout = self.options.request_timeout;
        let bytes = exchange::read(request, timeout, error::from_status).await?;
        response::parse_model_list(&bytes)
    }

    #[tracing::instrument(skip_all, fields(provider = "anthropic"))]
    async fn complete_once(
        &self,
        to: &Endpoint,
        prepared: &Prepared,
    ) -> Result<ChatResponse, LlmError> {
        let timeout = self.options.request_timeout;
        let request = self.post(to, prepared);
        let bytes = exchange::read(request, timeout, error::from_status).await?;
        response::parse_message(&bytes, prepared.answer_tool)
    }

    /// Sends the request and waits for a 2xx status; errors before the body starts are
    /// retried like non-streaming calls.
    #[tracing::instrument(skip_all, fields(provider = "anthropic"))]
    async fn open_stream_once(
        &self,
        to: &Endpoint,
        prepared: &Prepared,
    ) -> Result<reqwest::Response, LlmError> {
        let timeout = self.options.request_timeout;
        exchange::open(self.post(to, prepared), timeout, error::from_status).await
    }

    fn post(&self, to: &Endpoint, prepared: &Prepared) -> reqwest::RequestBuilder {
        let url = format!("{}/messages", api_root(&to.base_url));
        let mut request = self
            .authorized(self.http.post(url), to)
            .json(&prepared.body);
        if prepared.interleaved_thinking {
            request = request.header("anthropic-beta", INTERLEAVED_THINKING_BETA);
        }
        request
    }

    fn authorized(
        &self,
        request: reqwest::RequestBuilder,
        to: &Endpoint,
    ) -> reqwest::RequestBuilder {
        let request = request.header("anthropic-version", API_VERSION);
        let key = to.api_key.as_deref().map(HeaderValue::from_str);
        match key {
            Some(Ok(mut key)) => {
                // Kept out of any Debug output of the request.
                key.set_sensitive(true);
                request.header("x-api-key", key)
            }
            // A key that is not a valid header value: sent without, Anthropic answers 401.
            Some(Err(_)) | None => request,
        }
    }
}

/// The API root with its version: `ANTHROPIC_BASE_URL` is often set the way Anthropic's own
/// SDKs take it, without `/v1` (`https://api.anthropic.com`).
fn api_root(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base.ends_with("/v1") {
        base.to_owned()
    } else {
        format!("{base}/v1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_root_gets_its_version_once() {
        assert_eq!(
            api_root("https://api.anthropic.com"),
            "https://api.anthropic.com/v1"
        );
        assert_eq!(
            api_root("https://api.anthropic.com/v1/"),
            "https://api.anthropic.com/v1"
        );
        assert_eq!(api_root("http://127.0.0.1:9/v1"), "http://127.0.0.1:9/v1");
    }
}
