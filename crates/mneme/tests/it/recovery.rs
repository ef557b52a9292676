//! Self-healing: a crash at any moment never leaves an agent that cannot take its next message.
//! The server is killed (SIGKILL) while a tool runs, or its state is left as a crash leaves it,
//! and the next message works, with the repair visible in the history.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use mneme_testkit::{FakeLlm, Reply, TestServer};
use mneme_types::{RunId, RunStatus, StopReason};
use serde_json::{Value, json};

use crate::messages::send;
use crate::{approvals, bin, id};

const NAP: &str = r#"
def nap(seconds: int) -> str:
    """Sleep a while.

    Args:
        seconds: How long to sleep.
    """
    import time
    time.sleep(seconds)
    return "rested"
"#;

async fn start(dir: &Path, fake: &FakeLlm) -> TestServer {
    let url = fake.base_url();
    // On PostgreSQL a killed server is a silent replica: its leases lapse and its runs are
    // failed after this timeout (SQLite fails them at the next start). 3 s keeps tests short.
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("MNEME_REPLICA_TIMEOUT_SECS", "3"),
    ];
    TestServer::start_in_with_env(bin(), dir, &env).await
}

async fn history(srv: &TestServer, a: &str) -> Vec<Value> {
    let listed = srv
        .get(&format!("/v1/agents/{a}/messages?limit=100"))
        .await
        .ok();
    listed.as_array().unwrap().clone()
}

fn kinds(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["message_type"].as_str().unwrap())
        .collect()
}

/// Polls `probe` until it finds something, for at most 20 s.
async fn wait_for<T, F: Future<Output = Option<T>>>(mut probe: impl FnMut() -> F) -> T {
    for _ in 0..200 {
        if let Some(found) = probe().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting");
}

/// Every tool call in the model's last request is followed by its result (OpenAI answers 400
/// to a request that breaks this).
fn assert_paired(fake: &FakeLlm) {
    let request = fake.requests().pop().unwrap();
    let sent = request["messages"].as_array().unwrap();
    for (i, m) in sent.iter().enumerate() {
        let Some(calls) = m["tool_calls"].as_array() else {
            continue;
        };
        let results: Vec<&Value> = sent[i + 1..]
            .iter()
            .take_while(|m| m["role"] == "tool")
            .map(|m| &m["tool_call_id"])
            .collect();
        let asked: Vec<&Value> = calls.iter().map(|c| &c["id"]).collect();
        assert_eq!(asked, results, "{sent:?}");
    }
}

#[tokio::test]
async fn a_kill_during_a_tool_call_leaves_an_agent_that_takes_its_next_message() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), &fake).await;
    let tool = srv
        .post("/v1/tools/", json!({"source_code": NAP}))
        .await
        .ok();
    let agent = json!({"model": "openai/gpt-4o-mini", "tool_ids": [id(&tool)]});
    let a = id(&srv.post("/v1/agents/", agent).await.ok());
    fake.push(Reply::tool_call("nap", json!({"seconds": 30})));
    let run = srv
        .post(
            &format!("/v1/agents/{a}/messages/async"),
            json!({"input": "take a nap"}),
        )
        .await
        .ok();
    // The input and the model's answer are stored before the tool runs.
    let call = wait_for(|| async {
        let found = history(&srv, &a).await;
        found
            .into_iter()
            .find(|m| m["message_type"] == "tool_call_message")
    })
    .await;
    srv.kill().await;

    let srv = start(dir.path(), &fake).await;
    fake.push_text("I am back.");
    let res = send(&srv, &a, "still there?").await;
    assert_eq!(res["stop_reason"]["stop_reason"], "end_turn");
    assert_eq!(res["messages"][0]["content"], "I am back.");
    assert_paired(&fake);
    let messages = history(&srv, &a).await;
    assert_eq!(
        kinds(&messages),
        [
            "system_message",
            "user_message",
            "tool_call_message",
            "tool_return_message",
            "user_message",
            "assistant_message"
        ]
    );
    assert_eq!(messages[2]["id"], call["id"]);
    let repaired = &messages[3];
    assert_eq!(repaired["tool_call_id"], call["tool_call"]["tool_call_id"]);
    assert_eq!(repaired["status"], "error");
    let text = repaired["tool_return"].as_str().unwrap();
    assert!(text.contains("no result was recorded"), "{text}");
    assert_eq!(repaired["run_id"], run["id"]);

    // The interrupted run is failed (at once on SQLite, within the replica timeout on
    // PostgreSQL), and so is its half-done step.
    let old = wait_for(|| async {
        let r = srv.get(&format!("/v1/runs/{}", id(&run))).await.ok();
        (r["status"] != "running").then_some(r)
    })
    .await;
    assert_eq!(
        (&old["status"], &old["stop_reason"]),
        (&json!("failed"), &json!("error"))
    );
    let steps = srv.get(&format!("/v1/runs/{}/steps", id(&run))).await.ok();
    assert_eq!(steps.as_array().unwrap().len(), 1);
    assert_eq!(steps[0]["status"], "failed");
    srv.stop().await;
}

