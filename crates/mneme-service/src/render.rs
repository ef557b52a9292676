//! Stored messages as the API shows them: the `LettaMessage` union. One stored message can
//! become several API messages (reasoning, then text, then a tool call); they share its id.

use mneme_agent::tools::Args;
use mneme_agent::{Compacted, CompactionStart};
use mneme_store::{Message, ReasoningRecord, Role};
use mneme_types::{
    ApprovalItem, ApprovalResponseMessage, AssistantMessage, EventData, EventMessage,
    HiddenReasoningMessage, HiddenReasoningState, LettaMessage, LettaStreamingResponse,
    MessageBody, MessageContent, MessageId, ReasoningMessage, ReasoningSource, RunId, StepId,
    SummaryMessage, SystemMessage, ToolCall, ToolCallMessage, ToolCallOrDelta, ToolCalls,
    ToolReturn, ToolReturnMessage, ToolReturnStatus, UserMessage,
};
use serde::Deserialize;
use serde_json::Value;

/// How assistant messages of heartbeat agents are shown.
#[derive(Debug, Clone)]
pub(crate) struct RenderOptions {
    /// Show calls of `tool_name` as `assistant_message` (and hide their returns).
    pub use_assistant_message: bool,
    pub tool_name: String,
    pub tool_kwarg: String,
    /// Native-loop agents: assistant text is the reply, not inner thoughts.
    pub native: bool,
    /// `include_compaction_messages`: compactions show as an `event_message` and a
    /// `summary_message`; without it, the summary is the `user_message` Letta stores.
    pub compaction_messages: bool,
}

impl RenderOptions {
    pub(crate) fn new(native: bool) -> RenderOptions {
        RenderOptions {
            use_assistant_message: true,
            tool_name: "send_message".into(),
            tool_kwarg: "message".into(),
            native,
            compaction_messages: false,
        }
    }
}

/// A compaction's announcement, when compactions are shown.
pub(crate) fn compaction_event(start: &CompactionStart, opts: &RenderOptions) -> Vec<LettaMessage> {
    if !opts.compaction_messages {
        return Vec::new();
    }
    let body = MessageBody::Event(EventMessage {
        event_type: "compaction".into(),
        event_data: EventData::Compaction(start.data.clone()),
    });
    vec![LettaMessage {
        step_id: Some(start.step_id),
        run_id: Some(start.run_id),
        ..LettaMessage::new(start.id, start.date, body)
    }]
}

/// A stored compaction's summary: a `summary_message` with its stats when compactions are
/// shown, else the packed `user_message`.
pub(crate) fn compaction_summary(done: &Compacted, opts: &RenderOptions) -> Vec<LettaMessage> {
    if !opts.compaction_messages {
        return letta_messages(&done.summary, opts);
    }
    let body = MessageBody::Summary(SummaryMessage {
        summary: done.summary_text.clone(),
        compaction_stats: Some(done.stats.clone()),
    });
    vec![with_header(&done.summary, 0, body)]
}

/// Renders `m` into its API messages.
pub(crate) fn letta_messages(m: &Message, opts: &RenderOptions) -> Vec<LettaMessage> {
    let mut out = Vec::new();
    let mut part = |body: MessageBody| {
        let n = out.len() as u8;
        out.push(with_header(m, n, body));
    };
    match m.role {
        Role::System => part(MessageBody::System(SystemMessage {
            content: m.text.clone(),
        })),
        Role::User | Role::Summary => part(MessageBody::User(UserMessage {
            content: match &m.content {
                Some(Value::Array(parts)) => MessageContent::Parts(parts.clone()),
                _ => MessageContent::Text(m.text.clone()),
            },
        })),
        Role::Assistant => {
            for record in &m.reasoning {
                part(native_reasoning(record));
            }
            if !m.text.is_empty() {
                part(text_body(m.text.clone(), opts.native));
            }
            for call in &m.tool_calls {
                if opts.use_assistant_message && call.name == opts.tool_name {
                    let args = Args::parse(&call.arguments);
                    part(assistant_body(said(&args, &opts.tool_kwarg)));
                } else {
                    part(MessageBody::ToolCall(whole_calls(std::slice::from_ref(
                        call,
                    ))));
                }
            }
        }
        Role::Tool => {
            let hidden =
                opts.use_assistant_message && m.name.as_deref() == Some(opts.tool_name.as_str());
            if !hidden {
                part(MessageBody::ToolReturn(tool_return(m)));
            }
        }
        Role::Approval if !m.tool_calls.is_empty() => {
            if !m.text.is_empty() {
                part(text_body(m.text.clone(), opts.native));
            }
            part(MessageBody::ApprovalRequest(whole_calls(&m.tool_calls)));
        }
        Role::Approval => part(MessageBody::ApprovalResponse(approval_response(m))),
    }
    out
}

