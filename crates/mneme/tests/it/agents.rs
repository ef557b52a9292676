//! Agents: create, read, list, update, delete.

use reqwest::Method;
use serde_json::json;

use mneme_testkit::TestServer;

use crate::{bin, create_agent, id, labels, server, unique};

#[tokio::test]
async fn create_returns_the_full_agent_state() {
    let srv = server().await;
    let agent = srv
        .post(
            "/v1/agents/",
            json!({
                "name": "Ada's bot",
                "model": "openai/gpt-4o-mini",
                "embedding": "openai/text-embedding-3-small",
                "description": "helps Ada",
                "metadata": {"team": "x"},
                "tags": ["a", "b", "a"],
                "memory_blocks": [
                    {"label": "human", "value": "Name: Ada"},
                    {"label": "persona", "value": "I am terse.", "limit": 500}
                ]
            }),
        )
        .await
        .ok();
    assert!(agent["id"].as_str().unwrap().starts_with("agent-"));
    assert_eq!(agent["name"], "Ada's bot");
    assert_eq!(agent["agent_type"], "letta_v1_agent");
    assert_eq!(agent["model"], "openai/gpt-4o-mini");
    assert_eq!(agent["llm_config"]["model"], "gpt-4o-mini");
    assert_eq!(agent["llm_config"]["model_endpoint_type"], "openai");
    assert_eq!(agent["embedding_config"]["embedding_dim"], 1536);
    assert_eq!(agent["tags"], json!(["a", "b"]));
    assert_eq!(agent["metadata"], json!({"team": "x"}));
    assert_eq!(labels(&agent["memory"]["blocks"]), ["human", "persona"]);
    assert_eq!(agent["blocks"], agent["memory"]["blocks"]);
    assert_eq!(agent["blocks"][1]["limit"], 500);
    assert_eq!(agent["blocks"][0]["limit"], 100_000);
    assert_eq!(agent["message_ids"].as_array().unwrap().len(), 1);
    let tools: Vec<&str> = agent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        ["conversation_search", "memory_replace", "memory_insert"]
    );
    assert_eq!(agent["tools"][0]["tool_type"], "letta_core");
    for key in ["sources", "identities", "secrets"] {
        assert_eq!(agent[key], json!([]), "{key}");
    }
    assert!(
        agent.get("pending_approval").is_some(),
        "declared fields are present as null"
    );
    assert!(agent["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn system_prompt_depends_on_agent_type_and_compiles_memory() {
    let srv = server().await;
    let mut systems = Vec::new();
    for agent_type in ["letta_v1_agent", "memgpt_v2_agent", "react_agent"] {
        let a = srv
            .post(
                "/v1/agents/",
                json!({"model": "openai/gpt-4o-mini", "agent_type": agent_type}),
            )
            .await
            .ok();
        assert_eq!(a["agent_type"], agent_type);
        systems.push(a["system"].as_str().unwrap().to_owned());
    }
    assert_ne!(systems[0], systems[1]);
    assert_ne!(systems[1], systems[2]);

    let own = srv
        .post(
            "/v1/agents/",
            json!({"model": "openai/gpt-4o-mini", "system": "Be brief.",
                   "memory_blocks": [{"label": "human", "value": "Name: Ada"}]}),
        )
        .await
        .ok();
    assert_eq!(own["system"], "Be brief.");
    let compiled = srv
        .post(&format!("/v1/agents/{}/recompile", id(&own)), json!({}))
        .await
        .ok();
    let text = compiled.as_str().unwrap();
    assert!(text.starts_with("Be brief.\n\n<memory_blocks>"), "{text}");
    assert!(text.contains("<human>") && text.contains("Name: Ada"));
    assert!(text.contains(&format!("- AGENT_ID: {}", id(&own))));
}

#[tokio::test]
async fn modern_sdk_reads_load_relationships_only_when_asked() {
    let srv = server().await;
    let agent = create_agent(&srv, &unique("inc"), &["t1"]).await;
    let path = format!("/v1/agents/{}", id(&agent));
    let sdk = |p: &str| {
        srv.request(Method::GET, p)
            .header("x-stainless-package-version", "1.12.1")
    };
    let bare = srv.send(sdk(&path)).await.ok();
    assert_eq!(bare["blocks"], json!([]));
    assert_eq!(bare["memory"]["blocks"], json!([]));
    assert_eq!(bare["tags"], json!([]));
    let full = srv
        .send(sdk(&format!("{path}?include=agent.blocks")))
        .await
        .ok();
    assert_eq!(labels(&full["blocks"]), ["human", "persona"]);
    assert_eq!(full["tags"], json!(["t1"]));
    let tags_only = srv
        .send(sdk(&format!("{path}?include=agent.tags")))
        .await
        .ok();
    assert_eq!(tags_only["tags"], json!(["t1"]));
    assert_eq!(tags_only["blocks"], json!([]));
    // Clients that are not the 1.x SDK (curl, the 0.1 SDK) get everything, as from Letta.
    let legacy = srv
        .send(
            srv.request(Method::GET, &path)
                .header("user-agent", "curl/8"),
        )
        .await
        .ok();
    assert_eq!(labels(&legacy["blocks"]), ["human", "persona"]);
}

#[tokio::test]
async fn list_filters_by_name_tags_and_text() {
    let srv = server().await;
    let tag = unique("tag");
    let a = create_agent(&srv, "Alpha Bot", &[&tag, "red"]).await;
    let b = create_agent(&srv, "beta bot", &[&tag, "blue"]).await;
    create_agent(&srv, "gamma", &["red"]).await;
    let names = |v: serde_json::Value| -> Vec<String> {
        let mut n: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    let by_tag = srv.get(&format!("/v1/agents/?tags={tag}")).await.ok();
    assert_eq!(names(by_tag), ["Alpha Bot", "beta bot"]);
    let any = srv
        .get(&format!("/v1/agents?tags={tag}&tags=red"))
        .await
        .ok();
    assert_eq!(names(any), ["Alpha Bot", "beta bot", "gamma"]);
    let all = srv
        .get(&format!(
            "/v1/agents?tags={tag}&tags=red&match_all_tags=true"
        ))
        .await
        .ok();
    assert_eq!(names(all), ["Alpha Bot"]);
    let text = srv.get("/v1/agents/?query_text=BOT").await.ok();
    assert_eq!(names(text), ["Alpha Bot", "beta bot"]);
    let exact = srv.get("/v1/agents/?name=beta%20bot").await.ok();
    assert_eq!(exact[0]["id"], b["id"]);
    let count = srv.get(&format!("/v1/agents/count?tags={tag}")).await.ok();
    assert_eq!(count, json!(2));
    assert_ne!(a["id"], b["id"]);
}

#[tokio::test]
async fn list_pages_with_cursors_in_both_orders() {
    let srv = server().await;
    let tag = unique("page");
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(id(&create_agent(&srv, &format!("p{i}"), &[&tag]).await));
    }
    let page = |q: String| {
        let srv = &srv;
        let tag = tag.clone();
        async move {
            let v = srv.get(&format!("/v1/agents/?tags={tag}&{q}")).await.ok();
            v.as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page("order=asc&limit=2".into()).await, ids[0..2]);
    assert_eq!(
        page(format!("order=asc&limit=2&after={}", ids[1])).await,
        ids[2..4]
    );
    assert_eq!(
        page(format!("order=asc&after={}", ids[4])).await,
        Vec::<String>::new()
    );
    let newest: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(page("limit=2".into()).await, newest[0..2]);
    assert_eq!(
        page(format!("limit=2&after={}", newest[1])).await,
        newest[2..4]
    );
    assert_eq!(
        page(format!("order=asc&before={}", ids[2])).await,
        ids[0..2]
    );
    // Walking with `after` visits every agent once and stops on an empty page, as the SDK does.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let got = page(format!("limit=2{cursor}")).await;
        if got.is_empty() {
            break;
        }
        cursor = format!("&after={}", got.last().unwrap());
        seen.extend(got);
    }
    assert_eq!(seen, newest);
}

#[tokio::test]
async fn update_changes_only_what_is_sent() {
    // Anthropic configured (at a closed port): its known models resolve.
    let env = [
        ("ANTHROPIC_API_KEY", "sk-ant-test"),
        ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/v1"),
    ];
    let srv = TestServer::start_with_env(bin(), &env).await;
    let agent = create_agent(&srv, &unique("upd"), &["old"]).await;
    let path = format!("/v1/agents/{}", id(&agent));
    let updated = srv
        .patch(
            &path,
            json!({"name": "renamed", "tags": ["new"], "description": null,
                   "metadata": {"k": 1}, "context_window_limit": 8000}),
        )
        .await
        .ok();
    assert_eq!(updated["name"], "renamed");
    assert_eq!(updated["tags"], json!(["new"]));
    assert_eq!(updated["metadata"], json!({"k": 1}));
    assert_eq!(updated["llm_config"]["context_window"], 8000);
    assert_eq!(updated["system"], agent["system"]);
    assert_eq!(labels(&updated["blocks"]), ["human", "persona"]);

    let model = srv
        .patch(
            &path,
            json!({"model": "anthropic/claude-sonnet-4-5-20250929"}),
        )
        .await
        .ok();
    assert_eq!(model["llm_config"]["model_endpoint_type"], "anthropic");
    assert_eq!(model["model"], "anthropic/claude-sonnet-4-5-20250929");
    assert_eq!(model["name"], "renamed");

    let human = id(&agent["blocks"][0]);
    let only_human = srv.patch(&path, json!({"block_ids": [human]})).await.ok();
    assert_eq!(labels(&only_human["blocks"]), ["human"]);
}

#[tokio::test]
async fn delete_removes_the_agent_but_not_shared_blocks() {
    let srv = server().await;
    let agent = create_agent(&srv, &unique("del"), &[]).await;
    let path = format!("/v1/agents/{}", id(&agent));
    let gone = srv.delete(&path).await.ok();
    assert_eq!(
        gone["message"],
        format!("Agent id={} successfully deleted", id(&agent))
    );
    srv.get(&path).await.err(404);
    srv.delete(&path).await.err(404);
    let block = id(&agent["blocks"][0]);
    let kept = srv.get(&format!("/v1/blocks/{block}")).await.ok();
    assert_eq!(kept["value"], "Name: Ada");
    assert_eq!(
        srv.get(&format!("/v1/blocks/{block}/agents")).await.ok(),
        json!([])
    );
}

#[tokio::test]
async fn health_and_models() {
    let srv = server().await;
    let health = srv.get("/v1/health/").await.ok();
    assert_eq!(health["status"], "ok");
    assert!(health["version"].is_string());
    assert!(srv.get("/v1/health").await.ok()["status"] == "ok");
    assert!(srv.get("/v1/models/").await.ok().is_array());
    assert!(srv.get("/v1/models/embedding").await.ok().is_array());
}
