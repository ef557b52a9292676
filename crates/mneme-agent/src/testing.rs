//! Test support: a scripted in-process `LlmClient` that records what it was asked, stand-ins
//! for search and MCP, and a `Harness` running real turns over SQLite in a temporary directory,
//! so the step loop is tested without a server or a network.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mneme_llm::{ChatDelta, ChatRequest, ChatResponse, ChatStream, LlmClient, LlmError, ToolCall};
use mneme_store::{Agent, AgentContext, Message, NewAgent, Passage, Role, Store};
use mneme_store_sqlite::{Durability, SqliteStore};
use mneme_types::{AgentId, AgentType, Block, LlmConfig, Tool};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::recall::{ArchivalQuery, Found, MemorySearch, RecallQuery};
use crate::tools::{ToolOutcome, builtin_tools};
use crate::{LazySandbox, McpTools, Runtime, TurnInput, TurnOutput, compile_system_message};

/// One scripted model answer.
pub(crate) enum Scripted {
    Reply(ChatResponse),
    Fail(LlmError),
    /// A streamed answer, piece by piece (a non-streaming call gets it assembled).
    Deltas(Vec<Result<ChatDelta, LlmError>>),
    /// A call that never answers (cancellation tests).
    Hang,
    /// Another writer sets a block's value while the model thinks, then this answer comes.
    EditedMeanwhile {
        store: Arc<dyn Store>,
        block: mneme_types::BlockId,
        value: String,
        reply: ChatResponse,
    },
}

/// An `LlmClient` answering from a queue and recording every request.
#[derive(Default)]
pub(crate) struct ScriptedLlm {
    queue: Mutex<VecDeque<Scripted>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl ScriptedLlm {
    pub(crate) fn push(&self, answer: Scripted) {
        self.queue.lock().unwrap().push_back(answer);
    }

    /// Queues a plain text answer.
    pub(crate) fn text(&self, text: &str) {
        self.push(Scripted::Reply(text_reply(text)));
    }

    /// Queues an answer calling `name` with `args`.
    pub(crate) fn call(&self, name: &str, args: Value) {
        self.push(Scripted::Reply(calls_reply(&[(name, args)])));
    }

    pub(crate) fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().clone()
    }

    fn next(&self, request: &ChatRequest) -> Scripted {
        self.requests.lock().unwrap().push(request.clone());
        let next = self.queue.lock().unwrap().pop_front();
        next.unwrap_or_else(|| {
            Scripted::Fail(LlmError::BadRequest("the script has no answer left".into()))
        })
    }
}

#[async_trait]
impl LlmClient for ScriptedLlm {
    async fn chat(&self, _: &LlmConfig, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        match self.answer(request).await {
            Scripted::Reply(r) | Scripted::EditedMeanwhile { reply: r, .. } => Ok(r),
            Scripted::Fail(e) => Err(e),
            Scripted::Deltas(deltas) => {
                let stream: ChatStream = Box::pin(futures_util::stream::iter(deltas));
                mneme_llm::collect_stream(stream).await
            }
            Scripted::Hang => std::future::pending().await,
        }
    }

