//! Turn events as SSE chunks: step messages rendered whole, or the model's answer token by
//! token with the stored message's id, as Letta streams them; and the SSE event type.

use std::collections::HashMap;

use mneme_agent::TurnEvent;
use mneme_llm::ChatDelta;
use mneme_store::Role;
use mneme_types::{
    LettaErrorMessage, LettaPing, LettaStreamingResponse, MessageBody, MessageId, ReasoningSource,
    RunId, StepId, ToolCallDelta, ToolCallMessage, ToolCallOrDelta, ToolCalls,
};
use serde::Serialize;

use crate::render::{
    RenderOptions, assistant_body, compaction_event, compaction_summary, delta_message,
    letta_messages, reasoning_body, redacted_reasoning, signed_reasoning, text_body,
};

/// One SSE event. Payloads stay typed until the wire: `frame` serializes them once.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a chunk moves through one channel once; copying a few hundred bytes costs less than a box per chunk"
)]
pub enum SseEvent {
    /// `data: <json>`
    Data(LettaStreamingResponse),
    /// `event: error` + `data: <json>`: the SDK raises on it.
    Error(LettaErrorMessage),
    /// A chunk read back from a run's log, already serialized; `event` names non-data events.
    Logged { event: Option<String>, data: String },
    /// `data: <json>`: a chat completion chunk (`POST /v1/chat/completions`).
    ChatChunk(mneme_types::ChatCompletionChunk),
    /// `data: <json>`: an error inside a chat completion stream, in OpenAI's shape.
    ChatError(mneme_types::ChatCompletionError),
    /// `data: [DONE]`
    Done,
}

impl SseEvent {
    /// The bytes on the wire, blank line included.
    pub fn frame(&self) -> String {
        match self {
            SseEvent::Data(chunk) => format!("data: {}\n\n", to_json(chunk)),
            SseEvent::Error(e) => format!("event: error\ndata: {}\n\n", to_json(e)),
            SseEvent::Logged {
                event: Some(event),
                data,
            } => format!("event: {event}\ndata: {data}\n\n"),
            SseEvent::Logged { event: None, data } => format!("data: {data}\n\n"),
            SseEvent::ChatChunk(chunk) => format!("data: {}\n\n", to_json(chunk)),
            SseEvent::ChatError(e) => format!("data: {}\n\n", to_json(e)),
            SseEvent::Done => "data: [DONE]\n\n".into(),
        }
    }

    /// A ping, which tells a foreground client its run id and keeps proxies from closing.
    pub fn ping(run: RunId, seq_id: Option<u64>) -> SseEvent {
        SseEvent::Data(LettaStreamingResponse::Ping(LettaPing::new(run, seq_id)))
    }
}

/// Compact JSON of a wire type. These types serialize infallibly (string keys, no custom
/// errors); should one ever fail, the chunk is an empty object rather than a broken frame.
pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot serialize a stream chunk");
        "{}".to_owned()
    })
}

/// Turns the events of one run into chunks.
pub(crate) struct Chunker {
    run: RunId,
    opts: RenderOptions,
    stream_tokens: bool,
    approval_tools: Vec<String>,
    /// The part index of the current message id (it moves on when the chunk type changes).
    parts: HashMap<MessageId, (&'static str, u8)>,
    /// Arguments received so far per (message, tool call index), with the call's name and id.
    calls: HashMap<(MessageId, usize), Call>,
}

#[derive(Default)]
struct Call {
    id: Option<String>,
    name: Option<String>,
    arguments: String,
    /// Characters of the reply already sent when a `send_message` call streams as text.
    sent: usize,
}

impl Chunker {
    /// `approval_tools`: calls to these stream as `approval_request_message` (they wait for
    /// the client) rather than `tool_call_message`.
    pub(crate) fn new(
        run: RunId,
        opts: RenderOptions,
        stream_tokens: bool,
        approval_tools: Vec<String>,
    ) -> Chunker {
        Chunker {
            run,
            opts,
            stream_tokens,
            approval_tools,
            parts: HashMap::new(),
            calls: HashMap::new(),
        }
    }

    pub(crate) fn on_event(&mut self, event: TurnEvent) -> Vec<LettaStreamingResponse> {
        match event {
            TurnEvent::StepCommitted { messages } => messages
                .iter()
                // Heartbeats are bookkeeping; Letta's streams carry no user-role messages.
                .filter(|m| crate::messages::is_reply(m))
                .filter(|m| !self.stream_tokens || m.role == Role::Tool)
                .flat_map(|m| letta_messages(m, &self.opts))
                .map(LettaStreamingResponse::Message)
                .collect(),
            TurnEvent::CompactionStarted(start) => compaction_event(&start, &self.opts)
                .into_iter()
                .map(LettaStreamingResponse::Message)
                .collect(),
            TurnEvent::Compacted(done) => compaction_summary(&done, &self.opts)
                .into_iter()
                .map(LettaStreamingResponse::Message)
                .collect(),
            TurnEvent::Delta {
                step_id,
                message_id,
                delta,
            } => self
                .on_delta(step_id, message_id, delta)
                .into_iter()
                .map(LettaStreamingResponse::Message)
                .collect(),
        }
    }

