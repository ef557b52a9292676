//! The step loop: one request's turn of an agent. Each step calls the model once, runs the tools
//! it asked for, and commits everything it produced in one transaction before the next step.

use std::sync::Arc;
use std::time::Instant;

use crate::LazySandbox;
use crate::mcp::McpTools;
use crate::recall::MemorySearch;
use chrono::Utc;
use mneme_llm::{ChatDelta, ChatRequest, ChatResponse, LlmClient, LlmError};
use mneme_store::{AgentContext, Message, Role, Store, StoreError};
use mneme_types::{
    AgentId, ConversationId, LlmConfig, MessageId, RunId, StepId, StopReason, Thread,
    UsageStatistics,
};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::approval::ApprovalAnswer;
use crate::client::{CLIENT_TOOL_TYPE, ClientTool, ClientTools, add_client_tools};
use crate::compaction::{Compacted, CompactionOptions, CompactionStart, DEFAULT_THRESHOLD};
use crate::context::{Flavor, build_request};
use crate::context_cache::{CachedContext, ContextCache};
use crate::executor::{ToolExecutor, ToolRegistry};
use crate::mcp::{MCP_TOOL_TYPE, McpExecutor};
use crate::overrides::SystemOverrides;
use crate::run_code::{RUN_CODE, RUN_CODE_TOOL_TYPE, RunCode};
use crate::sandbox::{PYTHON_TOOL_TYPE, PythonTools, SandboxConfigs};
use crate::step::{CallPlan, StepOutcome, StepPlan, StepView, conclude, decide};
use crate::system::{MemoryStats, compile_system_message, is_current};
use crate::tokens::ContextTokens;
use crate::tool_rules::{Allowed, Solver};
use crate::tools::{BUILTIN_TOOL_TYPES, BuiltinTools, ToolOutcome, WorkingMemory};
use clock::StepClock;

mod answer;
mod clock;
mod commit;
mod compact;
mod model;
mod preview;

pub use compact::Summarized;
pub use preview::PreviewInput;

/// Compactions after a provider's "context length exceeded", each followed by another try of
/// the step, before the step fails.
const OVERFLOW_RETRIES: u32 = 2;

/// What a turn needs to run.
pub struct TurnInput {
    pub agent_id: AgentId,
    /// The conversation the turn runs in; `None` for the agent's default one.
    pub conversation_id: Option<ConversationId>,
    pub run_id: RunId,
    /// The caller's messages, not stored yet: they are written with the first step.
    pub inputs: Vec<Message>,
    pub max_steps: u32,
    /// Stops the turn at the next step boundary, or during a model call (whose step is then
    /// not stored).
    pub cancel: CancellationToken,
    /// Where progress goes while the turn runs (streaming); `None` for blocking callers.
    pub events: Option<UnboundedSender<TurnEvent>>,
    /// Forward the model's answer token by token (`ChatDelta`s) rather than per step.
    pub stream_tokens: bool,
    /// An answer to the agent's pending approval request, handled before any model call.
    pub approval: Option<ApprovalAnswer>,
    /// Tools the caller runs itself (`client_tools`): offered to the model for this request,
    /// and a call to one stops the turn for the caller's tool return, as an approval does.
    pub client_tools: Vec<ClientTool>,
    /// The model of this request only (`override_model`), in place of the agent's.
    pub llm_config: Option<mneme_types::LlmConfig>,
    /// The summarizer model and whether compactions are shown.
    pub compaction: CompactionOptions,
    /// This request's changes to the system prompt it sends (`override_system`,
    /// `client_skills`); never stored.
    pub system: SystemOverrides,
    /// The group the turn runs for (a group message, a sleep-time companion's run): every
    /// message it stores names it.
    pub group_id: Option<mneme_types::GroupId>,
}

/// Progress of a running turn.
#[derive(Debug, Clone)]
pub enum TurnEvent {
    /// A piece of the current step's model answer; `message_id` is the id the assistant message
    /// will be stored under.
    Delta {
        step_id: StepId,
        message_id: MessageId,
        delta: ChatDelta,
    },
    /// A step was committed; its new messages (not the request's inputs), in order. A step
    /// whose calls leave the process reports twice: its model answer, stored before the calls
    /// run, then the rest.
    StepCommitted { messages: Vec<Message> },
    /// A compaction starts (Letta's `event_message`).
    CompactionStarted(CompactionStart),
    /// A compaction is stored: its summary message is in the context.
    Compacted(Box<Compacted>),
}

