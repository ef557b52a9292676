//! OpenAI's reasoning models through the Responses API, against the fake.

use mneme_llm::{ChatMessage, FinishReason, LlmClient, ReasoningBlock, ToolChoice, collect_stream};
use mneme_testkit::{FakeLlm, Reply};
use serde_json::json;

use crate::{client, config, user, with_tools};

fn reasoning_call() -> Reply {
    let mut reply = Reply::tool_call("send_message", json!({"message": "hi"}));
    reply.reasoning = Some("The user greets me.".into());
    reply
}

#[tokio::test]
async fn reasoning_models_use_responses_and_get_their_reasoning_back() {
    let fake = FakeLlm::start().await;
    fake.push(reasoning_call());
    let mut config = config(&fake);
    config.model = "o4-mini".into();
    config.reasoning_effort = Some("low".into());
    config.max_tokens = Some(512);
    let request = with_tools(user("hello"), ToolChoice::Required);
    let response = client().chat(&config, &request).await.unwrap();
    assert!(fake.requests().is_empty(), "went to chat completions");
    let ReasoningBlock::Text { text, signature } = &response.reasoning[0] else {
        panic!("{:?}", response.reasoning)
    };
    assert_eq!(text, "The user greets me.");
    let signature = signature.clone().unwrap();
    assert!(signature.starts_with("gAAAA"), "{signature}");
    assert_eq!(response.tool_calls[0].name, "send_message");
    assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));

    let sent = fake.responses_requests().pop().unwrap();
    assert_eq!(sent["instructions"], "You are a test.");
    assert_eq!(sent["input"], json!([{"role": "user", "content": "hello"}]));
    assert_eq!(
        sent["reasoning"],
        json!({"summary": "auto", "effort": "low"})
    );
    assert_eq!(
        (&sent["store"], &sent["max_output_tokens"]),
        (&json!(false), &json!(512))
    );
    assert_eq!(sent["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(sent["tool_choice"], "required");
    assert_eq!(sent["tools"][0]["name"], "send_message");
    assert!(sent.get("temperature").is_none());

    // The next request carries the reasoning item, then the call and its output.
    let call = response.tool_calls[0].clone();
    let mut next = request.clone();
    next.messages.push(ChatMessage::Assistant {
        content: None,
        reasoning: response.reasoning.clone(),
        tool_calls: vec![call.clone()],
    });
    next.messages.push(ChatMessage::Tool {
        tool_call_id: call.id.clone(),
        content: "sent".into(),
    });
    fake.push_text("done");
    let done = client().chat(&config, &next).await.unwrap();
    assert_eq!(done.content.as_deref(), Some("done"));
    let sent = fake.responses_requests().pop().unwrap();
    let input = sent["input"].as_array().unwrap();
    assert_eq!(
        input[1],
        json!({"type": "reasoning", "encrypted_content": signature,
               "summary": [{"type": "summary_text", "text": "The user greets me."}]})
    );
    assert_eq!(input[2]["type"], "function_call");
    assert_eq!(input[2]["call_id"], call.id.as_str());
    assert_eq!(
        input[3],
        json!({"type": "function_call_output", "call_id": call.id, "output": "sent"})
    );
}

#[tokio::test]
async fn responses_stream_into_the_same_answer() {
    let fake = FakeLlm::start().await;
    fake.push(reasoning_call());
    let mut config = config(&fake);
    config.model = "gpt-5-mini".into();
    let request = with_tools(user("hello"), ToolChoice::Auto);
    let stream = client().chat_stream(&config, &request).await.unwrap();
    let response = collect_stream(stream).await.unwrap();
    assert_eq!(
        response.reasoning_text().as_deref(),
        Some("The user greets me.")
    );
    assert!(matches!(
        &response.reasoning[0],
        ReasoningBlock::Text { signature: Some(s), .. } if s.starts_with("gAAAA")
    ));
    assert_eq!(response.tool_calls[0].arguments, r#"{"message":"hi"}"#);
    assert!(response.usage.total_tokens > 0);
    assert_eq!(fake.responses_requests()[0]["stream"], true);
}

#[tokio::test]
async fn other_servers_and_models_stay_on_chat_completions() {
    let fake = FakeLlm::start().await;
    let mut config = config(&fake);
    config.model = "o4-mini".into();
    config.model_endpoint_type = "vllm".into();
    config.provider_name = None;
    client().chat(&config, &user("a")).await.unwrap();
    config.model_endpoint_type = "openai".into();
    config.model = "gpt-4o-mini".into();
    client().chat(&config, &user("b")).await.unwrap();
    assert_eq!(fake.requests().len(), 2);
    assert!(fake.responses_requests().is_empty());
}

#[tokio::test]
async fn a_foreign_signature_is_not_sent_to_openai() {
    let fake = FakeLlm::start().await;
    let mut config = config(&fake);
    config.model = "o3".into();
    let mut request = user("hi");
    request.messages.push(ChatMessage::Assistant {
        content: Some("earlier".into()),
        reasoning: vec![ReasoningBlock::Text {
            text: "claude thought".into(),
            signature: Some("EqQBCkYIBRgCIkB".into()),
        }],
        tool_calls: vec![],
    });
    request.messages.push(ChatMessage::user("again"));
    client().chat(&config, &request).await.unwrap();
    let sent = fake.responses_requests().pop().unwrap();
    let types: Vec<_> = sent["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("input").to_owned())
        .collect();
    assert_eq!(types, ["input", "message", "input"]);
}

#[tokio::test]
async fn a_server_without_responses_is_asked_once_then_chat_completions_serves() {
    let fake = FakeLlm::start().await;
    // The fake answers the first call (to /responses) with a 404, as a proxy without it would.
    fake.push_error(404, json!({"error": {"message": "Not found"}}));
    fake.push_text("via chat");
    fake.push_text("again via chat");
    let mut config = config(&fake);
    config.model = "o4-mini".into();
    let router = client();
    let first = router.chat(&config, &user("a")).await.unwrap();
    assert_eq!(first.content.as_deref(), Some("via chat"));
    let stream = router.chat_stream(&config, &user("b")).await.unwrap();
    let second = collect_stream(stream).await.unwrap();
    assert_eq!(second.content.as_deref(), Some("again via chat"));
    assert_eq!(fake.responses_requests().len(), 1);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn a_preview_follows_the_api_the_call_uses() {
    let fake = FakeLlm::start().await;
    fake.push_text("via responses");
    let mut config = config(&fake);
    config.model = "o4-mini".into();
    let router = client();
    let request = crate::with_history("next");
    let body = crate::assert_preview_is_sent(&router, &config, &request, &fake).await;
    assert!(body.get("input").is_some(), "{body}");
    assert_eq!(fake.responses_requests().len(), 1);

    // Once the server is known to lack /responses, previews show Chat Completions too.
    fake.push_error(404, json!({"error": {"message": "Not found"}}));
    fake.push_text("via chat");
    router.chat(&config, &user("a")).await.unwrap();
    fake.push_text("via chat again");
    let body = crate::assert_preview_is_sent(&router, &config, &request, &fake).await;
    assert!(body.get("messages").is_some(), "{body}");
}
