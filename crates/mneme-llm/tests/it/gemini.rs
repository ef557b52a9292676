//! The Gemini client against the fake's Gemini routes: answers read, request bodies as Gemini
//! takes them, streaming, retries and errors, the model list.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use mneme_llm::{
    AccessTable, ChatDelta, ChatMessage, ChatResponse, FinishReason, LlmClient, LlmError,
    LlmRouter, ModelKind, OpenAiOptions, ProviderAccess, ReasoningBlock, ToolChoice, assemble,
};
use mneme_testkit::{FakeLlm, Reply};
use mneme_types::{LlmConfig, ProviderKind};
use serde_json::{Value, json};

use crate::{fast_retries, user, with_tools};

const KEY: &str = "gm-test-key";

fn router(fake: &FakeLlm) -> LlmRouter {
    let options = OpenAiOptions {
        retry: fast_retries(3),
        request_timeout: Duration::from_secs(10),
        ..OpenAiOptions::default()
    };
    let access = AccessTable::default();
    access.set(
        "google_ai",
        ProviderAccess {
            kind: ProviderKind::GoogleAi,
            base_url: Some(fake.root_url()),
            api_key: Some(KEY.into()),
            api_version: None,
        },
    );
    LlmRouter::new(options, Arc::new(access)).unwrap()
}

/// A config for `google_ai/gemini-2.5-flash`, as the catalogue resolves it.
fn config(fake: &FakeLlm) -> LlmConfig {
    serde_json::from_value(json!({
        "model": "gemini-2.5-flash", "model_endpoint_type": "google_ai",
        "model_endpoint": fake.root_url(), "provider_name": "google_ai",
        "context_window": 1048576, "temperature": 0.7, "max_reasoning_tokens": 1024,
    }))
    .unwrap()
}

fn calls(response: &ChatResponse) -> Vec<(&str, &str)> {
    let calls = response.tool_calls.iter();
    calls
        .map(|c| (c.name.as_str(), c.arguments.as_str()))
        .collect()
}