/// What a turn did.
#[derive(Debug)]
pub struct TurnOutput {
    /// Messages the agent produced (not the inputs), in order; compaction summaries included.
    pub messages: Vec<Message>,
    /// The compactions of the turn (their summaries are among `messages`).
    pub compactions: Vec<Compacted>,
    pub stop_reason: StopReason,
    pub usage: UsageStatistics,
    /// The model error that ended the turn, when one did.
    pub error: Option<LlmError>,
    /// When the turn's first model answer began to arrive (its first streamed chunk, else the
    /// whole answer): the run's time to first token counts to it. `None` without an answer.
    pub first_chunk_at: Option<Instant>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("agent {0} has no system message")]
    NoSystemMessage(AgentId),
    /// The request does not fit the agent's state (an approval answer with nothing pending,
    /// or for other calls).
    #[error("{0}")]
    BadRequest(String),
    /// A model call outside a turn failed (the summarizer of the summarize route).
    #[error(transparent)]
    Llm(LlmError),
}

/// Runs turns: holds the store, the model client and the tool executors.
#[derive(Clone)]
pub struct Runtime {
    store: Arc<dyn Store>,
    llm: Arc<dyn LlmClient>,
    tools: Arc<ToolRegistry>,
    contexts: Arc<ContextCache>,
    /// Compact when a call's context passes this share of the window.
    threshold: f64,
    /// Store each step's provider exchange with it (telemetry).
    traces: bool,
}

/// State carried from step to step within a turn.
struct Turn {
    ctx: AgentContext,
    flavor: Flavor,
    memory: WorkingMemory,
    solver: Solver,
    /// The system prompt sent to the model: the stored one with the request's overrides,
    /// frozen for the whole request (until a compaction rebuilds it) as in Letta, so that
    /// provider prompt caches stay warm; edits reach the model through tool returns.
    system_text: String,
    pending_inputs: Vec<Message>,
    produced: Vec<Message>,
    usage: UsageStatistics,
    messages_total: u64,
    /// Token counts of the context, kept from step to step.
    tokens: ContextTokens,
    /// The first message of this request (where its turn starts in the context, once stored).
    first_input: Option<MessageId>,
    compactions: Vec<Compacted>,
    /// When the first model answer of the turn began to arrive.
    first_chunk_at: Option<Instant>,
}

/// How a step ended.
enum Next {
    Continue,
    Stop(StopReason),
    /// The model call failed; nothing of the step was stored.
    Failed(LlmError),
}

impl Runtime {
    pub fn new(
        store: Arc<dyn Store>,
        llm: Arc<dyn LlmClient>,
        sandbox: Arc<LazySandbox>,
        mcp: Arc<dyn McpTools>,
        search: Arc<dyn MemorySearch>,
    ) -> Runtime {
        let mut tools = ToolRegistry::default();
        let builtin: Arc<dyn ToolExecutor> = Arc::new(BuiltinTools::new(search));
        for tool_type in BUILTIN_TOOL_TYPES {
            tools.register(tool_type, builtin.clone());
        }
        tools.register(
            PYTHON_TOOL_TYPE,
            Arc::new(PythonTools::new(sandbox.clone(), None)),
        );
        let run_code = Arc::new(RunCode::new(sandbox, None));
        tools.register_named(RUN_CODE_TOOL_TYPE, RUN_CODE, run_code);
        tools.register(MCP_TOOL_TYPE, Arc::new(McpExecutor::new(mcp)));
        tools.register(CLIENT_TOOL_TYPE, Arc::new(ClientTools));
        Runtime {
            store,
            llm,
            tools: Arc::new(tools),
            contexts: Arc::new(ContextCache::default()),
            threshold: DEFAULT_THRESHOLD,
            traces: true,
        }
    }

    /// Whether each step's provider request and response are stored with it (default: yes).
    pub fn with_traces(mut self, traces: bool) -> Runtime {
        self.traces = traces;
        self
    }

    /// Compacts when a call's context passes `threshold` of the window (Letta: 0.9).
    pub fn with_compaction_threshold(mut self, threshold: f64) -> Runtime {
        self.threshold = threshold;
        self
    }

