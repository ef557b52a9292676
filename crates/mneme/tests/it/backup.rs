//! `mneme backup` while a client keeps talking to the server, and `mneme restore` of it into a
//! new data directory, served again by the real binary.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mneme_testkit::{FakeLlm, TestServer};
use serde_json::{Value, json};

use crate::bin;
use crate::messages::{agent, history, send};

async fn mneme(args: &[&str], dir: &Path) -> Output {
    tokio::process::Command::new(bin())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_BACKTRACE", "0")
        .env_remove("MNEME_DATABASE_URL")
        .env_remove("LETTA_PG_URI")
        .output()
        .await
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn serve(dir: &Path, fake: &FakeLlm) -> TestServer {
    let url = fake.base_url();
    TestServer::start_in_with_env(bin(), dir, &[("OPENAI_BASE_URL", url.as_str())]).await
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter().map(crate::id).collect()
}

/// What the agent's turns change on its state, left out when agents are compared.
fn without_turn_fields(mut agent: Value) -> Value {
    if let Some(o) = agent.as_object_mut() {
        for key in [
            "message_ids",
            "updated_at",
            "last_run_completion",
            "last_run_duration_ms",
            "last_stop_reason",
        ] {
            o.remove(key);
        }
    }
    agent
}

#[tokio::test]
async fn sqlite_only_a_backup_taken_under_load_restores_a_consistent_snapshot() {
    let fake = FakeLlm::start().await;
    let src = tempfile::tempdir().unwrap();
    let srv = Arc::new(serve(src.path(), &fake).await);
    let agents = [
        agent(&srv, json!({"name": "ada"})).await,
        agent(&srv, json!({"name": "bob"})).await,
    ];
    // A provider key, sealed with the data directory's secret key.
    srv.post(
        "/v1/providers/",
        json!({"name": "mine", "provider_type": "openai", "api_key": "sk-sealed"}),
    )
    .await
    .ok();
    for a in &agents {
        send(&srv, a, "aardvark before the backup").await;
    }
    let mut acknowledged = Vec::new();
    for a in &agents {
        acknowledged.push(history(&srv, a).await);
    }

    // A client that keeps sending while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let load = {
        let (srv, stop, sent, agents) = (srv.clone(), stop.clone(), sent.clone(), agents.clone());
        tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                send(&srv, &agents[n % 2], &format!("load {n}")).await;
                n += 1;
                sent.store(n, Ordering::SeqCst);
            }
        })
    };
    while sent.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let file = tempfile::tempdir().unwrap();
    let backup = file.path().join("mneme.backup");
    let answered_before = sent.load(Ordering::SeqCst);
    let out = mneme(&["backup", "--to", backup.to_str().unwrap()], src.path()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let during = sent.load(Ordering::SeqCst);
    while sent.load(Ordering::SeqCst) < during + 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();

    // The source as it ended, for comparison.
    let mut final_history = Vec::new();
    for a in &agents {
        final_history.push(history(&srv, a).await);
    }
    let src_blocks = srv.get("/v1/blocks/?limit=100").await.ok();
    let src_providers = srv.get("/v1/providers/").await.ok();
    let mut src_agents = Vec::new();
    for a in &agents {
        src_agents.push(srv.get(&format!("/v1/agents/{a}")).await.ok());
    }

    let dst = tempfile::tempdir().unwrap();
    let out = mneme(&["restore", "--from", backup.to_str().unwrap()], dst.path()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let restored = serve(dst.path(), &fake).await;

    assert_eq!(restored.get("/v1/blocks/?limit=100").await.ok(), src_blocks);
    // The provider key was sealed with the source's secret: it is readable here too.
    assert_eq!(restored.get("/v1/providers/").await.ok(), src_providers);
    for (i, a) in agents.iter().enumerate() {
        let got = restored.get(&format!("/v1/agents/{a}")).await.ok();
        assert_eq!(
            without_turn_fields(got.clone()),
            without_turn_fields(src_agents[i].clone())
        );
        let messages = history(&restored, a).await;
        // Everything acknowledged before the backup started is in it ...
        assert!(messages.len() >= acknowledged[i].len());
        assert_eq!(messages[..acknowledged[i].len()], acknowledged[i][..]);
        // ... and what it holds is the source's history as it was at one moment: a prefix,
        // field by field.
        assert!(messages.len() <= final_history[i].len());
        assert_eq!(messages[..], final_history[i][..messages.len()]);
        // The agent's context names only messages the backup holds.
        let held = ids(&messages);
        for m in got["message_ids"].as_array().unwrap() {
            assert!(held.contains(&m.as_str().unwrap().to_owned()), "{m}");
        }
        assert_runs_consistent(&restored, a, &messages).await;
    }
    // Every send of the load answered before the backup started is in it.
    for n in 0..answered_before {
        let held = history(&restored, &agents[n % 2]).await;
        let text = format!("load {n}");
        assert!(
            held.iter().any(|m| m["content"] == text),
            "{text} is missing"
        );
    }
    // The snapshot was taken mid-load: it holds some of the load but not all of it.
    let total: usize = final_history.iter().map(Vec::len).sum();
    let mut in_backup = 0;
    for a in &agents {
        in_backup += history(&restored, a).await.len();
    }
    assert!(in_backup < total, "the backup holds writes made after it");

    // The search index was rebuilt from the restored database.
    let found = restored
        .post(
            "/v1/messages/search",
            json!({"query": "aardvark", "agent_id": agents[0], "search_mode": "fts"}),
        )
        .await
        .ok();
    assert_eq!(found[0]["content"], "aardvark before the backup", "{found}");
    restored.stop().await;
    Arc::try_unwrap(srv).ok().unwrap().stop().await;
}

/// Every completed run the backup holds has its steps and its messages, and the agent's
/// messages are exactly those before its first run plus those of its runs.
async fn assert_runs_consistent(srv: &TestServer, agent: &str, messages: &[Value]) {
    let runs = srv
        .get(&format!("/v1/runs/?agent_id={agent}&limit=1000"))
        .await
        .ok();
    let runs = runs.as_array().unwrap();
    assert!(!runs.is_empty());
    let mut in_runs = 0;
    for run in runs {
        let run_id = crate::id(run);
        let run_messages = srv
            .get(&format!("/v1/runs/{run_id}/messages?limit=1000"))
            .await
            .ok();
        let run_messages = run_messages.as_array().unwrap().clone();
        if run["status"] == "completed" {
            let steps = srv.get(&format!("/v1/runs/{run_id}/steps")).await.ok();
            assert!(
                !steps.as_array().unwrap().is_empty(),
                "{run_id} has no steps"
            );
            assert!(!run_messages.is_empty(), "{run_id} has no messages");
        }
        for m in &run_messages {
            assert!(messages.iter().any(|h| h["id"] == m["id"]), "{}", m["id"]);
        }
        in_runs += run_messages.len();
    }
    let outside = messages.iter().filter(|m| m["run_id"].is_null()).count();
    assert_eq!(outside + in_runs, messages.len());
}

#[tokio::test]
async fn sqlite_only_restore_refuses_a_non_empty_directory_and_a_damaged_file() {
    let fake = FakeLlm::start().await;
    let src = tempfile::tempdir().unwrap();
    let srv = serve(src.path(), &fake).await;
    agent(&srv, json!({"name": "ada"})).await;
    let file = tempfile::tempdir().unwrap();
    let backup = file.path().join("good.backup");
    let out = mneme(&["backup", "--to", backup.to_str().unwrap()], src.path()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // A backup never overwrites a file.
    let again = mneme(&["backup", "--to", backup.to_str().unwrap()], src.path()).await;
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    srv.stop().await;

    // Into the source's own (non-empty) directory: refused, nothing changed.
    let before = std::fs::read(src.path().join("mneme.db")).unwrap();
    let out = mneme(&["restore", "--from", backup.to_str().unwrap()], src.path()).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    assert_eq!(std::fs::read(src.path().join("mneme.db")).unwrap(), before);

    // A truncated backup and a file that is no database: refused, nothing written.
    let bytes = std::fs::read(&backup).unwrap();
    let cut = file.path().join("cut.backup");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let junk = file.path().join("junk.backup");
    std::fs::write(&junk, vec![7u8; 8192]).unwrap();
    for bad in [&cut, &junk] {
        let dst = tempfile::tempdir().unwrap();
        let target = dst.path().join("data");
        let out = mneme(&["restore", "--from", bad.to_str().unwrap()], &target).await;
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("is not a usable mneme backup"),
            "{}",
            stderr(&out)
        );
        assert!(
            !target.exists(),
            "a refused restore wrote {}",
            target.display()
        );
    }

    // `--force` replaces a data directory's database (and drops its stale search index).
    let out = mneme(
        &["restore", "--force", "--from", backup.to_str().unwrap()],
        src.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!src.path().join("search").exists());
    let srv = serve(src.path(), &fake).await;
    let agents = srv.get("/v1/agents/").await.ok();
    assert_eq!(agents.as_array().unwrap().len(), 1);
    srv.stop().await;
}

#[tokio::test]
async fn backup_on_postgresql_points_at_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let out = mneme(
        &[
            "backup",
            "--to",
            "x.backup",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/none",
        ],
        dir.path(),
    )
    .await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pg_dump"), "{}", stderr(&out));
}

