//! Messages in an Agent File (`MessageSchema`) and their content parts.
//!
//! Reading goes through [`RawMessage`], which also accepts the shapes older Letta versions
//! wrote: `text` instead of `content`, a plain-string `content`, OpenAI's single
//! `function_call`, tool calls without `type` or with `arguments` as an object, and
//! `role: "function"` results. They are upgraded to the current shape, so the rest of the server
//! sees one form: content as a list of parts, tool calls in OpenAI's `tool_calls` shape, results
//! as `role: "tool"`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::{ApprovalReturn, ChatToolCall, FunctionCall, FunctionKind, ToolReturnStatus, time};

use super::timestamp;

/// `MessageSchema`: one stored message of an agent, with its file-local id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawMessage")]
pub struct MessageSchema {
    #[serde(rename = "type")]
    pub kind: Option<MessageKind>,
    pub otid: Option<String>,
    pub group_id: Option<String>,
    pub role: MessageRole,
    pub content: Vec<ContentPart>,
    pub name: Option<String>,
    pub sender_id: Option<String>,
    pub batch_item_id: Option<String>,
    pub id: String,
    pub model: Option<String>,
    pub agent_id: Option<String>,
    pub tool_calls: Option<Vec<ChatToolCall>>,
    pub tool_call_id: Option<String>,
    pub tool_returns: Option<Vec<MessageToolReturn>>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    pub approve: Option<bool>,
    pub approval_request_id: Option<String>,
    pub denial_reason: Option<String>,
    pub approvals: Option<Vec<FileApproval>>,
}

/// The one value of a message's `type`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    #[default]
    Message,
}

/// `MessageRole`. `function` is only read: it is upgraded to `tool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    Assistant,
    User,
    Tool,
    Function,
    System,
    Approval,
    Summary,
}

/// One part of a message's content (`LettaMessageContentUnion`, plus the summarized reasoning
/// Letta stores for OpenAI's Responses API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text {
        text: String,
        #[serde(default)]
        signature: Option<String>,
    },
    Image {
        source: ImageSource,
    },
    ToolCall {
        id: String,
        name: String,
        input: Map<String, Value>,
        #[serde(default)]
        signature: Option<String>,
    },
    ToolReturn {
        tool_call_id: String,
        content: String,
        is_error: bool,
    },
    Reasoning {
        is_native: bool,
        reasoning: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedReasoning {
        data: String,
    },
    OmittedReasoning {
        #[serde(default)]
        signature: Option<String>,
    },
    SummarizedReasoning {
        id: String,
        summary: Vec<SummaryPart>,
        #[serde(default)]
        encrypted_content: Option<String>,
    },
}

impl ContentPart {
    /// A text part without signature.
    pub fn text(text: impl Into<String>) -> ContentPart {
        ContentPart::Text {
            text: text.into(),
            signature: None,
        }
    }
}

/// One summary of a `summarized_reasoning` part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SummaryPart {
    pub index: u32,
    pub text: String,
}

/// Where an image part's data is: a URL, inline base64, or a file Letta stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    Url {
        url: String,
    },
    Base64 {
        media_type: String,
        data: String,
        #[serde(default)]
        detail: Option<String>,
    },
    Letta {
        file_id: String,
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        data: Option<String>,
        #[serde(default)]
        detail: Option<String>,
    },
}

/// `ToolReturn` as messages store it (`letta.schemas.message.ToolReturn`): the outcome of one
/// call. Older files have neither `tool_call_id` nor `func_response`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageToolReturn {
    #[serde(default)]
    pub tool_call_id: Option<String>,
    pub status: ToolReturnStatus,
    #[serde(default)]
    pub stdout: Option<Vec<String>>,
    #[serde(default)]
    pub stderr: Option<Vec<String>>,
    #[serde(default)]
    pub func_response: Option<FuncResponse>,
}

/// A tool's response: text, or text and image parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum FuncResponse {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// One element of `approvals`: a decision (`type: "approval"`) or a tool's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum FileApproval {
    Approval(ApprovalReturn),
    Tool(MessageToolReturn),
}

/// What a message object may hold in any generation; see the module doc.
#[derive(Deserialize)]
pub(crate) struct RawMessage {
    #[serde(default, rename = "type")]
    kind: Option<MessageKind>,
    #[serde(default)]
    otid: Option<String>,
    #[serde(default)]
    group_id: Option<String>,
    role: MessageRole,
    #[serde(default, deserialize_with = "content_opt")]
    content: Option<Vec<ContentPart>>,
    /// Letta before 0.6: the message's text.
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    sender_id: Option<String>,
    #[serde(default)]
    batch_item_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<RawToolCall>>,
    /// OpenAI's pre-`tool_calls` single call.
    #[serde(default)]
    function_call: Option<RawFunction>,
    #[serde(default)]
    tool_call_id: Option<String>,
    #[serde(default)]
    tool_returns: Option<Vec<MessageToolReturn>>,
    #[serde(default, deserialize_with = "timestamp::opt::deserialize")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    approve: Option<bool>,
    #[serde(default)]
    approval_request_id: Option<String>,
    #[serde(default)]
    denial_reason: Option<String>,
    #[serde(default)]
    approvals: Option<Vec<FileApproval>>,
}

