//! SSE streaming, background runs, resume and cancellation, against the fake LLM.

use std::time::{Duration, Instant};

use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::{bin, id};

async fn with_fake() -> (TestServer, FakeLlm, String) {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let srv = TestServer::start_with_env(bin(), &[("OPENAI_BASE_URL", url.as_str())]).await;
    let agent = id(&srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini",
                   "memory_blocks": [{"label": "human", "value": "Name: Ada"}]}),
        )
        .await
        .ok());
    (srv, fake, agent)
}

/// One SSE event: its name (`None` for plain data) and data.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) name: Option<String>,
    pub(crate) data: String,
    at: Duration,
}

impl Event {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
    pub(crate) fn kind(&self) -> String {
        if self.data == "[DONE]" {
            return "[DONE]".into();
        }
        self.json()["message_type"]
            .as_str()
            .unwrap_or("?")
            .to_owned()
    }
}

/// Reads a whole event stream (or the first `max` events), checking the framing as it goes.
pub(crate) async fn read_events(res: reqwest::Response, max: usize) -> Vec<Event> {
    let start = Instant::now();
    assert_eq!(res.status(), 200);
    let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("text/event-stream"), "{ctype}");
    let mut res = res;
    let mut buf = String::new();
    let mut out = Vec::new();
    while let Some(chunk) = res.chunk().await.unwrap() {
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut name = None;
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                } else if line.starts_with(':') {
                    // A comment: keep-alive probe, ignored by SSE parsers.
                } else {
                    assert!(line.is_empty(), "unexpected SSE line {line:?}");
                }
            }
            if data.is_empty() && name.is_none() {
                continue;
            }
            assert!(
                data == "[DONE]" || serde_json::from_str::<Value>(&data).is_ok(),
                "{data}"
            );
            out.push(Event {
                name,
                data,
                at: start.elapsed(),
            });
            if out.len() == max {
                return out;
            }
        }
    }
    assert!(buf.trim().is_empty(), "trailing bytes {buf:?}");
    out
}

pub(crate) async fn stream(srv: &TestServer, agent: &str, body: Value) -> reqwest::Response {
    srv.request(
        reqwest::Method::POST,
        &format!("/v1/agents/{agent}/messages/stream"),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

async fn history(srv: &TestServer, agent: &str) -> Vec<Value> {
    let v = srv
        .get(&format!("/v1/agents/{agent}/messages?limit=1000"))
        .await
        .ok();
    v.as_array().unwrap().clone()
}

#[tokio::test]
async fn step_stream_is_framed_as_letta_frames_it() {
    let (srv, _fake, a) = with_fake().await;
    let events = read_events(stream(&srv, &a, json!({"input": "hi"})).await, usize::MAX).await;
    let kinds: Vec<String> = events.iter().map(Event::kind).collect();
    assert_eq!(
        kinds,
        [
            "ping",
            "assistant_message",
            "stop_reason",
            "usage_statistics",
            "[DONE]"
        ]
    );
    assert!(events.iter().all(|e| e.name.is_none()));
    let run = events[0].json()["run_id"].as_str().unwrap().to_owned();
    assert_eq!(events[1].json()["run_id"], run.as_str());
    assert_eq!(events[1].json()["content"], "echo: hi");
    let stored = history(&srv, &a).await;
    assert_eq!(stored.last().unwrap()["id"], events[1].json()["id"]);
    let run = srv.get(&format!("/v1/runs/{run}")).await.ok();
    assert_eq!(run["status"], "completed");
}

#[tokio::test]
async fn token_stream_chunks_share_the_stored_message_id() {
    let (srv, fake, a) = with_fake().await;
    fake.push(Reply::tool_call(
        "memory_insert",
        json!({"label": "human", "new_string": "Likes tea"}),
    ));
    fake.push_text("Noted that you like tea.");
    let res = stream(
        &srv,
        &a,
        json!({"input": "I like tea", "stream_tokens": true}),
    )
    .await;
    let events = read_events(res, usize::MAX).await;
    let of = |k: &str| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e.kind() == k)
            .map(Event::json)
            .collect()
    };
    let calls = of("tool_call_message");
    assert!(calls.len() > 1, "arguments arrive in pieces: {calls:?}");
    let args: String = calls
        .iter()
        .map(|c| c["tool_call"]["arguments"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"label": "human", "new_string": "Likes tea"})
    );
    assert_eq!(of("tool_return_message").len(), 1);
    let text = of("assistant_message");
    assert!(text.len() > 1, "the reply arrives in pieces");
    let reply: String = text
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(reply, "Noted that you like tea.");
    assert!(text.iter().all(|c| c["id"] == text[0]["id"]));
    let stored = history(&srv, &a).await;
    let last = stored.last().unwrap();
    assert_eq!(last["id"], text[0]["id"]);
    assert_eq!(last["content"], reply.as_str());
    let kinds: Vec<String> = events.iter().map(Event::kind).collect();
    assert_eq!(
        &kinds[kinds.len() - 3..],
        ["stop_reason", "usage_statistics", "[DONE]"]
    );
}

