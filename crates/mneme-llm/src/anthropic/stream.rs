//! Turns a Messages API event stream into `ChatDelta`s: `message_start` (input and cache
//! usage), `content_block_start` / `_delta` / `_stop` for text, thinking (with its signature),
//! redacted thinking and tool use, `message_delta` (stop reason, output usage),
//! `message_stop`, `ping`, and `error` events sent after the stream began.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use super::error::from_stream_error;
use super::request::ANSWER_TOOL;
use super::response::{add_usage, finish_reason};
use crate::sse_stream::{self, SseDecoder};
use crate::{ChatDelta, ChatStream, LlmError, Usage};
use mneme_types::sse::SseEvent;

/// The deltas of a streaming response; `idle` bounds the wait for each network read.
pub(crate) fn deltas(response: reqwest::Response, idle: Duration, answer_tool: bool) -> ChatStream {
    sse_stream::decoded(response, idle, EventDecoder::new(answer_tool))
}

impl SseDecoder for EventDecoder {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<ChatDelta>) -> Result<bool, LlmError> {
        for item in self.decode(&event.data) {
            match item? {
                // `message_stop`: `finish` gives the closing delta.
                ChatDelta::Done { .. } => return Ok(true),
                delta => out.push(delta),
            }
        }
        Ok(false)
    }

    fn finish(&mut self, _explicit: bool) -> Option<ChatDelta> {
        self.end_of_body().ok()
    }
}

/// What a content block of the stream is, by its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    /// A tool call, with our slot index.
    ToolUse(usize),
    /// The `json_answer` call: its input is the answer's text.
    Answer,
    Other,
}

/// Per-stream state: the open blocks, usage and stop reason so far.
#[derive(Debug)]
pub(crate) struct EventDecoder {
    answer_tool: bool,
    blocks: HashMap<u64, Block>,
    calls: usize,
    usage: Usage,
    stop_reason: Option<String>,
    done: bool,
}

impl EventDecoder {
    pub(crate) fn new(answer_tool: bool) -> EventDecoder {
        EventDecoder {
            answer_tool,
            blocks: HashMap::new(),
            calls: 0,
            usage: Usage::default(),
            stop_reason: None,
            done: false,
        }
    }

    /// The items one event's data yields.
    pub(crate) fn decode(&mut self, data: &str) -> Vec<Result<ChatDelta, LlmError>> {
        let data = data.trim();
        if data.is_empty() || self.done {
            return Vec::new();
        }
        let event: Value = match serde_json::from_str(data) {
            Ok(event) => event,
            Err(e) => return vec![Err(LlmError::InvalidResponse(format!("bad event: {e}")))],
        };
        let index = event["index"].as_u64().unwrap_or(0);
        match event["type"].as_str().unwrap_or_default() {
            "message_start" => {
                add_usage(&mut self.usage, &event["message"]["usage"]);
                Vec::new()
            }
            "content_block_start" => self.start(index, &event["content_block"]),
            "content_block_delta" => self.delta(index, &event["delta"]),
            "message_delta" => {
                if let Some(reason) = event["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(reason.to_owned());
                }
                add_usage(&mut self.usage, &event["usage"]);
                Vec::new()
            }
            "message_stop" => vec![Ok(self.done())],
            "error" => vec![Err(from_stream_error(&event["error"]))],
            // `ping`, `content_block_stop` and event types added later.
            _ => Vec::new(),
        }
    }

    fn start(&mut self, index: u64, block: &Value) -> Vec<Result<ChatDelta, LlmError>> {
        let text = |key: &str| block[key].as_str().unwrap_or_default().to_owned();
        let (kind, delta) = match block["type"].as_str().unwrap_or_default() {
            "text" => (Block::Text, Some(ChatDelta::Content(text("text")))),
            "thinking" => (
                Block::Thinking,
                Some(ChatDelta::Reasoning(text("thinking"))),
            ),
            "redacted_thinking" => (
                Block::Other,
                Some(ChatDelta::RedactedReasoning(text("data"))),
            ),
            "tool_use" if self.answer_tool && block["name"] == ANSWER_TOOL => (Block::Answer, None),
            "tool_use" => {
                let slot = self.calls;
                self.calls += 1;
                let delta = ChatDelta::ToolCall {
                    index: slot,
                    id: Some(text("id")),
                    name: Some(text("name")),
                    arguments: String::new(),
                };
                (Block::ToolUse(slot), Some(delta))
            }
            _ => (Block::Other, None),
        };
        self.blocks.insert(index, kind);
        delta.filter(|d| !is_empty(d)).map(Ok).into_iter().collect()
    }

    fn delta(&mut self, index: u64, delta: &Value) -> Vec<Result<ChatDelta, LlmError>> {
        let text = |key: &str| delta[key].as_str().unwrap_or_default().to_owned();
        let block = self.blocks.get(&index).copied().unwrap_or(Block::Other);
        let out = match (delta["type"].as_str().unwrap_or_default(), block) {
            ("text_delta", _) => ChatDelta::Content(text("text")),
            ("thinking_delta", _) => ChatDelta::Reasoning(text("thinking")),
            ("signature_delta", _) => ChatDelta::ReasoningSignature(text("signature")),
            ("input_json_delta", Block::Answer) => ChatDelta::Content(text("partial_json")),
            ("input_json_delta", Block::ToolUse(slot)) => ChatDelta::ToolCall {
                index: slot,
                id: None,
                name: None,
                arguments: text("partial_json"),
            },
            _ => return Vec::new(),
        };
        if is_empty(&out) {
            return Vec::new();
        }
        vec![Ok(out)]
    }

    fn done(&mut self) -> ChatDelta {
        self.done = true;
        let has_calls = self.calls > 0;
        ChatDelta::Done {
            finish_reason: self
                .stop_reason
                .as_deref()
                .map(|r| finish_reason(r, has_calls)),
            usage: self.usage,
        }
    }

    /// The body ended. Without `message_stop` the answer is complete only if its stop reason
    /// came; otherwise it was cut off, which must not pass for a short answer.
    pub(crate) fn end_of_body(&mut self) -> Result<ChatDelta, LlmError> {
        if self.done || self.stop_reason.is_some() {
            return Ok(self.done());
        }
        Err(LlmError::Connection(
            "the stream ended before the response was complete".to_owned(),
        ))
    }
}

fn is_empty(delta: &ChatDelta) -> bool {
    match delta {
        ChatDelta::Content(text) | ChatDelta::Reasoning(text) => text.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
