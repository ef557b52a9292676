//! The step loop over HTTP, against the scripted fake LLM.

use std::time::Duration;

use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

/// A server whose OpenAI provider is the fake.
pub(crate) async fn with_fake() -> (TestServer, FakeLlm) {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let srv = TestServer::start_with_env(bin(), &[("OPENAI_BASE_URL", url.as_str())]).await;
    (srv, fake)
}

pub(crate) async fn agent(srv: &TestServer, extra: Value) -> String {
    let mut body = json!({
        "model": "openai/gpt-4o-mini",
        "memory_blocks": [{"label": "human", "value": "Name: Ada", "limit": 60}],
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    id(&srv.post("/v1/agents/", body).await.ok())
}

pub(crate) async fn send(srv: &TestServer, agent: &str, text: &str) -> Value {
    srv.post(
        &format!("/v1/agents/{agent}/messages"),
        json!({"input": text}),
    )
    .await
    .ok()
}

fn kinds(response: &Value) -> Vec<String> {
    response["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_type"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn history(srv: &TestServer, agent: &str) -> Vec<Value> {
    let v = srv
        .get(&format!("/v1/agents/{agent}/messages?limit=1000"))
        .await
        .ok();
    v.as_array().unwrap().clone()
}

#[tokio::test]
async fn an_agent_answers_and_the_model_sees_its_memory_and_tools() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    let res = send(&srv, &a, "hi").await;
    assert_eq!(kinds(&res), ["assistant_message"]);
    assert_eq!(res["messages"][0]["content"], "echo: hi");
    assert_eq!(res["stop_reason"]["stop_reason"], "end_turn");
    assert_eq!(res["usage"]["step_count"], 1);

    let sent = &fake.requests()[0];
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("<human>") && system.contains("Name: Ada"),
        "{system}"
    );
    assert_eq!(sent["messages"][1]["content"], "hi");
    let tools: Vec<&str> = sent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        ["conversation_search", "memory_replace", "memory_insert"]
    );
    assert_eq!(sent["model"], "gpt-4o-mini");

    let h = history(&srv, &a).await;
    let types: Vec<&str> = h
        .iter()
        .map(|m| m["message_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["system_message", "user_message", "assistant_message"]
    );
    let run = res["messages"][0]["run_id"].as_str().unwrap();
    let run = srv.get(&format!("/v1/runs/{run}")).await.ok();
    assert_eq!(run["status"], "completed");
    assert_eq!(run["stop_reason"], "end_turn");
    let steps = srv.get(&format!("/v1/runs/{}/steps", id(&run))).await.ok();
    assert_eq!(steps.as_array().unwrap().len(), 1);
    let usage = srv.get(&format!("/v1/runs/{}/usage", id(&run))).await.ok();
    assert_eq!(usage["total_tokens"], res["usage"]["total_tokens"]);
}

#[tokio::test]
async fn memory_edits_are_stored_and_recompiled() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    fake.push(Reply::tool_call(
        "memory_replace",
        json!({"label": "human", "old_string": "Ada", "new_string": "Ada Lovelace"}),
    ));
    fake.push_text("Noted.");
    let res = send(&srv, &a, "I am Ada Lovelace").await;
    assert_eq!(
        kinds(&res),
        [
            "tool_call_message",
            "tool_return_message",
            "assistant_message"
        ]
    );
    assert_eq!(res["messages"][1]["status"], "success");
    assert_eq!(res["usage"]["step_count"], 2);
    let block = srv
        .get(&format!("/v1/agents/{a}/core-memory/blocks/human"))
        .await
        .ok();
    assert_eq!(block["value"], "Name: Ada Lovelace");
    // The second model call saw the tool's result; the stored system message has the edit.
    let second = &fake.requests()[1];
    let last = second["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["role"], "tool");
    assert!(last["content"].as_str().unwrap().contains("Ada Lovelace"));
    let h = history(&srv, &a).await;
    assert!(
        h[0]["content"]
            .as_str()
            .unwrap()
            .contains("Name: Ada Lovelace")
    );

    // Over the block's limit: the model sees an error, the block is unchanged, the turn goes on.
    fake.push(Reply::tool_call(
        "memory_insert",
        json!({"label": "human", "new_string": "x".repeat(80)}),
    ));
    fake.push_text("Too long, sorry.");
    let res = send(&srv, &a, "remember this").await;
    assert_eq!(res["messages"][1]["status"], "error");
    let err = res["messages"][1]["tool_return"].as_str().unwrap();
    assert!(err.contains("Exceeds 60 character limit"), "{err}");
    let block = srv
        .get(&format!("/v1/agents/{a}/core-memory/blocks/human"))
        .await
        .ok();
    assert_eq!(block["value"], "Name: Ada Lovelace");
}

#[tokio::test]
async fn heartbeat_agents_chain_steps_and_reply_with_send_message() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({"agent_type": "memgpt_v2_agent"})).await;
    fake.push(
        Reply::tool_call(
            "conversation_search",
            json!({"query": "x", "request_heartbeat": true}),
        )
        .with_text("Let me look."),
    );
    fake.push(Reply::tool_call("send_message", json!({"message": "done"})));
    let res = send(&srv, &a, "search please").await;
    assert_eq!(
        kinds(&res),
        [
            "reasoning_message",
            "tool_call_message",
            "tool_return_message",
            "assistant_message"
        ],
        "heartbeats are stored for the model, not shown as replies"
    );
    assert_eq!(res["messages"][3]["content"], "done");
    assert_eq!(res["stop_reason"]["stop_reason"], "end_turn");
    assert_eq!(res["usage"]["step_count"], 2);

    let requests = fake.requests();
    let first = &requests[0];
    assert_eq!(first["tool_choice"], "required");
    for tool in first["tools"].as_array().unwrap() {
        let has = tool["function"]["parameters"]["properties"]
            .get("request_heartbeat")
            .is_some();
        assert_eq!(has, tool["function"]["name"] != "send_message", "{tool}");
    }
    let heartbeat = requests[1]["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(heartbeat["role"], "user");
    let packed: Value = serde_json::from_str(heartbeat["content"].as_str().unwrap()).unwrap();
    assert_eq!(packed["type"], "heartbeat");
}

#[tokio::test]
async fn conversation_and_archival_search_find_what_was_said() {
    let (srv, fake) = with_fake().await;
    let a = agent(
        &srv,
        json!({"tools": ["archival_memory_insert", "archival_memory_search"]}),
    )
    .await;
    send(&srv, &a, "my cat is called Miso").await;
    fake.push(Reply::tool_call(
        "conversation_search",
        json!({"query": "miso"}),
    ));
    fake.push(Reply::tool_call(
        "archival_memory_insert",
        json!({"content": "Ada's cat Miso likes tuna", "tags": ["pets"]}),
    ));
    fake.push_text("ok");
    let res = send(&srv, &a, "what is my cat called?").await;
    let found = res["messages"][1]["tool_return"].as_str().unwrap();
    assert!(found.contains("my cat is called Miso"), "{found}");
    assert!(
        !found.contains("what is my cat called"),
        "only stored messages: {found}"
    );

    fake.push(Reply::tool_call(
        "archival_memory_search",
        json!({"query": "tuna", "tags": ["pets"]}),
    ));
    fake.push_text("ok");
    let res = send(&srv, &a, "what does it eat?").await;
    let found = res["messages"][1]["tool_return"].as_str().unwrap();
    assert!(found.contains("Ada's cat Miso likes tuna"), "{found}");
    let h = history(&srv, &a).await;
    assert!(
        h[0]["content"]
            .as_str()
            .unwrap()
            .contains("1 total memories")
    );
}

#[tokio::test]
async fn provider_errors_fail_the_request_and_keep_completed_steps() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    fake.push_error(401, json!({"error": {"message": "bad key"}}));
    let res = srv
        .send(
            srv.request(reqwest::Method::POST, &format!("/v1/agents/{a}/messages"))
                .json(&json!({"input": "hello"})),
        )
        .await;
    assert_eq!(res.status, 401);
    assert_eq!(res.body["error"]["type"], "llm_authentication");
    assert_eq!(
        history(&srv, &a).await.len(),
        1,
        "nothing of the failed turn is stored"
    );
    let runs = srv.get(&format!("/v1/runs/?agent_id={a}")).await.ok();
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[0]["stop_reason"], "llm_api_error");

    // A failure in the second step keeps the first.
    fake.push(Reply::tool_call(
        "memory_insert",
        json!({"label": "human", "new_string": "Likes tea"}),
    ));
    fake.push_error(401, json!({"error": {"message": "bad key"}}));
    let res = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"input": "note tea"}),
        )
        .await;
    assert_eq!(res.status, 401);
    let types: Vec<String> = history(&srv, &a)
        .await
        .iter()
        .map(|m| m["message_type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "system_message",
            "user_message",
            "tool_call_message",
            "tool_return_message"
        ]
    );
    let block = srv
        .get(&format!("/v1/agents/{a}/core-memory/blocks/human"))
        .await
        .ok();
    assert_eq!(block["value"], "Name: Ada\nLikes tea");
    // And the agent takes its next message.
    let res = send(&srv, &a, "still there?").await;
    assert_eq!(res["messages"][0]["content"], "echo: still there?");
}