/// A tool call as any generation wrote it: `type` may be missing, `arguments` an object.
#[derive(Deserialize)]
struct RawToolCall {
    #[serde(default)]
    id: Option<String>,
    function: RawFunction,
}

#[derive(Deserialize)]
struct RawFunction {
    name: String,
    #[serde(default)]
    arguments: Option<RawArguments>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawArguments {
    Text(String),
    Object(Map<String, Value>),
}

impl RawFunction {
    fn into_call(self, id: String) -> ChatToolCall {
        let arguments = match self.arguments {
            Some(RawArguments::Text(s)) => s,
            Some(RawArguments::Object(m)) => Value::Object(m).to_string(),
            None => "{}".to_owned(),
        };
        ChatToolCall {
            id,
            kind: FunctionKind::Function,
            function: FunctionCall {
                name: self.name,
                arguments,
            },
        }
    }
}

impl TryFrom<RawMessage> for MessageSchema {
    type Error = String;

    fn try_from(raw: RawMessage) -> Result<Self, String> {
        raw.upgrade(None)
    }
}

impl RawMessage {
    /// The current shape; `id` names messages of layouts that had no ids.
    pub(crate) fn upgrade(self, id: Option<String>) -> Result<MessageSchema, String> {
        let id = self
            .id
            .or(id)
            .ok_or_else(|| "missing field `id`".to_owned())?;
        let content = match (self.content, self.text) {
            (Some(parts), _) => parts,
            (None, Some(text)) => vec![ContentPart::text(text)],
            (None, None) => return Err("missing field `content`".to_owned()),
        };
        let tool_calls = upgrade_calls(&id, self.tool_calls, self.function_call);
        let role = match self.role {
            MessageRole::Function => MessageRole::Tool,
            role => role,
        };
        Ok(MessageSchema {
            kind: Some(self.kind.unwrap_or_default()),
            otid: self.otid,
            group_id: self.group_id,
            role,
            content,
            name: self.name,
            sender_id: self.sender_id,
            batch_item_id: self.batch_item_id,
            id,
            model: self.model,
            agent_id: self.agent_id,
            tool_calls,
            tool_call_id: self.tool_call_id,
            tool_returns: self.tool_returns,
            created_at: self.created_at.unwrap_or_else(time::now),
            approve: self.approve,
            approval_request_id: self.approval_request_id,
            denial_reason: self.denial_reason,
            approvals: self.approvals,
        })
    }
}

/// `tool_calls` in OpenAI's shape; a call without id gets `{message id}-call-{n}`, which
/// [`link_function_results`] hands on to the result that answers it.
fn upgrade_calls(
    message_id: &str,
    calls: Option<Vec<RawToolCall>>,
    function_call: Option<RawFunction>,
) -> Option<Vec<ChatToolCall>> {
    if calls.is_none() && function_call.is_none() {
        return None;
    }
    let mut raw: Vec<(Option<String>, RawFunction)> = calls
        .map(|c| c.into_iter().map(|c| (c.id, c.function)).collect())
        .unwrap_or_default();
    if let Some(f) = function_call {
        raw.push((None, f));
    }
    let calls = raw
        .into_iter()
        .enumerate()
        .map(|(n, (id, f))| f.into_call(id.unwrap_or_else(|| format!("{message_id}-call-{n}"))))
        .collect();
    Some(calls)
}

/// Gives tool results that name no call (the old `role: "function"` messages) the id of the
/// call they answer: the earliest unanswered call of that function before them.
pub(crate) fn link_function_results(messages: &mut [MessageSchema]) {
    let mut open: Vec<(String, String)> = Vec::new();
    for m in messages.iter_mut() {
        for c in m.tool_calls.iter().flatten() {
            open.push((c.id.clone(), c.function.name.clone()));
        }
        if m.role != MessageRole::Tool {
            continue;
        }
        let pos = match (&m.tool_call_id, &m.name) {
            (Some(id), _) => open.iter().position(|(c, _)| c == id),
            (None, Some(name)) => open.iter().position(|(_, n)| n == name),
            (None, None) => (!open.is_empty()).then_some(0),
        };
        if let Some(pos) = pos {
            let (id, _) = open.remove(pos);
            m.tool_call_id.get_or_insert(id);
        }
    }
}

/// `content`: a list of parts, or a plain string (one text part). Read by hand rather than as
/// an untagged enum so that an error names the part at fault.
fn content_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<ContentPart>>, D::Error> {
    d.deserialize_any(ContentVisitor)
}

struct ContentVisitor;

impl<'de> Visitor<'de> for ContentVisitor {
    type Value = Option<Vec<ContentPart>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a list of content parts")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(vec![ContentPart::text(s)]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while let Some(p) = seq.next_element()? {
            parts.push(p);
        }
        Ok(Some(parts))
    }
}
