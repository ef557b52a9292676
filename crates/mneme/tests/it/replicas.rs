//! Two `mneme server` processes on one PostgreSQL database behave as one server. These tests
//! always run on PostgreSQL (a scratch database of their own), whatever the suite's backend.

use std::time::{Duration, Instant};

use mneme_store_postgres::scratch::ScratchDb;
use mneme_testkit::{FakeLlm, Reply, TestServer};
use serde_json::{Value, json};

use crate::streaming::{Event, read_events};
use crate::{bin, id};

/// Two replicas on one fresh database, both talking to `fake`.
async fn two_replicas(
    fake: &FakeLlm,
    extra: &[(&str, &str)],
) -> (ScratchDb, TestServer, TestServer) {
    let db = ScratchDb::create().await;
    let url = fake.base_url();
    let mut env = vec![
        ("MNEME_DATABASE_URL", db.url()),
        ("OPENAI_BASE_URL", url.as_str()),
    ];
    env.extend_from_slice(extra);
    let a = TestServer::start_with_env(bin(), &env).await;
    let b = TestServer::start_with_env(bin(), &env).await;
    (db, a, b)
}

async fn agent(srv: &TestServer) -> String {
    let body = json!({"model": "openai/gpt-4o-mini",
        "memory_blocks": [{"label": "human", "value": "Name: Ada"}]});
    id(&srv.post("/v1/agents/", body).await.ok())
}

async fn history(srv: &TestServer, a: &str) -> Vec<Value> {
    let h = srv
        .get(&format!("/v1/agents/{a}/messages?limit=1000"))
        .await
        .ok();
    h.as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            matches!(
                m["message_type"].as_str(),
                Some("user_message" | "assistant_message")
            )
        })
        .cloned()
        .collect()
}

