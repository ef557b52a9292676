//! Agents on Gemini (`google_ai/...`) and Ollama (`ollama/...`) handles, through the server to
//! the fake's Gemini and Ollama routes.

use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

const GEMINI_KEY: &str = "gm-e2e-secret";

/// A server whose Gemini and Ollama providers are the fake.
async fn with_fake() -> (TestServer, FakeLlm) {
    let fake = FakeLlm::start().await;
    let root = fake.root_url();
    let env = [
        ("GEMINI_API_KEY", GEMINI_KEY),
        ("GEMINI_BASE_URL", root.as_str()),
        ("OLLAMA_BASE_URL", root.as_str()),
    ];
    (TestServer::start_with_env(bin(), &env).await, fake)
}

async fn agent(srv: &TestServer, model: &str) -> String {
    let body = json!({
        "model": model,
        "memory_blocks": [{"label": "human", "value": "Name: Ada", "limit": 100}],
    });
    id(&srv.post("/v1/agents/", body).await.ok())
}

fn kinds(response: &Value) -> Vec<&str> {
    let messages = response["messages"].as_array().unwrap();
    messages
        .iter()
        .map(|m| m["message_type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_gemini_agent_calls_a_tool_and_answers() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, "google_ai/gemini-2.5-flash").await;
    fake.push(Reply::tool_call(
        "memory_replace",
        json!({"label": "human", "old_string": "Ada", "new_string": "Ada Lovelace"}),
    ));
    fake.push_text("Noted, Ada Lovelace.");
    let res = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"input": "I am Ada Lovelace"}),
        )
        .await
        .ok();
    assert_eq!(
        kinds(&res),
        [
            "tool_call_message",
            "tool_return_message",
            "assistant_message"
        ]
    );
    assert_eq!(res["messages"][2]["content"], "Noted, Ada Lovelace.");
    assert!(res["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let sent = fake.gemini_requests();
    assert_eq!(sent.len(), 2);
    let system = sent[0]["systemInstruction"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        system.contains("Name: Ada"),
        "the memory is in the system instruction"
    );
    let declared: Vec<&str> = sent[0]["tools"][0]["functionDeclarations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(declared.contains(&"memory_replace"), "{declared:?}");
    let contents = sent[1]["contents"].as_array().unwrap();
    let roles: Vec<&str> = contents
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert!(
        roles.windows(2).all(|w| w[0] != w[1]),
        "turns alternate: {roles:?}"
    );
    let last = contents.last().unwrap();
    let response = &last["parts"][0]["functionResponse"];
    assert_eq!(response["name"], "memory_replace", "{last}");
    let recorded = fake.recorded();
    assert!(
        recorded[0]
            .path
            .ends_with("/models/gemini-2.5-flash:generateContent")
    );
    let expected = format!("x-goog-api-key {GEMINI_KEY}");
    assert_eq!(
        recorded[0].authorization.as_deref(),
        Some(expected.as_str())
    );
    let agent_state = srv.get(&format!("/v1/agents/{a}")).await.ok();
    assert!(!agent_state.to_string().contains(GEMINI_KEY));
}

#[tokio::test]
async fn an_ollama_agent_streams_its_answer_token_by_token() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, "ollama/qwen3:8b").await;
    fake.push_text("Hello from a local model, in pieces.");
    let response = srv
        .request(
            reqwest::Method::POST,
            &format!("/v1/agents/{a}/messages/stream"),
        )
        .json(&json!({"input": "hi", "stream_tokens": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let pieces = body.matches("\"assistant_message\"").count();
    assert!(pieces > 1, "token streaming: {body}");
    assert!(body.contains("end_turn"), "{body}");
    let sent = fake.ollama_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "qwen3:8b");
    assert_eq!(sent[0]["stream"], true);
    assert!(sent[0]["options"]["num_ctx"].as_u64().unwrap() > 0);
    assert_eq!(sent[0]["messages"][0]["role"], "system");
    let history = srv
        .get(&format!("/v1/agents/{a}/messages?limit=100"))
        .await
        .ok();
    let texts: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["message_type"] == "assistant_message")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(texts, ["Hello from a local model, in pieces."]);
}
