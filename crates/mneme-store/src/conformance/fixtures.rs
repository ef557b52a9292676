//! Records to store and small checks shared by the cases.

use std::fmt::Debug;

use chrono::{DateTime, Duration, Utc};
use mneme_types::{
    AgentId, AgentType, ArchiveId, Block, BlockId, ConversationId, McpServer, McpServerId,
    MessageId, PassageId, RunId, RunStatus, Step, StepId, Tool, ToolId,
};
use serde_json::json;

use crate::{
    Agent, AgentSettings, Archive, ConversationRecord, Message, NewAgent, NewConversation, Order,
    Page, Passage, Result, Role, RunData, RunRecord, StepCommit, Store, StoreError,
};

/// A timestamp `seconds` after a fixed instant, for rows whose order must not depend on the
/// clock.
pub fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default() + Duration::seconds(seconds)
}

/// A block with a label and a value, every other field empty.
pub fn block(label: &str, value: &str) -> Block {
    serde_json::from_value(json!({
        "id": BlockId::new(), "label": label, "value": value, "limit": 100,
        "description": null, "read_only": false, "metadata": {}, "tags": [], "hidden": null,
        "is_template": false, "template_name": null, "template_id": null,
        "base_template_id": null, "deployment_id": null, "entity_id": null, "project_id": null,
        "preserve_on_migration": false, "created_by_id": null, "last_updated_by_id": null
    }))
    .unwrap()
}

