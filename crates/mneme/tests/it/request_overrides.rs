//! What a message request changes for itself only, over HTTP: `override_system`,
//! `client_skills`, and `messages/preview-raw-payload` (the body the provider would get).

use mneme_testkit::{FakeLlm, TestServer};
use serde_json::{Value, json};

use crate::messages::history;
use crate::{bin, id};

/// A server whose OpenAI and Anthropic providers are the fake.
async fn server() -> (TestServer, FakeLlm) {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("ANTHROPIC_BASE_URL", url.as_str()),
        ("ANTHROPIC_API_KEY", "sk-ant-test"),
    ];
    (TestServer::start_with_env(bin(), &env).await, fake)
}

async fn agent(srv: &TestServer, model: &str) -> String {
    let body = json!({
        "model": model,
        "tools": ["conversation_search"],
        "memory_blocks": [{"label": "human", "value": "Name: Ada"}],
    });
    id(&srv.post("/v1/agents/", body).await.ok())
}

/// The stored system message, as the messages list shows it.
async fn stored_system(srv: &TestServer, agent: &str) -> Value {
    history(srv, agent).await.into_iter().next().unwrap()
}

fn skills() -> Value {
    json!([{"name": "pdf", "description": "Read PDFs.", "location": "/skills/pdf/SKILL.md"}])
}

const SKILLS: &str =
    "<available_skills>\n/skills\n└── pdf/\n    └── SKILL.md (Read PDFs.)\n</available_skills>";

/// The request a turn with these overrides makes: a new message, a client tool, skills and a
/// system prompt of its own.
fn request(text: &str) -> Value {
    json!({
        "messages": [{"role": "user", "content": text}],
        "client_tools": [{"name": "open_file", "description": "Opens a file.",
                          "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}],
        "client_skills": skills(),
    })
}

/// For one model: a preview after some history is the body the send with the same request
/// then makes, and stores nothing.
async fn preview_then_send(model: &str, path: &str) {
    let (srv, fake) = server().await;
    let a = agent(&srv, model).await;
    fake.push_text("Earlier answer.");
    let first = json!({"messages": [{"role": "user", "content": "earlier"}]});
    srv.post(&format!("/v1/agents/{a}/messages"), first)
        .await
        .ok();
    let stored = history(&srv, &a).await;
    let sent_before = fake.recorded().len();

    let preview = srv
        .post(
            &format!("/v1/agents/{a}/messages/preview-raw-payload"),
            request("now"),
        )
        .await
        .ok();
    assert_eq!(history(&srv, &a).await, stored, "a preview stores nothing");
    assert_eq!(
        fake.recorded().len(),
        sent_before,
        "a preview sends nothing"
    );

    fake.push_text("Now answered.");
    srv.post(&format!("/v1/agents/{a}/messages"), request("now"))
        .await
        .ok();
    let recorded = fake.recorded();
    assert_eq!(recorded[sent_before].path, path);
    assert_eq!(preview, recorded[sent_before].body);
    assert!(preview.to_string().contains("open_file"), "{preview}");
    assert!(
        preview.to_string().contains("available_skills"),
        "{preview}"
    );
}

#[tokio::test]
async fn a_preview_is_the_openai_body_a_send_then_makes() {
    preview_then_send("openai/gpt-4o-mini", "/v1/chat/completions").await;
}

#[tokio::test]
async fn a_preview_is_the_anthropic_body_a_send_then_makes() {
    preview_then_send("anthropic/claude-sonnet-4-5-20250929", "/v1/messages").await;
}

#[tokio::test]
async fn a_preview_is_refused_as_a_send_would_be() {
    let (srv, fake) = server().await;
    let a = agent(&srv, "openai/gpt-4o-mini").await;
    let path = format!("/v1/agents/{a}/messages/preview-raw-payload");
    let e = srv.post(&path, json!({"messages": []})).await.err(422);
    assert_eq!(e["detail"], "Messages must not be empty");
    let unknown =
        "/v1/agents/agent-00000000-0000-4000-8000-000000000000/messages/preview-raw-payload";
    srv.post(unknown, request("hi")).await.err(404);
    let e = srv
        .post(&path, json!({"input": "hi", "override_model": "nowhere/x"}))
        .await
        .err(404);
    assert!(e["detail"].as_str().unwrap().contains("nowhere/x"), "{e}");

    // While the agent waits for an approval, new input is a 409, and an answer is no preview.
    let rules =
        json!({"tool_rules": [{"type": "requires_approval", "tool_name": "conversation_search"}]});
    srv.patch(&format!("/v1/agents/{a}"), rules).await.ok();
    fake.push_tool_call("conversation_search", json!({"query": "x"}));
    srv.post(
        &format!("/v1/agents/{a}/messages"),
        json!({"input": "look"}),
    )
    .await
    .ok();
    let e = srv.post(&path, request("hi")).await.err(409);
    assert_eq!(e["detail"]["code"], "PENDING_APPROVAL");
    let approve = json!({"messages": [{"type": "approval", "approve": true}]});
    srv.post(&path, approve).await.err(422);
}

#[tokio::test]
async fn override_system_and_skills_reach_the_model_and_never_the_stored_prompt() {
    let (srv, fake) = server().await;
    let a = agent(&srv, "openai/gpt-4o-mini").await;
    let stored = stored_system(&srv, &a).await;
    let stored_text = stored["content"].as_str().unwrap().to_owned();

    // Letta reads `override_system` under `system` too; the stream route takes it as well.
    fake.push_text("Terse.");
    let body = json!({"input": "hi", "system": "Be terse.", "client_skills": skills()});
    srv.post(&format!("/v1/agents/{a}/messages/stream"), body)
        .await
        .ok();
    fake.push_text("With skills.");
    let body = json!({"input": "again", "client_skills": skills()});
    srv.post(&format!("/v1/agents/{a}/messages"), body)
        .await
        .ok();

    let systems: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r["messages"][0]["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(systems[0], "Be terse.");
    assert_eq!(
        systems[1],
        format!("{}\n\n{SKILLS}", stored_text.trim_end())
    );
    assert_eq!(
        stored_system(&srv, &a).await,
        stored,
        "the stored prompt is untouched"
    );
}