    async fn chat_stream(
        &self,
        _: &LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatStream, LlmError> {
        let deltas = match self.answer(request).await {
            Scripted::Reply(r) | Scripted::EditedMeanwhile { reply: r, .. } => {
                deltas_of(r).into_iter().map(Ok).collect()
            }
            Scripted::Fail(e) => return Err(e),
            Scripted::Deltas(deltas) => deltas,
            Scripted::Hang => return Ok(Box::pin(futures_util::stream::pending())),
        };
        Ok(Box::pin(futures_util::stream::iter(deltas)))
    }

    /// The scripted model's wire form is the request itself.
    fn request_body(&self, _: &LlmConfig, request: &ChatRequest) -> Result<Value, LlmError> {
        serde_json::to_value(request).map_err(|e| LlmError::InvalidResponse(e.to_string()))
    }
}

impl ScriptedLlm {
    /// The next scripted answer, after the other writer's edit it may stand for.
    async fn answer(&self, request: &ChatRequest) -> Scripted {
        let next = self.next(request);
        if let Scripted::EditedMeanwhile {
            store,
            block,
            value,
            ..
        } = &next
        {
            let value = value.clone();
            let edit = Box::new(move |b: &mut Block| {
                b.value = value;
                Ok(())
            });
            store.update_block(*block, edit).await.unwrap();
        }
        next
    }
}

pub(crate) fn text_reply(text: &str) -> ChatResponse {
    ChatResponse {
        content: Some(text.into()),
        ..ChatResponse::default()
    }
}

/// An answer calling each `(name, args)`, with ids `call-0`, `call-1`, ...
pub(crate) fn calls_reply(calls: &[(&str, Value)]) -> ChatResponse {
    ChatResponse {
        tool_calls: calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| ToolCall {
                id: format!("call-{i}"),
                name: (*name).into(),
                arguments: args.to_string(),
            })
            .collect(),
        ..ChatResponse::default()
    }
}

/// A whole answer as the deltas a provider would stream.
fn deltas_of(r: ChatResponse) -> Vec<ChatDelta> {
    let mut out: Vec<ChatDelta> = r
        .reasoning_text()
        .into_iter()
        .map(ChatDelta::Reasoning)
        .collect();
    out.extend(r.content.map(ChatDelta::Content));
    out.extend(
        r.tool_calls
            .into_iter()
            .enumerate()
            .map(|(index, c)| ChatDelta::ToolCall {
                index,
                id: Some(c.id),
                name: Some(c.name),
                arguments: c.arguments,
            }),
    );
    out.push(ChatDelta::Done {
        finish_reason: r.finish_reason,
        usage: r.usage,
    });
    out
}

/// Search that finds nothing and cannot insert: the loop tests do not exercise ranking.
pub(crate) struct NoSearch;

#[async_trait]
impl MemorySearch for NoSearch {
    async fn new_passage(&self, _: &Agent, _: String, _: Vec<String>) -> Result<Passage, String> {
        Err("no archival memory in this test".into())
    }
    async fn archival(&self, _: &Agent, _: ArchivalQuery) -> Result<Vec<Found<Passage>>, String> {
        Ok(Vec::new())
    }
    async fn recall(&self, _: &Agent, _: RecallQuery) -> Result<Vec<Found<Message>>, String> {
        Ok(Vec::new())
    }
}

/// MCP that is never reachable.
pub(crate) struct NoMcp;

#[async_trait]
impl McpTools for NoMcp {
    async fn call(&self, tool: &Tool, _: Map<String, Value>) -> ToolOutcome {
        ToolOutcome::failed(format!("no MCP server for {}", tool.name))
    }
}

/// An agent of a test: its type, built-in tools by name, tool rules as JSON.
pub(crate) struct AgentSpec {
    pub agent_type: AgentType,
    pub tools: &'static [&'static str],
    pub rules: Value,
    pub parallel: bool,
    /// The stored `response_format`.
    pub response_format: Option<Value>,
    /// The model's endpoint type (`openai` unless a test needs another family).
    pub endpoint: &'static str,
}

impl Default for AgentSpec {
    fn default() -> AgentSpec {
        AgentSpec {
            agent_type: AgentType::LettaV1Agent,
            tools: &["memory_insert", "memory_replace", "conversation_search"],
            rules: json!([]),
            parallel: false,
            response_format: None,
            endpoint: "openai",
        }
    }
}

