//! The Anthropic client through the router, against the fake's `/v1/messages`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use mneme_llm::{
    AccessTable, ChatDelta, ChatMessage, FinishReason, LlmClient, LlmError, LlmRouter,
    OpenAiOptions, ProviderAccess, ReasoningBlock, ResponseFormat, ToolCall, ToolChoice,
    collect_stream,
};
use mneme_testkit::fake_llm::{ErrorReply, thinking_signature};
use mneme_testkit::{FakeLlm, Reply};
use mneme_types::{LlmConfig, ProviderKind};
use serde_json::{Value, json};

use crate::{fast_retries, user, with_tools};

const KEY: &str = "sk-ant-test-key";

fn router() -> LlmRouter {
    let options = OpenAiOptions {
        retry: fast_retries(3),
        request_timeout: Duration::from_secs(10),
        ..OpenAiOptions::default()
    };
    let access = AccessTable::default();
    access.set(
        "anthropic",
        ProviderAccess {
            kind: ProviderKind::Anthropic,
            base_url: None,
            api_key: Some(KEY.into()),
            api_version: None,
        },
    );
    LlmRouter::new(options, Arc::new(access)).unwrap()
}

fn config(fake: &FakeLlm, extra: Value) -> LlmConfig {
    let mut value = json!({
        "model": "claude-sonnet-4-5-20250929",
        "model_endpoint_type": "anthropic",
        "model_endpoint": fake.base_url(),
        "provider_name": "anthropic",
        "context_window": 200000,
        "temperature": 0.5,
    });
    if let (Some(base), Value::Object(extra)) = (value.as_object_mut(), extra) {
        base.extend(extra);
    }
    serde_json::from_value(value).unwrap()
}

fn names(calls: &[ToolCall]) -> Vec<(&str, &str)> {
    calls
        .iter()
        .map(|c| (c.name.as_str(), c.arguments.as_str()))
        .collect()
}

