use super::*;
use crate::ReasoningBlock;

fn config(model: &str, extra: Value) -> LlmConfig {
    let mut value = json!({
        "model": model, "model_endpoint_type": "google_ai", "context_window": 1048576,
        "temperature": 0.5, "max_tokens": 1000,
    });
    let extra = extra.as_object().cloned().unwrap_or_default();
    value.as_object_mut().unwrap().extend(extra);
    serde_json::from_value(value).unwrap()
}

fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    }
}

fn tool(name: &str, parameters: Value) -> ToolSchema {
    ToolSchema {
        name: name.into(),
        description: format!("{name} tool"),
        parameters,
    }
}

fn history() -> ChatRequest {
    ChatRequest {
        system: Some("You are helpful.".into()),
        messages: vec![
            ChatMessage::user("find cats"),
            ChatMessage::Assistant {
                content: Some("Searching.".into()),
                reasoning: vec![ReasoningBlock::Text {
                    text: "I should search".into(),
                    signature: Some("sig-1".into()),
                }],
                tool_calls: vec![
                    call("c1", "search", r#"{"q":"cats"}"#),
                    call("c2", "search", r#"{"q":"kittens"}"#),
                ],
            },
            ChatMessage::Tool {
                tool_call_id: "c1".into(),
                content: r#"{"hits":1}"#.into(),
            },
            ChatMessage::Tool {
                tool_call_id: "c2".into(),
                content: Content::Parts(vec![
                    ContentPart::Text {
                        text: "a picture".into(),
                    },
                    ContentPart::Image {
                        source: ImageSource::Base64 {
                            media_type: "image/png".into(),
                            data: "iVBOR".into(),
                        },
                    },
                ]),
            },
            ChatMessage::System {
                content: "[note] memory updated".into(),
            },
        ],
        tools: vec![tool(
            "search",
            json!({"type": "object", "additionalProperties": false,
                   "properties": {"q": {"type": "string", "default": ""}}, "required": ["q"]}),
        )],
        tool_choice: ToolChoice::Auto,
        response_format: None,
    }
}

#[test]
fn history_becomes_alternating_contents() {
    let body = body(&config("gemini-2.0-flash", json!({})), &history());
    assert_eq!(
        body["systemInstruction"],
        json!({"parts": [{"text": "You are helpful."}]})
    );
    assert_eq!(
        body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "find cats"}]},
            {"role": "model", "parts": [
                {"text": "Searching."},
                {"functionCall": {"name": "search", "args": {"q": "cats"}}, "thoughtSignature": "sig-1"},
                {"functionCall": {"name": "search", "args": {"q": "kittens"}}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "search", "response": {"name": "search", "content": {"hits": 1}}}},
                {"functionResponse": {"name": "search", "response": {"name": "search", "content": "a picture"}}},
                {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                {"text": "[note] memory updated"},
            ]},
        ])
    );
}

#[test]
fn tools_are_cleaned_declarations_with_a_tool_config() {
    let mut request = history();
    request
        .tools
        .push(tool("ping", json!({"type": "object", "properties": {}})));
    let body = body(&config("gemini-2.0-flash", json!({})), &request);
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [
            {"name": "search", "description": "search tool", "parameters":
                {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}},
            {"name": "ping", "description": "ping tool"},
        ]}])
    );
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    let choice = |choice: ToolChoice| {
        let mut request = request.clone();
        request.tool_choice = choice;
        super::body(&config("gemini-2.0-flash", json!({})), &request)
    };
    assert_eq!(
        choice(ToolChoice::Required)["toolConfig"]["functionCallingConfig"],
        json!({"mode": "ANY", "allowedFunctionNames": ["search", "ping"]})
    );
    assert_eq!(
        choice(ToolChoice::Named("ping".into()))["toolConfig"]["functionCallingConfig"],
        json!({"mode": "ANY", "allowedFunctionNames": ["ping"]})
    );
    let none = choice(ToolChoice::None);
    assert!(none.get("tools").is_none() && none.get("toolConfig").is_none());
}

