//! Context compaction over HTTP with the fake LLM: large reported usage, context-length
//! errors, a failing summarizer, the summarize route, compaction messages in responses and
//! streams.

use mneme_testkit::{FakeLlm, Reply, Rule, TestServer};
use serde_json::{Value, json};

use crate::bin;
use crate::messages::{agent, history, send, with_fake};
use crate::streaming::{Event, read_events, stream};

/// The start of mneme's summarizer prompts (modes `all` and `sliding_window`).
const SUMMARIZER: &str = "You write the memory";

/// Summaries come from this rule; the queue scripts the agent's own calls.
fn summaries(fake: &FakeLlm, text: &str) {
    fake.add_rule_for(Rule::on_system(SUMMARIZER, Reply::text(text)));
}

/// A reply that reports `tokens` of prompt and one of answer (gpt-4o-mini's window is
/// 128,000: 0.9 of it is 115,200).
fn heavy(text: &str, tokens: u64) -> Reply {
    Reply {
        prompt_tokens: Some(tokens),
        completion_tokens: Some(1),
        ..Reply::text(text)
    }
}

/// The agent's own chat requests (not the summarizer's), oldest first.
fn agent_requests(fake: &FakeLlm) -> Vec<Value> {
    let is_summarizer = |r: &Value| {
        r["messages"][0]["content"]
            .as_str()
            .is_some_and(|s| s.starts_with(SUMMARIZER))
    };
    fake.requests()
        .into_iter()
        .filter(|r| !is_summarizer(r))
        .collect()
}

async fn context(srv: &TestServer, a: &str) -> Value {
    srv.get(&format!("/v1/agents/{a}/context")).await.ok()
}

/// Exchanges `n` messages, `message i <words>`, answered by the echo.
async fn chat(srv: &TestServer, a: &str, n: usize, words: &str) {
    for i in 0..n {
        let res = send(srv, a, &format!("message {i} {words}")).await;
        assert_eq!(res["stop_reason"]["stop_reason"], "end_turn", "{res}");
    }
}

/// Sends `input` answered by `heavy_reply`, whose usage passes the threshold, and checks the
/// turn compacted after its step: the answer, then the summary as the user message Letta
/// shows without compaction messages.
async fn compacting_turn(
    (srv, fake): (&TestServer, &FakeLlm),
    a: &str,
    input: &str,
    heavy_reply: Reply,
) -> Value {
    fake.push(heavy_reply);
    let res = send(srv, a, input).await;
    assert_eq!(
        kinds(&res["messages"]),
        ["assistant_message", "user_message"]
    );
    res
}

/// Whether a listed message is a summary, the user message holding Letta's packed alert.
fn is_listed_summary(m: &Value) -> bool {
    m["content"]
        .as_str()
        .is_some_and(|c| c.contains("system_alert"))
}

