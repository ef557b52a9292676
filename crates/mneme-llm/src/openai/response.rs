//! Reads a `chat.completion` object. Servers differ in what they omit and add, so fields are
//! read from a `serde_json::Value` (a missing field reads as null, never as an error) and only
//! a body without a usable choice is refused.

use serde_json::Value;

use crate::assemble::{new_tool_call_id, normalize_arguments};
use crate::{
    ChatResponse, FinishReason, LlmError, ModelKind, ReasoningBlock, RemoteModel, ToolCall, Usage,
};

pub(crate) fn parse_completion(body: &[u8]) -> Result<ChatResponse, LlmError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| LlmError::InvalidResponse(format!("not JSON: {e}")))?;
    let Some(choice) = json["choices"].as_array().and_then(|c| c.first()) else {
        return Err(LlmError::InvalidResponse(
            "the response has no choices".to_owned(),
        ));
    };
    let message = &choice["message"];
    if !message.is_object() {
        return Err(LlmError::InvalidResponse(
            "the choice has no message".to_owned(),
        ));
    }
    let tool_calls = message["tool_calls"]
        .as_array()
        .map(|calls| calls.iter().map(tool_call).collect())
        .unwrap_or_default();
    Ok(ChatResponse {
        content: text(&message["content"]),
        reasoning: reasoning(message)
            .map(|text| ReasoningBlock::Text {
                text,
                signature: None,
            })
            .into_iter()
            .collect(),
        tool_calls,
        finish_reason: choice["finish_reason"].as_str().map(finish_reason),
        usage: usage(&json["usage"]),
        exchange: None,
    })
}

/// A `GET /models` list (`{"data": [{"id": ...}]}`); OpenRouter adds `context_length`, some
/// local servers `max_model_len`.
pub(crate) fn parse_model_list(body: &[u8]) -> Result<Vec<RemoteModel>, LlmError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| LlmError::InvalidResponse(format!("not JSON: {e}")))?;
    let Some(data) = json["data"].as_array() else {
        return Err(LlmError::InvalidResponse(
            "the model list has no data".to_owned(),
        ));
    };
    let window = |m: &Value| {
        ["context_length", "max_model_len", "context_window"]
            .iter()
            .find_map(|k| m[*k].as_u64())
            .and_then(|n| u32::try_from(n).ok())
    };
    Ok(data
        .iter()
        .filter_map(|m| {
            let name = m["id"].as_str()?.to_owned();
            let kind = if name.contains("embed") {
                ModelKind::Embedding
            } else {
                ModelKind::Chat
            };
            Some(RemoteModel {
                context_window: window(m),
                max_output_tokens: None,
                embedding_dim: None,
                name,
                kind,
            })
        })
        .collect())
}

/// OpenAI's `finish_reason` (`function_call` is the legacy spelling of `tool_calls`).
pub(crate) fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// `usage`, with OpenAI's cached-input and reasoning details when present. OpenAI counts cached
/// tokens inside `prompt_tokens` and reports no cache writes.
pub(crate) fn usage(usage: &Value) -> Usage {
    let count = |v: &Value| v.as_u64();
    let prompt_tokens = count(&usage["prompt_tokens"]).unwrap_or(0);
    let completion_tokens = count(&usage["completion_tokens"]).unwrap_or(0);
    Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: count(&usage["total_tokens"]).unwrap_or(prompt_tokens + completion_tokens),
        cache_read_tokens: count(&usage["prompt_tokens_details"]["cached_tokens"]),
        cache_creation_tokens: None,
        reasoning_tokens: count(&usage["completion_tokens_details"]["reasoning_tokens"]),
    }
}

/// Text content: a string, or a list of `{type: "text", text}` parts; empty text is none.
pub(crate) fn text(content: &Value) -> Option<String> {
    let text = match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// Native reasoning: `reasoning_content` (vLLM, DeepSeek) or `reasoning` (OpenRouter, Ollama).
pub(crate) fn reasoning(message_or_delta: &Value) -> Option<String> {
    text(&message_or_delta["reasoning_content"]).or_else(|| text(&message_or_delta["reasoning"]))
}

/// Tool-call arguments as JSON text; some servers send an object instead of a string.
pub(crate) fn arguments(arguments: &Value) -> String {
    match arguments {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn tool_call(call: &Value) -> ToolCall {
    let id = call["id"].as_str().filter(|id| !id.is_empty());
    ToolCall {
        id: id.map_or_else(new_tool_call_id, str::to_owned),
        name: call["function"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        arguments: normalize_arguments(arguments(&call["function"]["arguments"])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_full_completion() {
        let body = br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant",
            "content":null,"reasoning_content":"think","tool_calls":[{"id":"call_1",
            "type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
            "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"completion_tokens":5,
            "total_tokens":15,"prompt_tokens_details":{"cached_tokens":4},
            "completion_tokens_details":{"reasoning_tokens":2}},"system_fingerprint":"fp"}"#;
        let response = parse_completion(body).unwrap();
        assert_eq!(response.content, None);
        assert_eq!(
            response.reasoning,
            [ReasoningBlock::Text {
                text: "think".into(),
                signature: None
            }]
        );
        assert_eq!(response.tool_calls[0].arguments, "{\"a\":1}");
        assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(
            response.usage,
            Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                total_tokens: 15,
                cache_read_tokens: Some(4),
                cache_creation_tokens: None,
                reasoning_tokens: Some(2),
            }
        );
    }

    #[test]
    fn tolerates_sparse_and_odd_shapes() {
        let body = br#"{"choices":[{"message":{"content":[{"type":"text","text":"hi"}],
            "reasoning":"r","tool_calls":[{"function":{"name":"g","arguments":{"b":2}}}]}}]}"#;
        let response = parse_completion(body).unwrap();
        assert_eq!(response.content.as_deref(), Some("hi"));
        assert_eq!(response.reasoning_text().as_deref(), Some("r"));
        assert_eq!(response.tool_calls[0].arguments, "{\"b\":2}");
        assert!(response.tool_calls[0].id.starts_with("call_"));
        assert_eq!(response.usage, Usage::default());
        assert_eq!(response.finish_reason, None);
    }

    #[test]
    fn finish_reasons_are_typed() {
        let reason = |r: &str| {
            let body =
                format!(r#"{{"choices":[{{"message":{{"content":"x"}},"finish_reason":"{r}"}}]}}"#);
            parse_completion(body.as_bytes()).unwrap().finish_reason
        };
        assert_eq!(reason("stop"), Some(FinishReason::Stop));
        assert_eq!(reason("length"), Some(FinishReason::Length));
        assert_eq!(reason("function_call"), Some(FinishReason::ToolCalls));
        assert_eq!(reason("content_filter"), Some(FinishReason::ContentFilter));
        assert_eq!(
            reason("eos_token"),
            Some(FinishReason::Other("eos_token".into()))
        );
    }

    #[test]
    fn refuses_garbage() {
        for body in [
            &b"<html>"[..],
            b"{}",
            b"{\"choices\":[]}",
            b"{\"choices\":[{}]}",
            b"[]",
        ] {
            assert!(matches!(
                parse_completion(body),
                Err(LlmError::InvalidResponse(_))
            ));
        }
    }
}