#[tokio::test]
async fn max_steps_stops_a_busy_agent() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    for _ in 0..3 {
        fake.push(Reply::tool_call(
            "conversation_search",
            json!({"query": "x"}),
        ));
    }
    let res = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"input": "go", "max_steps": 2}),
        )
        .await
        .ok();
    assert_eq!(res["stop_reason"]["stop_reason"], "max_steps");
    assert_eq!(res["usage"]["step_count"], 2);
}

#[tokio::test]
async fn concurrent_requests_to_one_agent_never_interleave() {
    let (srv, fake) = with_fake().await;
    fake.set_latency(Duration::from_millis(100));
    let a = agent(&srv, json!({})).await;
    let path = format!("/v1/agents/{a}/messages");
    let (r1, r2, r3) = tokio::join!(
        srv.post(&path, json!({"input": "one"})),
        srv.post(&path, json!({"input": "two"})),
        srv.post(&path, json!({"input": "three"})),
    );
    for r in [r1, r2, r3] {
        r.ok();
    }
    let h = history(&srv, &a).await;
    assert_eq!(h.len(), 7);
    for pair in h[1..].chunks(2) {
        let asked = pair[0]["content"].as_str().unwrap();
        assert_eq!(pair[1]["content"], format!("echo: {asked}"));
    }
}

