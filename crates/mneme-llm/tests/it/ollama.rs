//! The native Ollama client against the fake's Ollama routes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use mneme_llm::{
    AccessTable, ChatDelta, ChatMessage, ChatResponse, Content, ContentPart, FinishReason,
    ImageSource, LlmClient, LlmError, LlmRouter, ModelKind, OpenAiOptions, ProviderAccess,
    ToolChoice, assemble,
};
use mneme_testkit::{FakeLlm, Reply};
use mneme_types::{LlmConfig, ProviderKind};
use serde_json::json;

use crate::{fast_retries, user, with_tools};

/// A router whose `ollama` provider is the fake, given (as Letta users often do) with `/v1`.
fn router(fake: &FakeLlm) -> LlmRouter {
    let options = OpenAiOptions {
        retry: fast_retries(3),
        request_timeout: Duration::from_secs(10),
        ..OpenAiOptions::default()
    };
    let access = AccessTable::default();
    access.set(
        "ollama",
        ProviderAccess {
            kind: ProviderKind::Ollama,
            base_url: Some(fake.base_url()),
            api_key: None,
            api_version: None,
        },
    );
    LlmRouter::new(options, Arc::new(access)).unwrap()
}

/// `ollama/qwen3:8b` as Letta stores it: the native root as the endpoint.
fn config(fake: &FakeLlm) -> LlmConfig {
    serde_json::from_value(json!({
        "model": "qwen3:8b", "model_endpoint_type": "ollama", "model_endpoint": fake.root_url(),
        "provider_name": "ollama", "context_window": 40960, "temperature": 0.2, "max_tokens": 800,
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
async fn a_turn_with_a_tool_call_and_its_result() {
    let fake = FakeLlm::start().await;
    fake.push(
        Reply::tool_call("archival_memory_search", json!({"message": "cats"}))
            .with_reasoning("Search first."),
    );
    fake.push_text("Here you are.");
    let router = router(&fake);
    let mut request = with_tools(user("find cats"), ToolChoice::Auto);
    let first = router.chat(&config(&fake), &request).await.unwrap();
    assert_eq!(
        calls(&first),
        [("archival_memory_search", r#"{"message":"cats"}"#)]
    );
    assert_eq!(first.reasoning_text().as_deref(), Some("Search first."));
    assert_eq!(first.finish_reason, Some(FinishReason::ToolCalls));
    request.messages.push(ChatMessage::Assistant {
        content: None,
        reasoning: first.reasoning.clone(),
        tool_calls: first.tool_calls.clone(),
    });
    request.messages.push(ChatMessage::Tool {
        tool_call_id: first.tool_calls[0].id.clone(),
        content: "one cat".into(),
    });
    let second = router.chat(&config(&fake), &request).await.unwrap();
    assert_eq!(second.content.as_deref(), Some("Here you are."));
    assert_eq!(second.finish_reason, Some(FinishReason::Stop));

    let sent = fake.ollama_requests();
    assert_eq!(sent[0]["stream"], false);
    assert_eq!(
        sent[0]["options"],
        json!({"temperature": 0.2, "num_ctx": 40960, "num_predict": 800})
    );
    assert_eq!(
        sent[0]["messages"][0],
        json!({"role": "system", "content": "You are a test."})
    );
    assert_eq!(sent[0]["tools"][0]["function"]["name"], "send_message");
    assert_eq!(
        sent[1]["messages"].as_array().unwrap()[2..],
        [
            json!({"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "archival_memory_search", "arguments": {"message": "cats"}}}]}),
            json!({"role": "tool", "content": "one cat", "tool_name": "archival_memory_search"}),
        ]
    );
}

#[tokio::test]
async fn streaming_parallel_calls_and_images() {
    let fake = FakeLlm::start().await;
    let reply = Reply::text("Two calls coming, in several pieces of text.")
        .with_tool_call("send_message", json!({"message": "one"}))
        .with_tool_call("archival_memory_search", json!({"query": "two"}));
    fake.push(reply.clone());
    fake.push(reply);
    let router = router(&fake);
    let mut request = with_tools(user("hi"), ToolChoice::Auto);
    request.messages = vec![ChatMessage::User {
        content: Content::Parts(vec![
            ContentPart::Text {
                text: "what is this?".into(),
            },
            ContentPart::Image {
                source: ImageSource::Base64 {
                    media_type: "image/png".into(),
                    data: "iVBORw0".into(),
                },
            },
        ]),
    }];
    let plain = router.chat(&config(&fake), &request).await.unwrap();
    let stream = router.chat_stream(&config(&fake), &request).await.unwrap();
    let deltas: Vec<ChatDelta> = stream.map(Result::unwrap).collect().await;
    let pieces = deltas.iter().filter(|d| matches!(d, ChatDelta::Content(_)));
    assert!(pieces.count() > 1, "{deltas:?}");
    let streamed = assemble(deltas);
    assert_eq!(calls(&streamed), calls(&plain));
    assert_eq!(
        calls(&streamed),
        [
            ("send_message", r#"{"message":"one"}"#),
            ("archival_memory_search", r#"{"query":"two"}"#)
        ]
    );
    assert_eq!(
        (&streamed.content, &streamed.usage),
        (&plain.content, &plain.usage)
    );
    assert!(streamed.usage.prompt_tokens > 0 && streamed.usage.completion_tokens > 0);
    let sent = fake.ollama_requests();
    assert_eq!(sent[1]["stream"], true);
    assert_eq!(
        sent[1]["messages"][1],
        json!({"role": "user", "content": "what is this?", "images": ["iVBORw0"]})
    );
}

#[tokio::test]
async fn busy_is_retried_and_crashes_end_as_unavailable() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::rate_limited(None));
    fake.push_text("ok");
    let router = router(&fake);
    let response = router.chat(&config(&fake), &user("hi")).await.unwrap();
    assert_eq!(response.content.as_deref(), Some("ok"));
    for _ in 0..4 {
        fake.push(Reply::from_error(mneme_testkit::fake_llm::ErrorReply {
            status: Some(500),
            ..Default::default()
        }));
    }
    let error = router.chat(&config(&fake), &user("hi")).await.unwrap_err();
    let LlmError::Unavailable {
        status: 500,
        message,
    } = error
    else {
        panic!("{error:?}")
    };
    assert!(message.contains("llama runner"), "{message}");
    assert_eq!(fake.ollama_requests().len(), 6);
}

#[tokio::test]
async fn the_model_list_has_windows_and_embedders() {
    let fake = FakeLlm::start().await;
    let models = router(&fake).list_models("ollama").await.unwrap();
    let summary: Vec<_> = models
        .iter()
        .map(|m| (m.name.as_str(), m.kind, m.context_window, m.embedding_dim))
        .collect();
    assert_eq!(
        summary,
        [
            ("llama3.2:latest", ModelKind::Chat, Some(131_072), None),
            ("qwen3:8b", ModelKind::Chat, Some(40_960), None),
            (
                "nomic-embed-text:latest",
                ModelKind::Embedding,
                Some(2048),
                Some(768)
            ),
        ]
    );
}

#[tokio::test]
async fn a_preview_is_the_chat_body_sent() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::text("ok"));
    let request = crate::with_history("next");
    let config = config(&fake);
    let body = crate::assert_preview_is_sent(&router(&fake), &config, &request, &fake).await;
    assert_eq!(body["stream"], false);
}
