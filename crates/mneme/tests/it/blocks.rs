//! Blocks: CRUD, limits, sharing between agents, attachment.

use mneme_testkit::TestServer;
use serde_json::{Value, json};

use crate::{create_agent, id, labels, server, unique};

#[tokio::test]
async fn block_crud_and_filters() {
    let srv = server().await;
    let label = unique("notes");
    let block = srv
        .post(
            "/v1/blocks/",
            json!({"label": label, "value": "likes tea", "description": "Notes.", "limit": 50,
                   "tags": ["t"], "metadata": {"m": true}}),
        )
        .await
        .ok();
    assert!(id(&block).starts_with("block-"));
    assert_eq!(block["limit"], 50);
    assert_eq!(block["read_only"], false);
    let path = format!("/v1/blocks/{}", id(&block));
    assert_eq!(srv.get(&path).await.ok(), block);

    let found = srv.get(&format!("/v1/blocks?label={label}")).await.ok();
    assert_eq!(found.as_array().unwrap().len(), 1);
    let by_value = srv
        .get(&format!("/v1/blocks/?label={label}&value_search=TEA"))
        .await
        .ok();
    assert_eq!(by_value[0]["id"], block["id"]);
    let miss = srv
        .get(&format!("/v1/blocks/?label={label}&value_search=coffee"))
        .await
        .ok();
    assert_eq!(miss, json!([]));
    let by_tag = srv
        .get(&format!("/v1/blocks/?label_search={label}&tags=t"))
        .await
        .ok();
    assert_eq!(by_tag.as_array().unwrap().len(), 1);
    assert_eq!(
        srv.get(&format!("/v1/blocks/count?label={label}"))
            .await
            .ok(),
        json!(1)
    );

    let updated = srv
        .patch(
            &path,
            json!({"value": "likes coffee", "read_only": true, "description": null}),
        )
        .await
        .ok();
    assert_eq!(updated["value"], "likes coffee");
    assert_eq!(updated["read_only"], true);
    assert_eq!(updated["description"], "Notes.");
    assert_eq!(updated["metadata"], json!({"m": true}));

    assert_eq!(srv.delete(&path).await.ok(), json!(null));
    srv.get(&path).await.err(404);
}

#[tokio::test]
async fn values_over_the_limit_are_refused_and_nothing_is_written() {
    let srv = server().await;
    let label = unique("lim");
    let refused = srv
        .post(
            "/v1/blocks/",
            json!({"label": label, "value": "x".repeat(11), "limit": 10}),
        )
        .await
        .err(422);
    assert_eq!(
        refused["detail"],
        "Edit failed: Exceeds 10 character limit (requested 11)"
    );
    assert_eq!(
        srv.get(&format!("/v1/blocks/?label={label}")).await.ok(),
        json!([])
    );

    let block = srv
        .post(
            "/v1/blocks/",
            json!({"label": label, "value": "short", "limit": 10}),
        )
        .await
        .ok();
    let path = format!("/v1/blocks/{}", id(&block));
    srv.patch(&path, json!({"value": "much too long"}))
        .await
        .err(422);
    srv.patch(&path, json!({"limit": 3})).await.err(422);
    let unchanged = srv.get(&path).await.ok();
    assert_eq!(
        (unchanged["value"].clone(), unchanged["limit"].clone()),
        (json!("short"), json!(10))
    );

    // Through the agent's label route, and at agent creation: no agent, no block.
    let agent = create_agent(&srv, &unique("lim"), &[]).await;
    let human = format!("/v1/agents/{}/core-memory/blocks/human", id(&agent));
    srv.patch(&human, json!({"value": "y".repeat(101)}))
        .await
        .err(422);
    assert_eq!(srv.get(&human).await.ok()["value"], "Name: Ada");
    let name = unique("nolim");
    srv.post(
        "/v1/agents/",
        json!({"name": name, "model": "openai/gpt-4o-mini",
               "memory_blocks": [{"label": "ok", "value": "fine"},
                                 {"label": "big", "value": "z".repeat(6), "limit": 5}]}),
    )
    .await
    .err(422);
    assert_eq!(
        srv.get(&format!("/v1/agents/count?name={name}")).await.ok(),
        json!(0)
    );
    assert_eq!(srv.get("/v1/blocks/?label=ok").await.ok(), json!([]));
}

