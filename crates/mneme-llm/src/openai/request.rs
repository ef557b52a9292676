//! Builds the Chat Completions request body from a provider-neutral `ChatRequest`.

use mneme_types::LlmConfig;
use serde_json::{Map, Value, json};

use super::OPENAI_ENDPOINT_TYPE;
use crate::{
    ChatMessage, ChatRequest, Content, ContentPart, ResponseFormat, ToolCall, ToolChoice,
    ToolSchema,
};

/// The JSON body for `POST /chat/completions`.
pub(crate) fn body(config: &LlmConfig, request: &ChatRequest, stream: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    // The system prompt is the first message; reasoning from earlier turns is not sent back
    // (Chat Completions has no place for it).
    let system = request.system.iter().map(|text| system_message(text));
    let messages = system.chain(history(&request.messages)).collect();
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools = request.tools.iter().map(tool).collect();
        body.insert("tools".into(), Value::Array(tools));
        body.insert("tool_choice".into(), tool_choice(&request.tool_choice));
        if let Some(parallel) = config.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    let reasoning_model = is_openai_reasoning_model(config);
    // OpenAI's reasoning models reject any temperature but the default.
    if !reasoning_model {
        body.insert("temperature".into(), json!(config.temperature));
    }
    if let Some(max_tokens) = config.max_tokens {
        // OpenAI deprecated `max_tokens` (its reasoning models refuse it); other servers
        // often know only `max_tokens`.
        let key = if config.model_endpoint_type == OPENAI_ENDPOINT_TYPE {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(key.into(), json!(max_tokens));
    }
    if let (true, Some(effort)) = (reasoning_model, &config.reasoning_effort) {
        body.insert("reasoning_effort".into(), json!(effort));
    }
    if let Some(format) = &request.response_format {
        body.insert("response_format".into(), response_format(format));
    }
    if stream {
        body.insert("stream".into(), json!(true));
        // Without this OpenAI sends no usage at all on a stream.
        body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    Value::Object(body)
}

fn response_format(format: &ResponseFormat) -> Value {
    match format {
        ResponseFormat::Text => json!({ "type": "text" }),
        ResponseFormat::JsonObject => json!({ "type": "json_object" }),
        ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => json!({
            "type": "json_schema",
            "json_schema": { "name": name, "schema": schema, "strict": strict },
        }),
    }
}

fn system_message(text: &str) -> Value {
    json!({ "role": "system", "content": text })
}

/// The history as messages. Tool messages take text only, so images a tool returned follow the
/// run of tool results as one user message that says which call they came from.
fn history(messages: &[ChatMessage]) -> Vec<Value> {
    let mut out = Vec::with_capacity(messages.len());
    let mut images: Vec<Value> = Vec::new();
    for m in messages {
        if !matches!(m, ChatMessage::Tool { .. }) && !images.is_empty() {
            out.push(json!({ "role": "user", "content": std::mem::take(&mut images) }));
        }
        out.push(message(m));
        if let ChatMessage::Tool {
            tool_call_id,
            content: Content::Parts(parts),
        } = m
        {
            let found = parts
                .iter()
                .filter(|p| matches!(p, ContentPart::Image { .. }));
            let found: Vec<Value> = found.map(content_part).collect();
            if !found.is_empty() {
                let note = format!("Images returned by tool call {tool_call_id}:");
                images.push(json!({ "type": "text", "text": note }));
                images.extend(found);
            }
        }
    }
    if !images.is_empty() {
        out.push(json!({ "role": "user", "content": images }));
    }
    out
}

fn message(message: &ChatMessage) -> Value {
    match message {
        ChatMessage::System { content } => system_message(content),
        ChatMessage::User { content } => {
            json!({ "role": "user", "content": user_content(content) })
        }
        ChatMessage::Assistant {
            content,
            tool_calls,
            reasoning: _,
        } => {
            let mut value = json!({ "role": "assistant", "content": content });
            if !tool_calls.is_empty() {
                value["tool_calls"] = tool_calls.iter().map(tool_call).collect();
            }
            value
        }
        ChatMessage::Tool {
            tool_call_id,
            content,
        } => json!({
            "role": "tool", "tool_call_id": tool_call_id, "content": content.text(),
        }),
    }
}

/// Plain text stays a string (what every server accepts); parts become OpenAI's content array.
fn user_content(content: &Content) -> Value {
    match content {
        Content::Text(text) => json!(text),
        Content::Parts(parts) => parts.iter().map(content_part).collect(),
    }
}

fn content_part(part: &ContentPart) -> Value {
    match part {
        ContentPart::Text { text } => json!({ "type": "text", "text": text }),
        ContentPart::Image { source } => {
            json!({ "type": "image_url", "image_url": { "url": source.to_url() } })
        }
    }
}

fn tool_call(call: &ToolCall) -> Value {
    json!({
        "id": call.id,
        "type": "function",
        "function": { "name": call.name, "arguments": call.arguments },
    })
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

fn tool_choice(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::Required => json!("required"),
        ToolChoice::None => json!("none"),
        ToolChoice::Named(name) => json!({ "type": "function", "function": { "name": name } }),
    }
}

/// o1, o3, o4-mini, gpt-5...: models that take `reasoning_effort` and no `temperature`.
pub(crate) fn is_openai_reasoning_model(config: &LlmConfig) -> bool {
    let model = config.model.as_str();
    config.model_endpoint_type == OPENAI_ENDPOINT_TYPE
        && ["o1", "o3", "o4", "gpt-5"]
            .iter()
            .any(|prefix| model.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImageSource;

    fn config(endpoint_type: &str, model: &str) -> LlmConfig {
        serde_json::from_value(json!({
            "model": model, "model_endpoint_type": endpoint_type, "context_window": 8192,
            "temperature": 0.7, "max_tokens": 100, "reasoning_effort": "low",
        }))
        .unwrap()
    }

    fn request(tools: Vec<ToolSchema>) -> ChatRequest {
        ChatRequest {
            system: Some("sys".into()),
            messages: vec![
                ChatMessage::user("hi"),
                ChatMessage::Assistant {
                    content: None,
                    reasoning: vec![crate::ReasoningBlock::Text {
                        text: "hm".into(),
                        signature: Some("sig".into()),
                    }],
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "f".into(),
                        arguments: "{}".into(),
                    }],
                },
                ChatMessage::Tool {
                    tool_call_id: "call_1".into(),
                    content: "ok".into(),
                },
            ],
            tools,
            tool_choice: ToolChoice::Named("f".into()),
            response_format: None,
        }
    }

    #[test]
    fn messages_and_tools_take_openai_shapes() {
        let tools = vec![ToolSchema {
            name: "f".into(),
            description: "does f".into(),
            parameters: json!({"type": "object", "properties": {}}),
        }];
        let body = body(&config("vllm", "llama"), &request(tools), true);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
            ])
        );
        assert_eq!(body["tools"][0]["function"]["description"], "does f");
        assert_eq!(
            body["tool_choice"],
            json!({"type": "function", "function": {"name": "f"}})
        );
        assert_eq!(
            (&body["temperature"], &body["max_tokens"]),
            (&json!(0.7), &json!(100))
        );
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
        assert!(body.get("reasoning_effort").is_none());
    }

    #[test]
    fn image_parts_become_image_urls_and_mid_history_system_messages_stay() {
        let mut request = request(vec![]);
        request.system = None;
        request.messages = vec![
            ChatMessage::System {
                content: "note".into(),
            },
            ChatMessage::User {
                content: Content::Parts(vec![
                    ContentPart::Text {
                        text: "what is this?".into(),
                    },
                    ContentPart::Image {
                        source: ImageSource::Url {
                            url: "https://example.com/cat.png".into(),
                        },
                    },
                    ContentPart::Image {
                        source: ImageSource::Base64 {
                            media_type: "image/png".into(),
                            data: "iVBORw0".into(),
                        },
                    },
                ]),
            },
        ];
        let body = body(&config("openai", "gpt-4o"), &request, false);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "system", "content": "note"},
                {"role": "user", "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0"}},
                ]},
            ])
        );
    }

    #[test]
    fn no_tools_means_no_tool_choice() {
        let body = body(&config("openai", "gpt-4o-mini"), &request(vec![]), false);
        assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
        assert!(body.get("stream").is_none());
        assert_eq!(body["max_completion_tokens"], 100);
    }

    #[test]
    fn openai_reasoning_models_get_effort_and_no_temperature() {
        let body = body(&config("openai", "o3-mini"), &request(vec![]), false);
        assert!(body.get("temperature").is_none());
        assert_eq!(body["reasoning_effort"], "low");
    }

    #[test]
    fn tool_images_follow_the_tool_results_as_a_user_message() {
        let mut request = request(vec![]);
        let image = ContentPart::Image {
            source: ImageSource::Base64 {
                media_type: "image/png".into(),
                data: "iVBOR".into(),
            },
        };
        request.messages[2] = ChatMessage::Tool {
            tool_call_id: "call_1".into(),
            content: Content::Parts(vec![
                ContentPart::Text {
                    text: "a chart".into(),
                },
                image,
            ]),
        };
        request.messages.push(ChatMessage::user("and now?"));
        let body = body(&config("openai", "gpt-4o"), &request, false);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(
            messages[3],
            json!({"role": "tool", "tool_call_id": "call_1", "content": "a chart"})
        );
        assert_eq!(
            messages[4],
            json!({"role": "user", "content": [
                {"type": "text", "text": "Images returned by tool call call_1:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
            ]})
        );
        assert_eq!(messages[5]["content"], "and now?");
    }
}