#[tokio::test]
async fn chunks_arrive_before_the_model_has_finished() {
    let (srv, fake, a) = with_fake().await;
    fake.push(Reply::tool_call(
        "conversation_search",
        json!({"query": "x"}),
    ));
    fake.push(Reply::text("done").with_delay(Duration::from_millis(1500)));
    let events = read_events(stream(&srv, &a, json!({"input": "go"})).await, usize::MAX).await;
    let call = events
        .iter()
        .find(|e| e.kind() == "tool_call_message")
        .unwrap();
    let done = events.last().unwrap();
    assert!(
        call.at < Duration::from_millis(1000),
        "first step after {:?}",
        call.at
    );
    assert!(
        done.at >= Duration::from_millis(1500),
        "stream ended after {:?}",
        done.at
    );
}

#[tokio::test]
async fn background_runs_resume_without_loss_or_duplication() {
    let (srv, fake, a) = with_fake().await;
    fake.push(Reply::tool_call(
        "conversation_search",
        json!({"query": "x"}),
    ));
    fake.push(Reply::text("finished").with_delay(Duration::from_millis(300)));
    let res = stream(&srv, &a, json!({"input": "go", "background": true})).await;
    // Read two chunks, then hang up.
    let first = read_events(res, 2).await;
    let seqs: Vec<u64> = first
        .iter()
        .map(|e| e.json()["seq_id"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);
    let run = first[0].json()["run_id"].as_str().unwrap().to_owned();

    let resume = |after: u64| {
        srv.request(reqwest::Method::POST, &format!("/v1/runs/{run}/stream"))
            .json(&json!({"starting_after": after}))
            .send()
    };
    let rest = read_events(resume(2).await.unwrap(), usize::MAX).await;
    let kinds: Vec<String> = rest.iter().map(Event::kind).collect();
    assert_eq!(
        kinds,
        [
            "tool_return_message",
            "assistant_message",
            "stop_reason",
            "usage_statistics",
            "[DONE]"
        ]
    );
    assert_eq!(rest[0].json()["seq_id"], 3);
    assert_eq!(rest[1].json()["seq_id"], 4);
    assert_eq!(rest[1].json()["content"], "finished");

    // After the run ended, a reader from 0 gets the whole log again, identically.
    let all = read_events(resume(0).await.unwrap(), usize::MAX).await;
    assert_eq!(all.len(), first.len() + rest.len());
    assert_eq!(all[1].data, first[1].data);
    assert_eq!(all[3].data, rest[1].data);
    let status = srv.get(&format!("/v1/runs/{run}")).await.ok();
    assert_eq!(status["status"], "completed");
    assert_eq!(status["background"], true);
}

#[tokio::test]
async fn foreground_runs_cannot_be_resumed() {
    let (srv, _fake, a) = with_fake().await;
    let events = read_events(stream(&srv, &a, json!({"input": "hi"})).await, usize::MAX).await;
    let run = events[0].json()["run_id"].as_str().unwrap().to_owned();
    srv.post(&format!("/v1/runs/{run}/stream"), json!({}))
        .await
        .err(400);
}

#[tokio::test]
async fn cancel_stops_a_run_and_stores_nothing_of_its_step() {
    let (srv, fake, a) = with_fake().await;
    fake.push(Reply::text("too late").with_delay(Duration::from_millis(3000)));
    let run = srv
        .post(
            &format!("/v1/agents/{a}/messages/async"),
            json!({"input": "slow"}),
        )
        .await
        .ok();
    let run_id = id(&run);
    // Wait until the model call is under way.
    let started = Instant::now();
    while fake.requests().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cancelled = srv
        .post(&format!("/v1/agents/{a}/messages/cancel"), json!({}))
        .await
        .ok();
    assert_eq!(cancelled[&run_id], "cancelled");
    let status = loop {
        let r = srv.get(&format!("/v1/runs/{run_id}")).await.ok();
        if r["status"] != "running" && r["status"] != "created" {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "cancel took too long"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status["status"], "cancelled");
    assert_eq!(status["stop_reason"], "cancelled");
    assert_eq!(
        history(&srv, &a).await.len(),
        1,
        "the cancelled step stored nothing"
    );
    srv.post(&format!("/v1/agents/{a}/messages/cancel"), json!({}))
        .await
        .err(409);
    let res = srv
        .post(
            &format!("/v1/agents/{a}/messages"),
            json!({"input": "again"}),
        )
        .await
        .ok();
    assert_eq!(res["messages"][0]["content"], "echo: again");
}

#[tokio::test]
async fn a_client_that_hangs_up_cancels_the_run_but_keeps_finished_steps() {
    let (srv, fake, a) = with_fake().await;
    fake.push(Reply::tool_call(
        "memory_insert",
        json!({"label": "human", "new_string": "Likes tea"}),
    ));
    fake.push(Reply::text("slow").with_delay(Duration::from_millis(8000)));
    let res = stream(&srv, &a, json!({"input": "remember tea"})).await;
    let seen = read_events(res, 3).await; // ping, tool call, tool return; then hang up
    assert_eq!(seen[2].kind(), "tool_return_message");
    let run = seen[0].json()["run_id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let status = loop {
        let r = srv.get(&format!("/v1/runs/{run}")).await.ok();
        if r["status"] != "running" {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the run went on after the hang-up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status["stop_reason"], "cancelled");
    let kinds: Vec<String> = history(&srv, &a)
        .await
        .iter()
        .map(|m| m["message_type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
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
}

#[tokio::test]
async fn provider_errors_mid_stream_end_with_an_error_event() {
    let (srv, fake, a) = with_fake().await;
    fake.push(Reply::tool_call(
        "conversation_search",
        json!({"query": "x"}),
    ));
    fake.push_error(401, json!({"error": {"message": "bad key"}}));
    let events = read_events(stream(&srv, &a, json!({"input": "go"})).await, usize::MAX).await;
    let n = events.len();
    assert_eq!(events[n - 3].json()["stop_reason"], "llm_api_error");
    assert_eq!(events[n - 2].name.as_deref(), Some("error"));
    assert_eq!(events[n - 2].json()["message_type"], "error_message");
    assert_eq!(events[n - 2].json()["error_type"], "llm_authentication");
    assert_eq!(events[n - 1].data, "[DONE]");
}

#[tokio::test]
async fn errors_before_the_stream_are_plain_json() {
    let (srv, _fake, a) = with_fake().await;
    let missing = "agent-00000000-0000-4000-8000-000000000000";
    srv.post(
        &format!("/v1/agents/{missing}/messages/stream"),
        json!({"input": "x"}),
    )
    .await
    .err(404);
    srv.post(
        &format!("/v1/agents/{a}/messages/stream"),
        json!({"messages": []}),
    )
    .await
    .err(422);
}

#[tokio::test]
async fn streams_of_runs_past_retention_are_gone() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("MNEME_STREAM_RETENTION_SECS", "0"),
    ];
    let srv = TestServer::start_with_env(bin(), &env).await;
    let a = id(&srv
        .post("/v1/agents/", json!({"model": "openai/gpt-4o-mini"}))
        .await
        .ok());
    let res = stream(&srv, &a, json!({"input": "hi", "background": true})).await;
    let events = read_events(res, usize::MAX).await;
    let run = events[0].json()["run_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let gone = srv
        .post(&format!("/v1/runs/{run}/stream"), json!({}))
        .await
        .err(410);
    assert!(gone["detail"].as_str().unwrap().starts_with("EXPIRED"));
}

#[tokio::test]
async fn calls_that_wait_for_the_client_stream_as_approval_requests() {
    let (srv, fake, a) = with_fake().await;
    fake.push(Reply::tool_call("get_time", json!({"zone": "UTC"})));
    let res = stream(
        &srv,
        &a,
        json!({"input": "what time is it?", "stream_tokens": true,
               "client_tools": [{"name": "get_time", "parameters": {"type": "object",
                   "properties": {"zone": {"type": "string"}}}}]}),
    )
    .await;
    let events = read_events(res, 1000).await;
    let kinds: Vec<String> = events.iter().map(Event::kind).collect();
    assert!(
        kinds.iter().any(|k| k == "approval_request_message"),
        "{kinds:?}"
    );
    assert!(!kinds.iter().any(|k| k == "tool_call_message"), "{kinds:?}");
    let stop = events
        .iter()
        .find(|e| e.kind() == "stop_reason")
        .unwrap()
        .json();
    assert_eq!(stop["stop_reason"], "requires_approval");
    // The chunks carry the id of the stored approval request.
    let chunk_id = events
        .iter()
        .find(|e| e.kind() == "approval_request_message")
        .unwrap()
        .json()["id"]
        .clone();
    let stored = history(&srv, &a).await;
    let request = stored
        .iter()
        .find(|m| m["message_type"] == "approval_request_message")
        .unwrap();
    assert_eq!(request["id"], chunk_id);
    assert_eq!(request["tool_call"]["name"], "get_time");
}
