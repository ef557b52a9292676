//! The LLM clients (OpenAI-compatible, Anthropic, Gemini, Ollama) against the scripted fake LLM from
//! mneme-testkit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod anthropic;
mod chat;
mod errors;
mod gemini;
mod ollama;
mod responses;
mod stream;

use std::time::Duration;

use std::sync::Arc;

use mneme_llm::{
    AccessTable, ChatMessage, ChatRequest, LlmClient, LlmRouter, OpenAiOptions, ProviderAccess,
    RetryPolicy, ToolChoice, ToolSchema,
};
use mneme_testkit::FakeLlm;
use mneme_types::LlmConfig;
use mneme_types::ProviderKind;
use serde_json::json;

/// A config pointing at the fake, as the catalog would build it for `openai/gpt-4o-mini`.
fn config(fake: &FakeLlm) -> LlmConfig {
    serde_json::from_value(json!({
        "model": "gpt-4o-mini",
        "model_endpoint_type": "openai",
        "model_endpoint": fake.base_url(),
        "provider_name": "openai",
        "context_window": 128000,
        "temperature": 0.7,
    }))
    .unwrap()
}

/// Fast retries so that retry tests take milliseconds.
fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

/// A router whose `openai` provider has key `sk-test`.
fn client_with(retry: RetryPolicy, request_timeout: Duration) -> LlmRouter {
    let options = OpenAiOptions {
        retry,
        request_timeout,
        ..OpenAiOptions::default()
    };
    let access = AccessTable::default();
    access.set(
        "openai",
        ProviderAccess {
            kind: ProviderKind::Openai,
            base_url: None,
            api_key: Some("sk-test".into()),
            api_version: None,
        },
    );
    LlmRouter::new(options, Arc::new(access)).unwrap()
}

fn client() -> LlmRouter {
    client_with(fast_retries(3), Duration::from_secs(10))
}

fn user(text: &str) -> ChatRequest {
    ChatRequest {
        system: Some("You are a test.".into()),
        messages: vec![ChatMessage::user(text)],
        tools: vec![],
        tool_choice: ToolChoice::Auto,
        response_format: None,
    }
}

fn with_tools(mut request: ChatRequest, choice: ToolChoice) -> ChatRequest {
    request.tools = ["send_message", "archival_memory_search"]
        .iter()
        .map(|name| ToolSchema {
            name: (*name).to_owned(),
            description: format!("{name} tool"),
            parameters: json!({"type": "object", "properties": {"message": {"type": "string"}}}),
        })
        .collect();
    request.tool_choice = choice;
    request
}

/// A request with a history: an earlier call of `send_message` and its return, then `text`.
fn with_history(text: &str) -> ChatRequest {
    let mut request = with_tools(user("first"), ToolChoice::Auto);
    request.messages.push(ChatMessage::Assistant {
        content: Some("Let me answer.".into()),
        reasoning: vec![],
        tool_calls: vec![mneme_llm::ToolCall {
            id: "call_1".into(),
            name: "send_message".into(),
            arguments: r#"{"message":"hello"}"#.into(),
        }],
    });
    request.messages.push(ChatMessage::Tool {
        tool_call_id: "call_1".into(),
        content: mneme_llm::Content::Text("sent".into()),
    });
    request.messages.push(ChatMessage::user(text));
    request
}

/// `request_body` (a preview) is the body `chat` then sends, as the fake recorded it.
async fn assert_preview_is_sent(
    router: &LlmRouter,
    config: &LlmConfig,
    request: &ChatRequest,
    fake: &FakeLlm,
) -> serde_json::Value {
    let preview = router.request_body(config, request).unwrap();
    let before = fake.recorded().len();
    router.chat(config, request).await.unwrap();
    let recorded = fake.recorded();
    assert_eq!(recorded.len(), before + 1, "previewing sent nothing");
    let sent = recorded[before].body.clone();
    assert_eq!(preview, sent);
    preview
}
