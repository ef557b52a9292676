//! Tool calls that wait for a human's approval.

use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::id;
use crate::messages::{send, with_fake};

async fn setup() -> (TestServer, FakeLlm, String) {
    let (srv, fake) = with_fake().await;
    let a = approval_agent(&srv).await;
    (srv, fake, a)
}

/// An agent whose `memory_insert` calls wait for a human's approval.
pub(crate) async fn approval_agent(srv: &TestServer) -> String {
    let agent = json!({"model": "openai/gpt-4o-mini",
        "memory_blocks": [{"label": "human", "value": "Name: Ada"}],
        "tool_rules": [{"type": "requires_approval", "tool_name": "memory_insert"}]});
    id(&srv.post("/v1/agents/", agent).await.ok())
}

/// Has agent `a` call `memory_insert`, and returns the approval request that ends the turn.
pub(crate) async fn ask(srv: &TestServer, fake: &FakeLlm, a: &str) -> Value {
    fake.push(Reply::tool_call(
        "memory_insert",
        json!({"label": "human", "new_string": "Likes tea"}),
    ));
    let res = send(srv, a, "remember tea").await;
    assert_eq!(res["stop_reason"]["stop_reason"], "requires_approval");
    let request = res["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(request["message_type"], "approval_request_message");
    assert_eq!(request["tool_call"]["name"], "memory_insert");
    request
}

/// A request that arrives while the turn that will raise an approval request is still running
/// waits for the agent, then is refused: its input must not run past a pending approval.
#[tokio::test]
async fn requests_queued_behind_a_turn_that_asks_for_approval_are_refused() {
    let (srv, fake, a) = setup().await;
    fake.set_latency(std::time::Duration::from_millis(600));
    let path = format!("/v1/agents/{a}/messages");
    let queued = |body: Value| {
        let (srv, fake, path) = (&srv, &fake, &path);
        async move {
            // Sent once the first turn holds the agent and waits on the model.
            while fake.requests().is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            srv.post(path, body).await.err(409)
        }
    };
    let (request, blocking, streaming) = tokio::join!(
        ask(&srv, &fake, &a),
        queued(json!({"input": "hello?"})),
        queued(json!({"input": "and now?", "streaming": true})),
    );
    for refused in [blocking, streaming] {
        assert_eq!(refused["detail"]["code"], "PENDING_APPROVAL");
        assert_eq!(refused["detail"]["pending_request_id"], request["id"]);
    }
    assert_eq!(
        fake.requests().len(),
        1,
        "only the first turn called the model"
    );
    let messages = srv.get(&format!("{path}?limit=50")).await.ok();
    let texts = messages.to_string();
    assert!(
        !texts.contains("hello?") && !texts.contains("and now?"),
        "{texts}"
    );
}

async fn human(srv: &TestServer, a: &str) -> String {
    let b = srv
        .get(&format!("/v1/agents/{a}/core-memory/blocks/human"))
        .await
        .ok();
    b["value"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_approved_call_runs_and_the_turn_goes_on() {
    let (srv, fake, a) = setup().await;
    let request = ask(&srv, &fake, &a).await;
    assert_eq!(human(&srv, &a).await, "Name: Ada", "nothing ran yet");
    let state = srv.get(&format!("/v1/agents/{a}")).await.ok();
    assert_eq!(state["pending_approval"]["id"], request["id"]);

    // New input must wait.
    let busy = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"input": "hello?"}),
        )
        .await
        .err(409);
    assert_eq!(busy["detail"]["code"], "PENDING_APPROVAL");
    assert_eq!(busy["detail"]["pending_request_id"], request["id"]);

    fake.push_text("Noted: you like tea.");
    let call_id = request["tool_call"]["tool_call_id"].as_str().unwrap();
    let res = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"messages": [{"type": "approval", "approvals": [
                {"type": "approval", "tool_call_id": call_id, "approve": true}]}]}),
        )
        .await
        .ok();
    let kinds: Vec<&str> = res["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["tool_return_message", "assistant_message"]);
    assert_eq!(res["messages"][0]["status"], "success");
    assert_eq!(res["stop_reason"]["stop_reason"], "end_turn");
    assert_eq!(human(&srv, &a).await, "Name: Ada\nLikes tea");
    let state = srv.get(&format!("/v1/agents/{a}")).await.ok();
    assert!(state["pending_approval"].is_null());
    let listed = srv.get(&format!("/v1/agents/{a}/messages")).await.ok();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["message_type"] == "approval_response_message")
    );
    // The model saw its call and the result, as an ordinary tool exchange.
    let last = fake.requests().pop().unwrap();
    let msgs = last["messages"].as_array().unwrap();
    assert_eq!(msgs[msgs.len() - 2]["tool_calls"][0]["id"], call_id);
    assert_eq!(msgs[msgs.len() - 1]["role"], "tool");
}

