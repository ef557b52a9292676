//! End-to-end tests: the real `mneme` binary over HTTP on loopback, one server per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_files;
mod agents;
mod anthropic;
mod approvals;
mod archival;
mod backup;
mod batches;
mod blocks;
mod census;
mod compaction;
mod completions;
mod db_loss;
mod doctor;
mod errors;
mod from_letta;
mod from_letta_db;
mod fuzz_findings;
mod limits;
mod mcp;
mod mcp_legacy;
mod messages;
mod metrics;
mod migrate;
mod model_settings;
mod native_providers;
mod observability;
mod openapi;
mod providers;
mod recovery;
mod replicas;
mod request_overrides;
mod restart;
mod sandbox;
mod sandbox_escapes;
mod schema_versions;
mod search;
mod streaming;
mod telemetry;
mod tenancy;
mod tool_rules;
mod tools;
mod web_tools;
mod web_ui;

use std::path::Path;

use mneme_testkit::TestServer;
use serde_json::{Value, json};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mneme"))
}

async fn server() -> TestServer {
    TestServer::start(bin()).await
}

/// A name no other test uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid_like()[..8])
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{n:032x}").chars().rev().collect()
}

/// Creates an agent with a `human` and a `persona` block and returns its JSON.
async fn create_agent(srv: &TestServer, name: &str, tags: &[&str]) -> Value {
    srv.post(
        "/v1/agents/",
        json!({
            "name": name,
            "model": "openai/gpt-4o-mini",
            "tags": tags,
            "memory_blocks": [
                {"label": "human", "value": "Name: Ada", "limit": 100},
                {"label": "persona", "value": "I am terse.", "description": "Who I am."}
            ]
        }),
    )
    .await
    .ok()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

fn labels(blocks: &Value) -> Vec<String> {
    blocks
        .as_array()
        .expect("blocks array")
        .iter()
        .map(|b| b["label"].as_str().unwrap_or_default().to_owned())
        .collect()
}
