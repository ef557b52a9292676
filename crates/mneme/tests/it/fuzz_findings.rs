//! What the API fuzz run (tests/fuzz, schemathesis on /openapi.json) found answered 5xx, each
//! now a 4xx: a wrong method on a path mneme serves, and an embedding config naming no provider.

use reqwest::Method;
use serde_json::json;

use crate::{id, server};

#[tokio::test]
async fn a_wrong_method_on_a_served_literal_path_is_405_not_501() {
    let srv = server().await;
    // Letta's PATCH /v1/agents/{agent_id} would take `import` for an id; the path is
    // POST /v1/agents/import's, so the method is what is wrong.
    for (method, path) in [
        (Method::PATCH, "/v1/agents/import"),
        (Method::GET, "/v1/messages/search"),
        (Method::DELETE, "/v1/runs/active"),
        (
            Method::PATCH,
            "/v1/groups/group-00000000-0000-4000-8000-000000000000/messages/stream",
        ),
    ] {
        let res = srv.send(srv.request(method.clone(), path)).await;
        assert_eq!(res.status, 405, "{method} {path}: {}", res.body);
    }
    // An operation mneme lacks still says so.
    srv.get("/v1/templates").await.err(501);
}

#[tokio::test]
async fn an_archive_whose_embedding_config_names_no_provider_refuses_passages_with_422() {
    let srv = server().await;
    let config = json!({
        "embedding_endpoint_type": "", "embedding_model": "m", "embedding_dim": 8
    });
    let archive = srv
        .post(
            "/v1/archives/",
            json!({"name": "odd", "embedding_config": config}),
        )
        .await
        .ok();
    let ar = id(&archive);
    let err = srv
        .post(&format!("/v1/archives/{ar}/passages"), json!({"text": "x"}))
        .await
        .err(422);
    let detail = err["detail"].as_str().unwrap_or_default().to_owned() + &err.to_string();
    assert!(detail.contains("embedding_endpoint_type"), "{err}");
}