    /// Runs users' Python tools and `run_code` under the server's sandbox configurations.
    pub fn with_sandbox_configs(
        self,
        sandbox: Arc<LazySandbox>,
        configs: Arc<dyn SandboxConfigs>,
    ) -> Runtime {
        let python = PythonTools::new(sandbox.clone(), Some(configs.clone()));
        let run_code = RunCode::new(sandbox, Some(configs));
        self.with_executor(PYTHON_TOOL_TYPE, Arc::new(python))
            .with_named_executor(RUN_CODE_TOOL_TYPE, RUN_CODE, Arc::new(run_code))
    }

    /// Routes the tool `name` of `tool_type` to `executor`, before the type's own executor
    /// (tools of one type that run on different executors).
    pub fn with_named_executor(
        mut self,
        tool_type: &str,
        name: &str,
        executor: Arc<dyn ToolExecutor>,
    ) -> Runtime {
        Arc::make_mut(&mut self.tools).register_named(tool_type, name, executor);
        self
    }

    /// Routes tools of `tool_type` to `executor`, replacing the one registered before.
    pub fn with_executor(mut self, tool_type: &str, executor: Arc<dyn ToolExecutor>) -> Runtime {
        Arc::make_mut(&mut self.tools).register(tool_type, executor);
        self
    }

    /// Runs the agent's attached tool `name` once, outside any turn (`POST
    /// /v1/agents/{id}/tools/{name}/run`). Nothing is stored: the outcome says whether the
    /// tool would have changed memory, and the caller decides what that means.
    pub async fn run_tool(
        &self,
        agent: mneme_types::AgentId,
        name: &str,
        args: serde_json::Value,
    ) -> Result<ToolOutcome, AgentError> {
        let ctx = self.store.agent_context(agent).await?;
        let mut memory = WorkingMemory::new(ctx.blocks.clone()).with_files(ctx.files.clone());
        let args = crate::tools::Args::new(args);
        Ok(self
            .tools
            .run(&ctx, &mut memory, ("direct-run", name), &args)
            .await)
    }

    /// One model call outside any agent (`POST /v1/tools/generate-tool`), through the same
    /// provider-neutral client turns use.
    pub async fn complete(
        &self,
        config: &mneme_types::LlmConfig,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        self.llm.chat(config, request).await
    }

    /// Runs one turn to its stop reason. Model failures end the turn with a stop reason and the
    /// error; steps completed before stay committed. Only storage failures are errors here.
    pub async fn run_turn(&self, input: TurnInput) -> Result<TurnOutput, AgentError> {
        let mut turn = self.start(&input).await?;
        if let Some(answer) = input.approval.clone() {
            self.answer_approval(&mut turn, &input, answer).await?;
        }
        let (stop, error) = self.steps(&mut turn, &input).await?;
        self.keep_context(&mut turn);
        Ok(TurnOutput {
            messages: turn.produced,
            compactions: turn.compactions,
            stop_reason: stop,
            usage: turn.usage,
            error,
            first_chunk_at: turn.first_chunk_at,
        })
    }

    /// Steps until one stops the turn or `max_steps` ran.
    async fn steps(
        &self,
        turn: &mut Turn,
        input: &TurnInput,
    ) -> Result<(StopReason, Option<LlmError>), AgentError> {
        let mut stop = None;
        let mut error = None;
        for _ in 0..input.max_steps.max(1) {
            if input.cancel.is_cancelled() {
                stop = Some(StopReason::Cancelled);
                break;
            }
            match self.step(turn, input, StepId::new()).await? {
                Next::Continue => {}
                Next::Stop(reason) => {
                    stop = Some(reason);
                    break;
                }
                Next::Failed(e) => {
                    stop = Some(llm_stop_reason(&e));
                    error = Some(e);
                    break;
                }
            }
        }
        Ok((stop.unwrap_or(StopReason::MaxSteps), error))
    }