/// A real store in a temporary directory, the scripted model and a runtime over both.
pub(crate) struct Harness {
    pub store: Arc<dyn Store>,
    pub llm: Arc<ScriptedLlm>,
    pub runtime: Runtime,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub(crate) async fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("t.db"), Durability::Normal).unwrap());
        store.upsert_tools(builtin_tools()).await.unwrap();
        let llm = Arc::new(ScriptedLlm::default());
        let sandbox = Arc::new(LazySandbox::new(mneme_tools::SandboxOptions::default()));
        let runtime = Runtime::new(
            store.clone(),
            llm.clone(),
            sandbox,
            Arc::new(NoMcp),
            Arc::new(NoSearch),
        );
        Harness {
            store,
            llm,
            runtime,
            _dir: dir,
        }
    }

    /// Creates an agent with a `human` and a `persona` block and its compiled system message.
    pub(crate) async fn agent(&self, spec: AgentSpec) -> AgentId {
        let names: Vec<String> = spec.tools.iter().map(|n| (*n).to_owned()).collect();
        let tools = self.store.tools_by_name(&names).await.unwrap();
        assert_eq!(tools.len(), names.len(), "unknown built-in tool");
        let mut agent = agent(spec.agent_type);
        agent.llm_config.parallel_tool_calls = Some(spec.parallel);
        agent.llm_config.model_endpoint_type = spec.endpoint.into();
        agent.settings.response_format = spec.response_format;
        agent.tool_rules = Some(serde_json::from_value(spec.rules).unwrap());
        let blocks = vec![block("human", "Name: Ada"), block("persona", "I help.")];
        let stats = crate::MemoryStats::default();
        let system = compile_system_message(
            &agent,
            &blocks,
            &Default::default(),
            stats,
            chrono::Utc::now(),
        );
        let mut message = Message::new(agent.id, Role::System, system, agent.created_at);
        message.id = agent.message_ids[0];
        let id = agent.id;
        self.store
            .create_agent(NewAgent {
                agent,
                new_blocks: blocks,
                existing_blocks: Vec::new(),
                tools: tools.iter().map(|t| t.id).collect(),
                messages: vec![message],
                folders: Vec::new(),
            })
            .await
            .unwrap();
        id
    }

    /// A turn's input: one user message, a run record, ten steps at most.
    pub(crate) async fn input(&self, agent: AgentId, text: &str) -> TurnInput {
        let run = mneme_store::conformance::run_record(agent, mneme_types::time::now());
        let run = self.store.create_run(run).await.unwrap();
        TurnInput {
            agent_id: agent,
            conversation_id: None,
            run_id: run.id,
            inputs: vec![Message::new(
                agent,
                Role::User,
                text,
                mneme_types::time::now(),
            )],
            max_steps: 10,
            cancel: CancellationToken::new(),
            events: None,
            stream_tokens: false,
            approval: None,
            client_tools: Vec::new(),
            llm_config: None,
            compaction: crate::CompactionOptions::default(),
            system: crate::SystemOverrides::default(),
            group_id: None,
        }
    }

    pub(crate) async fn run(&self, input: TurnInput) -> TurnOutput {
        self.runtime.run_turn(input).await.unwrap()
    }

    /// The agent's in-context messages after the system message, as stored.
    pub(crate) async fn context(&self, agent: AgentId) -> Vec<Message> {
        let ctx = self.store.agent_context(agent).await.unwrap();
        ctx.messages.into_iter().skip(1).collect()
    }
}

/// A minimal agent context with no tools, blocks or messages (pure tests).
pub(crate) fn context() -> AgentContext {
    AgentContext {
        conversation: None,
        agent: agent(AgentType::LettaV1Agent),
        blocks: Vec::new(),
        tools: Vec::new(),
        messages: Vec::new(),
        message_count: 0,
        passage_count: 0,
        files: Default::default(),
    }
}

fn agent(agent_type: AgentType) -> Agent {
    let mut agent = mneme_store::conformance::new_agent("loop-test", vec![]).agent;
    agent.agent_type = agent_type;
    agent.system = crate::default_system_prompt(agent_type).into();
    agent.llm_config.model = "scripted".into();
    agent.llm_config.context_window = 100_000;
    agent.tags.clear();
    agent
}

fn block(label: &str, value: &str) -> Block {
    let mut block = mneme_store::conformance::block(label, value);
    block.limit = 5000;
    block
}