/// What a `send_message` call said: its text, or the JSON text of a structured message (an
/// agent with a JSON response format).
fn said(args: &Args, kwarg: &str) -> String {
    match args.value(kwarg) {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Model text: the reply of native agents, the inner thoughts of heartbeat agents.
pub(crate) fn text_body(text: String, native: bool) -> MessageBody {
    match native {
        true => assistant_body(text),
        false => reasoning_body(text, ReasoningSource::NonReasonerModel),
    }
}

pub(crate) fn assistant_body(text: String) -> MessageBody {
    MessageBody::Assistant(AssistantMessage {
        content: MessageContent::Text(text),
    })
}

/// A stored block of the model's own reasoning: `reasoning_message` with its signature, or
/// `hidden_reasoning_message` for a redacted block, as Letta shows them.
fn native_reasoning(record: &ReasoningRecord) -> MessageBody {
    match record {
        ReasoningRecord::Reasoning { text, signature } => {
            signed_reasoning(text.clone(), signature.clone())
        }
        ReasoningRecord::Redacted { data } => redacted_reasoning(data.clone()),
    }
}

pub(crate) fn signed_reasoning(reasoning: String, signature: Option<String>) -> MessageBody {
    MessageBody::Reasoning(ReasoningMessage {
        reasoning,
        source: ReasoningSource::ReasonerModel,
        signature,
    })
}

pub(crate) fn redacted_reasoning(data: String) -> MessageBody {
    MessageBody::HiddenReasoning(HiddenReasoningMessage {
        state: HiddenReasoningState::Redacted,
        hidden_reasoning: Some(data),
    })
}

pub(crate) fn reasoning_body(reasoning: String, source: ReasoningSource) -> MessageBody {
    MessageBody::Reasoning(ReasoningMessage {
        reasoning,
        source,
        signature: None,
    })
}

/// Complete calls: the first in `tool_call`, all of them in `tool_calls`.
fn whole_calls(calls: &[mneme_store::ToolCallRecord]) -> ToolCallMessage {
    let calls: Vec<ToolCall> = calls
        .iter()
        .map(|c| ToolCall {
            name: c.name.clone(),
            arguments: c.arguments.clone(),
            tool_call_id: c.id.clone(),
        })
        .collect();
    let first = calls.first().cloned().unwrap_or_else(|| ToolCall {
        name: String::new(),
        arguments: String::new(),
        tool_call_id: String::new(),
    });
    ToolCallMessage {
        tool_call: ToolCallOrDelta::Call(first),
        tool_calls: Some(ToolCalls::List(calls)),
    }
}

/// A stored tool message as Letta lists it: each return's `tool_return` is the `message` of
/// the packed JSON the model was given (`{"status", "message", "time"}`), not the package; a
/// return that is not a package (a client's, an approval's) is shown as stored.
fn tool_return(m: &Message) -> ToolReturnMessage {
    let returns: Vec<ToolReturn> = m
        .tool_returns
        .iter()
        .map(|r| ToolReturn {
            tool_call_id: r.tool_call_id.clone(),
            status: ToolReturnStatus::parse(&r.status),
            tool_return: match &r.content {
                Some(Value::Array(parts)) => MessageContent::Parts(parts.clone()),
                _ => MessageContent::Text(unpacked(&r.func_response)),
            },
            stdout: r.stdout.clone(),
            stderr: r.stderr.clone(),
        })
        .collect();
    let first = m.tool_returns.first();
    let text = match returns.first().map(|r| &r.tool_return) {
        Some(MessageContent::Text(text)) => text.clone(),
        _ => unpacked(&m.text),
    };
    ToolReturnMessage {
        tool_return: text,
        status: first.map_or(ToolReturnStatus::Success, |r| {
            ToolReturnStatus::parse(&r.status)
        }),
        tool_call_id: first
            .map(|r| r.tool_call_id.clone())
            .or_else(|| m.tool_call_id.clone())
            .unwrap_or_default(),
        stdout: first.and_then(|r| r.stdout.clone()),
        stderr: first.and_then(|r| r.stderr.clone()),
        tool_returns: Some(returns),
    }
}

/// The `message` of a packed tool return (a string as it is, null as `None`, any other value
/// as JSON text); anything else as it is.
pub(crate) fn unpacked(text: &str) -> String {
    if !text.trim_start().starts_with('{') {
        return text.to_owned();
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut packed)) => match packed.remove("message") {
            Some(Value::String(message)) => message,
            // As Letta prints a Python `None`.
            Some(Value::Null) => "None".to_owned(),
            Some(other) => other.to_string(),
            None => text.to_owned(),
        },
        _ => text.to_owned(),
    }
}