    /// One step: a model call, the decision on its answer, the calls, one commit; compactions
    /// before the call, after the commit, or when the provider finds the context too long.
    #[tracing::instrument(skip_all, fields(agent_id = %input.agent_id, run_id = %input.run_id, step_id = %step_id))]
    async fn step(
        &self,
        turn: &mut Turn,
        input: &TurnInput,
        step_id: StepId,
    ) -> Result<Next, AgentError> {
        let mut clock = StepClock::start();
        let assistant_id = MessageId::new();
        let allowed = turn.allowed();
        let ids = (step_id, assistant_id);
        let answered = self.answer(turn, input, &allowed, ids, &mut clock).await?;
        let (request, response) = match answered {
            Ok(answer) => answer,
            Err(next) => return Ok(next),
        };
        let outcome = self
            .handle(turn, input, (&allowed, ids), &response, &mut clock)
            .await?;
        let timings = clock.timings(true);
        self.commit(turn, input, (step_id, &response), &outcome, timings)
            .await?;
        emit(
            input,
            TurnEvent::StepCommitted {
                messages: outcome.messages.clone(),
            },
        );
        let call = compact::Call {
            input,
            request: &request,
            step_id,
        };
        if let Some(next) = self.after_step(turn, &call, &response).await? {
            return Ok(next);
        }
        Ok(if outcome.continues {
            Next::Continue
        } else {
            Next::Stop(outcome.stop_reason.unwrap_or(StopReason::EndTurn))
        })
    }

    /// The model's answer to the step's request (and the request), built again after each
    /// compaction: one before the call when the context is over the threshold, one after each
    /// "context length exceeded" (up to `OVERFLOW_RETRIES`). `Err` is how the step ends
    /// instead, with nothing of it stored.
    async fn answer(
        &self,
        turn: &mut Turn,
        input: &TurnInput,
        allowed: &Allowed,
        (step_id, assistant_id): (StepId, MessageId),
        clock: &mut StepClock,
    ) -> Result<Result<(ChatRequest, ChatResponse), Next>, AgentError> {
        let (mut checked, mut overflows) = (false, 0);
        loop {
            let request = turn.request(allowed);
            let call = compact::Call {
                input,
                request: &request,
                step_id,
            };
            if !std::mem::replace(&mut checked, true) {
                match self.fit(turn, &call).await? {
                    compact::Outcome::Done => continue,
                    compact::Outcome::Unchanged => {}
                    compact::Outcome::Stop(next) => return Ok(Err(next)),
                }
            }
            let started = Instant::now();
            let called = self
                .call_model(turn, input, &request, (step_id, assistant_id))
                .await;
            match called {
                Ok(Some(answered)) => {
                    clock.model_answered(started);
                    record_model_call(turn, started, &answered.response);
                    turn.first_chunk_at.get_or_insert(answered.first_chunk_at);
                    return Ok(Ok((request, answered.response)));
                }
                Ok(None) => return Ok(Err(Next::Stop(StopReason::Cancelled))),
                // The provider counts better than we do: make room and try again.
                Err(LlmError::ContextWindowExceeded(why)) if overflows < OVERFLOW_RETRIES => {
                    overflows += 1;
                    tracing::info!(%why, "the provider found the context too long");
                    let outcome = self.make_room(turn, &call).await?;
                    if let compact::Outcome::Stop(next) = outcome {
                        return Ok(Err(next));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "model call failed");
                    return Ok(Err(Next::Failed(e)));
                }
            }
        }
    }

    /// Decides what the answer does, runs the calls it asks for (timed on `clock`), and
    /// concludes.
    async fn handle(
        &self,
        turn: &mut Turn,
        input: &TurnInput,
        (allowed, (step_id, message_id)): (&Allowed, (StepId, MessageId)),
        response: &ChatResponse,
        clock: &mut StepClock,
    ) -> Result<StepOutcome, AgentError> {
        let view = StepView {
            agent: turn.ctx.agent.id,
            flavor: turn.flavor,
            parallel: turn.ctx.agent.llm_config.parallel_tool_calls == Some(true),
            tools: &turn.ctx.tools,
            allowed,
            step: (step_id, input.run_id),
            message_id,
            model: &turn.ctx.agent.llm_config.model,
        };
        match decide(&view, &turn.solver, response) {
            StepPlan::Done(outcome) => Ok(outcome),
            StepPlan::Run(mut plan) => {
                if self.stores_answer_first(&plan, &turn.ctx) {
                    let answer = plan.answer();
                    let committed = [answer.clone()];
                    let timings = clock.timings(false);
                    self.commit_answer(turn, input, (step_id, response), answer, timings)
                        .await?;
                    emit(
                        input,
                        TurnEvent::StepCommitted {
                            messages: committed.to_vec(),
                        },
                    );
                }
                let started = Instant::now();
                let outcomes = self.run_calls(&plan, &turn.ctx, &mut turn.memory).await;
                clock.tools_ran(started);
                Ok(conclude(*plan, &mut turn.solver, outcomes))
            }
        }
    }

