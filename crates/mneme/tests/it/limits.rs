//! Issue 32's limits over HTTP: the request body size, per-caller rate limits, the agent and
//! passage quotas, and a tool's own timeout.

use std::time::Duration;

use mneme_testkit::{FakeLlm, Reply, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{bin, create_agent, id, unique};

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_in_letta_s_shape() {
    let srv = TestServer::start_with_env(bin(), &[("MNEME_MAX_BODY_BYTES", "2048")]).await;
    let small = json!({"label": "notes", "value": "x".repeat(100)});
    srv.post("/v1/blocks/", small).await.ok();
    let big = json!({"label": "notes", "value": "x".repeat(4096)});
    let res = srv.post("/v1/blocks/", big).await;
    let body = res.err(413);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("2048 bytes"), "{detail}");

    // The same without a Content-Length: the limit is applied as the body streams in.
    let chunks =
        futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(format!("{:1024}", ""))));
    let req = srv
        .request(Method::POST, "/v1/blocks/")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks));
    srv.send(req).await.err(413);
}

/// `n` requests as `token` (none: anonymous); their statuses and the last `Retry-After`.
async fn hit(srv: &TestServer, token: Option<&str>, n: usize) -> (Vec<u16>, Option<u64>) {
    let (mut statuses, mut retry_after) = (Vec::new(), None);
    for _ in 0..n {
        let mut req = srv.request(Method::GET, "/v1/agents/");
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.unwrap();
        statuses.push(res.status().as_u16());
        retry_after = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse().unwrap());
        if res.status() == 429 {
            let body: Value = res.json().await.unwrap();
            let detail = body["detail"].as_str().unwrap();
            assert!(detail.contains("60 requests per minute"), "{detail}");
        }
    }
    (statuses, retry_after)
}

#[tokio::test]
async fn each_caller_has_its_own_bucket_and_a_429_says_when_to_retry() {
    let env = [("MNEME_RATE_LIMIT", "60"), ("MNEME_RATE_LIMIT_BURST", "3")];
    let srv = TestServer::start_with_env(bin(), &env).await;
    let (statuses, retry_after) = hit(&srv, Some("key-a"), 4).await;
    assert_eq!(statuses, [200, 200, 200, 429]);
    // One token a second: the next one is at most a second away.
    assert_eq!(retry_after, Some(1));

    // Another key, and a caller without one (keyed by its address), are not affected.
    assert_eq!(hit(&srv, Some("key-b"), 3).await.0, [200, 200, 200]);
    assert_eq!(hit(&srv, None, 4).await.0, [200, 200, 200, 429]);

    // Probes and scrapes are never throttled.
    for path in ["/v1/health/", "/v1/health", "/v1/ready/", "/metrics"] {
        srv.get(path).await.ok();
    }
    let scrape = srv.request(Method::GET, "/metrics").send().await.unwrap();
    let text = scrape.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("mneme_http_rate_limited_total ") && !l.ends_with(" 0")),
        "{text}"
    );

    // After the wait it said, the caller passes again.
    tokio::time::sleep(Duration::from_secs(retry_after.unwrap())).await;
    assert_eq!(hit(&srv, Some("key-a"), 1).await.0, [200]);
}

#[tokio::test]
async fn without_a_rate_limit_nothing_is_throttled() {
    let srv = TestServer::start(bin()).await;
    let (statuses, retry_after) = hit(&srv, Some("key"), 30).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(retry_after, None);
}

#[tokio::test]
async fn the_agent_quota_counts_companions_and_imports() {
    let srv = TestServer::start_with_env(bin(), &[("MNEME_MAX_AGENTS", "2")]).await;
    let first = create_agent(&srv, &unique("quota"), &[]).await;
    // A sleep-time agent is two: itself and its companion.
    let res = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "enable_sleeptime": true}),
        )
        .await;
    let detail = res.err(403)["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("at most 2 agents"), "{detail}");
    assert!(detail.contains("--max-agents"), "{detail}");
    create_agent(&srv, &unique("quota"), &[]).await;
    let res = srv
        .post("/v1/agents/", json!({"model": "openai/gpt-4o-mini"}))
        .await;
    res.err(403);

    // An Agent File's agents count too.
    let exported = srv
        .get(&format!("/v1/agents/{}/export", id(&first)))
        .await
        .ok();
    let res = import(&srv, &exported).await;
    res.err(403);
    let count = srv.get("/v1/agents/count").await.ok();
    assert_eq!(count, json!(2));
}

/// `POST /v1/agents/import` with `file` as the multipart form's file.
async fn import(srv: &TestServer, file: &Value) -> mneme_testkit::Resp {
    let boundary = "mneme-limits-test";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.af\"\r\n\
         Content-Type: application/json\r\n\r\n{file}\r\n--{boundary}--\r\n"
    );
    let req = srv
        .request(Method::POST, "/v1/agents/import")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    srv.send(req).await
}