    fn on_delta(
        &mut self,
        step: StepId,
        id: MessageId,
        delta: ChatDelta,
    ) -> Option<mneme_types::LettaMessage> {
        let body = match delta {
            ChatDelta::Content(text) => text_body(text, self.opts.native),
            ChatDelta::Reasoning(text) => reasoning_body(text, ReasoningSource::ReasonerModel),
            ChatDelta::ToolCall {
                index,
                id: call_id,
                name,
                arguments,
            } => self.on_tool_delta(id, index, call_id, name, arguments)?,
            // The signature closes the reasoning streamed before it, as Letta streams it: a
            // reasoning chunk with no text.
            ChatDelta::ReasoningSignature(signature) => {
                signed_reasoning(String::new(), Some(signature))
            }
            ChatDelta::RedactedReasoning(data) => redacted_reasoning(data),
            ChatDelta::Done { .. } | ChatDelta::Exchange(_) => return None,
        };
        Some(self.chunk(step, id, body))
    }

    /// The body of a tool-call fragment: reply text for `send_message`-style calls (only the
    /// characters not sent yet, none if there are none), else a `ToolCallDelta`.
    fn on_tool_delta(
        &mut self,
        id: MessageId,
        index: usize,
        call_id: Option<String>,
        name: Option<String>,
        arguments: String,
    ) -> Option<MessageBody> {
        let call = self.calls.entry((id, index)).or_default();
        if call.id.is_none() {
            call.id = call_id;
        }
        if call.name.is_none() {
            call.name = name.clone();
        }
        call.arguments.push_str(&arguments);
        let is_reply = self.opts.use_assistant_message
            && call.name.as_deref() == Some(self.opts.tool_name.as_str());
        if is_reply {
            let kwarg = &self.opts.tool_kwarg;
            let so_far = partial_string(&call.arguments, kwarg)
                .or_else(|| structured_message(&call.arguments, kwarg))
                .unwrap_or_default();
            let new: String = so_far.chars().skip(call.sent).collect();
            call.sent = so_far.chars().count();
            return (!new.is_empty()).then(|| assistant_body(new));
        }
        let delta = ToolCallDelta {
            name,
            arguments: Some(arguments),
            tool_call_id: call.id.clone(),
        };
        let fields = ToolCallMessage {
            tool_call: ToolCallOrDelta::Delta(delta.clone()),
            tool_calls: Some(ToolCalls::Delta(delta)),
        };
        let waits = call
            .name
            .as_ref()
            .is_some_and(|n| self.approval_tools.contains(n));
        Some(match waits {
            true => MessageBody::ApprovalRequest(fields),
            false => MessageBody::ToolCall(fields),
        })
    }

    fn chunk(
        &mut self,
        step: StepId,
        id: MessageId,
        body: MessageBody,
    ) -> mneme_types::LettaMessage {
        let kind = body.message_type();
        let entry = self.parts.entry(id).or_insert((kind, 0));
        if entry.0 != kind {
            entry.0 = kind;
            entry.1 += 1;
        }
        delta_message(id, step, self.run, entry.1, body)
    }
}

/// The value of string field `key` in a JSON object that may still be arriving: the decoded
/// characters received so far.
/// A structured reply (an agent with a JSON response format): the message's JSON text, once
/// the arguments are complete, as the stored message renders it.
fn structured_message(json: &str, key: &str) -> Option<String> {
    let args: serde_json::Value = serde_json::from_str(json).ok()?;
    match args.get(key)? {
        serde_json::Value::String(_) | serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn partial_string(json: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\"");
    let start = json.find(&pattern)? + pattern.len();
    let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
    let mut chars = rest.strip_prefix('"')?.chars();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(ch) if hex.len() == 4 => out.push(ch),
                        // An escape cut by the network: wait for the rest.
                        _ => break,
                    }
                }
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_messages_come_whole_once_complete() {
        assert_eq!(structured_message(r#"{"message": {"a": "#, "message"), None);
        assert_eq!(
            structured_message(r#"{"message": {"a": 1}}"#, "message").as_deref(),
            Some(r#"{"a":1}"#)
        );
        assert_eq!(structured_message(r#"{"message": "hi"}"#, "message"), None);
    }

    #[test]
    fn partial_strings_decode_as_they_arrive() {
        assert_eq!(
            partial_string(r#"{"message": "Hel"#, "message").as_deref(),
            Some("Hel")
        );
        assert_eq!(
            partial_string(r#"{"message":"a\nb\"c"}"#, "message").as_deref(),
            Some("a\nb\"c")
        );
        assert_eq!(
            partial_string(r#"{"message": "caf\u00e9"#, "message").as_deref(),
            Some("café")
        );
        assert_eq!(
            partial_string(r#"{"message": "x\u00"#, "message").as_deref(),
            Some("x")
        );
        assert_eq!(partial_string(r#"{"mess"#, "message"), None);
    }
}
