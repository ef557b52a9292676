//! The Responses API's typed SSE events to `ChatDelta`s.

use std::time::Duration;

use serde_json::Value;

use super::error::from_stream_error;
use super::responses::{finish_reason, reasoning_block, usage};
use crate::sse_stream::{self, SseDecoder};
use crate::{ChatDelta, ChatStream, FinishReason, LlmError, ReasoningBlock, Usage};
use mneme_types::sse::SseEvent;

pub(crate) fn deltas(
    response: reqwest::Response,
    idle: Duration,
    request: bytes::Bytes,
) -> ChatStream {
    sse_stream::recorded(response, idle, EventDecoder::default(), request)
}

#[derive(Debug, Default)]
struct EventDecoder {
    /// The `output_index` of each tool call, in order: a call's slot is its position here.
    call_outputs: Vec<u64>,
    /// Whether text of the current reasoning item was sent (a later summary part is separated).
    reasoning_open: bool,
    done: Option<(FinishReason, Usage)>,
}

impl SseDecoder for EventDecoder {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<ChatDelta>) -> Result<bool, LlmError> {
        let data = event.data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(data == "[DONE]");
        }
        let event: Value = serde_json::from_str(data)
            .map_err(|e| LlmError::InvalidResponse(format!("bad event: {e}")))?;
        let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
        match event["type"].as_str().unwrap_or_default() {
            "response.output_text.delta" => out.push(ChatDelta::Content(text("delta"))),
            "response.reasoning_summary_text.delta" => {
                self.reasoning_open = true;
                out.push(ChatDelta::Reasoning(text("delta")));
            }
            "response.reasoning_summary_part.added" if self.reasoning_open => {
                out.push(ChatDelta::Reasoning("\n\n".to_owned()));
            }
            "response.output_item.added" => self.item_added(&event, out),
            "response.function_call_arguments.delta" => {
                if let Some(index) = self.slot(&event) {
                    out.push(ChatDelta::ToolCall {
                        index,
                        id: None,
                        name: None,
                        arguments: text("delta"),
                    });
                }
            }
            "response.output_item.done" => self.item_done(&event["item"], out),
            "response.completed" | "response.incomplete" => {
                let response = &event["response"];
                let called = !self.call_outputs.is_empty();
                self.done = Some((finish_reason(response, called), usage(&response["usage"])));
                return Ok(true);
            }
            "response.failed" => return Err(from_stream_error(&event["response"]["error"])),
            "error" => return Err(from_stream_error(&event)),
            _ => {}
        }
        Ok(false)
    }

    fn finish(&mut self, _explicit: bool) -> Option<ChatDelta> {
        // Only `response.completed`/`incomplete` make a response complete.
        let (finish_reason, usage) = self.done.take()?;
        Some(ChatDelta::Done {
            finish_reason: Some(finish_reason),
            usage,
        })
    }
}

impl EventDecoder {
    fn item_added(&mut self, event: &Value, out: &mut Vec<ChatDelta>) {
        let item = &event["item"];
        match item["type"].as_str() {
            Some("function_call") => {
                self.call_outputs
                    .push(event["output_index"].as_u64().unwrap_or(u64::MAX));
                out.push(ChatDelta::ToolCall {
                    index: self.call_outputs.len() - 1,
                    id: item["call_id"].as_str().map(str::to_owned),
                    name: item["name"].as_str().map(str::to_owned),
                    arguments: String::new(),
                });
            }
            Some("reasoning") => self.reasoning_open = false,
            _ => {}
        }
    }

    /// A finished reasoning item closes its block with the encrypted content as signature.
    fn item_done(&mut self, item: &Value, out: &mut Vec<ChatDelta>) {
        if item["type"] != "reasoning" {
            return;
        }
        let sent_text = std::mem::take(&mut self.reasoning_open);
        if let ReasoningBlock::Text {
            text,
            signature: Some(signature),
        } = reasoning_block(item)
        {
            // A summary that arrived only here (no deltas) is sent with it.
            if !sent_text && !text.is_empty() {
                out.push(ChatDelta::Reasoning(text));
            }
            out.push(ChatDelta::ReasoningSignature(signature));
        }
    }

    fn slot(&self, event: &Value) -> Option<usize> {
        let output = event["output_index"].as_u64()?;
        self.call_outputs.iter().position(|o| *o == output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble;
    use serde_json::json;

    fn decode(events: &[Value]) -> Vec<ChatDelta> {
        let mut decoder = EventDecoder::default();
        let mut out = Vec::new();
        for event in events {
            let sse = SseEvent {
                event: None,
                data: event.to_string(),
            };
            decoder.event(&sse, &mut out).unwrap();
        }
        out.extend(decoder.finish(false));
        out
    }

    #[test]
    fn reasoning_text_and_calls_come_together() {
        let deltas = decode(&[
            json!({"type": "response.output_item.added", "output_index": 0,
                   "item": {"type": "reasoning"}}),
            json!({"type": "response.reasoning_summary_text.delta", "delta": "think"}),
            json!({"type": "response.output_item.done", "output_index": 0,
                   "item": {"type": "reasoning", "encrypted_content": "gAAAAsecret",
                            "summary": [{"type": "summary_text", "text": "think"}]}}),
            json!({"type": "response.output_item.added", "output_index": 1,
                   "item": {"type": "function_call", "call_id": "call_a", "name": "f"}}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 1,
                   "delta": "{\"x\":"}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 1,
                   "delta": "1}"}),
            json!({"type": "response.output_item.added", "output_index": 2,
                   "item": {"type": "function_call", "call_id": "call_b", "name": "g"}}),
            json!({"type": "response.completed", "response": {"status": "completed",
                   "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                             "input_tokens_details": {"cached_tokens": 4}}}}),
        ]);
        let response = assemble(deltas);
        assert_eq!(
            response.reasoning,
            [ReasoningBlock::Text {
                text: "think".into(),
                signature: Some("gAAAAsecret".into())
            }]
        );
        let calls: Vec<_> = response
            .tool_calls
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(calls, [("call_a", "f", "{\"x\":1}"), ("call_b", "g", "{}")]);
        assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(response.usage.cache_read_tokens, Some(4));
    }

    #[test]
    fn a_stream_without_completion_is_not_done() {
        let mut decoder = EventDecoder::default();
        let mut out = Vec::new();
        let sse = SseEvent {
            event: None,
            data: json!({"type": "response.output_text.delta", "delta": "hal"}).to_string(),
        };
        decoder.event(&sse, &mut out).unwrap();
        assert_eq!(decoder.finish(false), None);
    }
}
