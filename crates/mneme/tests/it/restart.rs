//! A restart on the same data directory loses nothing.

use mneme_testkit::TestServer;
use serde_json::json;

use crate::{bin, create_agent, id, labels};

#[tokio::test]
async fn everything_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start_in(bin(), dir.path()).await;
    let agent = create_agent(&srv, "persistent", &["keep"]).await;
    let block = srv
        .post(
            "/v1/blocks/",
            json!({"label": "extra", "value": "standalone"}),
        )
        .await
        .ok();
    srv.patch(
        &format!(
            "/v1/agents/{}/core-memory/blocks/attach/{}",
            id(&agent),
            id(&block)
        ),
        json!({}),
    )
    .await
    .ok();
    let before = srv.get(&format!("/v1/agents/{}", id(&agent))).await.ok();
    srv.stop().await;

    let srv = TestServer::start_in(bin(), dir.path()).await;
    let after = srv.get(&format!("/v1/agents/{}", id(&agent))).await.ok();
    assert_eq!(after, before);
    assert_eq!(labels(&after["blocks"]), ["human", "persona", "extra"]);
    assert_eq!(after["tags"], json!(["keep"]));
    let again = srv.get(&format!("/v1/blocks/{}", id(&block))).await.ok();
    assert_eq!(again, block);
    srv.stop().await;
}
