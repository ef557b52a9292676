use super::*;
use crate::ToolCall;

fn config(model: &str, extra: Value) -> LlmConfig {
    let mut value = json!({
        "model": model, "model_endpoint_type": "anthropic", "context_window": 200000,
        "temperature": 0.7,
    });
    if let (Some(base), Value::Object(extra)) = (value.as_object_mut(), extra) {
        base.extend(extra);
    }
    serde_json::from_value(value).unwrap()
}

fn request(choice: ToolChoice) -> ChatRequest {
    ChatRequest {
        system: Some("You are Sam.".into()),
        messages: vec![ChatMessage::user("hi")],
        tools: ["send_message", "core_memory_append"]
            .iter()
            .map(|name| ToolSchema {
                name: (*name).into(),
                description: format!("{name} does things"),
                parameters: json!({"type": "object", "properties": {"message": {"type": "string"}}}),
            })
            .collect(),
        tool_choice: choice,
        response_format: None,
    }
}

#[test]
fn body_places_system_tools_and_cache_breakpoints() {
    let prepared = prepare(
        &config("claude-3-5-haiku-20241022", json!({})),
        &request(ToolChoice::Required),
        true,
    );
    let body = prepared.body;
    assert_eq!(body["model"], "claude-3-5-haiku-20241022");
    assert_eq!(body["max_tokens"], 8192);
    assert_eq!(body["temperature"], 0.7);
    assert_eq!(body["stream"], true);
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "You are Sam.", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(
        body["tools"][0],
        json!({"name": "send_message", "description": "send_message does things",
               "input_schema": {"type": "object", "properties": {"message": {"type": "string"}}}})
    );
    assert_eq!(
        body["tools"][1]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert_eq!(
        body["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}])
    );
    assert!(body.get("thinking").is_none());
    assert!(!prepared.answer_tool && !prepared.interleaved_thinking);
}

#[test]
fn tool_choices_and_parallel_calls() {
    let choice = |choice, parallel: bool| {
        let config = config(
            "claude-3-5-sonnet-20241022",
            json!({"parallel_tool_calls": parallel}),
        );
        prepare(&config, &request(choice), false).body["tool_choice"].clone()
    };
    assert_eq!(
        choice(ToolChoice::Auto, true),
        json!({"type": "auto", "disable_parallel_tool_use": false})
    );
    assert_eq!(
        choice(ToolChoice::Named("send_message".into()), false),
        json!({"type": "tool", "name": "send_message", "disable_parallel_tool_use": true})
    );
    assert_eq!(choice(ToolChoice::None, false), json!({"type": "none"}));
}

#[test]
fn thinking_needs_a_budget_a_reasoner_and_a_thinking_model() {
    let thinking = |model: &str, extra: Value| {
        let prepared = prepare(&config(model, extra), &request(ToolChoice::Required), false);
        prepared.body
    };
    let on = json!({"enable_reasoner": true, "max_reasoning_tokens": 2000, "max_tokens": 1000});
    let body = thinking("claude-sonnet-4-20250514", on.clone());
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 2000})
    );
    // The answer keeps its 1,000 tokens on top of the budget; temperature is left out.
    assert_eq!(body["max_tokens"], 3000);
    assert!(body.get("temperature").is_none());
    // Forced calls are refused with thinking: the model is asked instead.
    assert_eq!(body["tool_choice"]["type"], "auto");
    let small = json!({"enable_reasoner": true, "max_reasoning_tokens": 10});
    assert_eq!(
        thinking("claude-3-7-sonnet-20250219", small)["thinking"]["budget_tokens"],
        1024
    );
    assert_eq!(
        thinking("claude-sonnet-4-6", on.clone())["thinking"],
        json!({"type": "adaptive"})
    );
    assert!(
        thinking("claude-3-5-sonnet-20241022", on.clone())
            .get("thinking")
            .is_none()
    );
    let off = json!({"enable_reasoner": false, "max_reasoning_tokens": 2000});
    assert!(
        thinking("claude-sonnet-4-20250514", off)
            .get("thinking")
            .is_none()
    );
    let no_budget = json!({"enable_reasoner": true, "max_reasoning_tokens": 0});
    assert!(
        thinking("claude-opus-4-1-20250805", no_budget)
            .get("thinking")
            .is_none()
    );
}

#[test]
fn a_tool_loop_started_without_thinking_goes_on_without_it() {
    let config = config(
        "claude-sonnet-4-5-20250929",
        json!({"enable_reasoner": true, "max_reasoning_tokens": 4000}),
    );
    let mut request = request(ToolChoice::Auto);
    let call = |reasoning| ChatMessage::Assistant {
        content: None,
        reasoning,
        tool_calls: vec![ToolCall {
            id: "toolu_1".into(),
            name: "send_message".into(),
            arguments: "{}".into(),
        }],
    };
    request.messages.push(call(vec![]));
    request.messages.push(ChatMessage::Tool {
        tool_call_id: "toolu_1".into(),
        content: "ok".into(),
    });
    assert!(
        prepare(&config, &request, false)
            .body
            .get("thinking")
            .is_none()
    );
    request.messages[1] = call(vec![ReasoningBlock::Text {
        text: "t".into(),
        signature: Some("s".into()),
    }]);
    let prepared = prepare(&config, &request, false);
    assert_eq!(prepared.body["thinking"]["budget_tokens"], 4000);
    assert!(prepared.interleaved_thinking);
}

#[test]
fn json_answers_come_through_a_tool() {
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}});
    let mut alone = request(ToolChoice::None);
    alone.tools.clear();
    alone.response_format = Some(ResponseFormat::JsonSchema {
        name: "place".into(),
        schema: schema.clone(),
        strict: true,
    });
    let prepared = prepare(&config("claude-3-5-haiku-latest", json!({})), &alone, false);
    assert!(prepared.answer_tool);
    let body = prepared.body;
    assert_eq!(body["tools"].as_array().unwrap().len(), 1);
    assert_eq!(body["tools"][0]["name"], ANSWER_TOOL);
    assert_eq!(body["tools"][0]["input_schema"], schema);
    assert_eq!(body["tool_choice"]["name"], ANSWER_TOOL);
    assert!(
        body["system"][1]["text"]
            .as_str()
            .unwrap()
            .contains(ANSWER_TOOL)
    );
    assert_eq!(
        body["system"][1]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert!(body["system"][0].get("cache_control").is_none());

    let mut beside = request(ToolChoice::Auto);
    beside.response_format = Some(ResponseFormat::JsonObject);
    let body = prepare(
        &config("claude-3-5-haiku-latest", json!({})),
        &beside,
        false,
    )
    .body;
    let names: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["send_message", "core_memory_append", ANSWER_TOOL]);
    assert_eq!(body["tool_choice"]["type"], "auto");
}

#[test]
fn model_versions_and_defaults() {
    assert_eq!(version("claude-3-5-sonnet-20241022"), Some((3, 5)));
    assert_eq!(version("claude-sonnet-4-20250514"), Some((4, 0)));
    assert_eq!(version("claude-haiku-4-5"), Some((4, 5)));
    assert_eq!(version("claude-3-haiku-20240307"), Some((3, 0)));
    assert_eq!(version("gpt-4o"), None);
    assert_eq!(default_max_tokens("claude-3-opus-20240229"), 4096);
    let config = config("anthropic/claude-haiku-4-5", json!({"max_tokens": 512}));
    let body = prepare(&config, &request(ToolChoice::Auto), false).body;
    assert_eq!(body["model"], "claude-haiku-4-5");
    assert_eq!(body["max_tokens"], 512);
}
