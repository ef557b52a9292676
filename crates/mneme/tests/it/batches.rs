//! Message batches over HTTP: every request of a batch runs as its own run, the batch shows
//! their progress and ends once they all have, cancel stops what is unfinished, a restart
//! never leaves a batch running, and the callback hears of the end.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use mneme_testkit::{FakeLlm, Reply, Rule, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::{bin, id};

async fn start(dir: &Path, fake: &FakeLlm) -> TestServer {
    let url = fake.base_url();
    // On PostgreSQL a killed server is a silent replica, whose runs the next one fails after
    // this timeout (SQLite fails them at start-up).
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("MNEME_REPLICA_TIMEOUT_SECS", "3"),
    ];
    TestServer::start_in_with_env(bin(), dir, &env).await
}

async fn agent(srv: &TestServer) -> String {
    let body = json!({"model": "openai/gpt-4o-mini", "include_base_tools": false});
    id(&srv.post("/v1/agents/", body).await.ok())
}

async fn batch(srv: &TestServer, id: &str) -> Value {
    srv.get(&format!("/v1/messages/batches/{id}")).await.ok()
}

async fn cancel(srv: &TestServer, id: &str) -> Value {
    let path = format!("/v1/messages/batches/{id}/cancel");
    srv.send(srv.request(Method::PATCH, &path)).await.ok()
}

/// Polls `probe` until it finds something, for at most 30 s.
async fn wait_for<T, F: Future<Output = Option<T>>>(mut probe: impl FnMut() -> F) -> T {
    for _ in 0..300 {
        if let Some(found) = probe().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing found in time");
}

async fn until_status(srv: &TestServer, id: &str, status: &str) -> Value {
    wait_for(|| async {
        let b = batch(srv, id).await;
        (b["status"] == status).then_some(b)
    })
    .await
}

fn statuses(batch: &Value) -> Vec<&str> {
    let requests = batch["metadata"]["requests"].as_array().unwrap();
    requests
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_batch_runs_every_request_and_shows_its_progress() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), &fake).await;
    let (a, b) = (agent(&srv).await, agent(&srv).await);
    fake.add_rule_for(Rule::on_user("to a", Reply::text("from a")));
    fake.add_rule_for(Rule::on_user("to b", Reply::text("from b")));
    let body = json!({"requests": [
        {"agent_id": a, "messages": [{"role": "user", "content": "to a"}]},
        {"agent_id": b, "input": "to b"},
    ]});
    let created = srv.post("/v1/messages/batches", body).await.ok();
    let batch_id = id(&created);
    assert!(batch_id.starts_with("job-"), "{created}");
    assert_eq!(created["status"], "running");
    assert_eq!(created["job_type"], "batch");
    assert_eq!(created["metadata"]["job_type"], "batch_messages");
    assert_eq!(created["metadata"]["progress"]["total"], 2);
    assert_eq!(created["callback_url"], Value::Null);

    let done = until_status(&srv, &batch_id, "completed").await;
    assert!(done["completed_at"].is_string(), "{done}");
    assert_eq!(done["metadata"]["progress"]["completed"], 2);
    assert_eq!(statuses(&done), ["completed", "completed"]);
    let requests = done["metadata"]["requests"].as_array().unwrap();
    assert_eq!(requests[0]["agent_id"], a.as_str());
    assert_eq!(requests[1]["agent_id"], b.as_str());
    let run_id = requests[1]["run_id"].as_str().unwrap();
    let run = srv.get(&format!("/v1/runs/{run_id}")).await.ok();
    assert_eq!(run["status"], "completed");
    assert_eq!(run["metadata"]["batch_id"], batch_id.as_str());

    let path = format!("/v1/messages/batches/{batch_id}/messages");
    let all = srv.get(&format!("{path}?order=asc")).await.ok();
    let texts: Vec<&str> = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"][0]["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"to a") && texts.contains(&"to b"),
        "{texts:?}"
    );
    let of_b = srv.get(&format!("{path}?agent_id={b}")).await.ok();
    let of_b = of_b["messages"].as_array().unwrap();
    assert!(!of_b.is_empty());
    assert!(of_b.iter().all(|m| m["agent_id"] == b.as_str()));
    // The agent's own history holds the answer.
    let history = srv.get(&format!("/v1/agents/{a}/messages")).await.ok();
    assert!(history.to_string().contains("from a"));
    // Letta lists only the batches still going.
    let listed = srv.get("/v1/messages/batches").await.ok();
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn a_bad_batch_is_refused_whole() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), &fake).await;
    let a = agent(&srv).await;
    let unknown = "agent-00000000-0000-4000-8000-000000000000";
    let body = json!({"requests": [
        {"agent_id": a, "input": "hi"},
        {"agent_id": unknown, "input": "hi"},
    ]});
    srv.post("/v1/messages/batches", body).await.err(404);
    let runs = srv.get(&format!("/v1/runs/?agent_id={a}")).await.ok();
    assert_eq!(runs, json!([]));
    let bad_url = json!({"requests": [{"agent_id": a, "input": "hi"}], "callback_url": "nope"});
    srv.post("/v1/messages/batches", bad_url).await.err(422);
    let no_agent = json!({"requests": [{"input": "hi"}]});
    srv.post("/v1/messages/batches", no_agent).await.err(422);
    srv.get("/v1/messages/batches/job-00000000-0000-4000-8000-000000000000")
        .await
        .err(404);
}