    /// Whether the model's answer is committed before its calls run: when one of them runs on
    /// an executor that leaves the process or may take long, so that a crash meanwhile loses
    /// neither the request's input nor the answer (the next turn answers the calls with error
    /// returns). Built-ins alone keep one commit per step.
    fn stores_answer_first(&self, plan: &CallPlan, ctx: &AgentContext) -> bool {
        plan.calls
            .iter()
            .any(|call| call.refused.is_none() && self.tools.durable(ctx, &call.name))
    }

    /// Runs the planned calls in order; a refused call returns its refusal without running.
    async fn run_calls(
        &self,
        plan: &CallPlan,
        ctx: &AgentContext,
        memory: &mut WorkingMemory,
    ) -> Vec<ToolOutcome> {
        let mut outcomes = Vec::with_capacity(plan.calls.len());
        for call in &plan.calls {
            outcomes.push(match &call.refused {
                Some(refusal) => ToolOutcome::failed(refusal.clone()),
                None => {
                    let id = (call.id.as_str(), call.name.as_str());
                    self.tools.run(ctx, memory, id, &call.args).await
                }
            });
        }
        outcomes
    }

    /// The agent's context: its frame from the store, its in-context messages from the cache
    /// when the store says they are unchanged, else from the store.
    async fn load_context(
        &self,
        thread: Thread,
    ) -> Result<(AgentContext, ContextTokens), AgentError> {
        let frame = crate::thread_frame(&*self.store, thread).await?;
        let cached = self
            .contexts
            .take(thread)
            .and_then(|c| c.valid_for(&frame.agent));
        let (messages, tokens) = match cached {
            Some(kept) => kept,
            None => {
                let messages = self.store.messages_by_ids(&frame.agent.message_ids).await?;
                (messages, ContextTokens::new())
            }
        };
        Ok((frame.with_messages(messages), tokens))
    }

    /// Keeps what the turn committed, with its token counts, for the agent's next turn.
    /// Autoclear agents hold only their system message in the store, not what the turn saw.
    fn keep_context(&self, turn: &mut Turn) {
        if turn.ctx.agent.settings.message_buffer_autoclear {
            return;
        }
        let messages = std::mem::take(&mut turn.ctx.messages);
        let tokens = std::mem::take(&mut turn.tokens);
        let entry = CachedContext::new(&turn.ctx.agent, messages, tokens);
        let thread = Thread {
            agent: turn.ctx.agent.id,
            conversation: turn.ctx.conversation,
        };
        self.contexts.put(thread, entry);
    }

    async fn start(&self, input: &TurnInput) -> Result<Turn, AgentError> {
        let first_input = input
            .inputs
            .first()
            .or(input.approval.as_ref().map(|a| &a.message))
            .map(|m| m.id);
        let opening = Opening {
            thread: Thread {
                agent: input.agent_id,
                conversation: input.conversation_id,
            },
            inputs: &input.inputs,
            client_tools: &input.client_tools,
            llm_config: input.llm_config.as_ref(),
            system: &input.system,
            first_input,
            writes: Writes::Store {
                run: input.run_id,
                answering: input.approval.is_some(),
            },
        };
        self.open(opening).await
    }

    /// A turn's state before its first model call: the agent's context, repaired, with its
    /// system prompt and the tools the request offers. A turn stores what it repairs; a
    /// preview keeps it in memory and changes nothing.
    async fn open(&self, opening: Opening<'_>) -> Result<Turn, AgentError> {
        let (mut ctx, mut tokens) = self.load_context(opening.thread).await?;
        let store = &*self.store;
        match opening.writes {
            // Self-healing: whatever a crash (or another cause) left that would fail this
            // turn's model request is repaired, and stored, first.
            Writes::Store { run, answering } => {
                crate::repair::heal(store, &mut ctx, answering, run).await?
            }
            Writes::InMemory => {
                // What was taken from the cache goes back as it was (with its counts: a
                // preview counts nothing).
                let counts = std::mem::take(&mut tokens);
                let kept = CachedContext::new(&ctx.agent, ctx.messages.clone(), counts);
                self.contexts.restore(opening.thread, kept);
                crate::repair::heal_in_memory(store, &mut ctx).await?
            }
        }
        if let Some(config) = opening.llm_config {
            ctx.agent.llm_config = config.clone();
        }
        let stored_system = self.system_text(&mut ctx, opening.writes).await?;
        if ctx.agent.settings.message_buffer_autoclear {
            ctx.messages.truncate(1);
            ctx.agent.message_ids.truncate(1);
        }
        let mut rules = crate::system::tool_rules(&ctx.agent);
        add_client_tools(&mut ctx, &mut rules, opening.client_tools);
        Ok(Turn {
            flavor: Flavor::of(ctx.agent.agent_type),
            memory: WorkingMemory::new(ctx.blocks.clone()).with_files(ctx.files.clone()),
            solver: Solver::new(rules),
            system_text: opening.system.request_text(&stored_system, &ctx.blocks),
            pending_inputs: opening.inputs.to_vec(),
            produced: Vec::new(),
            usage: UsageStatistics::default(),
            messages_total: ctx.message_count,
            tokens,
            first_input: opening.first_input,
            compactions: Vec::new(),
            first_chunk_at: None,
            ctx,
        })
    }

