//! Bad input gets a clear 4xx JSON error in Letta's shape.

use reqwest::Method;
use serde_json::json;

use crate::server;

const MISSING_AGENT: &str = "agent-00000000-0000-4000-8000-000000000000";
const MISSING_BLOCK: &str = "block-00000000-0000-4000-8000-000000000000";

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let srv = server().await;
    let e = srv
        .get(&format!("/v1/agents/{MISSING_AGENT}"))
        .await
        .err(404);
    assert!(e["detail"].as_str().unwrap().contains(MISSING_AGENT));
    srv.patch(&format!("/v1/agents/{MISSING_AGENT}"), json!({"name": "x"}))
        .await
        .err(404);
    srv.delete(&format!("/v1/agents/{MISSING_AGENT}"))
        .await
        .err(404);
    srv.get(&format!("/v1/blocks/{MISSING_BLOCK}"))
        .await
        .err(404);
    srv.patch(
        &format!("/v1/blocks/{MISSING_BLOCK}"),
        json!({"value": "x"}),
    )
    .await
    .err(404);
    srv.delete(&format!("/v1/blocks/{MISSING_BLOCK}"))
        .await
        .err(404);
    srv.post(
        "/v1/agents/",
        json!({"model": "openai/gpt-4o-mini", "block_ids": [MISSING_BLOCK]}),
    )
    .await
    .err(404);
}

#[tokio::test]
async fn malformed_ids_and_bodies_are_unprocessable() {
    let srv = server().await;
    let e = srv.get("/v1/agents/agent-123").await.err(422);
    assert!(e["detail"][0]["msg"].is_string());
    srv.get("/v1/agents/block-00000000-0000-4000-8000-000000000000")
        .await
        .err(422);
    srv.get("/v1/blocks/xyz").await.err(422);
    let e = srv.post_raw("/v1/agents/", "{not json").await.err(422);
    assert_eq!(e["detail"][0]["type"], "json_invalid");
    let e = srv
        .post(
            "/v1/agents/",
            json!({"memory_blocks": [{"label": "human"}]}),
        )
        .await
        .err(422);
    assert_eq!(e["detail"][0]["loc"], json!(["body", "memory_blocks", "0"]));
    let e = srv
        .post(
            "/v1/blocks/",
            json!({"label": "l", "value": "v", "limit": "abc"}),
        )
        .await
        .err(422);
    assert_eq!(e["detail"][0]["loc"], json!(["body", "limit"]));
    srv.post("/v1/agents/", json!({"tags": "not-a-list"}))
        .await
        .err(422);
    srv.post("/v1/agents/", json!({"agent_type": "nope"}))
        .await
        .err(422);
    srv.get("/v1/agents/?limit=many").await.err(422);
    srv.get("/v1/agents/?order=sideways").await.err(422);
}

#[tokio::test]
async fn bad_requests_name_the_problem() {
    let srv = server().await;
    let e = srv.post("/v1/agents/", json!({})).await.err(400);
    assert!(e["detail"].as_str().unwrap().contains("model"));
    srv.post("/v1/agents/", json!({"model": "gpt-4o"}))
        .await
        .err(400);
    // An unknown provider is Letta's 404 for an unknown handle.
    let e = srv
        .post("/v1/agents/", json!({"model": "nowhere/gpt"}))
        .await
        .err(404);
    assert!(e["detail"].as_str().unwrap().contains("nowhere/gpt"), "{e}");
    srv.post(
        "/v1/agents/",
        json!({"model": "openai/gpt-4o-mini", "name": "bad/name"}),
    )
    .await
    .err(400);
    let e = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "folder_ids": ["source-1"]}),
        )
        .await
        .err(404);
    assert!(e["detail"].as_str().unwrap().contains("source-1"), "{e}");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let srv = server().await;
    srv.get("/v1/nothing-here").await.err(404);
    let put = srv.send(srv.request(Method::PUT, "/v1/agents/")).await;
    put.err(405);
}