#[test]
fn generation_config_and_thinking() {
    let body = body(&config("gemini-2.0-flash", json!({})), &history());
    assert_eq!(
        body["generationConfig"],
        json!({"temperature": 0.5, "maxOutputTokens": 1000})
    );
    let thinking = |model: &str, extra: Value| {
        super::body(&config(model, extra), &history())["generationConfig"]["thinkingConfig"].clone()
    };
    assert_eq!(
        thinking("gemini-2.5-flash", json!({"max_reasoning_tokens": 2048})),
        json!({"thinkingBudget": 2048, "includeThoughts": true})
    );
    assert_eq!(
        thinking("gemini-2.5-flash", json!({})),
        json!({"thinkingBudget": 0, "includeThoughts": false})
    );
    assert_eq!(
        thinking(
            "gemini-2.5-pro",
            json!({"enable_reasoner": false, "max_reasoning_tokens": 4096})
        ),
        json!({"thinkingBudget": 128, "includeThoughts": true})
    );
    assert_eq!(
        thinking("gemini-3-pro-preview", json!({})),
        json!({"includeThoughts": true})
    );
    assert_eq!(thinking("gemini-2.0-flash", json!({})), Value::Null);
}

#[test]
fn response_formats_become_mime_type_and_schema() {
    let mut request = history();
    request.tools.clear();
    request.response_format = Some(ResponseFormat::JsonSchema {
        name: "answer".into(),
        schema: json!({"type": "object", "additionalProperties": false,
                       "properties": {"city": {"type": "string"}}}),
        strict: true,
    });
    let generation = &body(&config("gemini-2.5-flash", json!({})), &request)["generationConfig"];
    assert_eq!(generation["responseMimeType"], "application/json");
    assert_eq!(
        generation["responseSchema"],
        json!({"type": "object", "properties": {"city": {"type": "string"}}})
    );
    request.response_format = Some(ResponseFormat::JsonObject);
    let generation = &body(&config("gemini-2.5-flash", json!({})), &request)["generationConfig"];
    assert_eq!(generation["responseMimeType"], "application/json");
    assert!(generation.get("responseSchema").is_none());
    // Gemini 2.x refuses JSON output beside function calling.
    let mut with_tools = history();
    with_tools.response_format = Some(ResponseFormat::JsonObject);
    let generation = &body(&config("gemini-2.5-flash", json!({})), &with_tools)["generationConfig"];
    assert!(generation.get("responseMimeType").is_none());
    let generation = &body(&config("gemini-3-flash", json!({})), &with_tools)["generationConfig"];
    assert_eq!(generation["responseMimeType"], "application/json");
}

#[test]
fn url_images_are_file_data_and_a_text_turn_keeps_its_signature() {
    let request = ChatRequest {
        system: None,
        messages: vec![
            ChatMessage::User {
                content: Content::Parts(vec![ContentPart::Image {
                    source: ImageSource::Url {
                        url: "https://example.com/a/cat.PNG?x=1".into(),
                    },
                }]),
            },
            ChatMessage::Assistant {
                content: Some("A cat.".into()),
                reasoning: vec![ReasoningBlock::Text {
                    text: String::new(),
                    signature: Some("sig-t".into()),
                }],
                tool_calls: vec![],
            },
            ChatMessage::Tool {
                tool_call_id: "orphan".into(),
                content: "plain text".into(),
            },
        ],
        tools: vec![],
        tool_choice: ToolChoice::Auto,
        response_format: None,
    };
    let body = body(&config("gemini-2.5-flash", json!({})), &request);
    assert!(body.get("systemInstruction").is_none());
    assert_eq!(
        body["contents"],
        json!([
            {"role": "user", "parts": [{"fileData": {"mimeType": "image/png",
                "fileUri": "https://example.com/a/cat.PNG?x=1"}}]},
            {"role": "model", "parts": [{"text": "A cat.", "thoughtSignature": "sig-t"}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "orphan",
                "response": {"name": "orphan", "content": "plain text"}}}]},
        ])
    );
}

#[test]
fn a_history_starting_with_the_model_gets_a_user_turn_first() {
    let request = ChatRequest {
        system: None,
        messages: vec![ChatMessage::Assistant {
            content: None,
            reasoning: vec![],
            tool_calls: vec![call("c1", "send_message", r#"{"message":"hi"}"#)],
        }],
        tools: vec![],
        tool_choice: ToolChoice::Auto,
        response_format: None,
    };
    let body = body(&config("gemini-2.5-flash", json!({})), &request);
    let roles: Vec<&str> = body["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "model"]);
}