#[tokio::test]
async fn the_passage_quota_refuses_archival_inserts_past_it() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [
        ("MNEME_MAX_PASSAGES", "2"),
        ("OPENAI_BASE_URL", url.as_str()),
    ];
    let srv = TestServer::start_with_env(bin(), &env).await;
    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "tools": ["archival_memory_insert"]}),
        )
        .await
        .ok();
    let a = id(&agent);
    let path = format!("/v1/agents/{a}/archival-memory");
    for text in ["one", "two"] {
        srv.post(&path, json!({ "text": text })).await.ok();
    }
    let res = srv.post(&path, json!({"text": "three"})).await;
    let detail = res.err(403)["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("at most 2 passages"), "{detail}");

    // The agent's own insert is refused as a tool error, and nothing is stored.
    fake.push(Reply::tool_call(
        "archival_memory_insert",
        json!({"content": "four"}),
    ));
    fake.push_text("done");
    let turn = srv
        .post(&format!("/v1/agents/{a}/messages"), json!({"input": "go"}))
        .await
        .ok();
    let ret = &turn["messages"][1];
    assert_eq!(ret["status"], "error", "{turn}");
    assert!(
        ret["tool_return"]
            .as_str()
            .unwrap()
            .contains("--max-passages"),
        "{ret}"
    );
    let stored = srv.get(&path).await.ok();
    assert_eq!(stored.as_array().unwrap().len(), 2);
}

const SPIN: &str = r#"
def spin() -> str:
    """Loop forever."""
    while True:
        pass
"#;

#[tokio::test]
async fn a_tool_s_own_timeout_cuts_it_off_before_the_server_s() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [
        ("OPENAI_BASE_URL", url.as_str()),
        ("MNEME_TOOL_TIMEOUT_SECS", "30"),
        // The timeout is what is tested, not the confinement: run wherever the test runs.
        ("MNEME_TOOL_SANDBOX", "none"),
        ("MNEME_UNSAFE_TOOLS", "true"),
    ];
    let srv = TestServer::start_with_env(bin(), &env).await;
    let tool = id(&srv
        .post("/v1/tools/", json!({"source_code": SPIN}))
        .await
        .ok());
    let path = format!("/v1/tools/{tool}");
    let bad = srv
        .patch(&path, json!({"metadata_": {"timeout_seconds": -1}}))
        .await;
    bad.err(422);
    let patched = srv
        .patch(&path, json!({"metadata_": {"timeout_seconds": 1}}))
        .await
        .ok();
    assert_eq!(patched["metadata_"]["timeout_seconds"], 1);

    let agent = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "tool_ids": [tool]}),
        )
        .await
        .ok();
    fake.push(Reply::tool_call("spin", json!({})));
    fake.push_text("done");
    let started = std::time::Instant::now();
    let turn = srv
        .post(
            &format!("/v1/agents/{}/messages", id(&agent)),
            json!({"input": "go"}),
        )
        .await
        .ok();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "server's timeout"
    );
    let ret = &turn["messages"][1];
    assert_eq!(ret["status"], "error", "{turn}");
    let text = ret["tool_return"].as_str().unwrap();
    assert!(text.contains("timed out after 1.0 seconds"), "{text}");
}

#[tokio::test]
async fn a_file_whose_chunks_pass_the_passage_quota_fails_naming_it() {
    let fake = FakeLlm::start().await;
    let url = fake.base_url();
    let env = [
        ("MNEME_MAX_PASSAGES", "1"),
        ("OPENAI_BASE_URL", url.as_str()),
    ];
    let srv = TestServer::start_with_env(bin(), &env).await;
    let folder = srv
        .post(
            "/v1/folders/",
            json!({"name": unique("quota"), "embedding": "openai/text-embedding-3-small"}),
        )
        .await
        .ok();
    let boundary = "mneme-limits-upload";
    let text = "A paragraph about cats. ".repeat(400);
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cats.txt\"\r\n\
         Content-Type: text/plain\r\n\r\n{text}\r\n--{boundary}--\r\n"
    );
    let req = srv
        .request(Method::POST, &format!("/v1/folders/{}/upload", id(&folder)))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    let file = srv.send(req).await.ok();
    let path = format!("/v1/folders/{}/files/{}", id(&folder), id(&file));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let file = loop {
        let file = srv.get(&path).await.ok();
        let status = file["processing_status"].as_str().unwrap().to_owned();
        if status == "error" || status == "completed" {
            break file;
        }
        assert!(tokio::time::Instant::now() < deadline, "{file}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(file["processing_status"], "error", "{file}");
    let message = file["error_message"].as_str().unwrap();
    assert!(message.contains("--max-passages"), "{message}");
}
