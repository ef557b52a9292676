//! The `LettaMessage` union (`LettaMessageUnion` in the spec): what message lists, responses and
//! streams show of stored messages.
//!
//! Every member carries the same leading fields (`id`, `date`, `name`, `message_type`, `otid`,
//! `sender_id`, `step_id`, `is_err`, `seq_id`, `run_id`), then its own. Here the common fields
//! live on [`LettaMessage`] and the member's own on its [`MessageBody`] variant, so that code
//! which stamps a `seq_id` or filters by `message_type` needs no match over eleven types. On the
//! wire the object is flat, in Letta's (pydantic declaration) order, `message_type` included.

use chrono::{DateTime, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::{CompactionEventData, CompactionStats, MessageId, RunId, StepId, time};

/// One member of the union: the common fields, then `body`.
#[derive(Debug, Clone, PartialEq)]
pub struct LettaMessage {
    /// The stored message's id; the parts rendered from one stored message share it.
    pub id: MessageId,
    /// Second precision, `+00:00` on the wire.
    pub date: DateTime<Utc>,
    pub name: Option<String>,
    pub otid: Option<String>,
    pub sender_id: Option<String>,
    pub step_id: Option<StepId>,
    /// `null` rather than `false` when the message is not an error, as Letta sends it.
    pub is_err: Option<bool>,
    /// Only set in the chunks of background streams.
    pub seq_id: Option<u64>,
    pub run_id: Option<RunId>,
    pub body: MessageBody,
}

impl LettaMessage {
    /// A message with only its id, date and body; the other common fields empty.
    pub fn new(id: MessageId, date: DateTime<Utc>, body: MessageBody) -> LettaMessage {
        LettaMessage {
            id,
            date,
            name: None,
            otid: None,
            sender_id: None,
            step_id: None,
            is_err: None,
            seq_id: None,
            run_id: None,
            body,
        }
    }

    pub fn message_type(&self) -> &'static str {
        self.body.message_type()
    }
}

/// The member-specific part of a `LettaMessage`, discriminated by `message_type`. Serialized
/// alone it carries its `message_type`; inside a `LettaMessage` that field sits among the common
/// ones, where Letta puts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "message_type")]
pub enum MessageBody {
    #[serde(rename = "system_message")]
    System(SystemMessage),
    #[serde(rename = "user_message")]
    User(UserMessage),
    #[serde(rename = "reasoning_message")]
    Reasoning(ReasoningMessage),
    #[serde(rename = "hidden_reasoning_message")]
    HiddenReasoning(HiddenReasoningMessage),
    #[serde(rename = "tool_call_message")]
    ToolCall(ToolCallMessage),
    #[serde(rename = "tool_return_message")]
    ToolReturn(ToolReturnMessage),
    #[serde(rename = "assistant_message")]
    Assistant(AssistantMessage),
    #[serde(rename = "approval_request_message")]
    ApprovalRequest(ApprovalRequestMessage),
    #[serde(rename = "approval_response_message")]
    ApprovalResponse(ApprovalResponseMessage),
    #[serde(rename = "summary_message")]
    Summary(SummaryMessage),
    #[serde(rename = "event_message")]
    Event(EventMessage),
}

impl MessageBody {
    /// The `message_type` Letta gives this member (`MessageType` in the spec).
    pub fn message_type(&self) -> &'static str {
        match self {
            MessageBody::System(_) => "system_message",
            MessageBody::User(_) => "user_message",
            MessageBody::Reasoning(_) => "reasoning_message",
            MessageBody::HiddenReasoning(_) => "hidden_reasoning_message",
            MessageBody::ToolCall(_) => "tool_call_message",
            MessageBody::ToolReturn(_) => "tool_return_message",
            MessageBody::Assistant(_) => "assistant_message",
            MessageBody::ApprovalRequest(_) => "approval_request_message",
            MessageBody::ApprovalResponse(_) => "approval_response_message",
            MessageBody::Summary(_) => "summary_message",
            MessageBody::Event(_) => "event_message",
        }
    }
}

/// `SystemMessage`: the compiled system prompt (message lists only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SystemMessage {
    pub content: String,
}

/// `UserMessage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserMessage {
    pub content: MessageContent,
}

