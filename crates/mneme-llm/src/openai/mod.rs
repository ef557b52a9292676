//! The OpenAI Chat Completions protocol, spoken by OpenAI and most hosted and local servers
//! (vLLM, Ollama, LM Studio, Together, Groq, DeepSeek, xAI, OpenRouter).

pub(crate) mod error;
#[cfg(test)]
mod fixture;
mod request;
mod response;
mod responses;
mod responses_stream;
mod stream;
mod wire;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mneme_types::{LlmConfig, ProviderKind};
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::access::Endpoint;
use crate::exchange;

use crate::retry::{RetryPolicy, with_retries};
use crate::{
    ChatDelta, ChatRequest, ChatResponse, ChatStream, LlmError, ReasoningBlock, RemoteModel,
};

/// Where requests go when a config names no endpoint: the registry's URL for OpenAI.
pub const OPENAI_BASE_URL: &str = match ProviderKind::Openai.spec().default_base_url {
    Some(url) => url,
    None => panic!("the registry gives OpenAI a base URL"),
};

/// OpenAI's own endpoint type, for the request details only OpenAI's API has.
const OPENAI_ENDPOINT_TYPE: &str = ProviderKind::Openai.spec().endpoint_type;

/// Timeouts and retries of an `OpenAiClient`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiOptions {
    pub retry: RetryPolicy,
    /// A whole non-streaming call; for a stream, the wait for the response headers and for
    /// each later read (a stream may run longer as long as it keeps sending).
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for OpenAiOptions {
    fn default() -> OpenAiOptions {
        OpenAiOptions {
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The Chat Completions body of `request` as the bytes sent, for the benchmark example.
#[doc(hidden)]
pub fn chat_completions_body(
    config: &LlmConfig,
    request: &ChatRequest,
    stream: bool,
) -> Result<Bytes, LlmError> {
    request::body(config, request, stream)
}

/// The HTTP client every provider client shares: building one loads the system's CA roots,
/// which costs milliseconds of start-up, so it is built once.
pub(crate) fn http_client(options: &OpenAiOptions) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .user_agent(concat!("mneme/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LlmError::Connection(format!("cannot build the HTTP client: {e}")))
}

/// The client for OpenAI-compatible servers; the endpoint and key come with each call.
#[derive(Debug, Clone)]
pub struct OpenAiClient {
    http: reqwest::Client,
    options: OpenAiOptions,
    /// Base URLs that answered 404 to `/responses`: later calls go straight to Chat
    /// Completions instead of paying a refused request each time.
    without_responses: Arc<Mutex<HashSet<String>>>,
}

impl OpenAiClient {
    /// Fails only when the HTTP client cannot be built (its TLS backend failed to load).
    pub fn new(options: OpenAiOptions) -> Result<OpenAiClient, LlmError> {
        Ok(OpenAiClient::with_http(http_client(&options)?, options))
    }

    /// A client over a shared connection pool.
    pub(crate) fn with_http(http: reqwest::Client, options: OpenAiOptions) -> OpenAiClient {
        OpenAiClient {
            http,
            options,
            without_responses: Arc::default(),
        }
    }

    pub fn options(&self) -> &OpenAiOptions {
        &self.options
    }

    /// OpenAI's own reasoning models (o1, o3, o4, gpt-5) go through the Responses API, which
    /// returns their reasoning, unless this server was found without it; any other server or
    /// model through Chat Completions.
    fn uses_responses(&self, to: &Endpoint, config: &LlmConfig) -> bool {
        let known_without = || {
            let without = self.without_responses.lock();
            without.is_ok_and(|w| w.contains(&to.base_url))
        };
        to.kind == ProviderKind::Openai
            && request::is_openai_reasoning_model(config)
            && !known_without()
    }

    fn lacks_responses(&self, to: &Endpoint) {
        tracing::info!(base_url = %to.base_url, "no Responses API here; using Chat Completions");
        if let Ok(mut without) = self.without_responses.lock() {
            without.insert(to.base_url.clone());
        }
    }

    /// The API a call to `to` goes through and the body it sends, decided here for calls and
    /// previews alike: OpenAI's reasoning models through the Responses API unless this server
    /// was found without it, everything else through Chat Completions.
    fn prepare(
        &self,
        to: &Endpoint,
        config: &LlmConfig,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<(Api, Bytes), LlmError> {
        match self.uses_responses(to, config) {
            true => Ok((Api::Responses, responses::body(config, request, stream)?)),
            false => Ok((Api::Chat, request::body(config, request, stream)?)),
        }
    }

    /// The body a non-streaming call to `to` would send now, sent nowhere.
    pub(crate) fn request_body(
        &self,
        to: &Endpoint,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<Value, LlmError> {
        let (_, body) = self.prepare(to, config, request, false)?;
        serde_json::from_slice(&body).map_err(|e| {
            LlmError::InvalidResponse(format!("the request body built is not JSON: {e}"))
        })
    }

    /// A non-streaming call to `to` (the router resolved it from the config).
    pub(crate) async fn chat_at(
        &self,
        to: &Endpoint,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        let (api, body) = self.prepare(to, config, request, false)?;
        match self.complete(Target::new(to, config, api), &body).await {
            Err(error) if api == Api::Responses && is_missing_endpoint(&error) => {
                self.lacks_responses(to);
                let body = request::body(config, request, false)?;
                self.complete(Target::new(to, config, Api::Chat), &body)
                    .await
            }
            outcome => outcome,
        }
    }

    /// A streaming call to `to`.
    pub(crate) async fn chat_stream_at(
        &self,
        to: &Endpoint,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatStream, LlmError> {
        let (api, body) = self.prepare(to, config, request, true)?;
        match self.open_stream(Target::new(to, config, api), &body).await {
            Err(error) if api == Api::Responses && is_missing_endpoint(&error) => {
                self.lacks_responses(to);
                let body = request::body(config, request, true)?;
                self.open_stream(Target::new(to, config, Api::Chat), &body)
                    .await
            }
            outcome => outcome,
        }
    }

    /// `GET /models`: every id the server lists, as a chat model unless its name says it
    /// embeds.
    pub(crate) async fn list_models(&self, to: &Endpoint) -> Result<Vec<RemoteModel>, LlmError> {
        let request = authorized(self.http.get(models_url(to)), to);
        let timeout = self.options.request_timeout;
        let bytes = exchange::read(request, timeout, error::from_status).await?;
        response::parse_model_list(&bytes)
    }

    #[tracing::instrument(skip_all, fields(provider = %to.config.model_endpoint_type, model = %to.config.model))]
    async fn complete(&self, to: Target<'_>, body: &Bytes) -> Result<ChatResponse, LlmError> {
        with_retries(&self.options.retry, || self.complete_once(to, body)).await
    }

    async fn complete_once(&self, to: Target<'_>, body: &Bytes) -> Result<ChatResponse, LlmError> {
        let timeout = self.options.request_timeout;
        let bytes = exchange::read(self.post(to, body), timeout, to.api.classify()).await?;
        let mut response = to.api.parse(&bytes)?;
        response.exchange = Some(crate::Exchange {
            request: body.clone(),
            response: bytes,
        });
        Ok(response)
    }

    #[tracing::instrument(skip_all, fields(provider = %to.config.model_endpoint_type, model = %to.config.model))]
    async fn open_stream(&self, to: Target<'_>, body: &Bytes) -> Result<ChatStream, LlmError> {
        let response =
            with_retries(&self.options.retry, || self.open_stream_once(to, body)).await?;
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            // A server that ignored `stream: true` answered with a whole completion.
            let bytes = response
                .bytes()
                .await
                .map_err(|e| error::from_reqwest(&e))?;
            let mut whole = to.api.parse(&bytes)?;
            whole.exchange = Some(crate::Exchange {
                request: body.clone(),
                response: bytes,
            });
            return Ok(deltas_of(whole));
        }
        let idle = self.options.request_timeout;
        let request = body.clone();
        Ok(match to.api {
            Api::Chat => stream::deltas(response, idle, request),
            Api::Responses => responses_stream::deltas(response, idle, request),
        })
    }

    /// Sends the request and waits for a 2xx status; errors before the body starts are
    /// retried like non-streaming calls.
    async fn open_stream_once(
        &self,
        to: Target<'_>,
        body: &Bytes,
    ) -> Result<reqwest::Response, LlmError> {
        let timeout = self.options.request_timeout;
        exchange::open(self.post(to, body), timeout, to.api.classify()).await
    }

    fn post(&self, to: Target<'_>, body: &Bytes) -> reqwest::RequestBuilder {
        let url = match to.api {
            Api::Chat => chat_url(to.to, &to.config.model),
            Api::Responses => format!("{}/responses", to.to.base_url),
        };
        // The bytes are shared, not copied, by each attempt.
        let request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone());
        authorized(request, to.to)
    }
}

/// Azure OpenAI's `api-version` of chat calls: the endpoint's, else Letta's default.
fn azure_version(to: &Endpoint) -> &str {
    to.api_version
        .as_deref()
        .unwrap_or(mneme_types::AZURE_DEFAULT_API_VERSION)
}

/// Where a chat completion goes: `/chat/completions`, or for Azure OpenAI the deployment
/// named by the model, with its `api-version`.
fn chat_url(to: &Endpoint, model: &str) -> String {
    if to.kind == ProviderKind::Azure {
        format!(
            "{}/openai/deployments/{model}/chat/completions?api-version={}",
            to.base_url,
            azure_version(to)
        )
    } else {
        format!("{}/chat/completions", to.base_url)
    }
}

/// Where the model list is: `/models`, or Azure's deployments (the names chat calls take;
/// only this `api-version` lists them, as Letta notes).
fn models_url(to: &Endpoint) -> String {
    if to.kind == ProviderKind::Azure {
        format!(
            "{}/openai/deployments?api-version=2023-03-15-preview",
            to.base_url
        )
    } else {
        format!("{}/models", to.base_url)
    }
}

/// The key as a bearer token, or in Azure's `api-key` header.
fn authorized(request: reqwest::RequestBuilder, to: &Endpoint) -> reqwest::RequestBuilder {
    match &to.api_key {
        Some(key) if to.kind == ProviderKind::Azure => request.header("api-key", key),
        Some(key) => request.bearer_auth(key),
        None => request,
    }
}

#[cfg(test)]
mod azure_tests {
    use super::*;

    fn endpoint(kind: ProviderKind, version: Option<&str>) -> Endpoint {
        Endpoint {
            kind,
            base_url: "https://res.openai.azure.com".into(),
            api_key: Some("az-key".into()),
            api_version: version.map(str::to_owned),
        }
    }

    #[test]
    fn azure_calls_go_to_the_deployment_with_the_api_version_and_header() {
        let azure = endpoint(ProviderKind::Azure, Some("2024-10-21"));
        assert_eq!(
            chat_url(&azure, "gpt4o-prod"),
            "https://res.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
        );
        let default = endpoint(ProviderKind::Azure, None);
        assert!(chat_url(&default, "m").ends_with("api-version=2024-09-01-preview"));
        assert_eq!(
            models_url(&azure),
            "https://res.openai.azure.com/openai/deployments?api-version=2023-03-15-preview"
        );
        let openai = endpoint(ProviderKind::Openai, None);
        assert_eq!(
            chat_url(&openai, "m"),
            "https://res.openai.azure.com/chat/completions"
        );

        let http = reqwest::Client::new();
        let built = authorized(http.get("http://x/"), &azure).build().unwrap();
        assert_eq!(built.headers()["api-key"], "az-key");
        assert!(built.headers().get("authorization").is_none());
        let built = authorized(http.get("http://x/"), &openai).build().unwrap();
        assert_eq!(built.headers()["authorization"], "Bearer az-key");
    }
}

/// Where a call goes, for which config (its model), through which API.
#[derive(Clone, Copy)]
struct Target<'a> {
    to: &'a Endpoint,
    config: &'a LlmConfig,
    api: Api,
}

impl<'a> Target<'a> {
    fn new(to: &'a Endpoint, config: &'a LlmConfig, api: Api) -> Target<'a> {
        Target { to, config, api }
    }
}

/// Chat Completions, or the Responses API Letta uses for OpenAI's reasoning models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Chat,
    Responses,
}

/// How the error of a `/responses` call that the server does not have begins.
const NO_RESPONSES_API: &str = "the server has no Responses API";

impl Api {
    /// How a failure status reads: a `/responses` the server does not have is a 404 of its
    /// own, so the call can go again through Chat Completions.
    fn classify(self) -> exchange::Classify {
        match self {
            Api::Chat => error::from_status,
            Api::Responses => |status, headers, body| match status {
                404 => LlmError::BadRequest(format!("{NO_RESPONSES_API} (HTTP 404)")),
                _ => error::from_status(status, headers, body),
            },
        }
    }

    fn parse(self, body: &[u8]) -> Result<ChatResponse, LlmError> {
        match self {
            Api::Chat => response::parse_completion(body),
            Api::Responses => responses::parse(body),
        }
    }
}

/// A server behind `OPENAI_BASE_URL` that has no `/responses` (a proxy or a local server
/// answering for OpenAI): the call is made again through Chat Completions.
fn is_missing_endpoint(error: &LlmError) -> bool {
    matches!(error, LlmError::BadRequest(message) if message.starts_with(NO_RESPONSES_API))
}

/// A whole response as the deltas a stream would have carried.
pub(crate) fn deltas_of(response: ChatResponse) -> ChatStream {
    let mut deltas: Vec<ChatDelta> = Vec::new();
    for block in response.reasoning {
        match block {
            ReasoningBlock::Text { text, signature } => {
                deltas.push(ChatDelta::Reasoning(text));
                deltas.extend(signature.map(ChatDelta::ReasoningSignature));
            }
            ReasoningBlock::Redacted { data } => deltas.push(ChatDelta::RedactedReasoning(data)),
        }
    }
    deltas.extend(response.content.map(ChatDelta::Content));
    for (index, call) in response.tool_calls.into_iter().enumerate() {
        deltas.push(ChatDelta::ToolCall {
            index,
            id: Some(call.id),
            name: Some(call.name),
            arguments: call.arguments,
        });
    }
    deltas.extend(response.exchange.map(ChatDelta::Exchange));
    deltas.push(ChatDelta::Done {
        finish_reason: response.finish_reason,
        usage: response.usage,
    });
    Box::pin(futures_util::stream::iter(deltas.into_iter().map(Ok)))
}
