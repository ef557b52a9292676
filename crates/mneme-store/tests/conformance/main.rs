//! The storage contract, asserted through the traits. Today it runs on SQLite; the PostgreSQL
//! backend will run the same functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use mneme_store::sqlite::{Durability, SqliteStore};
use mneme_store::{
    Agent, AgentFilter, AgentSettings, BlockChange, Message, MessageQuery, NewAgent, Order, Page,
    Role, RunData, RunRecord, StepCommit, Store, StoreError,
};
use mneme_types::{AgentId, AgentType, Block, BlockId, MessageId};

fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    (Arc::new(store), dir)
}

fn block(label: &str, value: &str) -> Block {
    serde_json::from_value(serde_json::json!({
        "id": BlockId::new(), "label": label, "value": value, "limit": 100,
        "description": null, "read_only": false, "metadata": {}, "tags": [], "hidden": null,
        "is_template": false, "template_name": null, "template_id": null,
        "base_template_id": null, "deployment_id": null, "entity_id": null, "project_id": null,
        "preserve_on_migration": false, "created_by_id": null, "last_updated_by_id": null
    }))
    .unwrap()
}

fn new_agent(name: &str, blocks: Vec<Block>) -> NewAgent {
    let now = mneme_types::time::now();
    let id = AgentId::new();
    let system = MessageId::new();
    NewAgent {
        agent: Agent {
            id,
            name: name.into(),
            agent_type: AgentType::LettaV1Agent,
            system: "base".into(),
            description: None,
            metadata: None,
            llm_config: serde_json::from_value(serde_json::json!({
                "model": "m", "model_endpoint_type": "openai", "context_window": 1000
            }))
            .unwrap(),
            embedding_config: None,
            tool_rules: None,
            message_ids: vec![system],
            tags: vec!["t".into()],
            project_id: None,
            template_id: None,
            base_template_id: None,
            last_run_completion: None,
            last_run_duration_ms: None,
            last_stop_reason: None,
            settings: AgentSettings::default(),
            created_at: now,
            updated_at: now,
        },
        new_blocks: blocks,
        existing_blocks: vec![],
        tools: vec![],
        messages: vec![{
            let mut m = Message::new(id, Role::System, "compiled", now);
            m.id = system;
            m
        }],
    }
}

