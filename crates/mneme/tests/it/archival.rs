//! Archival memory over the API, and as the agent sees it.

use serde_json::json;

use crate::{create_agent, id, server, unique};

#[tokio::test]
async fn passages_can_be_inserted_listed_searched_and_deleted() {
    let srv = server().await;
    let agent = create_agent(&srv, &unique("arch"), &[]).await;
    let a = id(&agent);
    let path = format!("/v1/agents/{a}/archival-memory");
    let first = srv
        .post(
            &path,
            json!({"text": "Ada's cat is called Miso", "tags": ["pets"]}),
        )
        .await
        .ok();
    assert_eq!(first.as_array().unwrap().len(), 1);
    let p1 = id(&first[0]);
    assert!(p1.starts_with("passage-"));
    assert_eq!(first[0]["tags"], json!(["pets"]));
    srv.post(
        &path,
        json!({"text": "Ada works on the analytical engine", "tags": ["work"]}),
    )
    .await
    .ok();
    srv.post(
        &path,
        json!({"text": "Miso likes tuna", "tags": ["pets", "food"]}),
    )
    .await
    .ok();

    let all = srv.get(&path).await.ok();
    let texts: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts[0], "Ada's cat is called Miso", "ascending by default");
    assert_eq!(texts.len(), 3);
    let page = srv.get(&format!("{path}?limit=1&after={p1}")).await.ok();
    assert_eq!(page[0]["text"], "Ada works on the analytical engine");
    let filtered = srv.get(&format!("{path}?search=miso")).await.ok();
    assert_eq!(filtered.as_array().unwrap().len(), 2);

    let search = srv
        .get(&format!(
            "{path}/search?query=miso&tags=food&tag_match_mode=any"
        ))
        .await
        .ok();
    assert_eq!(search["count"], 1);
    assert_eq!(search["results"][0]["content"], "Miso likes tuna");
    let both = srv
        .get(&format!(
            "{path}/search?query=miso&tags=pets&tags=food&tag_match_mode=all"
        ))
        .await
        .ok();
    assert_eq!(both["count"], 1);
    srv.get(&format!("{path}/search")).await.err(422);

    // The agent's memory metadata counts the passages.
    let prompt = srv
        .post(&format!("/v1/agents/{a}/recompile"), json!({}))
        .await
        .ok();
    assert!(prompt.as_str().unwrap().contains("- 3 total memories"));

    let gone = srv.delete(&format!("{path}/{p1}")).await.ok();
    assert!(gone["message"].as_str().unwrap().contains(&p1));
    srv.delete(&format!("{path}/{p1}")).await.err(404);
    assert_eq!(srv.get(&path).await.ok().as_array().unwrap().len(), 2);
    srv.post(&path, json!({"tags": ["x"]})).await.err(422);
}

#[tokio::test]
async fn passages_list_in_creation_time_order() {
    let srv = server().await;
    let a = id(&create_agent(&srv, &unique("order"), &[]).await);
    let path = format!("/v1/agents/{a}/archival-memory");
    srv.post(&path, json!({"text": "written now"})).await.ok();
    let old = srv
        .post(
            &path,
            json!({"text": "written long ago", "created_at": "2020-01-01T00:00:00Z"}),
        )
        .await
        .ok();
    let listed = srv.get(&path).await.ok();
    assert_eq!(listed[0]["text"], "written long ago", "oldest first");
    let newest_first = srv.get(&format!("{path}?ascending=false")).await.ok();
    assert_eq!(newest_first[0]["text"], "written now");
    let after_old = srv.get(&format!("{path}?after={}", id(&old[0]))).await.ok();
    assert_eq!(after_old.as_array().unwrap().len(), 1);
    assert_eq!(after_old[0]["text"], "written now");
}
