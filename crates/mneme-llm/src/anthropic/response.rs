//! Reads a Messages API `message` object, its `stop_reason` and `usage`, and the model list.

use serde_json::Value;

use super::request::ANSWER_TOOL;
use crate::assemble::{new_tool_call_id, normalize_arguments};
use crate::{
    ChatResponse, FinishReason, LlmError, ModelKind, ReasoningBlock, RemoteModel, ToolCall, Usage,
};

/// A whole `message`; `answer_tool`: a call to `ANSWER_TOOL` is the answer's text.
pub(crate) fn parse_message(body: &[u8], answer_tool: bool) -> Result<ChatResponse, LlmError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| LlmError::InvalidResponse(format!("not JSON: {e}")))?;
    let Some(blocks) = json["content"].as_array() else {
        return Err(LlmError::InvalidResponse(
            "the message has no content".to_owned(),
        ));
    };
    let mut response = ChatResponse::default();
    let mut text = String::new();
    for block in blocks {
        match block["type"].as_str().unwrap_or_default() {
            "text" => text.push_str(block["text"].as_str().unwrap_or_default()),
            "thinking" => response.reasoning.push(ReasoningBlock::Text {
                text: block["thinking"].as_str().unwrap_or_default().to_owned(),
                signature: block["signature"].as_str().map(str::to_owned),
            }),
            "redacted_thinking" => response.reasoning.push(ReasoningBlock::Redacted {
                data: block["data"].as_str().unwrap_or_default().to_owned(),
            }),
            "tool_use" if answer_tool && block["name"] == ANSWER_TOOL => {
                text.push_str(&block["input"].to_string());
            }
            "tool_use" => response.tool_calls.push(tool_call(block)),
            // Server tools' blocks and whatever comes later are not for the step loop.
            _ => {}
        }
    }
    response.content = (!text.is_empty()).then_some(text);
    let stop = json["stop_reason"].as_str();
    response.finish_reason = stop.map(|r| finish_reason(r, !response.tool_calls.is_empty()));
    response.usage = Usage::default();
    add_usage(&mut response.usage, &json["usage"]);
    Ok(response)
}

fn tool_call(block: &Value) -> ToolCall {
    let id = block["id"].as_str().filter(|id| !id.is_empty());
    let arguments = match &block["input"] {
        Value::Null => String::new(),
        input => input.to_string(),
    };
    ToolCall {
        id: id.map_or_else(new_tool_call_id, str::to_owned),
        name: block["name"].as_str().unwrap_or_default().to_owned(),
        arguments: normalize_arguments(arguments),
    }
}

/// Anthropic's `stop_reason`. `tool_use` with no call left (the JSON answer was one) is a
/// natural end.
pub(crate) fn finish_reason(reason: &str, has_calls: bool) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" if has_calls => FinishReason::ToolCalls,
        "tool_use" => FinishReason::Stop,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// Adds what a `usage` object reports to `usage`. A stream reports input and cache counts in
/// `message_start` and output counts (sometimes all of them again) in `message_delta`, so a
/// count present here replaces the one before. Anthropic counts cache reads and writes apart
/// from `input_tokens`; `prompt_tokens` is all three.
pub(crate) fn add_usage(usage: &mut Usage, reported: &Value) {
    let count = |key: &str| reported[key].as_u64();
    let cached =
        |u: &Usage| u.cache_read_tokens.unwrap_or(0) + u.cache_creation_tokens.unwrap_or(0);
    let earlier_input = usage.prompt_tokens.saturating_sub(cached(usage));
    if let Some(read) = count("cache_read_input_tokens") {
        usage.cache_read_tokens = Some(read);
    }
    if let Some(created) = count("cache_creation_input_tokens") {
        usage.cache_creation_tokens = Some(created);
    }
    let input = count("input_tokens").unwrap_or(earlier_input);
    usage.prompt_tokens = input + cached(usage);
    if let Some(output) = count("output_tokens") {
        usage.completion_tokens = output;
    }
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
}

/// `GET /models`: `{"data": [{"id": "claude-…", "type": "model", …}], "has_more": …}`.
pub(crate) fn parse_model_list(body: &[u8]) -> Result<Vec<RemoteModel>, LlmError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| LlmError::InvalidResponse(format!("not JSON: {e}")))?;
    let Some(data) = json["data"].as_array() else {
        return Err(LlmError::InvalidResponse(
            "the model list has no data".to_owned(),
        ));
    };
    Ok(data
        .iter()
        .filter_map(|m| m["id"].as_str())
        .map(|id| RemoteModel {
            name: id.to_owned(),
            kind: ModelKind::Chat,
            context_window: None,
            max_output_tokens: None,
            embedding_dim: None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_thinking_text_and_calls_with_cache_usage() {
        let body = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "thinking", "thinking": "plan", "signature": "sig=="},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
                {"type": "tool_use", "id": "toolu_2", "name": "g", "input": {}},
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 100,
                      "cache_creation_input_tokens": 5, "output_tokens": 7},
        });
        let response = parse_message(body.to_string().as_bytes(), false).unwrap();
        assert_eq!(
            response.reasoning,
            [
                ReasoningBlock::Text {
                    text: "plan".into(),
                    signature: Some("sig==".into())
                },
                ReasoningBlock::Redacted {
                    data: "opaque".into()
                }
            ]
        );
        assert_eq!(response.content.as_deref(), Some("Checking."));
        let calls: Vec<_> = response
            .tool_calls
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(
            calls,
            [("toolu_1", "f", "{\"a\":1}"), ("toolu_2", "g", "{}")]
        );
        assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(
            response.usage,
            Usage {
                prompt_tokens: 115,
                completion_tokens: 7,
                total_tokens: 122,
                cache_read_tokens: Some(100),
                cache_creation_tokens: Some(5),
                reasoning_tokens: None,
            }
        );
    }

    #[test]
    fn the_json_answer_tool_is_text() {
        let body = json!({"content": [
            {"type": "tool_use", "id": "toolu_1", "name": ANSWER_TOOL, "input": {"city": "Oslo"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1}});
        let response = parse_message(body.to_string().as_bytes(), true).unwrap();
        assert_eq!(response.content.as_deref(), Some(r#"{"city":"Oslo"}"#));
        assert!(response.tool_calls.is_empty());
        assert_eq!(response.finish_reason, Some(FinishReason::Stop));
    }

    #[test]
    fn stop_reasons_are_typed() {
        assert_eq!(finish_reason("end_turn", false), FinishReason::Stop);
        assert_eq!(finish_reason("stop_sequence", false), FinishReason::Stop);
        assert_eq!(finish_reason("max_tokens", false), FinishReason::Length);
        assert_eq!(finish_reason("refusal", false), FinishReason::ContentFilter);
        assert_eq!(
            finish_reason("pause_turn", false),
            FinishReason::Other("pause_turn".into())
        );
    }

    #[test]
    fn refuses_garbage_and_reads_model_lists() {
        assert!(parse_message(b"<html>", false).is_err());
        assert!(parse_message(b"{}", false).is_err());
        let list = json!({"data": [{"type": "model", "id": "claude-haiku-4-5",
            "display_name": "Claude Haiku 4.5"}], "has_more": false});
        let models = parse_model_list(list.to_string().as_bytes()).unwrap();
        assert_eq!(models[0].name, "claude-haiku-4-5");
        assert_eq!(models[0].kind, ModelKind::Chat);
    }
}
