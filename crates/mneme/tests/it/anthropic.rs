//! An agent on an `anthropic/...` handle, end to end: the server speaks Anthropic's Messages
//! API to the fake, shows signed thinking as Letta does, and sends it back on the next turn.

use mneme_testkit::fake_llm::thinking_signature;
use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

const KEY: &str = "sk-ant-e2e-secret";

fn of_type<'a>(messages: &'a Value, kind: &str) -> Vec<&'a Value> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["message_type"] == kind)
        .collect()
}

#[tokio::test]
async fn an_anthropic_agent_keeps_and_returns_its_signed_thinking() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [
        ("ANTHROPIC_BASE_URL", url.as_str()),
        ("ANTHROPIC_API_KEY", KEY),
    ];
    let srv = TestServer::start_with_env(bin(), &env).await;
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "anthropic/claude-sonnet-4-5-20250929", "agent_type": "letta_v1_agent",
                   "memory_blocks": [{"label": "human", "value": "Name: Ada"}]}),
        )
        .await
        .ok();
    let path = format!("/v1/agents/{}/messages", id(&agent));
    let mut reply = Reply::text("Hello Ada!").with_reasoning("She greets me.");
    reply.redacted_reasoning = Some("opaque-bytes".into());
    fake.push(reply);

    let first = srv
        .post(
            &path,
            json!({"messages": [{"role": "user", "content": "hi"}]}),
        )
        .await
        .ok();
    let reasoning = of_type(&first["messages"], "reasoning_message");
    assert_eq!(reasoning.len(), 1, "{first}");
    assert_eq!(reasoning[0]["reasoning"], "She greets me.");
    assert_eq!(
        reasoning[0]["signature"],
        thinking_signature("She greets me.")
    );
    assert_eq!(reasoning[0]["source"], "reasoner_model");
    let hidden = of_type(&first["messages"], "hidden_reasoning_message");
    assert_eq!(hidden[0]["state"], "redacted");
    assert_eq!(hidden[0]["hidden_reasoning"], "opaque-bytes");
    assert_eq!(
        of_type(&first["messages"], "assistant_message")[0]["content"],
        "Hello Ada!"
    );

    // Listed later, the stored message shows the same blocks.
    let listed = srv.get(&path).await.ok();
    let listed_reasoning = of_type(&listed, "reasoning_message");
    assert_eq!(
        listed_reasoning[0]["signature"],
        thinking_signature("She greets me.")
    );

    srv.post(
        &path,
        json!({"messages": [{"role": "user", "content": "again"}]}),
    )
    .await
    .ok();
    let recorded = fake.recorded();
    let chats: Vec<_> = recorded
        .iter()
        .filter(|r| r.path == "/v1/messages")
        .collect();
    assert_eq!(chats.len(), 2);
    assert!(chats.iter().all(|r| r.api_key.as_deref() == Some(KEY)));
    let body = &chats[1].body;
    assert_eq!(body["model"], "claude-sonnet-4-5-20250929");
    assert!(
        body["system"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Name: Ada")
    );
    assert!(
        body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["input_schema"].is_object())
    );
    let assistant = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .expect("the first answer is in the history");
    assert_eq!(
        assistant["content"],
        json!([
            {"type": "thinking", "thinking": "She greets me.",
             "signature": thinking_signature("She greets me.")},
            {"type": "redacted_thinking", "data": "opaque-bytes"},
            {"type": "text", "text": "Hello Ada!"},
        ])
    );
    let last = body["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(last["role"], "user");
    let last_block = last["content"].as_array().unwrap().last().unwrap();
    assert_eq!(last_block["cache_control"], json!({"type": "ephemeral"}));
    let second = srv.get(&path).await.ok();
    assert!(!second.to_string().contains(KEY));
}