/// A new agent with its system message (in context) and `blocks` created with it.
pub fn new_agent(name: &str, blocks: Vec<Block>) -> NewAgent {
    let now = mneme_types::time::now();
    let id = AgentId::new();
    let mut system = Message::new(id, Role::System, "compiled", now);
    system.id = MessageId::new();
    NewAgent {
        agent: Agent {
            id,
            name: name.into(),
            agent_type: AgentType::LettaV1Agent,
            system: "base".into(),
            description: None,
            metadata: None,
            llm_config: serde_json::from_value(json!({
                "model": "m", "model_endpoint_type": "openai", "context_window": 1000
            }))
            .unwrap(),
            embedding_config: None,
            tool_rules: None,
            message_ids: vec![system.id],
            message_ids_version: 0,
            messages_edited: 0,
            tags: vec!["t".into()],
            identity_ids: vec![],
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
        messages: vec![system],
        folders: Vec::new(),
    }
}

/// Creates a plain agent named `name`.
pub async fn agent(store: &dyn Store, name: &str) -> Agent {
    store.create_agent(new_agent(name, vec![])).await.unwrap()
}

/// A message of `agent` with a role and a text, written now.
pub fn message(agent: AgentId, role: Role, text: &str) -> Message {
    Message::new(agent, role, text, mneme_types::time::now())
}

/// A step record of `run` with 10 prompt and 2 completion tokens.
pub fn step(agent: AgentId, run: RunId) -> Step {
    serde_json::from_value(json!({
        "id": StepId::new(), "run_id": run, "agent_id": agent, "origin": null,
        "provider_name": null, "provider_category": null, "model": "m", "model_handle": null,
        "model_endpoint": null, "context_window_limit": null, "completion_tokens": 2,
        "prompt_tokens": 10, "total_tokens": 12, "cached_input_tokens": null,
        "cache_write_tokens": null, "reasoning_tokens": null, "stop_reason": null,
        "status": "success", "error_type": null, "error_data": null, "tags": [], "messages": [],
        "feedback": null, "project_id": null, "trace_id": null, "request_id": null
    }))
    .unwrap()
}

/// A running run of `agent` created at `created_at`.
pub fn run_record(agent: AgentId, created_at: DateTime<Utc>) -> RunRecord {
    RunRecord {
        conversation_id: None,
        id: RunId::new(),
        agent_id: agent,
        status: RunStatus::Running,
        stop_reason: None,
        background: false,
        data: RunData::default(),
        created_at,
        completed_at: None,
    }
}

/// Creates a running run of `agent`.
pub async fn run_for(store: &dyn Store, agent: AgentId) -> RunId {
    let run = run_record(agent, mneme_types::time::now());
    store.create_run(run).await.unwrap().id
}

/// A step of `agent` in `run` that appends `messages` to the context the agent was read with.
pub fn commit(agent: &Agent, run: RunId, messages: Vec<Message>) -> StepCommit {
    let mut message_ids = agent.message_ids.clone();
    message_ids.extend(messages.iter().map(|m| m.id));
    StepCommit {
        conversation_id: None,
        agent_id: agent.id,
        run_id: run,
        step: Some(step(agent.id, run)),
        timings: None,
        messages,
        message_ids,
        message_ids_version: agent.message_ids_version,
        block_changes: vec![],
        system_text: None,
        passages: vec![],
        file_changes: Vec::new(),
        trace: None,
        created_at: mneme_types::time::now(),
    }
}

/// Commits a step appending `messages` to the agent's stored context; returns the agent after.
pub async fn append(store: &dyn Store, agent: AgentId, messages: Vec<Message>) -> Agent {
    let current = store.get_agent(agent).await.unwrap();
    let run = run_for(store, agent).await;
    store
        .commit_step(commit(&current, run, messages))
        .await
        .unwrap();
    store.get_agent(agent).await.unwrap()
}

/// A new conversation of `agent`: its system message, the copies of agent blocks it isolates
/// and the messages it inherits (a fork), its context `[system] + inherited`.
pub fn new_conversation(
    agent: AgentId,
    isolated: Vec<Block>,
    inherited: Vec<MessageId>,
) -> NewConversation {
    let now = mneme_types::time::now();
    let system = message(agent, Role::System, "conversation system");
    let mut message_ids = vec![system.id];
    message_ids.extend(&inherited);
    NewConversation {
        conversation: ConversationRecord {
            id: ConversationId::new(),
            agent_id: agent,
            summary: None,
            model: None,
            model_settings: None,
            message_ids,
            message_ids_version: 0,
            isolated_block_ids: isolated.iter().map(|b| b.id).collect(),
            last_message_at: None,
            created_at: now,
            updated_at: now,
        },
        system,
        isolated_blocks: isolated,
        inherited,
    }
}

/// Creates a conversation of `agent` that isolates no block and inherits no message.
pub async fn conversation(store: &dyn Store, agent: AgentId) -> ConversationRecord {
    let new = new_conversation(agent, vec![], vec![]);
    store.create_conversation(new).await.unwrap()
}

/// A step of a conversation's turn, in `run`, appending `messages` to the conversation's
/// context as `frame` (its `conversation_frame`) read it.
pub fn conversation_commit(
    frame: &crate::AgentFrame,
    run: RunId,
    messages: Vec<Message>,
) -> StepCommit {
    StepCommit {
        conversation_id: frame.conversation,
        ..commit(&frame.agent, run, messages)
    }
}

/// Commits a step appending `messages` to the conversation's stored context, in a run of the
/// conversation; returns the conversation after.
pub async fn say(
    store: &dyn Store,
    conversation: ConversationId,
    messages: Vec<Message>,
) -> ConversationRecord {
    let frame = store.conversation_frame(conversation).await.unwrap();
    let run = RunRecord {
        conversation_id: Some(conversation),
        ..run_record(frame.agent.id, mneme_types::time::now())
    };
    let run = store.create_run(run).await.unwrap().id;
    let step = conversation_commit(&frame, run, messages);
    store.commit_step(step).await.unwrap();
    store.get_conversation(conversation).await.unwrap()
}

pub fn archive(name: &str) -> Archive {
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

pub fn passage(archive: ArchiveId, text: &str, tags: &[&str], vector: Option<Vec<f32>>) -> Passage {
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

/// A tool of `tool_type` named `name`.
pub fn tool(name: &str, tool_type: &str) -> Tool {
    serde_json::from_value(json!({
        "id": ToolId::new(), "tool_type": tool_type, "name": name,
        "description": format!("{name} does things"), "source_type": "python",
        "source_code": null,
        "json_schema": {"name": name, "parameters": {"type": "object", "properties": {}}},
        "args_json_schema": null, "tags": [], "return_char_limit": 50000,
        "pip_requirements": null, "npm_requirements": null, "default_requires_approval": null,
        "enable_parallel_execution": false, "created_by_id": null, "last_updated_by_id": null,
        "metadata_": null, "project_id": null,
    }))
    .unwrap()
}

/// A stdio MCP server named `name`.
pub fn server(name: &str) -> McpServer {
    serde_json::from_value(json!({
        "mcp_server_type": "stdio", "command": "python", "args": ["s.py"], "env": null,
        "id": McpServerId::new(), "server_name": name,
    }))
    .unwrap()
}

/// A page of `limit` in `order`, without cursors.
pub fn page(limit: u32, order: Order) -> Page {
    Page {
        limit,
        order,
        ..Page::default()
    }
}

/// The same page after (`Some(true)`) or before (`Some(false)`) the item `cursor`.
pub fn cursor(mut page: Page, cursor: impl ToString, after: bool) -> Page {
    if after {
        page.after = Some(cursor.to_string());
    } else {
        page.before = Some(cursor.to_string());
    }
    page
}

/// Panics unless `result` is `NotFound`.
#[track_caller]
pub fn assert_not_found<T: Debug>(result: Result<T>) {
    match result {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// Panics unless `result` is a `Conflict`.
#[track_caller]
pub fn assert_conflict<T: Debug>(result: Result<T>) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

/// Panics unless `result` is the `Invalid` an edit closure refused with.
#[track_caller]
pub fn assert_invalid<T: Debug>(result: Result<T>) {
    match result {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// An edit's refusal.
pub fn refused() -> StoreError {
    StoreError::Invalid("refused".into())
}

/// The ids of `items`, to compare listings.
pub fn ids<T, I>(items: &[T], id: impl Fn(&T) -> I) -> Vec<I> {
    items.iter().map(id).collect()
}

/// Lets the clock move on, for rows the store stamps itself and lists by that stamp.
pub async fn pause() {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
}

/// A default value changed by `f`: filters in one line.
pub fn with<T: Default>(f: impl FnOnce(&mut T)) -> T {
    let mut value = T::default();
    f(&mut value);
    value
}

/// The step filter of one run's steps.
pub fn steps_of(run: RunId) -> crate::StepFilter {
    crate::StepFilter {
        run: Some(run),
        ..crate::StepFilter::default()
    }
}