#[tokio::test]
async fn a_denied_call_does_not_run_and_the_model_hears_why() {
    let (srv, fake, a) = setup().await;
    let request = ask(&srv, &fake, &a).await;
    fake.push_text("Understood.");
    let res = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"messages": [
                {"type": "approval", "approve": false, "approval_request_id": request["id"], "reason": "not now"},
                {"role": "user", "content": "let's talk about something else"}]}),
        )
        .await
        .ok();
    let ret = &res["messages"][0];
    assert_eq!(ret["status"], "error");
    assert!(
        ret["tool_return"]
            .as_str()
            .unwrap()
            .contains("request to call tool denied. User reason: not now")
    );
    assert_eq!(human(&srv, &a).await, "Name: Ada");
    // The follow-up message was stored and reached the model.
    let last = fake.requests().pop().unwrap();
    let msgs = last["messages"].as_array().unwrap();
    assert_eq!(
        msgs.last().unwrap()["content"],
        "let's talk about something else"
    );
}

#[tokio::test]
async fn answers_must_match_what_is_pending() {
    let (srv, fake, a) = setup().await;
    let path = format!("/v1/agents/{a}/messages");
    let nothing = srv
        .post(
            &path,
            json!({"messages": [{"type": "approval", "approvals": [
            {"type": "approval", "tool_call_id": "call_x", "approve": true}]}]}),
        )
        .await
        .err(400);
    assert!(
        nothing["detail"]
            .as_str()
            .unwrap()
            .contains("awaiting approval")
    );
    ask(&srv, &fake, &a).await;
    srv.post(
        &path,
        json!({"messages": [{"type": "approval", "approvals": [
            {"type": "approval", "tool_call_id": "call_other", "approve": true}]}]}),
    )
    .await
    .err(400);
    assert_eq!(human(&srv, &a).await, "Name: Ada");
}

#[tokio::test]
async fn approval_can_be_required_per_tool_on_an_agent() {
    let (srv, fake, a) = setup().await;
    let path = format!("/v1/agents/{a}/tools/approval/memory_insert");
    let off = srv
        .send(srv.request(
            reqwest::Method::PATCH,
            &format!("{path}?requires_approval=false"),
        ))
        .await
        .ok();
    assert!(
        !off["tool_rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "requires_approval")
    );
    fake.push(Reply::tool_call(
        "memory_insert",
        json!({"label": "human", "new_string": "X"}),
    ));
    fake.push_text("done");
    let res = srv
        .post(&format!("/v1/agents/{a}/messages"), json!({"input": "go"}))
        .await
        .ok();
    assert_eq!(res["stop_reason"]["stop_reason"], "end_turn");
    assert_eq!(human(&srv, &a).await, "Name: Ada\nX");
    let on = srv
        .send(srv.request(
            reqwest::Method::PATCH,
            &format!("{path}?requires_approval=true"),
        ))
        .await
        .ok();
    assert!(
        on["tool_rules"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "requires_approval", "tool_name": "memory_insert"}))
    );
}

const CLIENT_TOOLS: &str = r#"[{"name": "get_location", "description": "Where the user is.",
    "parameters": {"type": "object", "properties": {"precision": {"type": "string"}}}}]"#;

#[tokio::test]
async fn client_tools_are_offered_and_answered_by_the_client() {
    let (srv, fake, a) = setup().await;
    let tools: Value = serde_json::from_str(CLIENT_TOOLS).unwrap();
    fake.push(Reply::tool_call(
        "get_location",
        json!({"precision": "city"}),
    ));
    let res = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"input": "where am I?", "client_tools": tools}),
        )
        .await
        .ok();
    let offered = fake.requests()[0]["tools"].clone();
    let tool = offered
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "get_location")
        .expect("the client tool is offered");
    assert_eq!(tool["function"]["description"], "Where the user is.");
    assert_eq!(res["stop_reason"]["stop_reason"], "requires_approval");
    let request = res["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(request["message_type"], "approval_request_message");
    assert_eq!(request["tool_call"]["name"], "get_location");
    let call_id = request["tool_call"]["tool_call_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The client ran it and returns the result; the agent goes on with it.
    fake.push_text("You are in Lyon.");
    let res = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"messages": [{"type": "approval", "approvals": [
                {"type": "tool", "tool_call_id": call_id, "tool_return": "Lyon, France",
                 "status": "success"}]}]}),
        )
        .await
        .ok();
    let ret = &res["messages"][0];
    assert_eq!(ret["message_type"], "tool_return_message");
    assert_eq!(ret["status"], "success");
    assert!(
        ret["tool_return"]
            .as_str()
            .unwrap()
            .contains("Lyon, France")
    );
    assert_eq!(res["stop_reason"]["stop_reason"], "end_turn");
    let last = fake.requests().pop().unwrap();
    let msgs = last["messages"].as_array().unwrap();
    assert_eq!(msgs.last().unwrap()["role"], "tool");
    assert!(
        msgs.last().unwrap()["content"]
            .as_str()
            .unwrap()
            .contains("Lyon")
    );

    // Bad client tool schemas are refused before anything runs.
    let bad = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"input": "x", "client_tools": [{"description": "no name"}]}),
        )
        .await
        .err(422);
    assert!(bad["detail"].as_str().unwrap().contains("client_tools[0]"));
}
