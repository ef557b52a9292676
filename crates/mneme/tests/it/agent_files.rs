//! `mneme import` and `mneme export`: Agent Files in and out of a data directory with no
//! server running, and what a server on that directory then shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use mneme_testkit::TestServer;
use serde_json::Value;

use crate::bin;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/agent-files")
        .join(name)
}

/// Runs the binary offline on `dir`; its standard output.
fn run(dir: &Path, args: &[&str]) -> String {
    run_with_env(dir, args, &[])
}

fn run_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(bin())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .args(["--embedding-model-fetch", "false"])
        .env("OPENAI_API_KEY", "sk-test")
        .envs(mneme_testkit::store_env(dir))
        .envs(env.iter().copied())
        .output()
        .expect("run mneme");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mneme {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[tokio::test]
async fn import_then_export_offline_and_a_server_sees_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("test_basic_agent_with_blocks_tools_messages_v2.af");
    let printed = run(
        dir.path(),
        &["import", file.to_str().unwrap(), "--name", "offline"],
    );
    let agent = printed.trim().to_owned();
    assert!(agent.starts_with("agent-"), "{printed}");

    let out = dir.path().join("out.af");
    run(dir.path(), &["export", &agent, "-o", out.to_str().unwrap()]);
    let exported: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let original: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let (got, want) = (&exported["agents"][0], &original["agents"][0]);
    assert_eq!(got["name"], "offline");
    assert_eq!(got["system"], want["system"]);
    let count = |v: &Value| v["messages"].as_array().map_or(0, Vec::len);
    assert_eq!(count(got), count(want));
    assert_eq!(
        got["in_context_message_ids"].as_array().map(Vec::len),
        want["in_context_message_ids"].as_array().map(Vec::len)
    );

    let srv = TestServer::start_in(bin(), dir.path()).await;
    let state = srv.get(&format!("/v1/agents/{agent}")).await.ok();
    assert_eq!(state["name"], "offline");
    let labels: Vec<&str> = state["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["label"].as_str())
        .collect();
    let want_labels: Vec<&str> = original["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["label"].as_str())
        .collect();
    assert_eq!(labels.len(), want_labels.len());
    srv.stop().await;
}

// Two workers: the fake answers while this test's thread waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_import_brings_the_folder_and_embeds_its_files_before_it_ends() {
    let fake = mneme_testkit::fake_llm::FakeLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("test_agent_with_files_and_sources.af");
    let base = fake.base_url();
    let env = [("OPENAI_BASE_URL", base.as_str())];
    let printed = run_with_env(dir.path(), &["import", file.to_str().unwrap()], &env);
    let agent = printed.trim().to_owned();

    let srv = TestServer::start_in(bin(), dir.path()).await;
    let folders = srv.get(&format!("/v1/agents/{agent}/folders")).await.ok();
    assert_eq!(folders[0]["name"], "test_disk_export_source");
    let folder = folders[0]["id"].as_str().unwrap();
    let files = srv.get(&format!("/v1/folders/{folder}/files")).await.ok();
    let statuses: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["processing_status"].as_str())
        .collect();
    assert_eq!(statuses, ["completed", "completed"], "{files}");
    let passages = srv
        .get(&format!("/v1/folders/{folder}/passages"))
        .await
        .ok();
    assert!(
        passages.as_array().is_some_and(|p| !p.is_empty()),
        "{passages}"
    );
    let held = srv.get(&format!("/v1/agents/{agent}/files")).await.ok();
    let open: Vec<bool> = held["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["is_open"].as_bool())
        .collect();
    assert_eq!(open, [true, true], "{held}");
    srv.stop().await;
}

#[tokio::test]
async fn a_broken_file_fails_the_command_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.af");
    std::fs::write(&broken, b"{\"agents\": [").unwrap();
    let out = Command::new(bin())
        .args(["import", broken.to_str().unwrap(), "--data-dir"])
        .arg(dir.path())
        .args(["--embedding-model-fetch", "false"])
        .envs(mneme_testkit::store_env(dir.path()))
        .output()
        .expect("run mneme");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Invalid agent file"), "{stderr}");
    assert!(out.stdout.is_empty());
    let srv = TestServer::start_in(bin(), dir.path()).await;
    assert_eq!(srv.get("/v1/agents/").await.ok(), serde_json::json!([]));
    srv.stop().await;
}