/// Polls `probe` every 100 ms until it answers, for at most `limit`.
async fn within<T, F, Fut>(limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_through_two_replicas_never_interleave() {
    let fake = FakeLlm::start().await;
    fake.set_latency(Duration::from_millis(150));
    let (_db, a, b) = two_replicas(&fake, &[]).await;
    let agent = agent(&a).await;
    let path = format!("/v1/agents/{agent}/messages");
    let sends = (0..6).map(|i| {
        let srv = if i % 2 == 0 { &a } else { &b };
        srv.post(&path, json!({"input": format!("m{i}")}))
    });
    for r in futures_util::future::join_all(sends).await {
        r.ok();
    }
    let h = history(&b, &agent).await;
    assert_eq!(h.len(), 12, "{h:#?}");
    for pair in h.chunks(2) {
        let asked = pair[0]["content"].as_str().unwrap();
        assert_eq!(pair[1]["content"], format!("echo: {asked}"), "{h:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_run_on_one_replica_streams_from_the_other() {
    let fake = FakeLlm::start().await;
    let (_db, a, b) = two_replicas(&fake, &[]).await;
    let agent = agent(&a).await;
    fake.push(Reply::tool_call(
        "conversation_search",
        json!({"query": "x"}),
    ));
    fake.push(Reply::text("finished").with_delay(Duration::from_millis(600)));
    let res = a
        .request(
            reqwest::Method::POST,
            &format!("/v1/agents/{agent}/messages/stream"),
        )
        .json(&json!({"input": "go", "background": true}))
        .send()
        .await
        .unwrap();
    let first = read_events(res, 2).await;
    let run = first[0].json()["run_id"].as_str().unwrap().to_owned();

    // B resumes while A still runs the second step: what follows, once each, in order.
    let rest = b
        .request(reqwest::Method::POST, &format!("/v1/runs/{run}/stream"))
        .json(&json!({"starting_after": 2}))
        .send()
        .await
        .unwrap();
    let rest = read_events(rest, usize::MAX).await;
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
    let seqs: Vec<u64> = rest[..2]
        .iter()
        .map(|e| e.json()["seq_id"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4]);
    assert_eq!(rest[1].json()["content"], "finished");
    let status = b.get(&format!("/v1/runs/{run}")).await.ok();
    assert_eq!(status["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passage_inserted_on_one_replica_is_found_on_the_other_and_a_deleted_one_never() {
    let fake = FakeLlm::start().await;
    let (_db, a, b) = two_replicas(&fake, &[]).await;
    let agent = agent(&a).await;
    let path = format!("/v1/agents/{agent}/archival-memory");
    let inserted = a
        .post(&path, json!({"text": "Ada's cat is called Miso"}))
        .await
        .ok();
    let passage = id(&inserted[0]);
    let search = format!("{path}/search?query=miso");
    let found = within(Duration::from_secs(10), || async {
        let r = b.get(&search).await.ok();
        (r["count"] == 1).then_some(r)
    })
    .await;
    assert_eq!(found["results"][0]["content"], "Ada's cat is called Miso");

    a.delete(&format!("{path}/{passage}")).await.ok();
    // Results are read back from the database: B never answers the deleted passage, even
    // before its index has heard of the delete.
    let after = b.get(&search).await.ok();
    assert_eq!(after["count"], 0, "{after}");
}

/// Starts a turn on `srv` whose model call hangs for `delay`; its run id once the call is under
/// way.
async fn hanging_run(srv: &TestServer, fake: &FakeLlm, agent: &str, delay: Duration) -> String {
    fake.push(Reply::text("too late").with_delay(delay));
    let run = srv
        .post(
            &format!("/v1/agents/{agent}/messages/async"),
            json!({"input": "slow"}),
        )
        .await
        .ok();
    within(Duration::from_secs(5), || async {
        (!fake.requests().is_empty()).then_some(())
    })
    .await;
    id(&run)
}

async fn status_of(srv: &TestServer, run: &str) -> Value {
    srv.get(&format!("/v1/runs/{run}")).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_run_fails_and_the_other_takes_the_agents_next_message() {
    let fake = FakeLlm::start().await;
    // Dead after 3 s of silence (leases 2 s): the test need not wait the default 15 s.
    let (_db, a, b) = two_replicas(&fake, &[("MNEME_REPLICA_TIMEOUT_SECS", "3")]).await;
    let agent = agent(&a).await;
    let run = hanging_run(&a, &fake, &agent, Duration::from_secs(60)).await;
    assert_eq!(status_of(&b, &run).await["status"], "running");
    a.kill().await;

    let failed = within(Duration::from_secs(15), || async {
        let r = status_of(&b, &run).await;
        (r["status"] != "running").then_some(r)
    })
    .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    // The agent's lease lapsed with its holder: B takes the next message.
    let res = b
        .post(
            &format!("/v1/agents/{agent}/messages"),
            json!({"input": "again"}),
        )
        .await
        .ok();
    assert_eq!(res["messages"][0]["content"], "echo: again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_through_one_replica_stops_a_run_on_the_other() {
    let fake = FakeLlm::start().await;
    let (_db, a, b) = two_replicas(&fake, &[]).await;
    let agent = agent(&a).await;
    let run = hanging_run(&a, &fake, &agent, Duration::from_secs(30)).await;
    let cancelled = b
        .post(&format!("/v1/agents/{agent}/messages/cancel"), json!({}))
        .await
        .ok();
    assert_eq!(cancelled[&run], "cancelled", "{cancelled}");
    let ended = within(Duration::from_secs(5), || async {
        let r = status_of(&a, &run).await;
        (r["status"] != "running").then_some(r)
    })
    .await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    let res = b
        .post(
            &format!("/v1/agents/{agent}/messages"),
            json!({"input": "again"}),
        )
        .await
        .ok();
    assert_eq!(res["messages"][0]["content"], "echo: again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_postgresql_creates_its_data_directory() {
    let db = ScratchDb::create().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fresh").join("data");
    let srv = TestServer::start_in_with_env(bin(), &dir, &[("MNEME_DATABASE_URL", db.url())]).await;
    srv.get("/v1/agents/").await.ok();
    // The key that seals provider secrets lives there on either backend.
    assert!(dir.join("secret.key").is_file());
}
