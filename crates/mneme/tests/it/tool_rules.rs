//! Tool rules, as the model and the user see them.

use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

async fn setup(rules: Value, extra: Value) -> (TestServer, FakeLlm, String) {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let srv = TestServer::start_with_env(bin(), &[("OPENAI_BASE_URL", url.as_str())]).await;
    let mut body = json!({
        "model": "openai/gpt-4o-mini",
        "memory_blocks": [{"label": "human", "value": "Name: Ada"}],
        "tool_rules": rules,
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let a = id(&srv.post("/v1/agents/", body).await.ok());
    (srv, fake, a)
}

fn offered(request: &Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn send(srv: &TestServer, a: &str, text: &str) -> Value {
    srv.post(&format!("/v1/agents/{a}/messages"), json!({"input": text}))
        .await
        .ok()
}

#[tokio::test]
async fn run_first_forces_the_first_call_and_shows_in_the_prompt() {
    let rules = json!([
        {"type": "run_first", "tool_name": "conversation_search"},
        {"type": "constrain_child_tools", "tool_name": "conversation_search", "children": ["memory_insert"]}
    ]);
    let (srv, fake, a) = setup(rules, json!({})).await;
    fake.push(Reply::tool_call(
        "conversation_search",
        json!({"query": "x"}),
    ));
    fake.push(Reply::tool_call(
        "memory_insert",
        json!({"label": "human", "new_string": "Likes tea"}),
    ));
    fake.push_text("done");
    let res = send(&srv, &a, "hi").await;
    assert_eq!(res["stop_reason"]["stop_reason"], "end_turn");
    let requests = fake.requests();
    assert_eq!(offered(&requests[0]), ["conversation_search"]);
    assert_eq!(
        requests[0]["tool_choice"]["function"]["name"],
        "conversation_search"
    );
    assert_eq!(offered(&requests[1]), ["memory_insert"]);
    assert_eq!(
        requests[1]["tool_choice"]["function"]["name"],
        "memory_insert"
    );
    assert_eq!(offered(&requests[2]).len(), 3);
    assert_eq!(requests[2]["tool_choice"], "auto");
    let system = requests[0]["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("<tool_usage_rules>"), "{system}");
    assert!(system.contains(
        "After using conversation_search, you must use one of these tools: memory_insert"
    ));
}

#[tokio::test]
async fn calls_outside_the_rules_are_refused_and_not_run() {
    let rules = json!([
        {"type": "constrain_child_tools", "tool_name": "memory_insert", "children": ["conversation_search"]}
    ]);
    let (srv, fake, a) = setup(rules, json!({})).await;
    fake.push(Reply::tool_call(
        "memory_insert",
        json!({"label": "human", "new_string": "A"}),
    ));
    fake.push(Reply::tool_call(
        "memory_replace",
        json!({"label": "human", "old_string": "Ada", "new_string": "Bob"}),
    ));
    fake.push_text("ok");
    let res = send(&srv, &a, "go").await;
    let refused = res["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["message_type"] == "tool_return_message")
        .nth(1)
        .unwrap()
        .clone();
    assert_eq!(refused["status"], "error");
    let text = refused["tool_return"].as_str().unwrap();
    assert!(
        text.contains("[ToolConstraintError] Cannot call memory_replace, valid tools include: ['conversation_search']."),
        "{text}"
    );
    let block = srv
        .get(&format!("/v1/agents/{a}/core-memory/blocks/human"))
        .await
        .ok();
    assert_eq!(
        block["value"], "Name: Ada\nA",
        "the refused call did not run"
    );
}

#[tokio::test]
async fn exit_loop_and_max_count_rules() {
    let rules = json!([
        {"type": "exit_loop", "tool_name": "memory_insert"},
        {"type": "max_count_per_step", "tool_name": "conversation_search", "max_count_limit": 1}
    ]);
    let (srv, fake, a) = setup(rules, json!({})).await;
    fake.push(Reply::tool_call(
        "conversation_search",
        json!({"query": "x"}),
    ));
    fake.push(Reply::tool_call(
        "memory_insert",
        json!({"label": "human", "new_string": "B"}),
    ));
    let res = send(&srv, &a, "go").await;
    assert_eq!(res["stop_reason"]["stop_reason"], "tool_rule");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "no model call after the terminal tool");
    assert!(!offered(&requests[1]).contains(&"conversation_search".to_owned()));
}

#[tokio::test]
async fn required_before_exit_keeps_the_turn_going() {
    let rules = json!([{"type": "required_before_exit", "tool_name": "conversation_search"}]);
    let (srv, fake, a) = setup(rules, json!({})).await;
    fake.push_text("I'm done already");
    fake.push(Reply::tool_call(
        "conversation_search",
        json!({"query": "x"}),
    ));
    fake.push_text("now done");
    let res = send(&srv, &a, "go").await;
    assert_eq!(res["stop_reason"]["stop_reason"], "end_turn");
    assert_eq!(res["usage"]["step_count"], 3);
    let second = &fake.requests()[1];
    let nudge = second["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        nudge.contains("ToolRuleViolated: You must call conversation_search"),
        "{nudge}"
    );
}

#[tokio::test]
async fn memgpt_agents_get_base_rules_and_bad_rules_are_refused() {
    let (srv, _fake, a) = setup(json!([]), json!({"agent_type": "memgpt_v2_agent"})).await;
    let agent = srv.get(&format!("/v1/agents/{a}")).await.ok();
    let rules = agent["tool_rules"].as_array().unwrap();
    assert!(rules.contains(&json!({"type": "exit_loop", "tool_name": "send_message"})));
    assert!(rules.contains(&json!({"type": "continue_loop", "tool_name": "conversation_search"})));
    let v1 = srv
        .post("/v1/agents/", json!({"model": "openai/gpt-4o-mini"}))
        .await
        .ok();
    assert_eq!(v1["tool_rules"], json!([]));
    srv.post(
        "/v1/agents/",
        json!({"model": "openai/gpt-4o-mini", "tool_rules": [{"type": "no_such_rule", "tool_name": "x"}]}),
    )
    .await
    .err(422);
    srv.patch(
        &format!("/v1/agents/{a}"),
        json!({"tool_rules": [{"type": "max_count_per_step", "tool_name": "x"}]}),
    )
    .await
    .err(422);
}