#[tokio::test]
async fn sqlite_only_a_backup_carries_every_organization() {
    if TestServer::on_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start_in(bin(), dir.path()).await;
    let org = srv
        .post("/v1/admin/orgs/", json!({"name": "kept"}))
        .await
        .ok();
    let user = srv
        .post(
            "/v1/admin/users/",
            json!({"name": "u", "organization_id": org["id"]}),
        )
        .await
        .ok();
    let key = srv
        .post(
            "/v1/admin/keys/",
            json!({"name": "k", "user_id": user["id"]}),
        )
        .await
        .ok();
    let key = key["api_key"].as_str().unwrap().to_owned();
    let made = srv
        .request(reqwest::Method::POST, "/v1/blocks/")
        .bearer_auth(&key)
        .json(&json!({"label": "kept", "value": "in its organization"}));
    let block = srv.send(made).await.ok();
    let file = dir.path().join("with-tenants.backup");
    let out = mneme(&["backup", "--to", file.to_str().unwrap()], dir.path()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    srv.stop().await;

    let restored = tempfile::tempdir().unwrap();
    let target = restored.path().join("data");
    let out = mneme(&["restore", "--from", file.to_str().unwrap()], &target).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let srv = TestServer::start_in(bin(), &target).await;
    let read = srv
        .request(
            reqwest::Method::GET,
            &format!("/v1/blocks/{}", crate::id(&block)),
        )
        .bearer_auth(&key);
    let back = srv.send(read).await.ok();
    assert_eq!(back["value"], "in its organization");
    // Still that organization's alone.
    srv.get(&format!("/v1/blocks/{}", crate::id(&block)))
        .await
        .err(404);
}