#[tokio::test]
async fn a_failed_agent_creation_writes_nothing() {
    let (store, _dir) = sqlite();
    let dup = new_agent("dup", vec![block("x", "1"), block("x", "2")]);
    let id = dup.agent.id;
    let err = store.create_agent(dup).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(matches!(
        store.get_agent(id).await,
        Err(StoreError::NotFound { .. })
    ));
    let page = Page {
        limit: 10,
        ..Page::default()
    };
    assert!(
        store
            .list_blocks(&Default::default(), &page)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_refused_block_edit_writes_nothing() {
    let (store, _dir) = sqlite();
    let b = store.create_block(block("notes", "v1")).await.unwrap();
    let err = store
        .update_block(
            b.id,
            Box::new(|b: &mut Block| {
                b.value = "v2".into();
                Err(StoreError::Invalid("no".into()))
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
    assert_eq!(store.get_block(b.id).await.unwrap().value, "v1");
}

#[tokio::test]
async fn agents_keep_blocks_in_order_and_tags() {
    let (store, _dir) = sqlite();
    let new = new_agent("a", vec![block("human", "h"), block("persona", "p")]);
    let agent = store.create_agent(new).await.unwrap();
    let shared = store.create_block(block("shared", "s")).await.unwrap();
    store.attach_block(agent.id, shared.id).await.unwrap();
    store.attach_block(agent.id, shared.id).await.unwrap();
    let labels: Vec<_> = store
        .agent_blocks(agent.id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.label.unwrap())
        .collect();
    assert_eq!(labels, ["human", "persona", "shared"]);
    assert_eq!(store.get_agent(agent.id).await.unwrap().tags, ["t"]);
    let ctx = store.agent_context(agent.id).await.unwrap();
    assert_eq!(ctx.messages[0].text, "compiled");
    assert_eq!(ctx.message_count, 1);
}

#[tokio::test]
async fn system_message_is_rewritten_in_place() {
    let (store, _dir) = sqlite();
    let agent = store.create_agent(new_agent("a", vec![])).await.unwrap();
    let id = agent.message_ids[0];
    let before = store.get_message(id).await.unwrap();
    store
        .set_message_text(id, "recompiled".into())
        .await
        .unwrap();
    let after = store.get_message(id).await.unwrap();
    assert_eq!(after.text, "recompiled");
    assert_eq!(after.created_at, before.created_at);
}

#[tokio::test]
async fn agent_pages_follow_cursors_and_ignore_unknown_ones() {
    let (store, _dir) = sqlite();
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(
            store
                .create_agent(new_agent(&format!("a{i}"), vec![]))
                .await
                .unwrap()
                .id,
        );
    }
    let filter = AgentFilter::default();
    let list = |page: Page| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            let got = store.list_agents(&filter, &page).await.unwrap();
            got.into_iter().map(|a| a.id).collect::<Vec<_>>()
        }
    };
    let asc = |after: Option<AgentId>| Page {
        after: after.map(|a| a.to_string()),
        limit: 2,
        order: Order::Asc,
        ..Page::default()
    };
    assert_eq!(list(asc(None)).await, ids[..2]);
    assert_eq!(list(asc(Some(ids[1]))).await, ids[2..]);
    assert_eq!(list(asc(Some(AgentId::new()))).await, ids[..2]);
    assert_eq!(store.count_agents(&filter).await.unwrap(), 4);
}

fn step(agent: AgentId, run: mneme_types::RunId) -> mneme_types::Step {
    serde_json::from_value(serde_json::json!({
        "id": mneme_types::StepId::new(), "run_id": run, "agent_id": agent, "origin": null,
        "provider_name": null, "provider_category": null, "model": "m", "model_handle": null,
        "model_endpoint": null, "context_window_limit": null, "completion_tokens": 2,
        "prompt_tokens": 10, "total_tokens": 12, "cached_input_tokens": null,
        "cache_write_tokens": null, "reasoning_tokens": null, "stop_reason": null,
        "status": "success", "error_type": null, "error_data": null, "tags": [], "messages": [],
        "feedback": null, "project_id": null, "trace_id": null, "request_id": null
    }))
    .unwrap()
}

async fn run_for(store: &Arc<dyn Store>, agent: AgentId) -> mneme_types::RunId {
    let run = RunRecord {
        id: mneme_types::RunId::new(),
        agent_id: agent,
        status: mneme_types::RunStatus::Running,
        stop_reason: None,
        background: false,
        data: RunData::default(),
        created_at: mneme_types::time::now(),
        completed_at: None,
    };
    store.create_run(run).await.unwrap().id
}

#[tokio::test]
async fn a_step_commits_everything_or_nothing() {
    let (store, _dir) = sqlite();
    let agent = store
        .create_agent(new_agent("a", vec![block("human", "v1")]))
        .await
        .unwrap();
    let run = run_for(&store, agent.id).await;
    let human = store.agent_blocks(agent.id).await.unwrap().remove(0);
    let user = Message::new(agent.id, Role::User, "hi", mneme_types::time::now());
    let mut edited = human.clone();
    edited.value = "v2".into();
    let commit = |expected: &str, msg: Message| StepCommit {
        agent_id: agent.id,
        run_id: run,
        step: step(agent.id, run),
        messages: vec![msg.clone()],
        message_ids: vec![agent.message_ids[0], msg.id],
        block_changes: vec![BlockChange::Update {
            expected: expected.into(),
            block: edited.clone(),
        }],
        system_text: None,
        passages: vec![],
        created_at: mneme_types::time::now(),
    };
    // The block changed since the step read it: the whole step is refused.
    let stale = store
        .commit_step(commit("something else", user.clone()))
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))));
    let page = MessageQuery {
        limit: 10,
        ..MessageQuery::default()
    };
    assert_eq!(store.list_messages(agent.id, &page).await.unwrap().len(), 1);
    assert_eq!(store.get_block(human.id).await.unwrap().value, "v1");

    store.commit_step(commit("v1", user.clone())).await.unwrap();
    let listed = store.list_messages(agent.id, &page).await.unwrap();
    assert_eq!(listed.last().unwrap().text, "hi");
    assert_eq!(store.get_block(human.id).await.unwrap().value, "v2");
    assert_eq!(
        store.get_agent(agent.id).await.unwrap().message_ids.len(),
        2
    );
    let run = store.get_run(run).await.unwrap();
    assert_eq!(run.data.usage.total_tokens, 12);
    assert_eq!(run.data.usage.step_count, 1);
}

mod mcp;