fn kinds(messages: &Value) -> Vec<&str> {
    let list = messages.as_array().unwrap();
    list.iter()
        .map(|m| m["message_type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn large_usage_compacts_and_evicted_messages_stay_findable() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    summaries(&fake, "Ada talked about marmalade and tea.");
    send(&srv, &a, "I keep a jar of marmalade").await;
    chat(&srv, &a, 5, "").await;
    let res = compacting_turn((&srv, &fake), &a, "one more", heavy("Noted.", 120_000)).await;
    let packed: Value =
        serde_json::from_str(res["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(packed["type"], "system_alert");
    assert_eq!(
        packed["compaction_stats"]["trigger"],
        "post_step_context_check"
    );

    // The summary follows the system message in the context and in the next request.
    let ctx = context(&srv, &a).await;
    let second = ctx["messages"][1]["content"][0]["text"].as_str().unwrap();
    assert!(
        second.contains("Ada talked about marmalade and tea."),
        "{second}"
    );
    assert!(ctx["num_messages"].as_u64().unwrap() < 15);
    // The overview counts every stored message as recall memory, shows the summary apart
    // from the messages, and the prompt's metadata agrees with it.
    let (total, in_context) = (
        ctx["num_recall_memory"].as_u64().unwrap(),
        ctx["num_messages"].as_u64().unwrap(),
    );
    assert!(total > in_context, "{ctx}");
    let summary = ctx["summary_memory"].as_str().unwrap();
    assert!(summary.contains("marmalade and tea"), "{summary}");
    assert!(ctx["num_tokens_summary_memory"].as_u64().unwrap() > 0);
    let metadata = ctx["external_memory_summary"].as_str().unwrap();
    let previous = format!("- {} previous messages", total - in_context);
    assert!(metadata.contains(&previous), "{metadata} / {previous}");
    let parts = [
        "num_tokens_system",
        "num_tokens_core_memory",
        "num_tokens_tool_usage_rules",
        "num_tokens_external_memory_summary",
        "num_tokens_summary_memory",
        "num_tokens_functions_definitions",
        "num_tokens_messages",
    ];
    let sum: u64 = parts.iter().map(|k| ctx[*k].as_u64().unwrap()).sum();
    assert_eq!(ctx["context_window_size_current"].as_u64().unwrap(), sum);
    fake.push(Reply::tool_call(
        "conversation_search",
        json!({"query": "marmalade"}),
    ));
    fake.push_text("It is in a jar.");
    let res = send(&srv, &a, "where is my marmalade?").await;
    let sent = agent_requests(&fake).into_iter().nth_back(1).unwrap();
    assert_eq!(sent["messages"][1]["role"], "user");
    let summary = sent["messages"][1]["content"].as_str().unwrap();
    assert!(summary.contains("system_alert") && summary.contains("marmalade and tea"));
    // The evicted message is found by recall search and is still listed.
    let found = res["messages"][1]["tool_return"].as_str().unwrap();
    assert!(found.contains("I keep a jar of marmalade"), "{found}");
    let listed = history(&srv, &a).await;
    let texts: Vec<&str> = listed
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(texts.contains(&"I keep a jar of marmalade"));
    assert!(texts.contains(&"message 0 "));
}

#[tokio::test]
async fn tool_calls_and_returns_stay_together_in_what_the_model_gets() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    summaries(&fake, "Searches were made.");
    for i in 0..5 {
        fake.push(Reply::tool_call(
            "conversation_search",
            json!({"query": format!("q{i}")}),
        ));
        fake.push_text(format!("found {i}"));
        send(&srv, &a, &format!("search {i}")).await;
    }
    fake.push(heavy("Done.", 120_000));
    send(&srv, &a, "last").await;
    send(&srv, &a, "after").await;
    let sent = agent_requests(&fake).pop().unwrap();
    let mut open: Vec<String> = Vec::new();
    for m in sent["messages"].as_array().unwrap() {
        for call in m["tool_calls"].as_array().into_iter().flatten() {
            open.push(call["id"].as_str().unwrap().to_owned());
        }
        if m["role"] == "tool" {
            let id = m["tool_call_id"].as_str().unwrap();
            assert!(
                open.iter().any(|c| c == id),
                "a return without its call: {sent}"
            );
        }
    }
    let summary = sent["messages"][1]["content"].as_str().unwrap();
    assert!(summary.contains("Searches were made."), "{summary}");
}

#[tokio::test]
async fn a_context_length_error_compacts_and_the_step_is_retried() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    summaries(&fake, "Long messages were exchanged.");
    let words = "lorem ipsum ".repeat(250);
    chat(&srv, &a, 6, &words).await;
    // The model's window now ends a little past the last request: the next one is too long.
    let last = fake.requests().pop().unwrap();
    fake.set_context_limit(Some(text_chars(&last) + 2_000));
    let res = send(&srv, &a, &format!("message 6 {words}")).await;
    assert_eq!(res["stop_reason"]["stop_reason"], "end_turn", "{res}");
    assert_eq!(res["usage"]["step_count"], 1);
    let answer = res["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_type"] == "assistant_message");
    assert!(
        answer.unwrap()["content"]
            .as_str()
            .unwrap()
            .starts_with("echo: message 6")
    );
    let stats: Value =
        serde_json::from_str(res["messages"][0]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        stats["compaction_stats"]["trigger"],
        "context_window_exceeded"
    );
    let agent_calls = agent_requests(&fake);
    let (refused, retried) = (
        &agent_calls[agent_calls.len() - 2],
        agent_calls.last().unwrap(),
    );
    assert!(text_chars(retried) < text_chars(refused));
}

#[tokio::test]
async fn a_failing_summarizer_changes_nothing_and_the_next_message_works() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    chat(&srv, &a, 4, "").await;
    let error = Reply::error(400, json!({"error": {"message": "summarizer down"}}));
    fake.add_rule_for(Rule::on_system(SUMMARIZER, error).times(1));
    summaries(&fake, "Recovered summary.");
    let before = context(&srv, &a).await["num_messages"].as_u64().unwrap();
    fake.push(heavy("Stored.", 120_000));
    let res = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"input": "hello"}),
        )
        .await;
    assert_eq!(res.status, 400, "{res:?}");
    assert!(
        res.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("summarizer down")
    );
    // The step that triggered it is stored; nothing left the context.
    let ctx = context(&srv, &a).await;
    assert_eq!(ctx["num_messages"].as_u64().unwrap(), before + 2);
    let roles: Vec<&str> = ctx["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert!(!roles.contains(&"summary"));
    let runs = srv.get(&format!("/v1/runs/?agent_ids={a}")).await.ok();
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .any(|r| r["stop_reason"] == "llm_api_error")
    );

    // The model is back: the next message compacts and answers.
    compacting_turn((&srv, &fake), &a, "still there?", heavy("Back.", 120_000)).await;
    let ctx = context(&srv, &a).await;
    let second = ctx["messages"][1]["content"][0]["text"].as_str().unwrap();
    assert!(second.contains("Recovered summary."));
}

