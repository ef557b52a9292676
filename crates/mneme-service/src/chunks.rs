//! Turn events as SSE chunks: step messages rendered whole, or the model's answer token by
//! token with the stored message's id, as Letta streams them.

use std::collections::HashMap;

use mneme_agent::TurnEvent;
use mneme_llm::ChatDelta;
use mneme_store::Role;
use mneme_types::{MessageId, RunId, StepId, time};
use serde_json::{Value, json};

use crate::render::{RenderOptions, delta_message, letta_messages};

/// One SSE event.
#[derive(Debug, Clone, PartialEq)]
pub enum SseEvent {
    /// `data: <json>`
    Data(Value),
    /// `event: error` + `data: <json>`: the SDK raises on it.
    Error(Value),
    /// `data: [DONE]`
    Done,
}

impl SseEvent {
    /// The bytes on the wire, blank line included.
    pub fn frame(&self) -> String {
        match self {
            SseEvent::Data(v) => format!("data: {v}\n\n"),
            SseEvent::Error(v) => format!("event: error\ndata: {v}\n\n"),
            SseEvent::Done => "data: [DONE]\n\n".into(),
        }
    }

    /// A ping, which tells a foreground client its run id and keeps proxies from closing.
    pub fn ping(run: RunId, seq_id: Option<u64>) -> SseEvent {
        SseEvent::Data(json!({
            "id": format!("ping-{}", uuid::Uuid::new_v4()),
            "date": crate::render::message_date(&time::now()),
            "name": null, "message_type": "ping", "otid": null, "sender_id": null,
            "step_id": null, "is_err": null, "seq_id": seq_id, "run_id": run.to_string(),
        }))
    }
}

/// Turns the events of one run into chunks.
pub(crate) struct Chunker {
    run: RunId,
    opts: RenderOptions,
    stream_tokens: bool,
    approval_tools: Vec<String>,
    /// The part index of the current message id (it moves on when the chunk type changes).
    parts: HashMap<MessageId, (String, u8)>,
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

    pub(crate) fn on_event(&mut self, event: TurnEvent) -> Vec<Value> {
        match event {
            TurnEvent::StepCommitted { messages } => messages
                .iter()
                // Heartbeats are bookkeeping; Letta's streams carry no user-role messages.
                .filter(|m| crate::messages::is_reply(m))
                .filter(|m| !self.stream_tokens || m.role == Role::Tool)
                .flat_map(|m| letta_messages(m, &self.opts))
                .collect(),
            TurnEvent::Delta {
                step_id,
                message_id,
                delta,
            } => self.on_delta(step_id, message_id, delta),
        }
    }

    fn on_delta(&mut self, step: StepId, id: MessageId, delta: ChatDelta) -> Vec<Value> {
        match delta {
            ChatDelta::Content(text) if self.opts.native => {
                vec![self.chunk(step, id, "assistant_message", json!({ "content": text }))]
            }
            ChatDelta::Content(text) => vec![self.chunk(
                step,
                id,
                "reasoning_message",
                json!({"reasoning": text, "source": "non_reasoner_model", "signature": null}),
            )],
            ChatDelta::Reasoning(text) => vec![self.chunk(
                step,
                id,
                "reasoning_message",
                json!({"reasoning": text, "source": "reasoner_model", "signature": null}),
            )],
            ChatDelta::ToolCall {
                index,
                id: call_id,
                name,
                arguments,
            } => self.on_tool_delta(step, id, index, call_id, name, arguments),
            // Signed and redacted reasoning come from providers without a client yet; their
            // chunks are for the issue that adds them.
            ChatDelta::ReasoningSignature(_)
            | ChatDelta::RedactedReasoning(_)
            | ChatDelta::Done { .. } => Vec::new(),
        }
    }

    fn on_tool_delta(
        &mut self,
        step: StepId,
        id: MessageId,
        index: usize,
        call_id: Option<String>,
        name: Option<String>,
        arguments: String,
    ) -> Vec<Value> {
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
            let so_far = partial_string(&call.arguments, &self.opts.tool_kwarg).unwrap_or_default();
            let new: String = so_far.chars().skip(call.sent).collect();
            call.sent = so_far.chars().count();
            if new.is_empty() {
                return Vec::new();
            }
            return vec![self.chunk(step, id, "assistant_message", json!({ "content": new }))];
        }
        let wire = json!({"name": name, "arguments": arguments, "tool_call_id": call.id});
        let waits = call
            .name
            .as_ref()
            .is_some_and(|n| self.approval_tools.contains(n));
        let kind = match waits {
            true => "approval_request_message",
            false => "tool_call_message",
        };
        vec![self.chunk(
            step,
            id,
            kind,
            json!({ "tool_call": wire, "tool_calls": wire }),
        )]
    }

    fn chunk(&mut self, step: StepId, id: MessageId, kind: &str, fields: Value) -> Value {
        let entry = self.parts.entry(id).or_insert_with(|| (kind.to_owned(), 0));
        if entry.0 != kind {
            entry.0 = kind.to_owned();
            entry.1 += 1;
        }
        delta_message(id, step, self.run, kind, entry.1, fields)
    }
}

/// The value of string field `key` in a JSON object that may still be arriving: the decoded
/// characters received so far.
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