/// `AssistantMessage`: the agent's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssistantMessage {
    pub content: MessageContent,
}

/// `ReasoningMessage`: native reasoning, or the inner thoughts of heartbeat agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReasoningMessage {
    pub reasoning: String,
    #[serde(default)]
    pub source: ReasoningSource,
    pub signature: Option<String>,
}

/// Where a `ReasoningMessage` came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningSource {
    /// The provider's own reasoning output.
    ReasonerModel,
    /// Text the model wrote as its thoughts.
    #[default]
    NonReasonerModel,
}

/// `HiddenReasoningMessage`: reasoning the provider withheld.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HiddenReasoningMessage {
    pub state: HiddenReasoningState,
    pub hidden_reasoning: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HiddenReasoningState {
    Redacted,
    Omitted,
}

/// `ToolCallMessage`, and `ApprovalRequestMessage`, which has the same fields. Whole messages
/// carry `ToolCall`s; token streams carry `ToolCallDelta`s in both fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolCallMessage {
    /// Deprecated by Letta in favour of `tool_calls`: the first call.
    pub tool_call: ToolCallOrDelta,
    pub tool_calls: Option<ToolCalls>,
}

/// `ApprovalRequestMessage`: calls that wait for a human (or for the client to run them).
pub type ApprovalRequestMessage = ToolCallMessage;

/// `ToolCall`: a complete call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolCall {
    pub name: String,
    /// The arguments as the model wrote them: JSON text.
    pub arguments: String,
    pub tool_call_id: String,
}

/// `ToolCallDelta`: a fragment of a call in a token stream; `name` is often only in the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolCallDelta {
    pub name: Option<String>,
    pub arguments: Option<String>,
    pub tool_call_id: Option<String>,
}

/// `tool_call`: `ToolCall | ToolCallDelta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ToolCallOrDelta {
    Call(ToolCall),
    Delta(ToolCallDelta),
}

/// `tool_calls`: `[ToolCall] | ToolCallDelta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ToolCalls {
    List(Vec<ToolCall>),
    Delta(ToolCallDelta),
}

/// `ToolReturnMessage`. The single-return fields repeat the first of `tool_returns` (Letta
/// deprecated them but still sends them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolReturnMessage {
    pub tool_return: String,
    pub status: ToolReturnStatus,
    pub tool_call_id: String,
    pub stdout: Option<Vec<String>>,
    pub stderr: Option<Vec<String>>,
    pub tool_returns: Option<Vec<ToolReturn>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolReturnStatus {
    Success,
    Error,
}

impl ToolReturnStatus {
    /// Stored statuses are strings; anything but `error` succeeded.
    pub fn parse(s: &str) -> ToolReturnStatus {
        match s {
            "error" => ToolReturnStatus::Error,
            _ => ToolReturnStatus::Success,
        }
    }
}

/// `ToolReturn` (`type: "tool"`): one tool's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename = "tool")]
pub struct ToolReturn {
    pub tool_call_id: String,
    pub status: ToolReturnStatus,
    pub tool_return: MessageContent,
    #[serde(default)]
    pub stdout: Option<Vec<String>>,
    #[serde(default)]
    pub stderr: Option<Vec<String>>,
}

/// `ApprovalResponseMessage`: a human's answer to an approval request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApprovalResponseMessage {
    pub approvals: Option<Vec<ApprovalItem>>,
    /// Deprecated single-decision form.
    pub approve: Option<bool>,
    pub approval_request_id: Option<String>,
    pub reason: Option<String>,
}

/// One element of `approvals`: a decision on a call, or the result of a call the client ran.
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalItem {
    Approval(ApprovalReturn),
    Tool(ToolReturn),
}