#[tokio::test]
async fn messages_can_be_listed_paged_modified_and_reset() {
    let (srv, _fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    for text in ["one", "two", "three"] {
        send(&srv, &a, text).await;
    }
    let page = srv
        .get(&format!("/v1/agents/{a}/messages?limit=2"))
        .await
        .ok();
    let texts: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["three", "echo: three"], "newest rows, oldest first");
    let before = id(&page[0]);
    let older = srv
        .get(&format!("/v1/agents/{a}/messages?limit=2&before={before}"))
        .await
        .ok();
    assert_eq!(older[1]["content"], "echo: two");
    let only_user = srv
        .get(&format!(
            "/v1/agents/{a}/messages?include_return_message_types=user_message"
        ))
        .await
        .ok();
    assert_eq!(only_user.as_array().unwrap().len(), 3);

    let target = id(&only_user[0]);
    let edited = srv
        .patch(
            &format!("/v1/agents/{a}/messages/{target}"),
            json!({"message_type": "user_message", "content": "uno"}),
        )
        .await
        .ok();
    assert_eq!(edited["content"], "uno");
    let h = history(&srv, &a).await;
    assert_eq!(h[1]["content"], "uno");

    let ctx = srv.get(&format!("/v1/agents/{a}/context")).await.ok();
    assert_eq!(ctx["num_messages"], 7);
    let reset = srv
        .patch(&format!("/v1/agents/{a}/reset-messages"), json!({}))
        .await
        .ok();
    assert_eq!(reset["message_ids"].as_array().unwrap().len(), 1);
    assert_eq!(history(&srv, &a).await.len(), 1);
    let ctx = srv.get(&format!("/v1/agents/{a}/context")).await.ok();
    assert_eq!(ctx["num_messages"], 1);
    // Recall memory is every stored message: the system message alone after a reset.
    assert_eq!(ctx["num_recall_memory"], 1);
}

#[tokio::test]
async fn bad_message_requests_are_refused() {
    let (srv, _fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    let path = format!("/v1/agents/{a}/messages");
    srv.post(&path, json!({"messages": []})).await.err(422);
    srv.post(&path, json!({})).await.err(422);
    srv.post(
        &path,
        json!({"input": "x", "messages": [{"role": "user", "content": "y"}]}),
    )
    .await
    .err(422);
    srv.post(&path, json!({"input": "x", "stream_tokens": true}))
        .await
        .err(422);
    srv.post(
        "/v1/agents/agent-00000000-0000-4000-8000-000000000000/messages",
        json!({"input": "x"}),
    )
    .await
    .err(404);
    assert_eq!(history(&srv, &a).await.len(), 1);
}

#[tokio::test]
async fn history_survives_a_restart_and_the_agent_goes_on() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let dir = tempfile::tempdir().unwrap();
    let env = [("OPENAI_BASE_URL", url.as_str())];
    let srv = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    let a = agent(&srv, json!({})).await;
    send(&srv, &a, "before").await;
    srv.stop().await;
    let srv = TestServer::start_in_with_env(bin(), dir.path(), &env).await;
    let res = send(&srv, &a, "after").await;
    assert_eq!(res["messages"][0]["content"], "echo: after");
    let h = history(&srv, &a).await;
    let texts: Vec<&str> = h[1..]
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before", "echo: before", "after", "echo: after"]);
    // The model saw the history from before the restart.
    let last = fake.requests().pop().unwrap();
    assert_eq!(last["messages"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn local_openai_compatible_servers_answer_through_their_handles() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let srv = TestServer::start_with_env(bin(), &[("VLLM_API_BASE", url.as_str())]).await;
    let a = id(&srv
        .post("/v1/agents/", json!({"model": "vllm/qwen3-8b"}))
        .await
        .ok());
    let res = send(&srv, &a, "hello vllm").await;
    assert_eq!(res["messages"][0]["content"], "echo: hello vllm");
    assert_eq!(fake.requests()[0]["model"], "qwen3-8b");
    let agent = srv.get(&format!("/v1/agents/{a}")).await.ok();
    assert_eq!(agent["llm_config"]["model_endpoint_type"], "vllm");
    assert_eq!(agent["llm_config"]["model_endpoint"], url.as_str());
}
