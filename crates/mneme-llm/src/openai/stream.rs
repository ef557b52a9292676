//! Turns a `chat.completion.chunk` SSE body into `ChatDelta`s.
//!
//! Servers disagree on tool-call fragments: OpenAI numbers them with `index`; older Ollama and
//! some proxies omit `index`; current Ollama sends `index: 0` for every parallel call. So our
//! indices are slots of our own: a fragment with a new id opens a new slot.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt;
use serde_json::Value;

use super::error::{from_reqwest, from_stream_error};
use super::response::{arguments, finish_reason, reasoning, text, usage};
use crate::sse::{SseEvent, SseParser};
use crate::{ChatDelta, ChatStream, FinishReason, LlmError, Usage};

/// The deltas of a streaming response; `idle` bounds the wait for each network read.
pub(crate) fn deltas(response: reqwest::Response, idle: Duration) -> ChatStream {
    let state = StreamState {
        body: Box::pin(response.bytes_stream()),
        parser: SseParser::default(),
        decoder: ChunkDecoder::default(),
        ready: VecDeque::new(),
        finished: false,
        idle,
    };
    // `unfold` rather than a spawned task: dropping the stream drops the connection at once.
    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            loop {
                if let Some(item) = state.ready.pop_front() {
                    return Some((item, state));
                }
                if state.finished {
                    return None;
                }
                state.read().await;
            }
        },
    ))
}

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

struct StreamState {
    body: Body,
    parser: SseParser,
    decoder: ChunkDecoder,
    ready: VecDeque<Result<ChatDelta, LlmError>>,
    /// Nothing follows what is in `ready`.
    finished: bool,
    idle: Duration,
}

impl StreamState {
    /// Reads once from the network and queues what it completes.
    async fn read(&mut self) {
        match tokio::time::timeout(self.idle, self.body.next()).await {
            Err(_) => self.fail(LlmError::Timeout),
            Ok(Some(Err(e))) => self.fail(from_reqwest(&e)),
            Ok(Some(Ok(bytes))) => {
                for event in self.parser.push(&bytes) {
                    self.event(event);
                }
            }
            Ok(None) => {
                if let Some(event) = self.parser.finish() {
                    self.event(event);
                }
                self.end(false);
            }
        }
    }

    fn event(&mut self, event: SseEvent) {
        if self.finished {
            return;
        }
        let data = event.data.trim();
        if data == "[DONE]" {
            return self.end(true);
        }
        if data.is_empty() {
            return;
        }
        let chunk: Value = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(e) => return self.fail(LlmError::InvalidResponse(format!("bad chunk: {e}"))),
        };
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return self.fail(from_stream_error(error));
        }
        let deltas = self.decoder.decode(&chunk);
        self.ready.extend(deltas.into_iter().map(Ok));
    }

    /// `[DONE]` (`explicit`) or the end of the body. A body cut off before `[DONE]` and any
    /// finish reason is an error, not a short answer: the step loop must not store half a
    /// response as complete.
    fn end(&mut self, explicit: bool) {
        if self.finished {
            return;
        }
        match self.decoder.finish(explicit) {
            Some(done) => {
                self.ready.push_back(Ok(done));
                self.finished = true;
            }
            None => self.fail(LlmError::Connection(
                "the stream ended before the response was complete".to_owned(),
            )),
        }
    }

    fn fail(&mut self, error: LlmError) {
        self.ready.push_back(Err(error));
        self.finished = true;
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