/// A server over `dir` and an agent on it whose `memory_insert` calls wait for approval; it
/// asks for one, and the approval request is returned with the server and the agent.
async fn asking_approval(dir: &Path, fake: &FakeLlm) -> (TestServer, String, Value) {
    let srv = start(dir, fake).await;
    let a = approvals::approval_agent(&srv).await;
    let request = approvals::ask(&srv, fake, &a).await;
    (srv, a, request)
}

#[tokio::test]
async fn new_input_clears_an_approval_whose_run_was_cut_off_but_not_a_live_one() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (srv, a, request) = asking_approval(dir.path(), &fake).await;
    let path = format!("/v1/agents/{a}/messages");
    let busy = srv.post(&path, json!({"input": "hello?"})).await.err(409);
    assert_eq!(busy["detail"]["code"], "PENDING_APPROVAL");
    srv.stop().await;

    // What a crash between storing the request and ending its run leaves behind: the run
    // ended without waiting for the answer, failed.
    let run: RunId = request["run_id"].as_str().unwrap().parse().unwrap();
    let store = mneme_testkit::store_of(dir.path()).await;
    let edit = Box::new(|r: &mut mneme_store::RunRecord| {
        r.status = RunStatus::Failed;
        r.stop_reason = Some(StopReason::Error);
    });
    store.update_run(run, edit).await.unwrap();
    drop(store);

    let srv = start(dir.path(), &fake).await;
    fake.push_text("Never mind, then.");
    let res = send(&srv, &a, "hello?").await;
    assert_eq!(res["stop_reason"]["stop_reason"], "end_turn");
    assert_paired(&fake);
    let messages = history(&srv, &a).await;
    assert_eq!(
        kinds(&messages)[2..],
        [
            "approval_request_message",
            "approval_response_message",
            "tool_return_message",
            "user_message",
            "assistant_message"
        ]
    );
    let denial = &messages[3];
    assert_eq!(denial["approval_request_id"], request["id"]);
    assert_eq!(denial["approvals"][0]["approve"], false);
    assert!(
        denial["approvals"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("abandoned")
    );
    assert_eq!(messages[4]["status"], "error");
    let human = srv
        .get(&format!("/v1/agents/{a}/core-memory/blocks/human"))
        .await
        .ok();
    assert_eq!(human["value"], "Name: Ada", "the denied call never ran");
    srv.stop().await;
}

#[tokio::test]
async fn cancel_clears_a_pending_approval_as_letta_does() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (srv, a, request) = asking_approval(dir.path(), &fake).await;
    let run = request["run_id"].as_str().unwrap();
    let cancel = format!("/v1/agents/{a}/messages/cancel");
    let cancelled = srv.post(&cancel, json!({})).await.ok();
    assert_eq!(cancelled, json!({ run: "cancelled" }));
    let record = srv.get(&format!("/v1/runs/{run}")).await.ok();
    assert_eq!(
        (&record["status"], &record["stop_reason"]),
        (&json!("cancelled"), &json!("cancelled"))
    );
    let messages = history(&srv, &a).await;
    assert_eq!(
        kinds(&messages)[3..],
        ["approval_response_message", "tool_return_message"]
    );
    let reason = "The user cancelled the request, so the tool call was denied.";
    assert_eq!(messages[3]["approvals"][0]["reason"], reason);
    let text = messages[4]["tool_return"].as_str().unwrap();
    assert!(text.contains(reason), "{text}");
    let state = srv.get(&format!("/v1/agents/{a}")).await.ok();
    assert!(state["pending_approval"].is_null());

    // The agent takes its next message; nothing is left to cancel.
    fake.push_text("Cancelled, then.");
    let res = send(&srv, &a, "hi").await;
    assert_eq!(res["stop_reason"]["stop_reason"], "end_turn");
    assert_paired(&fake);
    srv.post(&cancel, json!({})).await.err(409);
    srv.stop().await;
}