#[tokio::test]
async fn the_summarize_route_compacts_on_demand() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    let url = format!("/v1/agents/{a}/summarize");
    // Nothing to compact: the same counts, no summary, no model call.
    let res = srv.post(&url, json!({})).await.ok();
    assert_eq!(
        res,
        json!({"summary": "", "num_messages_before": 1, "num_messages_after": 1})
    );
    assert!(fake.requests().is_empty());

    summaries(&fake, "Five exchanges happened.");
    chat(&srv, &a, 5, "").await;
    let body = json!({"compaction_settings": {"mode": "all"}});
    let res = srv.post(&url, body).await.ok();
    // `all` keeps the last exchange.
    assert_eq!(
        res,
        json!({"summary": "Five exchanges happened.", "num_messages_before": 11, "num_messages_after": 4})
    );
    let ctx = context(&srv, &a).await;
    assert_eq!(ctx["messages"][1]["role"], "summary");
    assert!(ctx["system_prompt"].is_string());
    let system = history(&srv, &a).await[0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(system.contains("- 8 previous messages"), "{system}");
    // The summary is listed as Letta lists it, a user message with the packed alert; the
    // agent keeps its own settings (the request's mode was for that call only).
    let listed = history(&srv, &a).await;
    let summary = listed.iter().find(|m| is_listed_summary(m)).unwrap();
    assert_eq!(summary["message_type"], "user_message");
    let state = srv.get(&format!("/v1/agents/{a}")).await.ok();
    assert_eq!(state["compaction_settings"]["mode"], "sliding_window");

    // Only the summary and an exchange: compacted again; then only summaries: answered as is.
    let res = srv.post(&url, Value::Null).await.ok();
    assert_eq!(res["num_messages_after"], 2);
    let res = srv.post(&url, json!({})).await.ok();
    assert_eq!(
        (&res["num_messages_before"], &res["num_messages_after"]),
        (&json!(2), &json!(2))
    );
    assert!(
        res["summary"]
            .as_str()
            .unwrap()
            .ends_with(" Five exchanges happened.")
    );

    // One message alone cannot shrink: 400.
    let memgpt = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "agent_type": "memgpt_agent"}),
        )
        .await
        .ok();
    let m = memgpt["id"].as_str().unwrap();
    srv.patch(
        &format!("/v1/agents/{m}/reset-messages"),
        json!({"add_default_initial_messages": true}),
    )
    .await
    .ok();
    let err = srv
        .post(&format!("/v1/agents/{m}/summarize"), json!({}))
        .await
        .err(400);
    assert!(
        err["detail"].as_str().unwrap().contains("failed to reduce"),
        "{err}"
    );
    let bad = json!({"compaction_settings": {"mode": "most"}});
    srv.post(&url, bad).await.err(422);
    let unknown = "agent-00000000-0000-4000-8000-000000000000";
    srv.post(&format!("/v1/agents/{unknown}/summarize"), json!({}))
        .await
        .err(404);
}

