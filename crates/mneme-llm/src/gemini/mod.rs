//! Google's Gemini API (`generativelanguage.googleapis.com`): `generateContent`,
//! `streamGenerateContent?alt=sse` and the model list, with the key in `x-goog-api-key`.

pub(crate) mod error;
mod request;
mod response;
mod schema;
mod stream;

use mneme_types::LlmConfig;
use serde_json::Value;

use crate::access::Endpoint;
use crate::exchange;
use crate::openai::OpenAiOptions;
use crate::retry::with_retries;
use crate::{ChatRequest, ChatResponse, ChatStream, LlmError, RemoteModel};

/// The header Gemini reads the API key from (a `?key=` query would put it in logged URLs).
const KEY_HEADER: &str = "x-goog-api-key";

/// Models asked per page of the model list (Gemini's maximum).
const PAGE_SIZE: u32 = 1000;

/// The client for the Gemini API; the endpoint and key come with each call.
#[derive(Debug, Clone)]
pub(crate) struct GeminiClient {
    http: reqwest::Client,
    options: OpenAiOptions,
}

impl GeminiClient {
    pub(crate) fn new(http: reqwest::Client, options: OpenAiOptions) -> GeminiClient {
        GeminiClient { http, options }
    }

    /// The body a call would send (both of Gemini's calls send the same), sent nowhere.
    pub(crate) fn request_body(&self, config: &LlmConfig, request: &ChatRequest) -> Value {
        request::body(config, request)
    }

    pub(crate) async fn chat_at(
        &self,
        to: &Endpoint,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        let body = request::body(config, request);
        let url = model_url(to, &config.model, "generateContent");
        with_retries(&self.options.retry, || self.complete_once(to, &url, &body)).await
    }

    pub(crate) async fn chat_stream_at(
        &self,
        to: &Endpoint,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatStream, LlmError> {
        let body = request::body(config, request);
        let url = format!(
            "{}?alt=sse",
            model_url(to, &config.model, "streamGenerateContent")
        );
        let response = with_retries(&self.options.retry, || {
            self.open_stream_once(to, &url, &body)
        })
        .await?;
        let idle = self.options.request_timeout;
        let chunks = response::ChunkDecoder::default();
        Ok(crate::sse_stream::decoded(response, idle, chunks))
    }

    /// `GET /v1beta/models`, every page.
    pub(crate) async fn list_models(&self, to: &Endpoint) -> Result<Vec<RemoteModel>, LlmError> {
        let mut models = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = format!("{}/v1beta/models?pageSize={PAGE_SIZE}", root(to));
            if let Some(token) = &page_token {
                url.push_str("&pageToken=");
                url.push_str(&percent_encode(token));
            }
            let request = keyed(self.http.get(url), to);
            let timeout = self.options.request_timeout;
            let bytes = exchange::read(request, timeout, error::from_status).await?;
            let (page, next) = response::parse_model_page(&bytes)?;
            models.extend(page);
            match next {
                // A server that repeats its token would page forever.
                Some(next) if page_token.as_ref() != Some(&next) => page_token = Some(next),
                _ => return Ok(models),
            }
        }
    }

    async fn complete_once(
        &self,
        to: &Endpoint,
        url: &str,
        body: &Value,
    ) -> Result<ChatResponse, LlmError> {
        let request = keyed(self.http.post(url).json(body), to);
        let timeout = self.options.request_timeout;
        let bytes = exchange::read(request, timeout, error::from_status).await?;
        response::parse_response(&bytes)
    }

    async fn open_stream_once(
        &self,
        to: &Endpoint,
        url: &str,
        body: &Value,
    ) -> Result<reqwest::Response, LlmError> {
        let request = keyed(self.http.post(url).json(body), to);
        let timeout = self.options.request_timeout;
        exchange::open(request, timeout, error::from_status).await
    }
}

fn keyed(request: reqwest::RequestBuilder, to: &Endpoint) -> reqwest::RequestBuilder {
    match &to.api_key {
        Some(key) => request.header(KEY_HEADER, key),
        None => request,
    }
}

/// The API root: users set the host (as Letta stores it) or the host with `/v1beta`.
pub(crate) fn root(to: &Endpoint) -> &str {
    let base = to.base_url.trim_end_matches('/');
    base.strip_suffix("/v1beta").unwrap_or(base)
}

/// `{root}/v1beta/models/{model}:{method}`; a model spelled `models/x` is accepted too.
fn model_url(to: &Endpoint, model: &str, method: &str) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    format!(
        "{}/v1beta/models/{}:{method}",
        root(to),
        percent_encode(model)
    )
}

/// Escapes what cannot stand in a path segment or query value as is.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_types::ProviderKind;

    fn endpoint(base: &str) -> Endpoint {
        Endpoint {
            kind: ProviderKind::GoogleAi,
            base_url: base.into(),
            api_key: None,
            api_version: None,
        }
    }

    #[test]
    fn urls_accept_the_host_or_the_versioned_root() {
        for base in [
            "https://g.example",
            "https://g.example/",
            "https://g.example/v1beta",
        ] {
            assert_eq!(
                model_url(
                    &endpoint(base),
                    "models/gemini-2.5-flash",
                    "generateContent"
                ),
                "https://g.example/v1beta/models/gemini-2.5-flash:generateContent"
            );
        }
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }
}
