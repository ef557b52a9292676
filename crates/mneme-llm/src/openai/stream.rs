//! Turns a `chat.completion.chunk` SSE body into `ChatDelta`s.
//!
//! Servers disagree on tool-call fragments: OpenAI numbers them with `index`; older Ollama and
//! some proxies omit `index`; current Ollama sends `index: 0` for every parallel call. So our
//! indices are slots of our own: a fragment with a new id opens a new slot.

use std::time::Duration;

use serde_json::Value;

use super::error::from_stream_error;
use super::response::{arguments, finish_reason, reasoning, text, usage};
use crate::sse_stream::{self, SseDecoder};
use crate::{ChatDelta, ChatStream, FinishReason, LlmError, Usage};
use mneme_types::sse::SseEvent;

/// The deltas of a streaming response; `idle` bounds the wait for each network read.
pub(crate) fn deltas(
    response: reqwest::Response,
    idle: Duration,
    request: bytes::Bytes,
) -> ChatStream {
    sse_stream::recorded(response, idle, ChunkDecoder::default(), request)
}

impl SseDecoder for ChunkDecoder {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<ChatDelta>) -> Result<bool, LlmError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| LlmError::InvalidResponse(format!("bad chunk: {e}")))?;
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(from_stream_error(error));
        }
        out.extend(self.decode(&chunk));
        Ok(false)
    }

    fn finish(&mut self, explicit: bool) -> Option<ChatDelta> {
        ChunkDecoder::finish(self, explicit)
    }
}

/// Per-stream state for reading chunks: the finish reason and usage seen so far, and the
/// tool-call slots.
#[derive(Debug, Default)]
pub(crate) struct ChunkDecoder {
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
    slots: Vec<Slot>,
    saw_done: bool,
}

#[derive(Debug)]
struct Slot {
    provider_index: Option<u64>,
    id: Option<String>,
}

