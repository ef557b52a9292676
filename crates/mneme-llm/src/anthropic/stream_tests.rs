use super::*;
use crate::{FinishReason, ReasoningBlock, assemble};
use serde_json::json;

fn decode_all(decoder: &mut EventDecoder, events: &[Value]) -> Vec<Result<ChatDelta, LlmError>> {
    events
        .iter()
        .flat_map(|e| decoder.decode(&e.to_string()))
        .collect()
}

fn ok(items: Vec<Result<ChatDelta, LlmError>>) -> Vec<ChatDelta> {
    items.into_iter().map(Result::unwrap).collect()
}

fn start(index: u64, block: Value) -> Value {
    json!({"type": "content_block_start", "index": index, "content_block": block})
}

fn delta(index: u64, delta: Value) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": delta})
}

fn stop(index: u64) -> Value {
    json!({"type": "content_block_stop", "index": index})
}

fn message_start() -> Value {
    json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
        "role": "assistant", "content": [], "model": "claude-sonnet-4-5", "stop_reason": null,
        "usage": {"input_tokens": 20, "cache_creation_input_tokens": 3,
                  "cache_read_input_tokens": 100, "output_tokens": 1}}})
}

#[test]
fn thinking_text_and_parallel_calls() {
    let mut decoder = EventDecoder::new(false);
    let deltas = ok(decode_all(
        &mut decoder,
        &[
            message_start(),
            json!({"type": "ping"}),
            start(
                0,
                json!({"type": "thinking", "thinking": "", "signature": ""}),
            ),
            delta(0, json!({"type": "thinking_delta", "thinking": "Let me "})),
            delta(0, json!({"type": "thinking_delta", "thinking": "see."})),
            delta(0, json!({"type": "signature_delta", "signature": "EqQB=="})),
            stop(0),
            start(1, json!({"type": "redacted_thinking", "data": "secret"})),
            stop(1),
            start(2, json!({"type": "text", "text": ""})),
            delta(2, json!({"type": "text_delta", "text": "Two calls."})),
            stop(2),
            start(
                3,
                json!({"type": "tool_use", "id": "toolu_a", "name": "f", "input": {}}),
            ),
            delta(3, json!({"type": "input_json_delta", "partial_json": ""})),
            delta(
                3,
                json!({"type": "input_json_delta", "partial_json": "{\"x\":"}),
            ),
            delta(3, json!({"type": "input_json_delta", "partial_json": "1}"})),
            stop(3),
            start(
                4,
                json!({"type": "tool_use", "id": "toolu_b", "name": "g", "input": {}}),
            ),
            stop(4),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use",
                "stop_sequence": null}, "usage": {"output_tokens": 42}}),
            json!({"type": "message_stop"}),
        ],
    ));
    assert_eq!(deltas[0], ChatDelta::Reasoning("Let me ".into()));
    let response = assemble(deltas);
    assert_eq!(
        response.reasoning,
        [
            ReasoningBlock::Text {
                text: "Let me see.".into(),
                signature: Some("EqQB==".into())
            },
            ReasoningBlock::Redacted {
                data: "secret".into()
            }
        ]
    );
    assert_eq!(response.content.as_deref(), Some("Two calls."));
    let calls: Vec<_> = response
        .tool_calls
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
        .collect();
    assert_eq!(
        calls,
        [("toolu_a", "f", "{\"x\":1}"), ("toolu_b", "g", "{}")]
    );
    assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(response.usage.prompt_tokens, 123);
    assert_eq!(response.usage.completion_tokens, 42);
    assert_eq!(response.usage.total_tokens, 165);
    assert_eq!(response.usage.cache_read_tokens, Some(100));
    assert_eq!(response.usage.cache_creation_tokens, Some(3));
}

#[test]
fn the_json_answer_streams_as_text() {
    let mut decoder = EventDecoder::new(true);
    let deltas = ok(decode_all(
        &mut decoder,
        &[
            message_start(),
            start(
                0,
                json!({"type": "tool_use", "id": "toolu_a", "name": ANSWER_TOOL, "input": {}}),
            ),
            delta(
                0,
                json!({"type": "input_json_delta", "partial_json": "{\"ok\":"}),
            ),
            delta(
                0,
                json!({"type": "input_json_delta", "partial_json": "true}"}),
            ),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}),
            json!({"type": "message_stop"}),
        ],
    ));
    let response = assemble(deltas);
    assert_eq!(response.content.as_deref(), Some("{\"ok\":true}"));
    assert!(response.tool_calls.is_empty());
    assert_eq!(response.finish_reason, Some(FinishReason::Stop));
}

#[test]
fn error_events_and_cut_bodies_fail() {
    let mut decoder = EventDecoder::new(false);
    let items = decode_all(
        &mut decoder,
        &[
            message_start(),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ],
    );
    assert_eq!(
        items.last().unwrap().clone().unwrap_err(),
        LlmError::Unavailable {
            status: 529,
            message: "Overloaded".into()
        }
    );
    let mut cut = EventDecoder::new(false);
    decode_all(
        &mut cut,
        &[
            message_start(),
            start(0, json!({"type": "text", "text": "Hal"})),
        ],
    );
    assert!(matches!(cut.end_of_body(), Err(LlmError::Connection(_))));
    let mut ended = EventDecoder::new(false);
    decode_all(
        &mut ended,
        &[json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}})],
    );
    assert!(matches!(
        ended.end_of_body(),
        Ok(ChatDelta::Done {
            finish_reason: Some(FinishReason::Stop),
            ..
        })
    ));
    assert!(EventDecoder::new(false).decode("not json")[0].is_err());
}