/// A stored answer (`{approvals, approve, approval_request_id, reason}` as the caller sent
/// it). Items were validated when they came in; one that does not read as an `ApprovalReturn`
/// or a `ToolReturn` (a `tool_return` that is neither text nor parts) is left out.
fn approval_response(m: &Message) -> ApprovalResponseMessage {
    let answer = m.content.as_ref().unwrap_or(&Value::Null);
    let text = |key: &str| answer.get(key).and_then(Value::as_str).map(str::to_owned);
    ApprovalResponseMessage {
        approvals: answer
            .get("approvals")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| ApprovalItem::deserialize(i).ok())
                    .collect()
            }),
        approve: answer.get("approve").and_then(Value::as_bool),
        approval_request_id: text("approval_request_id"),
        reason: text("reason"),
    }
}

/// Part `n` of stored message `m`: its common fields around `body`.
fn with_header(m: &Message, n: u8, body: MessageBody) -> LettaMessage {
    LettaMessage {
        id: m.id,
        date: m.created_at,
        name: m.name.clone(),
        otid: Some(match m.otid.as_ref().filter(|_| n == 0) {
            Some(given) => given.clone(),
            None => derived_otid(m.id, n),
        }),
        sender_id: m.sender_id.clone(),
        step_id: m.step_id,
        is_err: m.is_err.then_some(true),
        seq_id: None,
        run_id: m.run_id,
        body,
    }
}

/// A streamed fragment of message `id` (token streaming), part `n` of it.
pub(crate) fn delta_message(
    id: MessageId,
    step: StepId,
    run: RunId,
    n: u8,
    body: MessageBody,
) -> LettaMessage {
    LettaMessage {
        otid: Some(derived_otid(id, n)),
        step_id: Some(step),
        run_id: Some(run),
        ..LettaMessage::new(id, mneme_types::time::now(), body)
    }
}

/// The stored id's UUID with its low 7 bits replaced by the part's index, as Letta derives
/// `otid`s of the API messages made from one stored message.
fn derived_otid(id: MessageId, n: u8) -> String {
    let mut bytes = *id.uuid().as_bytes();
    bytes[15] = (bytes[15] & 0x80) | (n & 0x7f);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// Whatever has a `message_type` that `include_return_message_types` can name.
pub(crate) trait MessageTyped {
    fn message_type(&self) -> &'static str;
}

impl MessageTyped for LettaMessage {
    fn message_type(&self) -> &'static str {
        self.body.message_type()
    }
}

impl MessageTyped for LettaStreamingResponse {
    fn message_type(&self) -> &'static str {
        LettaStreamingResponse::message_type(self)
    }
}

/// Keeps only the message types asked for (all when `types` is empty).
pub(crate) fn filter_types<T: MessageTyped>(mut messages: Vec<T>, types: &[String]) -> Vec<T> {
    if !types.is_empty() {
        messages.retain(|m| types.iter().any(|want| want == m.message_type()));
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::unpacked;

    #[test]
    fn a_packed_return_is_listed_as_its_message() {
        let packed =
            "{\n  \"status\": \"OK\",\n  \"message\": \"rolled 4 of 6\",\n  \"time\": \"x\"\n}";
        assert_eq!(unpacked(packed), "rolled 4 of 6");
        assert_eq!(unpacked(r#"{"status": "OK", "message": null}"#), "None");
        assert_eq!(
            unpacked(r#"{"status": "OK", "message": {"a": 1}}"#),
            r#"{"a":1}"#
        );
        // Not a package: as stored.
        assert_eq!(unpacked("SECRET-42"), "SECRET-42");
        assert_eq!(unpacked(r#"{"status": "OK"}"#), r#"{"status": "OK"}"#);
        assert_eq!(unpacked("{not json"), "{not json");
    }
}
