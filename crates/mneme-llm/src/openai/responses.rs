//! OpenAI's Responses API (`POST /responses`), which Letta uses for OpenAI's reasoning models:
//! it returns reasoning summaries, and with `store: false` the encrypted reasoning that must go
//! back with the next request for the model to keep its chain of thought across tool calls.
//! The encrypted reasoning is kept as the reasoning block's signature.

use mneme_types::LlmConfig;
use serde_json::{Map, Value, json};

use super::response::text;
use crate::{
    ChatMessage, ChatRequest, ChatResponse, Content, ContentPart, FinishReason, LlmError,
    ReasoningBlock, ResponseFormat, ToolCall, ToolChoice, Usage,
};

/// OpenAI's encrypted reasoning is a Fernet token; a signature of another provider (after the
/// agent changed models) must not be sent, or the request is refused.
const ENCRYPTED_REASONING_PREFIX: &str = "gAAAA";

/// The JSON body for `POST /responses`.
pub(crate) fn body(config: &LlmConfig, request: &ChatRequest, stream: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    if let Some(system) = &request.system {
        body.insert("instructions".into(), json!(system));
    }
    let input: Vec<Value> = request.messages.iter().flat_map(items).collect();
    body.insert("input".into(), Value::Array(input));
    if !request.tools.is_empty() {
        let tools = request.tools.iter().map(|t| {
            json!({"type": "function", "name": t.name, "description": t.description,
                   "parameters": t.parameters, "strict": false})
        });
        body.insert("tools".into(), Value::Array(tools.collect()));
        body.insert("tool_choice".into(), tool_choice(&request.tool_choice));
        if let Some(parallel) = config.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    let mut reasoning = json!({ "summary": "auto" });
    if let Some(effort) = &config.reasoning_effort {
        reasoning["effort"] = json!(effort);
    }
    body.insert("reasoning".into(), reasoning);
    if let Some(max_tokens) = config.max_tokens {
        body.insert("max_output_tokens".into(), json!(max_tokens));
    }
    if let Some(format) = &request.response_format {
        body.insert("text".into(), json!({ "format": text_format(format) }));
    }
    // Nothing is kept on OpenAI's side; the reasoning comes back encrypted instead.
    body.insert("store".into(), json!(false));
    body.insert("include".into(), json!(["reasoning.encrypted_content"]));
    if stream {
        body.insert("stream".into(), json!(true));
    }
    Value::Object(body)
}

/// The input items of one history message.
fn items(message: &ChatMessage) -> Vec<Value> {
    match message {
        ChatMessage::System { content } => vec![json!({"role": "developer", "content": content})],
        ChatMessage::User { content } => {
            vec![json!({"role": "user", "content": input_content(content)})]
        }
        ChatMessage::Assistant {
            content,
            reasoning,
            tool_calls,
        } => {
            let reasoning = reasoning.iter().filter_map(reasoning_item);
            let text = content.iter().map(|text| {
                json!({"type": "message", "role": "assistant",
                       "content": [{"type": "output_text", "text": text}]})
            });
            let calls = tool_calls.iter().map(|c| {
                json!({"type": "function_call", "call_id": c.id, "name": c.name,
                       "arguments": c.arguments})
            });
            reasoning.chain(text).chain(calls).collect()
        }
        ChatMessage::Tool {
            tool_call_id,
            content,
        } => {
            let output = match content {
                Content::Text(text) => json!(text),
                Content::Parts(_) => input_content(content),
            };
            vec![json!({"type": "function_call_output", "call_id": tool_call_id, "output": output})]
        }
    }
}

/// Earlier reasoning goes back only as OpenAI's own encrypted item.
fn reasoning_item(block: &ReasoningBlock) -> Option<Value> {
    let ReasoningBlock::Text {
        text,
        signature: Some(encrypted),
    } = block
    else {
        return None;
    };
    if !encrypted.starts_with(ENCRYPTED_REASONING_PREFIX) {
        return None;
    }
    let summary: Vec<Value> = (!text.is_empty())
        .then(|| json!({"type": "summary_text", "text": text}))
        .into_iter()
        .collect();
    Some(json!({"type": "reasoning", "summary": summary, "encrypted_content": encrypted}))
}

fn input_content(content: &Content) -> Value {
    match content {
        Content::Text(text) => json!(text),
        Content::Parts(parts) => parts
            .iter()
            .map(|part| match part {
                ContentPart::Text { text } => json!({"type": "input_text", "text": text}),
                ContentPart::Image { source } => {
                    json!({"type": "input_image", "image_url": source.to_url()})
                }
            })
            .collect(),
    }
}

fn tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::Required => json!("required"),
        ToolChoice::None => json!("none"),
        ToolChoice::Named(name) => json!({"type": "function", "name": name}),
    }
}

fn text_format(format: &ResponseFormat) -> Value {
    match format {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => json!({"type": "json_schema", "name": name, "schema": schema, "strict": strict}),
    }
}

/// Reads a whole `response` object.
pub(crate) fn parse(body: &[u8]) -> Result<ChatResponse, LlmError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| LlmError::InvalidResponse(format!("not JSON: {e}")))?;
    let Some(output) = json["output"].as_array() else {
        return Err(LlmError::InvalidResponse(
            "the response has no output".to_owned(),
        ));
    };
    let mut response = ChatResponse::default();
    let mut content = String::new();
    for item in output {
        match item["type"].as_str() {
            Some("reasoning") => response.reasoning.push(reasoning_block(item)),
            Some("message") => content.push_str(&text(&item["content"]).unwrap_or_default()),
            Some("function_call") => response.tool_calls.push(ToolCall {
                id: item["call_id"].as_str().unwrap_or_default().to_owned(),
                name: item["name"].as_str().unwrap_or_default().to_owned(),
                arguments: crate::assemble::normalize_arguments(
                    item["arguments"].as_str().unwrap_or_default().to_owned(),
                ),
            }),
            _ => {}
        }
    }
    response.content = (!content.is_empty()).then_some(content);
    response.finish_reason = Some(finish_reason(&json, !response.tool_calls.is_empty()));
    response.usage = usage(&json["usage"]);
    Ok(response)
}

/// A reasoning item: its summary texts, its encrypted content as the signature.
pub(crate) fn reasoning_block(item: &Value) -> ReasoningBlock {
    let summary: Vec<&str> = item["summary"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["text"].as_str())
        .collect();
    ReasoningBlock::Text {
        text: summary.join("\n\n"),
        signature: item["encrypted_content"].as_str().map(str::to_owned),
    }
}

/// `status` with `incomplete_details`, as a finish reason.
pub(crate) fn finish_reason(response: &Value, called_tools: bool) -> FinishReason {
    match response["status"].as_str() {
        Some("incomplete") => match response["incomplete_details"]["reason"].as_str() {
            Some("max_output_tokens") => FinishReason::Length,
            Some("content_filter") => FinishReason::ContentFilter,
            other => FinishReason::Other(other.unwrap_or("incomplete").to_owned()),
        },
        _ if called_tools => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

pub(crate) fn usage(usage: &Value) -> Usage {
    let count = |v: &Value| v.as_u64();
    let input = count(&usage["input_tokens"]).unwrap_or(0);
    let output = count(&usage["output_tokens"]).unwrap_or(0);
    Usage {
        prompt_tokens: input,
        completion_tokens: output,
        total_tokens: count(&usage["total_tokens"]).unwrap_or(input + output),
        cache_read_tokens: count(&usage["input_tokens_details"]["cached_tokens"]),
        cache_creation_tokens: None,
        reasoning_tokens: count(&usage["output_tokens_details"]["reasoning_tokens"]),
    }
}
