//! Builds the `generateContent` body from a provider-neutral `ChatRequest`.
//!
//! Gemini's history is `contents` of role `user` or `model`; tool results are `functionResponse`
//! parts of a user turn and must carry the function's name, which the neutral history only has
//! on the call: it is looked up by the call id. Consecutive turns of one role are merged, so
//! the results of parallel calls travel together as Gemini requires.

use std::collections::HashMap;

use mneme_types::LlmConfig;
use serde_json::{Map, Value, json};

use super::schema;
use crate::{
    ChatMessage, ChatRequest, Content, ContentPart, ImageSource, ReasoningBlock, ResponseFormat,
    ToolCall, ToolChoice, ToolSchema,
};

/// The JSON body for `models/{model}:generateContent` (streaming takes the same body).
pub(crate) fn body(config: &LlmConfig, request: &ChatRequest) -> Value {
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents(&request.messages)));
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        body.insert(
            "systemInstruction".into(),
            json!({ "parts": [{ "text": system }] }),
        );
    }
    if !request.tools.is_empty() && request.tool_choice != ToolChoice::None {
        let declarations: Vec<Value> = request.tools.iter().map(declaration).collect();
        body.insert(
            "tools".into(),
            json!([{ "functionDeclarations": declarations }]),
        );
        body.insert("toolConfig".into(), tool_config(request));
    }
    body.insert(
        "generationConfig".into(),
        generation_config(config, request),
    );
    Value::Object(body)
}

/// One role's turn while the history is folded.
struct Turn {
    role: &'static str,
    parts: Vec<Value>,
}

fn contents(messages: &[ChatMessage]) -> Vec<Value> {
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut turns: Vec<Turn> = Vec::new();
    for message in messages {
        let (role, parts) = match message {
            // Gemini has no system role inside the history.
            ChatMessage::System { content } => ("user", vec![json!({ "text": content })]),
            ChatMessage::User { content } => ("user", content_parts(content)),
            ChatMessage::Assistant {
                content,
                reasoning,
                tool_calls,
            } => {
                for call in tool_calls {
                    names.insert(&call.id, &call.name);
                }
                (
                    "model",
                    model_parts(content.as_deref(), reasoning, tool_calls),
                )
            }
            ChatMessage::Tool {
                tool_call_id,
                content,
            } => {
                // A result whose call is not in the history still needs a name; the id is the
                // best one left (Letta does the same).
                let name = names.get(tool_call_id.as_str()).copied();
                (
                    "user",
                    function_response(name.unwrap_or(tool_call_id), content),
                )
            }
        };
        if parts.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.parts.extend(parts),
            _ => turns.push(Turn { role, parts }),
        }
    }
    // A function call must follow a user turn: a history that starts with the model (an
    // initial message sequence, a history cut after a summary) gets a user turn before it.
    if turns.first().is_some_and(|t| t.role == "model") {
        let opening = json!({ "text": HISTORY_OPENING });
        turns.insert(
            0,
            Turn {
                role: "user",
                parts: vec![opening],
            },
        );
    }
    turns
        .into_iter()
        .map(|t| json!({ "role": t.role, "parts": t.parts }))
        .collect()
}

/// The user turn put before a history that starts with the model.
const HISTORY_OPENING: &str =
    "[This is an automated system message hidden from the user] The conversation continues.";

fn content_parts(content: &Content) -> Vec<Value> {
    match content {
        Content::Text(text) => vec![json!({ "text": text })],
        Content::Parts(parts) => parts.iter().map(part).collect(),
    }
}

fn part(part: &ContentPart) -> Value {
    match part {
        ContentPart::Text { text } => json!({ "text": text }),
        ContentPart::Image {
            source: ImageSource::Base64 { media_type, data },
        } => json!({ "inlineData": { "mimeType": media_type, "data": data } }),
        ContentPart::Image {
            source: ImageSource::Url { url },
        } => json!({ "fileData": { "mimeType": image_mime_type(url), "fileUri": url } }),
    }
}

/// Gemini wants a MIME type beside a file URI; the extension is all there is to go on.
fn image_mime_type(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url).to_lowercase();
    match path.rsplit('.').next() {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("heic") => "image/heic",
        _ => "image/jpeg",
    }
}

/// A model turn: its text and calls, each reasoning signature back on the part it came with.
/// Gemini puts a signature on the first function call of a turn (or on its text when there is
/// no call); the neutral history keeps signatures on the reasoning blocks, in order, so they go
/// back on the calls in order, else on the text. The thought summaries themselves are not sent
/// back: Gemini ignores them in the history.
fn model_parts(
    content: Option<&str>,
    reasoning: &[ReasoningBlock],
    calls: &[ToolCall],
) -> Vec<Value> {
    let mut signatures = reasoning.iter().filter_map(|block| match block {
        ReasoningBlock::Text {
            signature: Some(signature),
            ..
        } => Some(signature.as_str()),
        _ => None,
    });
    let mut parts = Vec::new();
    if let Some(text) = content.filter(|t| !t.is_empty()) {
        let mut part = json!({ "text": text });
        if calls.is_empty()
            && let Some(signature) = signatures.next()
        {
            part["thoughtSignature"] = json!(signature);
        }
        parts.push(part);
    }
    for call in calls {
        let mut part = json!({ "functionCall": { "name": call.name, "args": arguments(call) } });
        if let Some(signature) = signatures.next() {
            part["thoughtSignature"] = json!(signature);
        }
        parts.push(part);
    }
    parts
}

