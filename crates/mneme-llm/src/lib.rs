//! LLM providers behind one trait. A provider turns a provider-neutral `ChatRequest` into its
//! wire protocol and back; retries, timeouts and error classification happen here so that the
//! step loop sees one error type.
//!
//! Each provider's spelling (field names, finish reasons, endpoint types) stays in its own
//! module (`openai/`, `anthropic/`, `gemini/`, `ollama/`); which endpoint type goes to which
//! client is the registry's (`mneme_types::provider`), read by `LlmRouter`.

mod access;
mod anthropic;
mod assemble;
mod exchange;
mod framed;
mod gemini;
mod ollama;
mod openai;
mod retry;
mod router;
mod sse_stream;
pub mod tokens;
mod types;
mod vision;

pub use access::{AccessTable, Endpoint, ProviderAccess};
pub use assemble::{ChatResponseBuilder, assemble, collect_stream};
#[doc(hidden)]
pub use openai::chat_completions_body;
pub use openai::{OPENAI_BASE_URL, OpenAiClient, OpenAiOptions};
pub use retry::RetryPolicy;
pub use router::LlmRouter;
pub use types::{
    ChatDelta, ChatMessage, ChatRequest, ChatResponse, Content, ContentPart, Exchange,
    FinishReason, ImageSource, ModelKind, ReasoningBlock, RemoteModel, ResponseFormat, ToolCall,
    ToolChoice, ToolSchema, Usage,
};
pub use vision::{IMAGE_PLACEHOLDER, accepts_images, without_images};

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;
use mneme_types::LlmConfig;

pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatDelta, LlmError>> + Send>>;

/// What can go wrong talking to a model, classified for stop reasons and retries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("rate limited by the provider: {message}")]
    RateLimited {
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("the provider is unavailable ({status}): {message}")]
    Unavailable { status: u16, message: String },
    #[error("the prompt exceeds the model's context window: {0}")]
    ContextWindowExceeded(String),
    #[error("the provider rejected the credentials: {0}")]
    Authentication(String),
    #[error("the provider rejected the request: {0}")]
    BadRequest(String),
    #[error("the model request timed out")]
    Timeout,
    #[error("cannot reach the provider: {0}")]
    Connection(String),
    #[error("the provider's response could not be read: {0}")]
    InvalidResponse(String),
    #[error("provider '{0}' is not supported yet")]
    Unsupported(String),
}

impl LlmError {
    /// Worth another attempt with backoff.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited { .. }
                | LlmError::Unavailable { .. }
                | LlmError::Timeout
                | LlmError::Connection(_)
        )
    }
}

/// A chat model provider. `config` says which model and endpoint; the implementation holds the
/// credentials.
#[async_trait]
pub trait LlmClient: Send + Sync {
    async fn chat(
        &self,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError>;

    /// Streams the response. The stream ends with `ChatDelta::Done` on success.
    async fn chat_stream(
        &self,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatStream, LlmError>;

    /// The body `chat` would send for `request` now, as JSON, sent nowhere (Letta's
    /// `preview-raw-payload`). Implementations build it with the code their `chat` uses, so
    /// that a preview cannot differ from a call.
    fn request_body(
        &self,
        config: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<serde_json::Value, LlmError>;
}