#[tokio::test]
async fn cancelling_a_batch_cancels_its_unfinished_requests() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), &fake).await;
    let a = agent(&srv).await;
    fake.push(Reply::text("slow").with_delay(Duration::from_secs(30)));
    // Two requests to one agent: the second waits for the first.
    let body = json!({"requests": [
        {"agent_id": a, "input": "first"},
        {"agent_id": a, "input": "second"},
    ]});
    let batch_id = id(&srv.post("/v1/messages/batches", body).await.ok());
    wait_for(|| async {
        let b = batch(&srv, &batch_id).await;
        (statuses(&b) == ["running", "created"]).then_some(())
    })
    .await;
    let listed = srv.get("/v1/messages/batches").await.ok();
    assert_eq!(listed[0]["id"], batch_id.as_str());

    assert_eq!(cancel(&srv, &batch_id).await, Value::Null);
    let cancelled = batch(&srv, &batch_id).await;
    assert_eq!(cancelled["status"], "cancelled");
    let ended = wait_for(|| async {
        let b = batch(&srv, &batch_id).await;
        (statuses(&b) == ["cancelled", "cancelled"]).then_some(b)
    })
    .await;
    assert_eq!(ended["status"], "cancelled");
    assert_eq!(ended["metadata"]["progress"]["cancelled"], 2);
    // The queued request never reached the model.
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(srv.get("/v1/messages/batches").await.ok(), json!([]));
}

#[tokio::test]
async fn a_batch_interrupted_by_a_restart_ends_failed() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), &fake).await;
    let a = agent(&srv).await;
    fake.push(Reply::text("slow").with_delay(Duration::from_secs(60)));
    let body = json!({"requests": [{"agent_id": a, "input": "first"}]});
    let batch_id = id(&srv.post("/v1/messages/batches", body).await.ok());
    wait_for(|| async {
        let b = batch(&srv, &batch_id).await;
        (statuses(&b) == ["running"]).then_some(())
    })
    .await;
    srv.kill().await;

    let srv = start(dir.path(), &fake).await;
    let failed = until_status(&srv, &batch_id, "failed").await;
    assert_eq!(statuses(&failed), ["failed"]);
    assert!(failed["completed_at"].is_string());
}

/// A one-shot HTTP endpoint: answers 204 to every request and hands over the bodies.
async fn callback_endpoint() -> (String, mpsc::Receiver<Value>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/done", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            let body = loop {
                let n = socket.read(&mut buf).await.unwrap();
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(str::to_owned)
                        })
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break body.to_owned();
                    }
                }
                if n == 0 {
                    break String::new();
                }
            };
            socket
                .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            tx.send(serde_json::from_str(&body).unwrap()).await.unwrap();
        }
    });
    (url, rx)
}

#[tokio::test]
async fn a_finished_batch_is_posted_to_its_callback_url() {
    let fake = FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path(), &fake).await;
    let a = agent(&srv).await;
    fake.push_text("done");
    let (url, mut bodies) = callback_endpoint().await;
    let body = json!({"requests": [{"agent_id": a, "input": "hi"}], "callback_url": url});
    let created = srv.post("/v1/messages/batches", body).await.ok();
    assert_eq!(created["callback_url"], url.as_str());
    let batch_id = id(&created);

    let posted = tokio::time::timeout(Duration::from_secs(30), bodies.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(posted["job_id"], batch_id.as_str());
    assert_eq!(posted["status"], "completed");
    assert!(posted["completed_at"].is_string());
    let recorded = wait_for(|| async {
        let b = batch(&srv, &batch_id).await;
        b["callback_status_code"].is_number().then_some(b)
    })
    .await;
    assert_eq!(recorded["callback_status_code"], 204);
    assert!(recorded["callback_sent_at"].is_string());
    assert_eq!(recorded["callback_error"], Value::Null);
}