/// `ApprovalReturn` (`type: "approval"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename = "approval")]
pub struct ApprovalReturn {
    pub tool_call_id: String,
    pub approve: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Serialize for ApprovalItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Each member writes its own `type`.
        match self {
            ApprovalItem::Approval(a) => a.serialize(s),
            ApprovalItem::Tool(t) => t.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ApprovalItem {
    /// `type` defaults to `approval`, as Letta's `ApprovalCreate` reads it.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match v.get("type").and_then(Value::as_str).unwrap_or("approval") {
            "approval" => ApprovalReturn::deserialize(v)
                .map(ApprovalItem::Approval)
                .map_err(D::Error::custom),
            "tool" => ToolReturn::deserialize(v)
                .map(ApprovalItem::Tool)
                .map_err(D::Error::custom),
            other => Err(D::Error::unknown_variant(other, &["approval", "tool"])),
        }
    }
}

/// `SummaryMessage`: a compaction summary (the summarizer's text, not the packed message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SummaryMessage {
    pub summary: String,
    #[serde(default)]
    pub compaction_stats: Option<CompactionStats>,
}

/// `EventMessage`: an event beside the conversation (a compaction starting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventMessage {
    pub event_type: String,
    pub event_data: EventData,
}

/// `event_data`: a compaction's, else any object (read back as it came).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum EventData {
    Compaction(CompactionEventData),
    Other(Map<String, Value>),
}

/// `string | [content parts]`: Letta sends a plain string for one text, a list of parts
/// (`TextContent`, `ImageContent`, ... kept as sent) for anything else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<Value>),
}

impl From<String> for MessageContent {
    fn from(s: String) -> Self {
        MessageContent::Text(s)
    }
}

/// The wire form of a `LettaMessage`, borrowed: common fields in Letta's order, then the body's.
#[derive(Serialize)]
struct Flat<'a> {
    id: &'a MessageId,
    #[serde(serialize_with = "time::serialize_message")]
    date: &'a DateTime<Utc>,
    name: &'a Option<String>,
    message_type: &'static str,
    otid: &'a Option<String>,
    sender_id: &'a Option<String>,
    step_id: &'a Option<StepId>,
    is_err: &'a Option<bool>,
    seq_id: &'a Option<u64>,
    run_id: &'a Option<RunId>,
    #[serde(flatten)]
    body: OwnFields<'a>,
}

/// A body's fields without its `message_type` (already written among the common fields).
struct OwnFields<'a>(&'a MessageBody);

impl Serialize for OwnFields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            MessageBody::System(m) => m.serialize(s),
            MessageBody::User(m) => m.serialize(s),
            MessageBody::Reasoning(m) => m.serialize(s),
            MessageBody::HiddenReasoning(m) => m.serialize(s),
            MessageBody::ToolCall(m) | MessageBody::ApprovalRequest(m) => m.serialize(s),
            MessageBody::ToolReturn(m) => m.serialize(s),
            MessageBody::Assistant(m) => m.serialize(s),
            MessageBody::ApprovalResponse(m) => m.serialize(s),
            MessageBody::Summary(m) => m.serialize(s),
            MessageBody::Event(m) => m.serialize(s),
        }
    }
}

impl Serialize for LettaMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Flat {
            id: &self.id,
            date: &self.date,
            name: &self.name,
            message_type: self.body.message_type(),
            otid: &self.otid,
            sender_id: &self.sender_id,
            step_id: &self.step_id,
            is_err: &self.is_err,
            seq_id: &self.seq_id,
            run_id: &self.run_id,
            body: OwnFields(&self.body),
        }
        .serialize(s)
    }
}

/// What `LettaMessage` reads: the common fields, the rest picked by `message_type`.
#[derive(Deserialize)]
struct FlatIn {
    id: MessageId,
    date: DateTime<Utc>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    otid: Option<String>,
    #[serde(default)]
    sender_id: Option<String>,
    #[serde(default)]
    step_id: Option<StepId>,
    #[serde(default)]
    is_err: Option<bool>,
    #[serde(default)]
    seq_id: Option<u64>,
    #[serde(default)]
    run_id: Option<RunId>,
    #[serde(flatten)]
    body: MessageBody,
}

impl<'de> Deserialize<'de> for LettaMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = FlatIn::deserialize(d)?;
        Ok(LettaMessage {
            id: f.id,
            date: f.date,
            name: f.name,
            otid: f.otid,
            sender_id: f.sender_id,
            step_id: f.step_id,
            is_err: f.is_err,
            seq_id: f.seq_id,
            run_id: f.run_id,
            body: f.body,
        })
    }
}