#[tokio::test]
async fn a_shared_block_is_one_row_seen_by_every_agent() {
    let srv = server().await;
    let label = unique("shared");
    let block = srv
        .post("/v1/blocks/", json!({"label": label, "value": "v1"}))
        .await
        .ok();
    let bid = id(&block);
    let (a, b) = two_agents_sharing(&srv, &bid, &label).await;
    an_edit_through_one_is_seen_by_the_other(&srv, &block, &label, &a, &b).await;

    let agents = srv.get(&format!("/v1/blocks/{bid}/agents")).await.ok();
    let mut ids: Vec<_> = agents.as_array().unwrap().iter().map(id).collect();
    ids.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(
        srv.get(&format!("/v1/blocks/?label={label}"))
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let detached = srv
        .patch(
            &format!("/v1/agents/{b}/core-memory/blocks/detach/{bid}"),
            json!({}),
        )
        .await
        .ok();
    assert_eq!(labels(&detached["blocks"]), ["human", "persona"]);
    assert_eq!(
        srv.get(&format!("/v1/blocks/{bid}/agents"))
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Agent a created with the block `bid`, agent b given it by attachment; returns their ids.
async fn two_agents_sharing(srv: &TestServer, bid: &str, label: &str) -> (String, String) {
    let a = srv
        .post(
            "/v1/agents/",
            json!({"name": unique("a"), "model": "openai/gpt-4o-mini", "block_ids": [bid]}),
        )
        .await
        .ok();
    let b = create_agent(srv, &unique("b"), &[]).await;
    let attached = srv
        .patch(
            &format!("/v1/agents/{}/core-memory/blocks/attach/{bid}", id(&b)),
            json!({}),
        )
        .await
        .ok();
    assert_eq!(labels(&attached["blocks"]), ["human", "persona", label]);
    (id(&a), id(&b))
}

/// Agent `a` edits the shared block; agent `b` sees the new value in the block, its state and
/// its prompt.
async fn an_edit_through_one_is_seen_by_the_other(
    srv: &TestServer,
    block: &Value,
    label: &str,
    a: &str,
    b: &str,
) {
    let via_a = srv
        .patch(
            &format!("/v1/agents/{a}/core-memory/blocks/{label}"),
            json!({"value": "v2"}),
        )
        .await
        .ok();
    assert_eq!(via_a["id"], block["id"]);
    let seen_by_b = srv
        .get(&format!("/v1/agents/{b}/core-memory/blocks/{label}"))
        .await
        .ok();
    assert_eq!(seen_by_b["value"], "v2");
    let b_state = srv.get(&format!("/v1/agents/{b}")).await.ok();
    assert_eq!(b_state["memory"]["blocks"][2]["value"], "v2");
    let b_prompt = srv
        .post(&format!("/v1/agents/{b}/recompile"), json!({}))
        .await
        .ok();
    assert!(b_prompt.as_str().unwrap().contains("<value>\nv2\n</value>"));
}

#[tokio::test]
async fn an_agent_never_holds_two_blocks_with_one_label() {
    let srv = server().await;
    let agent = create_agent(&srv, &unique("dup"), &[]).await;
    let other = srv
        .post(
            "/v1/blocks/",
            json!({"label": "human", "value": "someone else"}),
        )
        .await
        .ok();
    srv.patch(
        &format!(
            "/v1/agents/{}/core-memory/blocks/attach/{}",
            id(&agent),
            id(&other)
        ),
        json!({}),
    )
    .await
    .err(409);
    // Renaming an attached block onto a label the agent already uses is refused too.
    let persona = id(&agent["blocks"][1]);
    srv.patch(&format!("/v1/blocks/{persona}"), json!({"label": "human"}))
        .await
        .err(409);
    let blocks = srv
        .get(&format!("/v1/agents/{}/core-memory/blocks", id(&agent)))
        .await
        .ok();
    let mut got = labels(&blocks);
    got.sort();
    assert_eq!(got, ["human", "persona"]);
    srv.post(
        "/v1/agents/",
        json!({"model": "openai/gpt-4o-mini",
               "memory_blocks": [{"label": "x", "value": "1"}, {"label": "x", "value": "2"}]}),
    )
    .await
    .err(409);
}

#[tokio::test]
async fn unknown_block_cursor_is_not_found() {
    let srv = server().await;
    let missing = "block-00000000-0000-4000-8000-000000000000";
    srv.get(&format!("/v1/blocks/?after={missing}"))
        .await
        .err(404);
}
