//! Builds the `/api/chat` body from a provider-neutral `ChatRequest`.

use std::collections::HashMap;

use mneme_types::LlmConfig;
use serde_json::{Map, Value, json};

use crate::{
    ChatMessage, ChatRequest, Content, ContentPart, ImageSource, ResponseFormat, ToolCall,
    ToolChoice, ToolSchema,
};

/// The JSON body for `POST /api/chat`. Ollama streams unless told otherwise, so `stream` is
/// always said.
pub(crate) fn body(config: &LlmConfig, request: &ChatRequest, stream: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    body.insert("messages".into(), Value::Array(messages(request)));
    body.insert("stream".into(), json!(stream));
    // Ollama has no tool choice: `none` is no tools, the others offer them all.
    if !request.tools.is_empty() && request.tool_choice != ToolChoice::None {
        let tools = request.tools.iter().map(tool).collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    body.insert("options".into(), options(config));
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => {
            body.insert("format".into(), json!("json"));
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            body.insert("format".into(), schema.clone());
        }
        Some(ResponseFormat::Text) | None => {}
    }
    if let Some(think) = think(config) {
        body.insert("think".into(), think);
    }
    Value::Object(body)
}

/// `num_ctx` is the agent's context window: Ollama's own default (2048 to 4096 tokens) would
/// silently cut the prompt mneme sized for the configured window.
fn options(config: &LlmConfig) -> Value {
    let mut options = json!({
        "temperature": config.temperature,
        "num_ctx": config.context_window,
    });
    if let Some(max_tokens) = config.max_tokens {
        options["num_predict"] = json!(max_tokens);
    }
    options
}

/// `think` only when asked for: Ollama refuses it for models that cannot think. gpt-oss takes
/// an effort level; other thinking models a boolean.
fn think(config: &LlmConfig) -> Option<Value> {
    if let Some(effort) = &config.reasoning_effort {
        if config.model.starts_with("gpt-oss") {
            return Some(json!(effort));
        }
        return Some(json!(true));
    }
    (config.enable_reasoner && config.max_reasoning_tokens > 0).then(|| json!(true))
}

fn messages(request: &ChatRequest) -> Vec<Value> {
    let mut names: HashMap<&str, &str> = HashMap::new();
    let system = request
        .system
        .iter()
        .map(|text| json!({ "role": "system", "content": text }));
    let mut out: Vec<Value> = system.collect();
    for message in &request.messages {
        out.push(match message {
            ChatMessage::System { content } => json!({ "role": "system", "content": content }),
            ChatMessage::User { content } => with_content(json!({ "role": "user" }), content),
            ChatMessage::Assistant {
                content,
                tool_calls,
                reasoning: _,
            } => {
                for call in tool_calls {
                    names.insert(&call.id, &call.name);
                }
                let mut value =
                    json!({ "role": "assistant", "content": content.as_deref().unwrap_or("") });
                if !tool_calls.is_empty() {
                    value["tool_calls"] = tool_calls.iter().map(tool_call).collect();
                }
                value
            }
            ChatMessage::Tool {
                tool_call_id,
                content,
            } => {
                let mut value = with_content(json!({ "role": "tool" }), content);
                if let Some(name) = names.get(tool_call_id.as_str()) {
                    value["tool_name"] = json!(name);
                }
                value
            }
        });
    }
    out
}

/// Text as `content` and base64 images as `images`; Ollama cannot fetch an image by URL, so
/// such an image is named in the text instead of dropped without a trace.
fn with_content(mut message: Value, content: &Content) -> Value {
    let parts = match content {
        Content::Text(text) => {
            message["content"] = json!(text);
            return message;
        }
        Content::Parts(parts) => parts,
    };
    let mut texts = Vec::new();
    let mut images = Vec::new();
    for part in parts {
        match part {
            ContentPart::Text { text } => texts.push(text.clone()),
            ContentPart::Image {
                source: ImageSource::Base64 { data, .. },
            } => images.push(json!(data)),
            ContentPart::Image {
                source: ImageSource::Url { url },
            } => texts.push(format!("[image: {url}]")),
        }
    }
    message["content"] = json!(texts.join("\n"));
    if !images.is_empty() {
        message["images"] = Value::Array(images);
    }
    message
}

/// Ollama takes the arguments as an object.
fn tool_call(call: &ToolCall) -> Value {
    let arguments = match serde_json::from_str::<Value>(&call.arguments) {
        Ok(Value::Object(object)) => Value::Object(object),
        _ => json!({}),
    };
    json!({ "function": { "name": call.name, "arguments": arguments } })
}

fn tool(tool: &ToolSchema) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReasoningBlock;

    fn config(extra: Value) -> LlmConfig {
        let mut value = json!({
            "model": "qwen3:8b", "model_endpoint_type": "ollama", "context_window": 16384,
            "temperature": 0.3, "max_tokens": 512,
        });
        value
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(value).unwrap()
    }

    fn request() -> ChatRequest {
        ChatRequest {
            system: Some("sys".into()),
            messages: vec![
                ChatMessage::User {
                    content: Content::Parts(vec![
                        ContentPart::Text {
                            text: "look".into(),
                        },
                        ContentPart::Image {
                            source: ImageSource::Base64 {
                                media_type: "image/png".into(),
                                data: "iVBOR".into(),
                            },
                        },
                        ContentPart::Image {
                            source: ImageSource::Url {
                                url: "https://x/cat.png".into(),
                            },
                        },
                    ]),
                },
                ChatMessage::Assistant {
                    content: None,
                    reasoning: vec![ReasoningBlock::Text {
                        text: "hm".into(),
                        signature: None,
                    }],
                    tool_calls: vec![ToolCall {
                        id: "c1".into(),
                        name: "f".into(),
                        arguments: "{\"a\":1}".into(),
                    }],
                },
                ChatMessage::Tool {
                    tool_call_id: "c1".into(),
                    content: "done".into(),
                },
            ],
            tools: vec![ToolSchema {
                name: "f".into(),
                description: "does f".into(),
                parameters: json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
            }],
            tool_choice: ToolChoice::Auto,
            response_format: Some(ResponseFormat::JsonObject),
        }
    }

    #[test]
    fn messages_images_tools_and_options() {
        let body = body(&config(json!({})), &request(), true);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "look\n[image: https://x/cat.png]", "images": ["iVBOR"]},
                {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
                {"role": "tool", "content": "done", "tool_name": "f"},
            ])
        );
        assert_eq!(body["tools"][0]["function"]["name"], "f");
        assert_eq!(
            body["options"],
            json!({"temperature": 0.3, "num_ctx": 16384, "num_predict": 512})
        );
        assert_eq!(
            (&body["format"], &body["stream"]),
            (&json!("json"), &json!(true))
        );
        assert!(body.get("think").is_none());
    }

    #[test]
    fn think_and_schema_formats() {
        let mut req = request();
        let schema = json!({"type": "object", "properties": {"x": {"type": "string"}}});
        req.response_format = Some(ResponseFormat::JsonSchema {
            name: "n".into(),
            schema: schema.clone(),
            strict: true,
        });
        req.tool_choice = ToolChoice::None;
        let body = body(&config(json!({"max_reasoning_tokens": 1024})), &req, false);
        assert_eq!(body["format"], schema);
        assert_eq!(body["think"], true);
        assert!(body.get("tools").is_none());
        let gpt_oss = config(json!({"model": "gpt-oss:20b", "reasoning_effort": "high"}));
        assert_eq!(super::body(&gpt_oss, &req, false)["think"], "high");
    }
}
