//! LLM providers behind one trait. A provider turns a provider-neutral `ChatRequest` into its
//! wire protocol and back; retries, timeouts and error classification happen here so that the
//! step loop sees one error type.

mod assemble;
mod openai;
mod retry;
mod router;
mod sse;

pub use assemble::{ChatResponseBuilder, assemble, collect_stream};
pub use openai::{OPENAI_BASE_URL, OpenAiClient, OpenAiOptions};
pub use retry::RetryPolicy;
pub use router::LlmRouter;

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;
use mneme_types::LlmConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request to a chat model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSchema>,
    pub tool_choice: ToolChoice,
}

/// A message in the provider-neutral form the step loop builds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum ChatMessage {
    System {
        content: String,
    },
    User {
        content: String,
    },
    Assistant {
        content: Option<String>,
        tool_calls: Vec<ToolCall>,
    },
    Tool {
        tool_call_id: String,
        content: String,
    },
}

/// A function the model may call: name, description and JSON-schema parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSchema {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToolChoice {
    /// The model may answer in text or call tools.
    Auto,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Named(String),
    /// No tool calls.
    None,
}

/// A tool call as the model produced it; `arguments` is the raw JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// A complete model response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatResponse {
    pub content: Option<String>,
    /// Native reasoning text, when the provider returns it.
    pub reasoning: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<String>,
    pub usage: Usage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub cached_input_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
}

/// A piece of a streamed response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChatDelta {
    Content(String),
    Reasoning(String),
    /// A fragment of tool call `index`: `id` and `name` usually arrive with the first fragment.
    ToolCall {
        index: usize,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    /// The end of the stream, with what the provider reported.
    Done {
        finish_reason: Option<String>,
        usage: Usage,
    },
}

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
}