#[tokio::test]
async fn a_turn_with_a_tool_call_and_the_result_sent_back() {
    let fake = FakeLlm::start().await;
    fake.push(
        Reply::tool_call("archival_memory_search", json!({"message": "cats"}))
            .with_reasoning("The user wants cats; search memory."),
    );
    fake.push_text("Found them.");
    let router = router(&fake);
    let mut request = with_tools(user("find cats"), ToolChoice::Auto);
    let first = router.chat(&config(&fake), &request).await.unwrap();
    assert_eq!(first.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(
        calls(&first),
        [("archival_memory_search", r#"{"message":"cats"}"#)]
    );
    let [
        ReasoningBlock::Text {
            text,
            signature: Some(signature),
        },
    ] = first.reasoning.as_slice()
    else {
        panic!("{:?}", first.reasoning)
    };
    assert_eq!(text, "The user wants cats; search memory.");

    request.messages.push(ChatMessage::Assistant {
        content: first.content.clone(),
        reasoning: first.reasoning.clone(),
        tool_calls: first.tool_calls.clone(),
    });
    request.messages.push(ChatMessage::Tool {
        tool_call_id: first.tool_calls[0].id.clone(),
        content: r#"{"results": ["a cat"]}"#.into(),
    });
    let second = router.chat(&config(&fake), &request).await.unwrap();
    assert_eq!(second.content.as_deref(), Some("Found them."));
    assert_eq!(second.finish_reason, Some(FinishReason::Stop));

    let sent = fake.gemini_requests();
    assert_eq!(
        sent[0]["systemInstruction"],
        json!({"parts": [{"text": "You are a test."}]})
    );
    assert_eq!(
        sent[0]["tools"][0]["functionDeclarations"][0],
        json!({"name": "send_message", "description": "send_message tool",
               "parameters": {"type": "object", "properties": {"message": {"type": "string"}}}})
    );
    assert_eq!(
        sent[0]["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
    // The signature goes back on the call it came with; the result names the function.
    assert_eq!(
        sent[1]["contents"][1],
        json!({"role": "model", "parts": [{"functionCall": {"name": "archival_memory_search",
            "args": {"message": "cats"}}, "thoughtSignature": signature}]})
    );
    assert_eq!(
        sent[1]["contents"][2],
        json!({"role": "user", "parts": [{"functionResponse": {"name": "archival_memory_search",
            "response": {"name": "archival_memory_search", "content": {"results": ["a cat"]}}}}]})
    );
    let recorded = fake.recorded();
    assert!(
        recorded[0]
            .path
            .ends_with("/models/gemini-2.5-flash:generateContent")
    );
    assert_eq!(
        recorded[0].authorization.as_deref(),
        Some("x-goog-api-key gm-test-key")
    );
}

#[tokio::test]
async fn parallel_calls_and_cached_usage() {
    let fake = FakeLlm::start().await;
    fake.push(
        Reply::tool_call("send_message", json!({"message": "one"}))
            .with_tool_call("archival_memory_search", json!({"query": "two"}))
            .with_cache_read_tokens(7),
    );
    let request = with_tools(user("hi"), ToolChoice::Required);
    let response = router(&fake).chat(&config(&fake), &request).await.unwrap();
    assert_eq!(
        calls(&response),
        [
            ("send_message", r#"{"message":"one"}"#),
            ("archival_memory_search", r#"{"query":"two"}"#)
        ]
    );
    assert_ne!(response.tool_calls[0].id, response.tool_calls[1].id);
    let usage = response.usage;
    assert_eq!(usage.cache_read_tokens, Some(7));
    assert!(usage.prompt_tokens >= 7 && usage.completion_tokens > 0);
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
    let sent = &fake.gemini_requests()[0];
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY",
            "allowedFunctionNames": ["send_message", "archival_memory_search"]}})
    );
}

/// A response without what differs per call: tool-call ids and thought signatures (the
/// signatures are checked to be there).
fn without_ids(mut response: ChatResponse) -> ChatResponse {
    response.tool_calls.iter_mut().for_each(|c| c.id.clear());
    for block in &mut response.reasoning {
        if let ReasoningBlock::Text { signature, .. } = block {
            assert!(
                signature.take().is_some(),
                "a thought without its signature"
            );
        }
    }
    response
}

#[tokio::test]
async fn streaming_gives_the_plain_answer_token_by_token() {
    let fake = FakeLlm::start().await;
    let reply = Reply::text("A reply long enough to come in several pieces.")
        .with_reasoning("Thinking it over first.")
        .with_tool_call("send_message", json!({"message": "x"}))
        .with_cache_read_tokens(3);
    fake.push(reply.clone());
    fake.push(reply);
    let router = router(&fake);
    let request = with_tools(user("hi"), ToolChoice::Auto);
    let plain = router.chat(&config(&fake), &request).await.unwrap();
    let stream = router.chat_stream(&config(&fake), &request).await.unwrap();
    let deltas: Vec<ChatDelta> = stream.map(Result::unwrap).collect().await;
    let pieces = deltas.iter().filter(|d| matches!(d, ChatDelta::Content(_)));
    assert!(pieces.count() > 1, "{deltas:?}");
    assert!(matches!(deltas.last(), Some(ChatDelta::Done { .. })));
    let streamed = assemble(deltas);
    assert_eq!(streamed.usage, plain.usage);
    assert_eq!(streamed.reasoning.len(), 1);
    assert_eq!(without_ids(streamed), without_ids(plain));
    let recorded = fake.recorded();
    assert!(
        recorded[1]
            .path
            .ends_with("gemini-2.5-flash:streamGenerateContent"),
        "{}",
        recorded[1].path
    );
}

#[tokio::test]
async fn resource_exhausted_is_retried_then_succeeds() {
    let fake = FakeLlm::start().await;
    fake.push_error(
        429,
        google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"),
    );
    fake.push_text("finally");
    let response = router(&fake)
        .chat(&config(&fake), &user("hi"))
        .await
        .unwrap();
    assert_eq!(response.content.as_deref(), Some("finally"));
    assert_eq!(fake.gemini_requests().len(), 2);
}

#[tokio::test]
async fn server_errors_end_as_unavailable_after_the_retries() {
    let fake = FakeLlm::start().await;
    for _ in 0..4 {
        fake.push(Reply::from_error(mneme_testkit::fake_llm::ErrorReply {
            status: Some(500),
            ..Default::default()
        }));
    }
    let error = router(&fake)
        .chat_stream(&config(&fake), &user("hi"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(error, LlmError::Unavailable { status: 500, .. }),
        "{error:?}"
    );
    assert_eq!(fake.gemini_requests().len(), 4);
}

#[tokio::test]
async fn token_limits_and_bad_keys_are_not_retried() {
    let fake = FakeLlm::start().await;
    fake.push_context_length_exceeded();
    let error = router(&fake)
        .chat(&config(&fake), &user("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, LlmError::ContextWindowExceeded(_)),
        "{error:?}"
    );
    fake.push_error(
        403,
        google_error(403, "PERMISSION_DENIED", "Permission denied"),
    );
    let error = router(&fake)
        .chat(&config(&fake), &user("hi"))
        .await
        .unwrap_err();
    assert_eq!(error, LlmError::Authentication("Permission denied".into()));
    assert!(!error.to_string().contains(KEY));
    assert_eq!(fake.gemini_requests().len(), 2);
}

#[tokio::test]
async fn the_model_list_is_read_page_by_page() {
    let fake = FakeLlm::start().await;
    let models = router(&fake).list_models("google_ai").await.unwrap();
    let names: Vec<(&str, ModelKind)> = models.iter().map(|m| (m.name.as_str(), m.kind)).collect();
    assert_eq!(
        names,
        [
            ("gemini-2.5-flash", ModelKind::Chat),
            ("gemini-2.5-pro", ModelKind::Chat),
            ("gemini-embedding-001", ModelKind::Embedding),
            ("text-embedding-004", ModelKind::Embedding),
        ]
    );
    assert_eq!(models[0].context_window, Some(1_048_576));
    assert_eq!(models[0].max_output_tokens, Some(65_536));
}

fn google_error(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

#[tokio::test]
async fn a_preview_is_the_generate_content_body_sent() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::text("ok"));
    let request = crate::with_history("next");
    let config = config(&fake);
    let body = crate::assert_preview_is_sent(&router(&fake), &config, &request, &fake).await;
    assert!(body["contents"].is_array() && body["systemInstruction"].is_object());
}
