//! Non-streaming calls: replies parsed, request bodies as the fake recorded them.

use mneme_llm::{ChatMessage, FinishReason, LlmClient, ReasoningBlock, ToolCall, ToolChoice};
use mneme_testkit::{FakeLlm, Reply};
use serde_json::json;

use crate::{client, config, user, with_tools};

#[tokio::test]
async fn text_reply() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::text("Hello there").with_reasoning("The user greets me."));
    let response = client().chat(&config(&fake), &user("hi")).await.unwrap();
    assert_eq!(response.content.as_deref(), Some("Hello there"));
    assert_eq!(
        response.reasoning,
        [ReasoningBlock::Text {
            text: "The user greets me.".into(),
            signature: None
        }]
    );
    assert!(response.tool_calls.is_empty());
    assert_eq!(response.finish_reason, Some(FinishReason::Stop));
    let usage = response.usage;
    assert!(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
}

#[tokio::test]
async fn tool_call_reply() {
    let fake = FakeLlm::start().await;
    fake.push(
        Reply::tool_call("send_message", json!({"message": "hi!"}))
            .with_tool_call("archival_memory_search", json!({"query": "cats"})),
    );
    let request = with_tools(user("hi"), ToolChoice::Required);
    let response = client().chat(&config(&fake), &request).await.unwrap();
    assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
    let calls: Vec<(&str, &str)> = response
        .tool_calls
        .iter()
        .map(|c| (c.name.as_str(), c.arguments.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("send_message", r#"{"message":"hi!"}"#),
            ("archival_memory_search", r#"{"query":"cats"}"#)
        ]
    );
    assert!(
        response
            .tool_calls
            .iter()
            .all(|c| c.id.starts_with("call_"))
    );
    assert_ne!(response.tool_calls[0].id, response.tool_calls[1].id);
}

#[tokio::test]
async fn request_body_as_recorded_by_the_fake() {
    let fake = FakeLlm::start().await;
    let mut request = with_tools(user("hi"), ToolChoice::Named("send_message".into()));
    request.messages.push(ChatMessage::Assistant {
        content: Some("thinking".into()),
        reasoning: vec![ReasoningBlock::Text {
            text: "not sent to OpenAI".into(),
            signature: None,
        }],
        tool_calls: vec![ToolCall {
            id: "call_1".into(),
            name: "send_message".into(),
            arguments: r#"{"message":"x"}"#.into(),
        }],
    });
    request.messages.push(ChatMessage::Tool {
        tool_call_id: "call_1".into(),
        content: "ok".into(),
    });
    let mut config = config(&fake);
    config.max_tokens = Some(256);
    config.parallel_tool_calls = Some(false);
    client().chat(&config, &request).await.unwrap();

    let sent = fake.requests().pop().unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(sent["temperature"], 0.7);
    assert_eq!(sent["max_completion_tokens"], 256);
    assert_eq!(sent["parallel_tool_calls"], false);
    assert!(sent.get("stream").is_none());
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "function", "function": {"name": "send_message"}})
    );
    assert_eq!(
        sent["tools"][0],
        json!({"type": "function", "function": {"name": "send_message",
            "description": "send_message tool",
            "parameters": {"type": "object", "properties": {"message": {"type": "string"}}}}})
    );
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool"]);
    assert_eq!(sent["messages"][0]["content"], "You are a test.");
    assert_eq!(sent["messages"][1]["content"], "hi");
    assert_eq!(
        sent["messages"][2],
        json!({"role": "assistant", "content": "thinking", "tool_calls": [{"id": "call_1",
            "type": "function", "function": {"name": "send_message", "arguments": r#"{"message":"x"}"#}}]})
    );
    assert_eq!(sent["messages"][3]["tool_call_id"], "call_1");
    let recorded = fake.recorded();
    assert_eq!(recorded[0].authorization.as_deref(), Some("Bearer sk-test"));
}

#[tokio::test]
async fn no_tools_means_no_tool_fields_and_no_key_for_other_providers() {
    let fake = FakeLlm::start().await;
    let mut config = config(&fake);
    config.provider_name = Some("my-vllm".into());
    config.model_endpoint_type = "vllm".into();
    client().chat(&config, &user("hi")).await.unwrap();
    let sent = fake.requests().pop().unwrap();
    for key in ["tools", "tool_choice", "parallel_tool_calls"] {
        assert!(sent.get(key).is_none(), "{key} in {sent}");
    }
    assert_eq!(fake.recorded()[0].authorization, None);
}

#[tokio::test]
async fn router_reaches_the_fake_and_refuses_unknown_providers() {
    let fake = FakeLlm::start().await;
    let router = client();
    let mut config = config(&fake);
    config.model_endpoint_type = "openai-compatible".into();
    let response = router.chat(&config, &user("via router")).await.unwrap();
    assert_eq!(response.content.as_deref(), Some("echo: via router"));

    config.model_endpoint_type = "ollama".into();
    config.model_endpoint = Some(fake.base_url().trim_end_matches("/v1").to_owned());
    let response = router.chat(&config, &user("ollama")).await.unwrap();
    assert_eq!(response.content.as_deref(), Some("echo: ollama"));

    config.model_endpoint_type = "bedrock".into();
    let error = router.chat(&config, &user("x")).await.unwrap_err();
    assert_eq!(error, mneme_llm::LlmError::Unsupported("bedrock".into()));
}

#[tokio::test]
async fn a_preview_is_the_chat_completions_body_sent() {
    let fake = FakeLlm::start().await;
    fake.push_text("ok");
    let mut config = config(&fake);
    config.parallel_tool_calls = Some(true);
    let body =
        crate::assert_preview_is_sent(&client(), &config, &crate::with_history("next"), &fake)
            .await;
    assert_eq!(fake.recorded()[0].path, "/v1/chat/completions");
    assert_eq!(body["messages"].as_array().unwrap().len(), 5);
    assert!(body.get("stream").is_none());
}
