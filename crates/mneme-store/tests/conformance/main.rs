//! The storage contract, asserted through the traits. Today it runs on SQLite; the PostgreSQL
//! backend will run the same functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use mneme_store::sqlite::{Durability, SqliteStore};
use mneme_store::{
    Agent, AgentFilter, AgentSettings, Archive, BlockChange, Message, MessageFilter, MessageQuery,
    NewAgent, Order, Page, Passage, PassageFilter, PassageList, Role, RunData, RunRecord,
    SearchKind, StepCommit, Store, StoreError,
};
use mneme_types::{AgentId, AgentType, ArchiveId, Block, BlockId, MessageId, PassageId};

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
fn archive(name: &str) -> Archive {
    let now = mneme_types::time::now();
    Archive {
        id: ArchiveId::new(),
        name: name.into(),
        description: None,
        embedding_config: None,
        metadata: None,
        created_at: now,
        updated_at: now,
    }
}

fn passage(archive: ArchiveId, text: &str, tags: &[&str], vector: Option<Vec<f32>>) -> Passage {
    let now = mneme_types::time::now();
    Passage {
        id: PassageId::new(),
        archive_id: archive,
        text: text.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        metadata: None,
        embedding: vector,
        embedding_config: None,
        created_at: now,
        updated_at: now,
    }
}

#[tokio::test]
async fn an_agent_gets_one_default_archive_and_loses_it_with_itself() {
    let (store, _dir) = sqlite();
    let agent = store.create_agent(new_agent("a", vec![])).await.unwrap();
    let (first, second) = tokio::join!(
        store.default_archive(agent.id, archive("one")),
        store.default_archive(agent.id, archive("two")),
    );
    assert_eq!(first.unwrap().id, second.unwrap().id, "one default archive");
    let shared = store.create_archive(archive("shared"), None).await.unwrap();
    store.attach_archive(agent.id, shared.id).await.unwrap();
    store.attach_archive(agent.id, shared.id).await.unwrap();
    let archives = store.agent_archives(agent.id).await.unwrap();
    assert_eq!(archives.len(), 2);
    assert_eq!(archives[1].id, shared.id);

    store.delete_agent(agent.id).await.unwrap();
    store.get_archive(archives[0].id).await.unwrap_err();
    // An archive the agent did not own stays.
    store.get_archive(shared.id).await.unwrap();
}

#[tokio::test]
async fn passages_keep_vectors_and_every_change_reaches_the_search_outbox() {
    let (store, _dir) = sqlite();
    let agent = store.create_agent(new_agent("a", vec![])).await.unwrap();
    let ar = store.default_archive(agent.id, archive("a")).await.unwrap();
    let after = store
        .search_changes(0, 10_000)
        .await
        .unwrap()
        .last()
        .map(|c| c.seq)
        .unwrap_or(0);
    let p1 = passage(ar.id, "first", &["x"], Some(vec![0.6, 0.8]));
    let p2 = passage(ar.id, "second", &["x", "y"], None);
    store
        .insert_passages(vec![p1.clone(), p2.clone()])
        .await
        .unwrap();
    let changes = store.search_changes(after, 100).await.unwrap();
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .all(|c| c.kind == SearchKind::Passage && !c.removed)
    );
    assert!(changes.iter().all(|c| c.owner == ar.id.to_string()));
    let keys: Vec<u64> = changes.iter().map(|c| c.key).collect();
    let rows = store.passages_by_keys(&keys).await.unwrap();
    let stored = rows.iter().find(|(_, p)| p.id == p1.id).unwrap();
    assert_eq!(
        stored.1.embedding,
        Some(vec![0.6, 0.8]),
        "vectors round-trip"
    );
    assert_eq!(store.passage_vectors(ar.id).await.unwrap().len(), 1);

    let both = PassageFilter {
        tags: vec!["x".into(), "y".into()],
        match_all_tags: true,
        ..PassageFilter::default()
    };
    let matching = store.passage_keys(&[ar.id], &both).await.unwrap();
    assert_eq!(matching.len(), 1);

    store.delete_passage(&[ar.id], p1.id).await.unwrap();
    let last = store.search_changes(after, 100).await.unwrap();
    let removal = last.last().unwrap();
    assert!(removal.removed && removal.key == stored.0);
    store.prune_search_changes(removal.seq).await.unwrap();
    assert!(store.search_changes(0, 100).await.unwrap().is_empty());
    let listed = store
        .list_passages(
            &[ar.id],
            &PassageList {
                limit: 10,
                ascending: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    // Deleting from an archive the passage is not in is NotFound.
    let other = store.create_archive(archive("other"), None).await.unwrap();
    let err = store.delete_passage(&[other.id], p2.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }));
}

#[tokio::test]
async fn messages_reach_the_outbox_and_carry_their_recall_vectors() {
    let (store, _dir) = sqlite();
    let agent = store.create_agent(new_agent("a", vec![])).await.unwrap();
    // The system message is not searchable.
    assert!(store.search_changes(0, 100).await.unwrap().is_empty());
    let now = mneme_types::time::now();
    let hello = Message::new(agent.id, Role::User, "hello there", now);
    store.reset_messages(agent.id, vec![hello]).await.unwrap();
    let changes = store.search_changes(0, 100).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, SearchKind::Message);
    assert_eq!(changes[0].owner, agent.id.to_string());
    let found = store.messages_after(0, 10).await.unwrap();
    assert_eq!(found.len(), 1);
    let key = found[0].0;
    assert_eq!(key, changes[0].key);
    store
        .store_message_vectors(vec![(key, agent.id, vec![1.0, 0.0])], ("c", key))
        .await
        .unwrap();
    assert_eq!(store.search_cursor("c").await.unwrap(), key);
    let rows = store.messages_by_keys(&[key]).await.unwrap();
    assert_eq!(rows[0].1.text, "hello there");
    assert_eq!(rows[0].2, Some(vec![1.0, 0.0]));
    assert_eq!(store.message_vectors(agent.id).await.unwrap().len(), 1);
    // A stored vector is a change the index must apply.
    assert_eq!(store.search_changes(0, 100).await.unwrap().len(), 2);
    let keys = store
        .message_keys(
            agent.id,
            &MessageFilter {
                roles: vec![Role::User],
                ..MessageFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        keys.len(),
        found.iter().filter(|(_, m)| m.role == Role::User).count()
    );
    let matching = store
        .message_keys(
            agent.id,
            &MessageFilter {
                contains: Some("HELLO".into()),
                ..MessageFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(matching, vec![key], "case-insensitive substring");
    let none = store
        .message_keys(
            agent.id,
            &MessageFilter {
                contains: Some("goodbye".into()),
                ..MessageFilter::default()
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());
}