#[tokio::test]
async fn compaction_messages_show_in_responses_and_streams() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({})).await;
    summaries(&fake, "A short summary.");
    chat(&srv, &a, 4, "").await;
    fake.push(heavy("Blocking.", 120_000));
    let body = json!({"input": "hi", "include_compaction_messages": true});
    let res = srv
        .post(&format!("/v1/agents/{a}/messages"), body)
        .await
        .ok();
    assert_eq!(
        kinds(&res["messages"]),
        ["assistant_message", "event_message", "summary_message"]
    );
    let event = &res["messages"][1];
    assert_eq!(event["event_type"], "compaction");
    assert_eq!(event["event_data"]["trigger"], "post_step_context_check");
    assert_eq!(event["event_data"]["context_token_estimate"], 120_000 + 1);
    assert_eq!(event["event_data"]["context_window"], 128_000);
    let summary = &res["messages"][2];
    assert_eq!(summary["summary"], "A short summary.");
    assert_eq!(summary["compaction_stats"]["context_window"], 128_000);
    assert!(
        summary["compaction_stats"]["messages_count_after"]
            .as_u64()
            .unwrap()
            < 11
    );
    // Stored with role `summary`, listed as the user message Letta lists.
    let ctx = context(&srv, &a).await;
    assert_eq!(ctx["messages"][1]["role"], "summary");

    fake.push(heavy("Streaming.", 120_000));
    let body = json!({"input": "again", "include_compaction_messages": true});
    let events = read_events(stream(&srv, &a, body).await, usize::MAX).await;
    let kinds: Vec<String> = events.iter().map(Event::kind).collect();
    let at = kinds.iter().position(|k| k == "event_message").unwrap();
    assert_eq!(kinds[at + 1], "summary_message", "{kinds:?}");
    assert_eq!(events[at + 1].json()["summary"], "A short summary.");
    assert_eq!(kinds.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn a_small_window_is_compacted_before_calls_and_nothing_is_lost() {
    let (srv, fake) = with_fake().await;
    let a = agent(&srv, json!({"context_window_limit": 8000})).await;
    summaries(&fake, "Earlier lorem ipsum.");
    let words = "lorem ipsum ".repeat(150);
    chat(&srv, &a, 12, &words).await;
    let state = srv.get(&format!("/v1/agents/{a}")).await.ok();
    assert!(state["message_ids"].as_array().unwrap().len() < 25);
    let listed = history(&srv, &a).await;
    for i in 0..12 {
        let said = format!("message {i} {words}");
        assert!(
            listed.iter().any(|m| m["content"] == said.as_str()),
            "message {i} lost"
        );
    }
    // Short summaries make room for several turns: no compaction at every step.
    let summaries = listed.iter().filter(|m| is_listed_summary(m)).count();
    assert!((1..=6).contains(&summaries), "{summaries} compactions");
    // Every request to the agent's model fit its window (four characters a token, roughly).
    for r in agent_requests(&fake) {
        assert!(text_chars(&r) / 4 < 8000, "{} chars", text_chars(&r));
    }
}

/// Characters of the strings of a request's messages (what a window holds of it).
fn text_chars(request: &Value) -> usize {
    fn chars(v: &Value) -> usize {
        match v {
            Value::String(s) => s.chars().count(),
            Value::Array(items) => items.iter().map(chars).sum(),
            Value::Object(o) => o.values().map(chars).sum(),
            _ => 0,
        }
    }
    chars(&request["messages"])
}

#[tokio::test]
async fn the_threshold_is_configurable() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("MNEME_COMPACTION_THRESHOLD", "0.5"),
    ];
    let srv = TestServer::start_with_env(bin(), &env).await;
    let a = agent(&srv, json!({})).await;
    summaries(&fake, "Half full.");
    chat(&srv, &a, 3, "").await;
    // 70,000 of 128,000 is under Letta's 90% but over the configured half.
    compacting_turn((&srv, &fake), &a, "now", heavy("Over half.", 70_000)).await;
}
