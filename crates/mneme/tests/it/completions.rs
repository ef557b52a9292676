//! `POST /v1/agents/{id}/generate` and the OpenAI-compatible chat completions, against the
//! fake LLM.

use mneme_testkit::{Reply, TestServer};
use serde_json::{Value, json};

use crate::messages::{agent, history, with_fake};
use crate::streaming::read_events;

/// What a generation must leave alone: the agent's messages, context, runs and steps.
async fn trace(srv: &TestServer, a: &str) -> (Vec<Value>, Value, Value, Value) {
    let state = srv.get(&format!("/v1/agents/{a}")).await.ok();
    let runs = srv.get(&format!("/v1/runs/?agent_id={a}")).await.ok();
    let steps = srv.get(&format!("/v1/steps/?agent_id={a}")).await.ok();
    (
        history(srv, a).await,
        state["message_ids"].clone(),
        runs,
        steps,
    )
}

#[tokio::test]
async fn generate_answers_with_the_agents_model_and_leaves_no_trace() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    let before = trace(&srv, &a).await;
    fake.push_text("Paris.");
    let out = srv
        .post(
            &format!("/v1/agents/{a}/generate"),
            json!({"prompt": "Capital of France?", "system_prompt": "Be brief."}),
        )
        .await
        .ok();
    assert_eq!(out["content"], "Paris.");
    assert_eq!(out["model"], "gpt-4o-mini");
    assert_eq!(out["usage"]["message_type"], "usage_statistics");
    assert!(out["usage"]["total_tokens"].as_u64().unwrap() > 0, "{out}");
    let sent = fake.requests().pop().unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "Be brief."},
               {"role": "user", "content": "Capital of France?"}])
    );
    assert!(sent.get("tools").is_none_or(Value::is_null), "{sent}");
    assert_eq!(trace(&srv, &a).await, before);
}

#[tokio::test]
async fn generate_with_a_schema_answers_the_forced_calls_arguments() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    fake.push(Reply::tool_call(
        "structured_output",
        json!({"city": "Paris"}),
    ));
    let schema = json!({"properties": {"city": {"type": "string"}}});
    let out = srv
        .post(
            &format!("/v1/agents/{a}/generate"),
            json!({"prompt": "Capital of France?", "response_schema": schema}),
        )
        .await
        .ok();
    let content: Value = serde_json::from_str(out["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({"city": "Paris"}));
    let sent = fake.requests().pop().unwrap();
    assert_eq!(
        sent["messages"][0]["content"],
        "You are a helpful assistant."
    );
    assert_eq!(sent["tools"][0]["function"]["name"], "structured_output");
    assert_eq!(
        sent["tools"][0]["function"]["parameters"]["required"],
        json!(["city"])
    );
    assert_eq!(
        sent["tool_choice"]["function"]["name"], "structured_output",
        "{sent}"
    );
}

#[tokio::test]
async fn generate_refuses_what_letta_refuses() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    let path = format!("/v1/agents/{a}/generate");
    let blank = srv.post(&path, json!({"prompt": "  "})).await.err(422);
    assert_eq!(blank["detail"][0]["loc"], json!(["body", "prompt"]));
    let missing = "agent-00000000-0000-4000-8000-000000000000";
    srv.post(
        &format!("/v1/agents/{missing}/generate"),
        json!({"prompt": "hi"}),
    )
    .await
    .err(404);
    srv.post(
        &path,
        json!({"prompt": "hi", "override_model": "nowhere/none"}),
    )
    .await
    .err(404);
    fake.push_error(400, json!({"error": {"message": "bad things"}}));
    let failed = srv.post(&path, json!({"prompt": "hi"})).await.err(502);
    let detail = failed["detail"].as_str().unwrap();
    assert!(detail.starts_with("LLM provider error: "), "{detail}");
}

async fn chat(srv: &TestServer, body: Value) -> reqwest::Response {
    srv.request(reqwest::Method::POST, "/v1/chat/completions")
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn chat_completions_stream_the_agents_reply_as_openai_chunks() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    fake.push(Reply::tool_call(
        "memory_insert",
        json!({"label": "human", "new_string": "Likes tea"}),
    ));
    fake.push_text("Noted that you like tea.");
    let body = json!({
        "model": a,
        "messages": [
            {"role": "system", "content": "ignored"},
            {"role": "user", "content": "an earlier message"},
            {"role": "assistant", "content": "an earlier answer"},
            {"role": "user", "content": "I like tea"},
        ],
        "stream": true,
    });
    let events = read_events(chat(&srv, body).await, usize::MAX).await;
    assert!(events.iter().all(|e| e.name.is_none()));
    let (done, chunks) = events.split_last().unwrap();
    assert_eq!(done.data, "[DONE]");
    let chunks: Vec<Value> = chunks.iter().map(|e| e.json()).collect();
    let first = &chunks[0];
    let id = first["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-run-"), "{id}");
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(
            (c["id"].as_str(), &c["created"]),
            (Some(id), &first["created"])
        );
        assert_eq!(c["model"], "gpt-4o-mini");
        assert_eq!(c["choices"][0]["index"], 0);
    }
    let (last, text) = chunks.split_last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["choices"][0]["delta"]["content"], Value::Null);
    assert!(text.len() > 1, "the reply arrives in pieces: {text:?}");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    assert!(
        text[1..]
            .iter()
            .all(|c| c["choices"][0]["delta"]["role"].is_null())
    );
    assert!(
        text.iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );
    let reply: String = text
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(reply, "Noted that you like tea.");
    let sent = fake.requests();
    let last_user = sent[0]["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(last_user.to_string().contains("I like tea"), "{last_user}");
    assert!(!sent[0].to_string().contains("an earlier message"));
    let stored = history(&srv, &a).await;
    assert_eq!(stored.last().unwrap()["content"], reply.as_str());
    let run = id.trim_start_matches("chatcmpl-");
    let run = srv.get(&format!("/v1/runs/{run}")).await.ok();
    assert_eq!(
        (run["status"].as_str(), run["agent_id"].as_str()),
        (Some("completed"), Some(a.as_str()))
    );
}

#[tokio::test]
async fn chat_completions_refuse_what_letta_refuses() {
    let (srv, _fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    let user = json!([{"role": "user", "content": "hi"}]);
    let not_streamed = srv
        .post(
            "/v1/chat/completions",
            json!({"model": a, "messages": user}),
        )
        .await
        .err(400);
    assert!(
        not_streamed["detail"]
            .as_str()
            .unwrap()
            .contains("stream=true")
    );
    let model = json!({"model": "gpt-4o-mini", "messages": user, "stream": true});
    let not_agent = srv.post("/v1/chat/completions", model).await.err(400);
    assert!(not_agent["detail"].as_str().unwrap().contains("agent ID"));
    let no_user =
        json!({"model": a, "messages": [{"role": "system", "content": "x"}], "stream": true});
    srv.post("/v1/chat/completions", no_user).await.err(400);
    let missing = "agent-00000000-0000-4000-8000-000000000000";
    let gone = json!({"model": missing, "messages": user, "stream": true});
    srv.post("/v1/chat/completions", gone).await.err(404);
    assert!(
        history(&srv, &a).await.iter().all(
            |m| m["message_type"] != "user_message" || !m["content"].to_string().contains("hi")
        )
    );
    let voice = srv
        .post(&format!("/v1/voice-beta/{a}/chat/completions"), json!({}))
        .await
        .err(410);
    assert!(voice["detail"].as_str().unwrap().contains("deprecated"));
}
