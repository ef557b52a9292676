//! The route census: every operation of Letta 0.16.7's self-hosted API (outside its internal
//! routes) is served, and any Letta operation mneme does not serve answers 501
//! naming it, not the 404 of a mistyped URL.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::server;

const LETTA_ROUTES: &str = include_str!("../../../mneme-server/src/letta_routes.txt");

/// A value for a path parameter: a well-formed id of the right kind that names nothing, or a
/// name that names nothing.
fn placeholder(param: &str) -> String {
    let prefix = match param {
        "agent_id" => "agent",
        "block_id" => "block",
        "tool_id" => "tool",
        "source_id" | "folder_id" => "source",
        "file_id" => "file",
        "run_id" => "run",
        "step_id" => "step",
        "message_id" => "message",
        "group_id" => "group",
        "identity_id" => "identity",
        "provider_id" => "provider",
        "mcp_server_id" => "mcp_server",
        "archive_id" => "archive",
        "passage_id" | "memory_id" => "passage",
        "conversation_id" => "conv",
        "job_id" | "batch_id" => "job",
        "sandbox_config_id" => "sandbox",
        "env_var_id" => "sandbox-env",
        _ => return "census-missing".to_owned(),
    };
    format!("{prefix}-00000000-0000-4000-8000-000000000000")
}

fn concrete(template: &str) -> String {
    let parts = template.split('/').map(|part| {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(param) => placeholder(param),
            None => part.to_owned(),
        }
    });
    parts.collect::<Vec<_>>().join("/")
}

/// The self-hosted operations mneme serves: all but `/v1/_internal_*` (Letta Cloud's
/// template service calls them).
fn served_operations() -> impl Iterator<Item = (Method, &'static str, &'static str)> {
    LETTA_ROUTES.lines().filter_map(|line| {
        let [method, path, op, source] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            return None;
        };
        let internal = path.starts_with("/v1/_internal_");
        let method = Method::from_bytes(method.as_bytes()).ok()?;
        (source == "0.16.7" && !internal).then_some((method, path, op))
    })
}

#[tokio::test]
async fn every_self_hosted_letta_operation_is_served() {
    let srv = server().await;
    let mut failures = Vec::new();
    for (method, template, op) in served_operations() {
        let mut req = srv.request(method.clone(), &concrete(template));
        // Generous: recreate-venv builds a virtualenv, which takes tens of seconds on a busy
        // two-core machine; every other operation answers in milliseconds.
        req = req.timeout(Duration::from_secs(90));
        if method != Method::GET && method != Method::DELETE {
            req = req.json(&json!({}));
        }
        let res = srv.send(req).await;
        // A 4xx (the placeholder names nothing, the empty body lacks fields) is an answer
        // from the operation's handler; 501 and 405 are the router's, 5xx a failure.
        if res.status >= 500 || res.status == 405 {
            failures.push(format!(
                "{method} {template} ({op}): {} {}",
                res.status, res.body
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} operations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn unserved_letta_operations_answer_501_naming_them() {
    let srv = server().await;
    let internal = srv.get("/v1/_internal_runs/").await.err(501);
    let detail = internal["detail"].as_str().unwrap();
    assert!(detail.contains("GET /v1/_internal_runs/"), "{detail}");
    let cloud = srv.get("/v1/templates").await.err(501);
    assert!(
        cloud["detail"].as_str().unwrap().contains("Letta Cloud"),
        "{cloud}"
    );
    let delete = srv
        .send(srv.request(
            Method::DELETE,
            &format!("/v1/_internal_blocks/{}", mneme_types::BlockId::new()),
        ))
        .await;
    delete.err(501);
    // Not Letta's: the plain answers of an unknown route or method.
    srv.get("/v1/agentz/").await.err(404);
    srv.send(srv.request(Method::PUT, "/v1/agents/"))
        .await
        .err(405);
}
