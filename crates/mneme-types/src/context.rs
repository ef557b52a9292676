//! `GET /v1/agents/{id}/context`: Letta's `ContextWindowOverview`, with the in-context messages
//! in Letta's internal `Message` shape.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AgentId, MessageId, RunId, StepId, time};

/// What the next model call would contain, part by part, with token estimates. The parts this
/// server does not have (file memory, rule prompts, directories, summaries) count zero tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContextWindowOverview {
    pub context_window_size_max: u32,
    pub context_window_size_current: u64,
    pub num_messages: u64,
    pub num_archival_memory: u64,
    pub num_recall_memory: u64,
    pub num_tokens_external_memory_summary: u64,
    pub external_memory_summary: String,
    pub num_tokens_system: u64,
    pub system_prompt: String,
    pub num_tokens_core_memory: u64,
    pub core_memory: String,
    pub num_tokens_memory_filesystem: u64,
    pub memory_filesystem: Option<String>,
    pub num_tokens_tool_usage_rules: u64,
    pub tool_usage_rules: Option<String>,
    pub num_tokens_directories: u64,
    pub directories: Option<String>,
    pub num_tokens_summary_memory: u64,
    pub summary_memory: Option<String>,
    pub num_tokens_functions_definitions: u64,
    pub functions_definitions: Vec<FunctionTool>,
    pub num_tokens_messages: u64,
    pub messages: Vec<InternalMessage>,
}

/// `FunctionTool`: a tool as the model sees it; `function` is the tool's JSON schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FunctionTool {
    #[serde(rename = "type")]
    pub kind: FunctionKind,
    pub function: Option<Value>,
}

/// The one `type` a function tool or tool call has.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FunctionKind {
    #[default]
    Function,
}

/// Letta's internal `Message`, the fields this server keeps: the text as one text part, the
/// model's tool calls in OpenAI's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InternalMessage {
    pub id: MessageId,
    pub agent_id: AgentId,
    pub role: String,
    pub content: Vec<TextContent>,
    pub name: Option<String>,
    pub tool_calls: Vec<ChatToolCall>,
    pub tool_call_id: Option<String>,
    pub step_id: Option<StepId>,
    pub run_id: Option<RunId>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
}

/// `TextContent`: `{"type": "text", "text": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TextContent {
    #[serde(rename = "type")]
    pub kind: TextKind,
    pub text: String,
}

/// The one `type` a text part has.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TextKind {
    #[default]
    Text,
}

impl TextContent {
    pub fn new(text: impl Into<String>) -> Self {
        TextContent {
            kind: TextKind::Text,
            text: text.into(),
        }
    }
}

/// `ChatCompletionMessageFunctionToolCall`: a tool call in OpenAI's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: FunctionKind,
    pub function: FunctionCall,
}

/// The called function: its name and its arguments as the model wrote them (a JSON string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FunctionCall {
    pub name: String,
    pub arguments: String,
}