/// The call's arguments as the object Gemini requires; text that is not a JSON object (a model
/// can produce anything) is kept under `arguments` rather than lost.
fn arguments(call: &ToolCall) -> Value {
    match serde_json::from_str::<Value>(&call.arguments) {
        Ok(Value::Object(object)) => Value::Object(object),
        _ if call.arguments.trim().is_empty() => json!({}),
        _ => json!({ "arguments": call.arguments }),
    }
}

/// A tool result: a `functionResponse` part (its `response` must be an object: JSON results go
/// in as JSON, other text as a string, under `content` as Letta sends them), then the
/// result's images as parts beside it.
fn function_response(name: &str, content: &Content) -> Vec<Value> {
    let text = content.text();
    let result = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    let mut parts = vec![json!({
        "functionResponse": { "name": name, "response": { "name": name, "content": result } }
    })];
    if let Content::Parts(items) = content {
        let images = items
            .iter()
            .filter(|p| matches!(p, ContentPart::Image { .. }));
        parts.extend(images.map(part));
    }
    parts
}

fn declaration(tool: &ToolSchema) -> Value {
    let mut declaration = json!({ "name": tool.name, "description": tool.description });
    let parameters = schema::clean(&tool.parameters);
    // Gemini refuses an object schema without properties: a tool without parameters has none.
    let has_properties = parameters["properties"]
        .as_object()
        .is_some_and(|p| !p.is_empty());
    if has_properties {
        declaration["parameters"] = parameters;
    }
    declaration
}

fn tool_config(request: &ChatRequest) -> Value {
    let all = || -> Vec<&str> { request.tools.iter().map(|t| t.name.as_str()).collect() };
    let config = match &request.tool_choice {
        ToolChoice::Auto => json!({ "mode": "AUTO" }),
        ToolChoice::None => json!({ "mode": "NONE" }),
        // Letta names every tool with ANY: some models ignore ANY without the list.
        ToolChoice::Required => json!({ "mode": "ANY", "allowedFunctionNames": all() }),
        ToolChoice::Named(name) => json!({ "mode": "ANY", "allowedFunctionNames": [name] }),
    };
    json!({ "functionCallingConfig": config })
}

fn generation_config(config: &LlmConfig, request: &ChatRequest) -> Value {
    let mut generation = Map::new();
    generation.insert("temperature".into(), json!(config.temperature));
    if let Some(max_tokens) = config.max_tokens {
        generation.insert("maxOutputTokens".into(), json!(max_tokens));
    }
    if let Some(thinking) = thinking_config(config) {
        generation.insert("thinkingConfig".into(), thinking);
    }
    if let Some(format) = &request.response_format {
        // Gemini 2.x refuses a JSON mime type together with function calling; there the
        // format is left to the prompt and the step loop's check of the final answer.
        let tools_offered = !request.tools.is_empty() && request.tool_choice != ToolChoice::None;
        if !tools_offered || config.model.starts_with("gemini-3") {
            response_format(format, &mut generation);
        }
    }
    Value::Object(generation)
}

fn response_format(format: &ResponseFormat, generation: &mut Map<String, Value>) {
    match format {
        ResponseFormat::Text => {}
        ResponseFormat::JsonObject => {
            generation.insert("responseMimeType".into(), json!("application/json"));
        }
        ResponseFormat::JsonSchema { schema: s, .. } => {
            generation.insert("responseMimeType".into(), json!("application/json"));
            generation.insert("responseSchema".into(), schema::clean(s));
        }
    }
}

/// Letta's rules for Gemini's thinking models: 3.x thinks at its default level with thoughts
/// included; 2.5 takes `max_reasoning_tokens` as the budget when the reasoner is on, else the
/// least it allows (2.5 Pro cannot stop thinking: at least 128), with thoughts included only
/// for a real budget. Other models get no thinking config.
fn thinking_config(config: &LlmConfig) -> Option<Value> {
    let model = config.model.as_str();
    if model.starts_with("gemini-3") {
        return Some(json!({ "includeThoughts": true }));
    }
    let pro = model.starts_with("gemini-2.5-pro");
    if !(pro || model.starts_with("gemini-2.5-flash")) {
        return None;
    }
    let requested = if config.enable_reasoner {
        config.max_reasoning_tokens
    } else {
        0
    };
    let budget = if pro { requested.max(128) } else { requested };
    Some(json!({ "thinkingBudget": budget, "includeThoughts": budget > 1 }))
}

#[cfg(test)]
mod tests;