#[tokio::test]
async fn a_turn_with_a_tool_call_and_the_request_it_sent() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::tool_call("send_message", json!({"message": "hi!"})).with_text("Replying."));
    let request = with_tools(user("hi"), ToolChoice::Required);
    let response = router()
        .chat(&config(&fake, json!({})), &request)
        .await
        .unwrap();
    assert_eq!(response.content.as_deref(), Some("Replying."));
    assert_eq!(
        names(&response.tool_calls),
        [("send_message", r#"{"message":"hi!"}"#)]
    );
    assert!(response.tool_calls[0].id.starts_with("toolu_"));
    assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));

    let recorded = fake.recorded();
    assert_eq!(recorded[0].path, "/v1/messages");
    assert_eq!(recorded[0].api_key.as_deref(), Some(KEY));
    assert_eq!(recorded[0].anthropic_version.as_deref(), Some("2023-06-01"));
    assert_eq!(recorded[0].authorization, None);
    let body = &recorded[0].body;
    assert_eq!(body["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(body["max_tokens"], 8192);
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "You are a test.", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(
        body["tools"][0],
        json!({"name": "send_message", "description": "send_message tool", "input_schema":
            {"type": "object", "properties": {"message": {"type": "string"}}}})
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
}

#[tokio::test]
async fn tokens_stream_with_signed_thinking_and_cache_usage() {
    let fake = FakeLlm::start().await;
    let mut reply = Reply::text("Hello there, how are you today?").with_reasoning("Greet back.");
    reply.cache_read_tokens = Some(1200);
    reply.cache_creation_tokens = Some(30);
    fake.push(reply);
    let thinking = json!({"enable_reasoner": true, "max_reasoning_tokens": 2048});
    let stream = router()
        .chat_stream(&config(&fake, thinking), &user("hi"))
        .await
        .unwrap();
    let deltas: Vec<ChatDelta> = stream.map(Result::unwrap).collect().await;
    let texts = deltas
        .iter()
        .filter(|d| matches!(d, ChatDelta::Content(_)))
        .count();
    assert!(texts > 1, "{deltas:?}");
    assert!(
        deltas.contains(&ChatDelta::ReasoningSignature(thinking_signature(
            "Greet back."
        )))
    );
    let response = mneme_llm::assemble(deltas);
    assert_eq!(
        response.content.as_deref(),
        Some("Hello there, how are you today?")
    );
    assert_eq!(
        response.reasoning,
        [ReasoningBlock::Text {
            text: "Greet back.".into(),
            signature: Some(thinking_signature("Greet back."))
        }]
    );
    assert_eq!(response.finish_reason, Some(FinishReason::Stop));
    let usage = response.usage;
    assert_eq!(usage.cache_read_tokens, Some(1200));
    assert_eq!(usage.cache_creation_tokens, Some(30));
    assert!(usage.prompt_tokens > 1230);
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
    let body = &fake.requests()[0];
    assert_eq!(body["stream"], true);
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert!(body.get("temperature").is_none());
}

#[tokio::test]
async fn parallel_tool_calls_in_order_streamed_and_not() {
    let fake = FakeLlm::start().await;
    let reply = Reply::tool_call("send_message", json!({"message": "a"}))
        .with_tool_call("archival_memory_search", json!({"query": "cats"}));
    fake.push(reply.clone());
    fake.push(reply);
    let config = config(&fake, json!({"parallel_tool_calls": true}));
    let request = with_tools(user("hi"), ToolChoice::Auto);
    let whole = router().chat(&config, &request).await.unwrap();
    let stream = router().chat_stream(&config, &request).await.unwrap();
    let streamed = collect_stream(stream).await.unwrap();
    for response in [whole, streamed] {
        assert_eq!(
            names(&response.tool_calls),
            [
                ("send_message", r#"{"message":"a"}"#),
                ("archival_memory_search", r#"{"query":"cats"}"#)
            ]
        );
        assert_ne!(response.tool_calls[0].id, response.tool_calls[1].id);
        assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
    }
    assert_eq!(
        fake.requests()[0]["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": false})
    );
}

#[tokio::test]
async fn rate_limits_and_overloads_are_retried() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::rate_limited(None));
    fake.push(Reply::from_error(ErrorReply {
        status: Some(529),
        ..ErrorReply::default()
    }));
    fake.push_text("finally");
    let response = router()
        .chat(&config(&fake, json!({})), &user("hi"))
        .await
        .unwrap();
    assert_eq!(response.content.as_deref(), Some("finally"));
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn server_errors_and_overflows_are_classified() {
    let fake = FakeLlm::start().await;
    for _ in 0..4 {
        fake.push_error(
            500,
            json!({"type": "error", "error": {"type": "api_error", "message": "boom"}}),
        );
    }
    let error = router()
        .chat(&config(&fake, json!({})), &user("hi"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LlmError::Unavailable {
            status: 500,
            message: "boom".into()
        }
    );
    fake.reset();
    fake.push_context_length_exceeded();
    let stream = router()
        .chat_stream(&config(&fake, json!({})), &user("hi"))
        .await;
    assert!(
        matches!(stream.err(), Some(LlmError::ContextWindowExceeded(m)) if m.starts_with("prompt is too long"))
    );
    assert_eq!(fake.requests().len(), 1, "not retried");
    fake.push(Reply::from_error(ErrorReply {
        status: Some(401),
        ..ErrorReply::default()
    }));
    let error = router()
        .chat(&config(&fake, json!({})), &user("hi"))
        .await
        .unwrap_err();
    assert_eq!(error, LlmError::Authentication("invalid x-api-key".into()));
    assert!(!error.to_string().contains(KEY));
}

#[tokio::test]
async fn thinking_is_sent_back_with_its_signature() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::tool_call("send_message", json!({"message": "x"})).with_reasoning("Plan."));
    fake.push_text("done");
    let config = config(
        &fake,
        json!({"enable_reasoner": true, "max_reasoning_tokens": 1024}),
    );
    let mut request = with_tools(user("hi"), ToolChoice::Auto);
    let first = router().chat(&config, &request).await.unwrap();
    request.messages.push(ChatMessage::Assistant {
        content: first.content.clone(),
        reasoning: first.reasoning.clone(),
        tool_calls: first.tool_calls.clone(),
    });
    request.messages.push(ChatMessage::Tool {
        tool_call_id: first.tool_calls[0].id.clone(),
        content: "sent".into(),
    });
    router().chat(&config, &request).await.unwrap();
    let body = &fake.requests()[1];
    let call_id = first.tool_calls[0].id.as_str();
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Plan.", "signature": thinking_signature("Plan.")},
            {"type": "tool_use", "id": call_id, "name": "send_message", "input": {"message": "x"}},
        ]})
    );
    assert_eq!(
        body["messages"][2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id,
            "content": "sent", "cache_control": {"type": "ephemeral"}}]})
    );
    assert_eq!(body["thinking"]["type"], "enabled");
    let beta = fake.recorded()[1].anthropic_beta.clone();
    assert_eq!(beta.as_deref(), Some("interleaved-thinking-2025-05-14"));
}

#[tokio::test]
async fn json_answers_and_model_lists() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::tool_call("json_answer", json!({"city": "Oslo"})));
    let mut request = user("where?");
    request.response_format = Some(ResponseFormat::JsonObject);
    let stream = router()
        .chat_stream(&config(&fake, json!({})), &request)
        .await
        .unwrap();
    let response = collect_stream(stream).await.unwrap();
    assert_eq!(response.content.as_deref(), Some(r#"{"city":"Oslo"}"#));
    assert!(response.tool_calls.is_empty());
    assert_eq!(fake.requests()[0]["tool_choice"]["name"], "json_answer");

    let router = router();
    router.access().set(
        "anthropic",
        ProviderAccess {
            kind: ProviderKind::Anthropic,
            base_url: Some(fake.base_url()),
            api_key: Some(KEY.into()),
            api_version: None,
        },
    );
    let models = router.list_models("anthropic").await.unwrap();
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    assert!(names.contains(&"claude-haiku-4-5-20251001"), "{names:?}");
    assert_eq!(
        fake.recorded().last().unwrap().api_key.as_deref(),
        Some(KEY)
    );
}

#[tokio::test]
async fn a_preview_is_the_messages_body_sent() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::text("ok"));
    let config = config(
        &fake,
        json!({"enable_reasoner": true, "max_reasoning_tokens": 2048}),
    );
    let request = crate::with_history("next");
    let body = crate::assert_preview_is_sent(&router(), &config, &request, &fake).await;
    assert_eq!(fake.recorded()[0].path, "/v1/messages");
    assert!(
        body["system"].is_array() && body["tools"].is_array(),
        "{body}"
    );
}
