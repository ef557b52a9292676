//! Message requests: `LettaRequest` (and its streaming twin), `MessageCreate`, message updates;
//! and the results of a message search.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AgentId, MessageId, time};

/// `LettaRequest` / `LettaStreamingRequest` / `LettaAsyncRequest`: one shape, since the routes
/// differ only in which flags they accept. Unknown keys are ignored.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct LettaRequest {
    pub messages: Option<Vec<MessageCreate>>,
    /// Shorthand for one user message: a string or content parts.
    pub input: Option<Value>,
    pub max_steps: Option<u32>,
    pub use_assistant_message: Option<bool>,
    pub assistant_message_tool_name: Option<String>,
    pub assistant_message_tool_kwarg: Option<String>,
    pub include_return_message_types: Option<Vec<String>>,
    /// A string in the spec (`"true"`), a boolean from some clients.
    pub enable_thinking: Option<Value>,
    pub streaming: Option<bool>,
    pub stream_tokens: Option<bool>,
    pub include_pings: Option<bool>,
    pub background: Option<bool>,
    pub callback_url: Option<String>,
    pub override_model: Option<String>,
    pub client_tools: Option<Vec<Value>>,
    /// Compactions show as an `event_message` and a `summary_message` (with its stats), and
    /// the summary is stored with role `summary`; without it, the summary is a `user_message`.
    pub include_compaction_messages: Option<bool>,
    /// A system prompt for this request only, sent in place of the stored one (Letta reads
    /// it under `system` too).
    #[serde(alias = "system")]
    pub override_system: Option<String>,
    /// Skills the client has: listed in this request's system prompt only, never stored.
    pub client_skills: Option<Vec<crate::ClientSkill>>,
    /// `ConversationMessageRequest`: the agent of the `default` conversation.
    pub agent_id: Option<AgentId>,
}

/// `MessageCreate`: an input message.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct MessageCreate {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub role: Option<String>,
    pub content: Option<Value>,
    pub name: Option<String>,
    pub otid: Option<String>,
    pub sender_id: Option<String>,
    pub group_id: Option<String>,
    /// `ApprovalCreate`: decisions on pending tool calls (`ApprovalReturn` or `ToolReturn`).
    pub approvals: Option<Vec<Value>>,
    /// Deprecated single-decision form of `ApprovalCreate`.
    pub approve: Option<bool>,
    pub approval_request_id: Option<String>,
    pub reason: Option<String>,
    /// `ToolReturnCreate`: client-side tool results.
    pub tool_returns: Option<Vec<Value>>,
}

impl MessageCreate {
    /// The item's kind: `type` when given; else `approval` when it carries an approval, as
    /// Letta infers it.
    pub fn kind(&self) -> &str {
        match self.kind.as_deref() {
            Some(k) => k,
            None if self.approve.is_some() || self.approval_request_id.is_some() => "approval",
            None => "message",
        }
    }
}

/// The body of `PATCH /v1/agents/{id}/messages/{message_id}`: `UpdateSystemMessage`,
/// `UpdateUserMessage`, `UpdateAssistantMessage` or `UpdateReasoningMessage`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct MessageUpdate {
    pub message_type: Option<String>,
    pub content: Option<Value>,
    pub reasoning: Option<String>,
}

/// `ResetMessagesRequest`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct ResetMessages {
    #[serde(default)]
    pub add_default_initial_messages: bool,
}

/// The text of a `string | [content parts]` value: the text parts joined by newlines.
pub fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str).unwrap_or("text") == "text")
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            Some(texts.join("\n"))
        }
        _ => None,
    }
}

/// `SearchAllMessagesRequest` (`POST /v1/messages/search`).
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
pub struct SearchAllMessages {
    pub query: String,
    /// `vector`, `fts` or `hybrid` (the default).
    #[serde(default)]
    pub search_mode: Option<String>,
    #[serde(default)]
    pub agent_id: Option<crate::AgentId>,
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub start_date: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub end_date: Option<chrono::DateTime<chrono::Utc>>,
}

/// One result of `POST /v1/messages/search` (`UserMessageListResult` or
/// `AssistantMessageListResult`): the message's readable text with its agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageListResult {
    pub message_type: MessageListType,
    pub content: String,
    pub message_id: MessageId,
    pub agent_id: Option<AgentId>,
    pub conversation_id: Option<String>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
}

/// The kinds of message a search returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageListType {
    UserMessage,
    AssistantMessage,
}