impl ChunkDecoder {
    pub(crate) fn decode(&mut self, chunk: &Value) -> Vec<ChatDelta> {
        if chunk["usage"].is_object() {
            self.usage = Some(usage(&chunk["usage"]));
        }
        let Some(choice) = chunk["choices"].as_array().and_then(|c| c.first()) else {
            return Vec::new();
        };
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(finish_reason(reason));
        }
        let delta = &choice["delta"];
        let mut deltas = Vec::new();
        deltas.extend(reasoning(delta).map(ChatDelta::Reasoning));
        deltas.extend(text(&delta["content"]).map(ChatDelta::Content));
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            deltas.push(self.tool_call(call));
        }
        deltas
    }

    /// The final delta: after `[DONE]` (`explicit`), or once a finish reason or usage (which
    /// only comes at the end) was seen.
    pub(crate) fn finish(&mut self, explicit: bool) -> Option<ChatDelta> {
        let complete = explicit || self.finish_reason.is_some() || self.usage.is_some();
        if self.saw_done || !complete {
            return None;
        }
        self.saw_done = true;
        Some(ChatDelta::Done {
            finish_reason: self.finish_reason.take(),
            usage: self.usage.take().unwrap_or_default(),
        })
    }

    fn tool_call(&mut self, call: &Value) -> ChatDelta {
        let id = call["id"].as_str().filter(|id| !id.is_empty());
        let name = call["function"]["name"].as_str().filter(|n| !n.is_empty());
        let index = self.slot(call["index"].as_u64(), id, name.is_some());
        ChatDelta::ToolCall {
            index,
            id: id.map(str::to_owned),
            name: name.map(str::to_owned),
            arguments: arguments(&call["function"]["arguments"]),
        }
    }

    /// The slot a fragment belongs to: the latest slot with its provider index (or the latest
    /// slot, without an index), unless the fragment starts a different call.
    fn slot(&mut self, provider_index: Option<u64>, id: Option<&str>, named: bool) -> usize {
        let current = match provider_index {
            Some(_) => self
                .slots
                .iter()
                .rposition(|s| s.provider_index == provider_index),
            None => self.slots.len().checked_sub(1),
        };
        let continues = current.is_some_and(|i| {
            let slot_id = self.slots[i].id.as_deref();
            match (id, slot_id) {
                (Some(id), Some(slot_id)) => id == slot_id,
                (Some(_), None) => true,
                // Without an id or an index, only a fragment without a name continues a call.
                (None, _) => provider_index.is_some() || !named,
            }
        });
        match current {
            Some(i) if continues => {
                if self.slots[i].id.is_none() {
                    self.slots[i].id = id.map(str::to_owned);
                }
                i
            }
            _ => {
                self.slots.push(Slot {
                    provider_index,
                    id: id.map(str::to_owned),
                });
                self.slots.len() - 1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble;
    use serde_json::json;

    fn decode_all(chunks: &[Value]) -> Vec<ChatDelta> {
        let mut decoder = ChunkDecoder::default();
        let mut deltas: Vec<ChatDelta> = chunks.iter().flat_map(|c| decoder.decode(c)).collect();
        deltas.extend(decoder.finish(false));
        deltas
    }

    fn chunk(delta: Value) -> Value {
        json!({"choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
    }

    fn calls(deltas: Vec<ChatDelta>) -> Vec<(String, String)> {
        let response = assemble(deltas);
        response
            .tool_calls
            .into_iter()
            .map(|c| (c.name, c.arguments))
            .collect()
    }

    #[test]
    fn openai_fragments_with_usage_after_finish() {
        let deltas = decode_all(&[
            chunk(json!({"role": "assistant", "content": "", "refusal": null})),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "f", "arguments": ""}}]}),
            ),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\""}}]})),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]})),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}}),
        ]);
        let response = assemble(deltas);
        assert_eq!(response.tool_calls[0].id, "call_1");
        assert_eq!(response.tool_calls[0].arguments, "{\"a\":1}");
        assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(response.usage.total_tokens, 15);
    }

    #[test]
    fn missing_index_whole_calls_get_their_own_slots() {
        let deltas = decode_all(&[
            chunk(json!({"tool_calls": [
                {"id": "a", "function": {"name": "f", "arguments": {"x": 1}}},
                {"id": "b", "function": {"name": "g", "arguments": "{}"}},
            ]})),
            json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}),
        ]);
        assert_eq!(
            calls(deltas),
            [("f".into(), "{\"x\":1}".into()), ("g".into(), "{}".into())]
        );
    }

    #[test]
    fn repeated_index_zero_with_new_ids_opens_new_slots() {
        let deltas = decode_all(&[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]}),
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}),
            ),
            json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}),
        ]);
        assert_eq!(
            calls(deltas),
            [("f".into(), "{}".into()), ("g".into(), "{}".into())]
        );
    }

    #[test]
    fn reasoning_and_usage_inside_the_finish_chunk() {
        let deltas = decode_all(&[
            chunk(json!({"reasoning_content": "let me think"})),
            chunk(json!({"content": "4"})),
            json!({"choices": [{"delta": {}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2,
                             "prompt_tokens_details": {"cached_tokens": 1}}}),
        ]);
        let response = assemble(deltas);
        assert_eq!(response.reasoning_text().as_deref(), Some("let me think"));
        assert_eq!(response.content.as_deref(), Some("4"));
        assert_eq!(response.finish_reason, Some(FinishReason::Stop));
        assert_eq!(response.usage.total_tokens, 2);
        assert_eq!(response.usage.cache_read_tokens, Some(1));
    }

    #[test]
    fn no_finish_means_no_done() {
        let mut decoder = ChunkDecoder::default();
        decoder.decode(&chunk(json!({"content": "half"})));
        assert_eq!(decoder.finish(false), None);
        assert!(matches!(
            decoder.finish(true),
            Some(ChatDelta::Done {
                finish_reason: None,
                ..
            })
        ));
    }
}
