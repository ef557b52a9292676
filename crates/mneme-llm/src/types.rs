//! The provider-neutral request and response types. Provider modules translate them to and
//! from their wire; nothing here spells a provider's field names or values.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request to a chat model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The system prompt, apart from the history: some providers take it as a message, others
    /// as a field of their own.
    pub system: Option<String>,
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSchema>,
    pub tool_choice: ToolChoice,
    /// The shape the final answer must take; `None` is free text.
    pub response_format: Option<ResponseFormat>,
}

/// Letta's `response_format`: what the model's answer must be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON valid against `schema`.
    JsonSchema {
        name: String,
        schema: Value,
        strict: bool,
    },
}

/// A message of the history, in the provider-neutral form the step loop builds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum ChatMessage {
    /// A system message inside the history (Letta accepts input with role `system`); the
    /// agent's system prompt is `ChatRequest::system`.
    System {
        content: String,
    },
    User {
        content: Content,
    },
    Assistant {
        content: Option<String>,
        /// The model's earlier reasoning, for providers that want it back (with its signature).
        reasoning: Vec<ReasoningBlock>,
        tool_calls: Vec<ToolCall>,
    },
    /// A tool's result: text, or parts (text and images) for tools that return images.
    Tool {
        tool_call_id: String,
        content: Content,
    },
}

impl ChatMessage {
    /// A user message of plain text.
    pub fn user(text: impl Into<String>) -> ChatMessage {
        ChatMessage::User {
            content: Content::Text(text.into()),
        }
    }
}

/// What a user message holds: plain text (the common case, kept without a list around it), or
/// parts such as text and images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl Content {
    /// The text of the content; images are left out.
    pub fn text(&self) -> String {
        match self {
            Content::Text(text) => text.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text { text } => Some(text.as_str()),
                    ContentPart::Image { .. } => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

impl From<String> for Content {
    fn from(text: String) -> Content {
        Content::Text(text)
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Content {
        Content::Text(text.to_owned())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text { text: String },
    Image { source: ImageSource },
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageSource {
    /// An address the provider fetches.
    Url { url: String },
    /// The bytes themselves, base64-encoded, with their media type (`image/png`).
    Base64 { media_type: String, data: String },
}

impl ImageSource {
    /// The image as one URL: its address, or its bytes as a `data:` URL.
    pub fn to_url(&self) -> String {
        match self {
            ImageSource::Url { url } => url.clone(),
            ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        }
    }
}

/// A piece of the model's reasoning. Providers that sign reasoning require it back unchanged,
/// signature included, when the conversation goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReasoningBlock {
    Text {
        text: String,
        signature: Option<String>,
    },
    /// Reasoning the provider withheld, as the opaque data it sent in its place.
    Redacted { data: String },
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

/// Why the model stopped, as each provider module reads its own spelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinishReason {
    /// A natural end (or a stop sequence).
    Stop,
    /// The output hit the token limit.
    Length,
    /// The model called tools.
    ToolCalls,
    /// The provider's content filter cut the answer.
    ContentFilter,
    /// A reason this crate does not classify, as the provider spelled it.
    Other(String),
}

/// A complete model response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatResponse {
    pub content: Option<String>,
    /// Native reasoning, when the provider returns it, in the order it came.
    pub reasoning: Vec<ReasoningBlock>,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<FinishReason>,
    pub usage: Usage,
    /// The bodies exchanged with the provider, for telemetry (the client that made the call
    /// fills it; no headers, no URL).
    #[serde(skip)]
    pub exchange: Option<Exchange>,
}

/// One model call's bodies as they went over the wire: the request as sent and the response
/// as received. A streamed response is `{"stream": [<event>, ...]}`, each event's JSON data as
/// the provider sent it. Both share the client's buffers (no copy, no re-rendering).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exchange {
    pub request: bytes::Bytes,
    pub response: bytes::Bytes,
}

impl ChatResponse {
    /// The readable reasoning as one text (blocks joined by a newline; redacted ones left
    /// out), or `None` when there is none.
    pub fn reasoning_text(&self) -> Option<String> {
        let mut texts = self.reasoning.iter().filter_map(|block| match block {
            ReasoningBlock::Text { text, .. } if !text.is_empty() => Some(text.as_str()),
            _ => None,
        });
        let first = texts.next()?;
        let mut joined = first.to_owned();
        for text in texts {
            joined.push('\n');
            joined.push_str(text);
        }
        Some(joined)
    }
}

/// Token counts of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Every input token, cache reads and writes included (a provider that counts them apart
    /// adds them up in its module).
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// Input tokens read from the provider's prompt cache (Letta's `cached_input_tokens`).
    pub cache_read_tokens: Option<u64>,
    /// Input tokens written to the provider's prompt cache (Letta's `cache_write_tokens`).
    pub cache_creation_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
}

/// A piece of a streamed response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChatDelta {
    Content(String),
    /// Text of the current reasoning block.
    Reasoning(String),
    /// The signature of the current reasoning block, which it closes: later reasoning text
    /// starts a new block.
    ReasoningSignature(String),
    /// A whole redacted reasoning block.
    RedactedReasoning(String),
    /// A fragment of tool call `index`: `id` and `name` usually arrive with the first fragment.
    ToolCall {
        index: usize,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    /// The bodies of the call (telemetry), just before `Done`; never on the wire.
    #[serde(skip)]
    Exchange(Exchange),
    /// The end of the stream, with what the provider reported.
    Done {
        finish_reason: Option<FinishReason>,
        usage: Usage,
    },
}

/// A model a provider says it serves (from its model list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteModel {
    /// The model's name as the provider spells it in requests.
    pub name: String,
    pub kind: ModelKind,
    /// The context window when the provider reports it (Ollama, Gemini, OpenRouter do).
    pub context_window: Option<u32>,
    /// The longest answer when the provider reports it.
    pub max_output_tokens: Option<u32>,
    /// The embedding dimension when the provider reports it.
    pub embedding_dim: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelKind {
    Chat,
    Embedding,
}

impl From<&mneme_types::ResponseFormat> for ResponseFormat {
    /// Letta's format as providers take it. A JSON schema format whose object has no `schema`
    /// key is taken as the schema itself, the way clients sometimes send it.
    fn from(format: &mneme_types::ResponseFormat) -> ResponseFormat {
        match format {
            mneme_types::ResponseFormat::Text => ResponseFormat::Text,
            mneme_types::ResponseFormat::JsonObject => ResponseFormat::JsonObject,
            mneme_types::ResponseFormat::JsonSchema { json_schema } => {
                let schema = json_schema
                    .get("schema")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(json_schema.clone()));
                ResponseFormat::JsonSchema {
                    name: json_schema
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("response")
                        .to_owned(),
                    schema,
                    strict: json_schema
                        .get("strict")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                }
            }
        }
    }
}