    /// The stored system message's text. One that no longer shows current memory (a crash
    /// between a block edit and its recompile, an edit by another writer) is rebuilt first
    /// (self-healing), and stored unless `writes` keeps it in memory.
    async fn system_text(
        &self,
        ctx: &mut AgentContext,
        writes: Writes,
    ) -> Result<String, AgentError> {
        let system = ctx
            .messages
            .first()
            .filter(|m| m.role == Role::System)
            .ok_or(AgentError::NoSystemMessage(ctx.agent.id))?;
        if is_current(&ctx.agent, &ctx.blocks, &ctx.files, &system.text) {
            return Ok(system.text.clone());
        }
        let id = system.id;
        let text =
            compile_system_message(&ctx.agent, &ctx.blocks, &ctx.files, stats(ctx), Utc::now());
        if let Writes::Store { .. } = writes {
            self.store.set_message_text(id, text.clone()).await?;
            ctx.agent.messages_edited += 1;
        }
        if let Some(first) = ctx.messages.first_mut() {
            first.text = text.clone();
        }
        Ok(text)
    }
}

/// What a turn (or a preview of one) starts from besides the agent's stored state.
struct Opening<'a> {
    thread: Thread,
    inputs: &'a [Message],
    client_tools: &'a [ClientTool],
    llm_config: Option<&'a LlmConfig>,
    system: &'a SystemOverrides,
    first_input: Option<MessageId>,
    writes: Writes,
}

/// Whether opening a turn stores what it repairs.
#[derive(Debug, Clone, Copy)]
enum Writes {
    /// A turn of `run`; `answering` when it brings the answer to a pending approval request.
    Store { run: RunId, answering: bool },
    /// A preview: repairs are made in memory only.
    InMemory,
}

impl Turn {
    /// The tools the rules allow for the next model call.
    fn allowed(&self) -> Allowed {
        let attached: Vec<String> = self.ctx.tools.iter().map(|t| t.name.clone()).collect();
        self.solver.allowed(&attached)
    }

    /// The next model call's request: the frozen system prompt, the context, the request's
    /// inputs not stored yet, and the tools `allowed`.
    fn request(&self, allowed: &Allowed) -> ChatRequest {
        build_request(
            &self.ctx,
            self.flavor,
            &self.system_text,
            &self.pending_inputs,
            (&self.solver, allowed),
        )
    }
}

fn stats(ctx: &AgentContext) -> MemoryStats {
    MemoryStats {
        conversation: ctx.conversation,
        messages_total: ctx.message_count,
        in_context: ctx.agent.message_ids.len() as u64,
        passages: ctx.passage_count,
    }
}

/// The stop reason a model failure ends a turn with.
fn llm_stop_reason(e: &LlmError) -> StopReason {
    match e {
        LlmError::InvalidResponse(_) => StopReason::InvalidLlmResponse,
        _ => StopReason::LlmApiError,
    }
}

/// Tells a streaming caller how the turn goes.
fn emit(input: &TurnInput, event: TurnEvent) {
    if let Some(events) = &input.events {
        let _ = events.send(event);
    }
}

/// The model call's latency and tokens, under the agent's model handle (its model name when
/// it has none): a bounded label, the configured models.
fn record_model_call(turn: &Turn, started: Instant, response: &ChatResponse) {
    let llm = &turn.ctx.agent.llm_config;
    let model = llm.handle.as_deref().unwrap_or(&llm.model);
    let u = response.usage;
    let tokens = (u.prompt_tokens, u.completion_tokens);
    mneme_metrics::model_call(model, started.elapsed(), tokens);
}
