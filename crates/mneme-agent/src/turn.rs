//! The step loop: one request's turn of an agent. Each step calls the model once, runs the tools
//! it asked for, and commits everything it produced in one transaction before the next step.

use std::sync::Arc;

use crate::LazySandbox;
use crate::mcp::McpTools;
use crate::recall::MemorySearch;
use chrono::Utc;
use futures_util::StreamExt;
use mneme_llm::{ChatDelta, ChatRequest, ChatResponse, ChatResponseBuilder, LlmClient, LlmError};
use mneme_store::{AgentContext, Message, Role, StepCommit, Store, StoreError};
use mneme_types::{AgentId, MessageId, RunId, Step, StepId, StopReason, ToolRule, UsageStatistics};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::approval::{ApprovalAnswer, Decision, client_return, denied, pending_request};
use crate::context::{Flavor, build_request};
use crate::eviction::{TARGET, TRIGGER, evict_oldest, tokens};
use crate::step::{StepOutcome, StepScope, handle_response, pack_return, run_approved};
use crate::system::{MemoryStats, compile_system_message, memory_section};
use crate::tool_rules::{Allowed, Solver};
use crate::tools::ToolOutcome;
use crate::tools::WorkingMemory;

/// What a turn needs to run.
pub struct TurnInput {
    pub agent_id: AgentId,
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
}

/// A client-side tool: `{name, description, parameters}` as the request gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientTool {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Value,
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
    /// A step was committed; its new messages (not the request's inputs), in order.
    StepCommitted { messages: Vec<Message> },
}

/// What a turn did.
#[derive(Debug)]
pub struct TurnOutput {
    /// Messages the agent produced (not the inputs), in order.
    pub messages: Vec<Message>,
    pub stop_reason: StopReason,
    pub usage: UsageStatistics,
    /// The model error that ended the turn, when one did.
    pub error: Option<LlmError>,
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
}

/// Runs turns: holds the store and the model client.
#[derive(Clone)]
pub struct Runtime {
    store: Arc<dyn Store>,
    llm: Arc<dyn LlmClient>,
    sandbox: Arc<LazySandbox>,
    mcp: Arc<dyn McpTools>,
    search: Arc<dyn MemorySearch>,
}

/// State carried from step to step within a turn.
struct Turn {
    ctx: AgentContext,
    flavor: Flavor,
    memory: WorkingMemory,
    solver: Solver,
    /// The system prompt sent to the model, frozen for the whole request as in Letta, so that
    /// provider prompt caches stay warm; edits reach the model through tool returns.
    system_text: String,
    pending_inputs: Vec<Message>,
    produced: Vec<Message>,
    usage: UsageStatistics,
    messages_total: u64,
}

impl Runtime {
    pub fn new(
        store: Arc<dyn Store>,
        llm: Arc<dyn LlmClient>,
        sandbox: Arc<LazySandbox>,
        mcp: Arc<dyn McpTools>,
        search: Arc<dyn MemorySearch>,
    ) -> Runtime {
        Runtime {
            store,
            llm,
            sandbox,
            mcp,
            search,
        }
    }

    /// Runs one turn to its stop reason. Model failures end the turn with a stop reason and the
    /// error; steps completed before stay committed. Only storage failures are errors here.
    pub async fn run_turn(&self, input: TurnInput) -> Result<TurnOutput, AgentError> {
        let mut turn = self.start(&input).await?;
        if let Some(answer) = input.approval.clone() {
            self.answer_approval(&mut turn, &input, answer).await?;
        }
        let mut stop = None;
        let mut error = None;
        let mut overflow_retries = 0u32;
        for _ in 0..input.max_steps.max(1) {
            if input.cancel.is_cancelled() {
                stop = Some(StopReason::Cancelled);
                break;
            }
            let step_id = StepId::new();
            let assistant_id = MessageId::new();
            let attached: Vec<String> = turn.ctx.tools.iter().map(|t| t.name.clone()).collect();
            let allowed = turn.solver.allowed(&attached);
            let request = build_request(
                &turn.ctx,
                turn.flavor,
                &turn.system_text,
                &turn.pending_inputs,
                (&turn.solver, &allowed),
            );
            let called = self
                .call_model(&turn, &input, &request, (step_id, assistant_id))
                .await;
            let response = match called {
                Ok(Some(r)) => r,
                Ok(None) => {
                    stop = Some(StopReason::Cancelled);
                    break;
                }
                // The provider counts tokens better than we do: make room and try again.
                Err(LlmError::ContextWindowExceeded(_)) if overflow_retries < 2 => {
                    overflow_retries += 1;
                    let share = TARGET / (2.0 * overflow_retries as f64);
                    fit_context(&mut turn.ctx, &turn.pending_inputs, 0.0, share);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "model call failed");
                    stop = Some(llm_stop_reason(&e));
                    error = Some(e);
                    break;
                }
            };
            let scope = self.scope(
                (&turn.ctx, turn.flavor),
                &allowed,
                (step_id, input.run_id, assistant_id),
            );
            let outcome =
                handle_response(scope, &mut turn.memory, &mut turn.solver, response.clone()).await;
            self.commit(&mut turn, &input, step_id, &response, &outcome)
                .await?;
            if let Some(events) = &input.events {
                let _ = events.send(TurnEvent::StepCommitted {
                    messages: outcome.messages.clone(),
                });
            }
            if !outcome.continues {
                stop = Some(outcome.stop_reason.unwrap_or(StopReason::EndTurn));
                break;
            }
        }
        Ok(TurnOutput {
            messages: turn.produced,
            stop_reason: stop.unwrap_or(StopReason::MaxSteps),
            usage: turn.usage,
            error,
        })
    }

    /// Runs (or denies) the calls of the pending approval request in a step of their own, with
    /// no model call. The request's follow-up messages are stored in that step too, so they
    /// are never lost, whatever happens next (Letta drops them when the step ends the turn).
    async fn answer_approval(
        &self,
        turn: &mut Turn,
        input: &TurnInput,
        answer: ApprovalAnswer,
    ) -> Result<(), AgentError> {
        let pending = pending_request(&turn.ctx.messages)
            .cloned()
            .ok_or_else(|| {
                AgentError::BadRequest("No tool call is currently awaiting approval".into())
            })?;
        let decisions: Vec<Decision> = match &answer.all {
            Some(d) => pending
                .tool_calls
                .iter()
                .map(|c| with_id(d, &c.id))
                .collect(),
            None => answer.decisions.clone(),
        };
        let mut asked: Vec<&str> = pending.tool_calls.iter().map(|c| c.id.as_str()).collect();
        let mut answered: Vec<&str> = decisions.iter().map(Decision::tool_call_id).collect();
        asked.sort_unstable();
        answered.sort_unstable();
        if asked != answered {
            return Err(AgentError::BadRequest(format!(
                "The approvals must answer exactly the pending tool calls: {}",
                asked.join(", ")
            )));
        }
        let step_id = StepId::new();
        let attached: Vec<String> = turn.ctx.tools.iter().map(|t| t.name.clone()).collect();
        let allowed = turn.solver.allowed(&attached);
        let mut returns = Vec::new();
        let mut memory_changed = false;
        let mut passages = Vec::new();
        for call in &pending.tool_calls {
            let Some(decision) = decisions.iter().find(|d| d.tool_call_id() == call.id) else {
                continue;
            };
            match decision {
                Decision::Approve { .. } => {
                    let ids = (step_id, input.run_id, MessageId::new());
                    let scope = self.scope((&turn.ctx, turn.flavor), &allowed, ids);
                    let (ret, outcome) =
                        run_approved(&scope, &mut turn.memory, &mut turn.solver, call).await;
                    memory_changed |= outcome.memory_changed;
                    passages.extend(outcome.passage);
                    returns.push(ret);
                }
                Decision::Deny { reason, .. } => {
                    let outcome = ToolOutcome::failed(denied(reason.as_deref()));
                    returns.push(client_return(
                        &call.id,
                        "error",
                        pack_return(&outcome, 50_000),
                    ));
                }
                Decision::Return {
                    status,
                    tool_return,
                    ..
                } => {
                    returns.push(client_return(&call.id, status, tool_return.clone()));
                }
            }
        }
        let now = mneme_types::time::now();
        let stamp = |mut m: Message| {
            m.step_id = Some(step_id);
            m.run_id = Some(input.run_id);
            m
        };
        let mut tool_msg = Message::new(
            input.agent_id,
            Role::Tool,
            returns[0].func_response.clone(),
            now,
        );
        tool_msg.tool_call_id = Some(returns[0].tool_call_id.clone());
        tool_msg.name = pending.tool_calls.first().map(|c| c.name.clone());
        tool_msg.tool_returns = returns;
        let mut messages = vec![stamp(answer.message), stamp(tool_msg)];
        messages.extend(turn.pending_inputs.drain(..).map(stamp));
        let outcome = StepOutcome {
            messages,
            passages,
            memory_changed,
            continues: true,
            stop_reason: None,
        };
        self.commit(turn, input, step_id, &ChatResponse::default(), &outcome)
            .await?;
        if let Some(events) = &input.events {
            let _ = events.send(TurnEvent::StepCommitted {
                messages: outcome.messages.clone(),
            });
        }
        Ok(())
    }

    fn scope<'a>(
        &'a self,
        (ctx, flavor): (&'a AgentContext, Flavor),
        allowed: &'a Allowed,
        ids: (StepId, RunId, MessageId),
    ) -> StepScope<'a> {
        StepScope {
            ctx,
            flavor,
            sandbox: &self.sandbox,
            mcp: self.mcp.as_ref(),
            search: self.search.as_ref(),
            allowed,
            ids,
        }
    }

    /// One model call; `Ok(None)` when the turn was cancelled meanwhile. Token streaming
    /// forwards every delta as it arrives.
    async fn call_model(
        &self,
        turn: &Turn,
        input: &TurnInput,
        request: &ChatRequest,
        (step_id, message_id): (StepId, MessageId),
    ) -> Result<Option<ChatResponse>, LlmError> {
        let config = &turn.ctx.agent.llm_config;
        let events = match (&input.events, input.stream_tokens) {
            (Some(events), true) => events,
            _ => {
                return tokio::select! {
                    r = self.llm.chat(config, request) => r.map(Some),
                    _ = input.cancel.cancelled() => Ok(None),
                };
            }
        };
        let mut stream = tokio::select! {
            s = self.llm.chat_stream(config, request) => s?,
            _ = input.cancel.cancelled() => return Ok(None),
        };
        let mut builder = ChatResponseBuilder::new();
        loop {
            let next = tokio::select! {
                d = stream.next() => d,
                _ = input.cancel.cancelled() => return Ok(None),
            };
            let Some(delta) = next else { break };
            let delta = delta?;
            let _ = events.send(TurnEvent::Delta {
                step_id,
                message_id,
                delta: delta.clone(),
            });
            builder.push(delta);
        }
        Ok(Some(builder.finish()))
    }

    async fn start(&self, input: &TurnInput) -> Result<Turn, AgentError> {
        let mut ctx = self.store.agent_context(input.agent_id).await?;
        let system = ctx
            .messages
            .first()
            .filter(|m| m.role == Role::System)
            .cloned()
            .ok_or(AgentError::NoSystemMessage(input.agent_id))?;
        // Self-healing: a system message that no longer shows current memory (a crash between a
        // block edit and its recompile, an edit by another writer) is rebuilt before the turn.
        let mut system_text = system.text.clone();
        if !system_text.contains(&memory_section(&ctx.agent, &ctx.blocks)) {
            system_text = compile_system_message(&ctx.agent, &ctx.blocks, stats(&ctx), Utc::now());
            self.store
                .set_message_text(system.id, system_text.clone())
                .await?;
            if let Some(first) = ctx.messages.first_mut() {
                first.text = system_text.clone();
            }
        }
        if ctx.agent.settings.message_buffer_autoclear {
            ctx.messages.truncate(1);
            ctx.agent.message_ids.truncate(1);
        }
        fit_context(&mut ctx, &input.inputs, TRIGGER, TARGET);
        let mut rules = crate::system::tool_rules(&ctx.agent);
        add_client_tools(&mut ctx, &mut rules, &input.client_tools);
        Ok(Turn {
            flavor: Flavor::of(ctx.agent.agent_type),
            memory: WorkingMemory::new(ctx.blocks.clone()),
            solver: Solver::new(rules),
            system_text,
            pending_inputs: input.inputs.clone(),
            produced: Vec::new(),
            usage: UsageStatistics::default(),
            messages_total: ctx.message_count,
            ctx,
        })
    }

    /// Writes the step: inputs (first step), new messages, context, memory, system prompt,
    /// passages and the step record, in one transaction.
    async fn commit(
        &self,
        turn: &mut Turn,
        input: &TurnInput,
        step_id: StepId,
        response: &ChatResponse,
        outcome: &StepOutcome,
    ) -> Result<(), AgentError> {
        let now = mneme_types::time::now();
        let mut messages: Vec<Message> = turn.pending_inputs.drain(..).collect();
        for m in &mut messages {
            m.step_id = Some(step_id);
            m.run_id = Some(input.run_id);
        }
        messages.extend(outcome.messages.iter().cloned());
        let autoclear = turn.ctx.agent.settings.message_buffer_autoclear;
        let mut message_ids: Vec<MessageId> = turn.ctx.agent.message_ids.clone();
        if !autoclear {
            message_ids.extend(messages.iter().map(|m| m.id));
        }
        turn.messages_total += messages.len() as u64;
        let passages: Vec<_> = outcome.passages.clone();
        let system_text = if outcome.memory_changed {
            let mut ctx = turn.ctx.clone();
            ctx.blocks = turn.memory.blocks().to_vec();
            ctx.passage_count += passages.len() as u64;
            let stats = MemoryStats {
                messages_total: turn.messages_total,
                in_context: message_ids.len() as u64,
                passages: ctx.passage_count,
            };
            let text = compile_system_message(&ctx.agent, &ctx.blocks, stats, Utc::now());
            turn.ctx.passage_count = ctx.passage_count;
            Some((turn.ctx.agent.message_ids[0], text))
        } else {
            None
        };
        let step = step_record(&turn.ctx, input, step_id, response, outcome);
        self.store
            .commit_step(StepCommit {
                agent_id: input.agent_id,
                run_id: input.run_id,
                step,
                messages: messages.clone(),
                message_ids: message_ids.clone(),
                message_ids_version: turn.ctx.agent.message_ids_version,
                block_changes: turn.memory.changes(),
                system_text,
                passages,
                created_at: now,
            })
            .await?;
        turn.memory.mark_committed();
        turn.ctx.agent.message_ids_version += 1;
        turn.ctx.blocks = turn.memory.blocks().to_vec();
        if !autoclear {
            turn.ctx.agent.message_ids = message_ids;
            turn.ctx.messages.extend(messages);
        } else {
            // Autoclear agents still see this request's own steps.
            turn.ctx.messages.extend(messages);
        }
        turn.produced.extend(outcome.messages.iter().cloned());
        turn.usage.add(&step_usage(response));
        Ok(())
    }
}

/// Moves the oldest messages out of context when the estimate of everything sent passes
/// `trigger` of the window, down to `target` of it.
fn fit_context(ctx: &mut AgentContext, pending: &[Message], trigger: f64, target: f64) {
    let window = ctx.agent.llm_config.context_window as f64;
    let fixed: u64 = ctx.messages.first().map(tokens).unwrap_or(0)
        + pending.iter().map(tokens).sum::<u64>()
        + ctx
            .tools
            .iter()
            .map(|t| {
                t.json_schema
                    .as_ref()
                    .map_or(0, |s| s.to_string().len() as u64 / 4)
            })
            .sum::<u64>();
    let history: u64 = ctx.messages.iter().skip(1).map(tokens).sum();
    if ((fixed + history) as f64) <= window * trigger {
        return;
    }
    let budget = (window * target - fixed as f64).max(0.0) as u64;
    let moved = evict_oldest(&mut ctx.messages, &mut ctx.agent.message_ids, budget);
    if moved > 0 {
        tracing::info!(agent = %ctx.agent.id, moved, "moved old messages out of context");
    }
}

fn stats(ctx: &AgentContext) -> MemoryStats {
    MemoryStats {
        messages_total: ctx.message_count,
        in_context: ctx.agent.message_ids.len() as u64,
        passages: ctx.passage_count,
    }
}

fn step_usage(response: &ChatResponse) -> UsageStatistics {
    let u = response.usage;
    UsageStatistics {
        completion_tokens: u.completion_tokens,
        prompt_tokens: u.prompt_tokens,
        total_tokens: u.total_tokens,
        step_count: 1,
        cached_input_tokens: u.cached_input_tokens,
        reasoning_tokens: u.reasoning_tokens,
        context_tokens: Some(u.total_tokens),
    }
}

fn step_record(
    ctx: &AgentContext,
    input: &TurnInput,
    id: StepId,
    response: &ChatResponse,
    outcome: &StepOutcome,
) -> Step {
    let llm = &ctx.agent.llm_config;
    let u = response.usage;
    Step {
        id,
        run_id: Some(input.run_id),
        agent_id: Some(input.agent_id),
        origin: None,
        provider_name: llm.provider_name.clone(),
        provider_category: llm.provider_category.clone(),
        model: Some(llm.model.clone()),
        model_handle: llm.handle.clone(),
        model_endpoint: llm.model_endpoint.clone(),
        context_window_limit: Some(llm.context_window),
        completion_tokens: Some(u.completion_tokens),
        prompt_tokens: Some(u.prompt_tokens),
        total_tokens: Some(u.total_tokens),
        cached_input_tokens: u.cached_input_tokens,
        cache_write_tokens: None,
        reasoning_tokens: u.reasoning_tokens,
        stop_reason: outcome
            .stop_reason
            .or(Some(StopReason::EndTurn))
            .filter(|_| !outcome.continues),
        status: "success".into(),
        error_type: None,
        error_data: None,
        tags: Vec::new(),
        messages: Vec::new(),
        feedback: None,
        project_id: ctx.agent.project_id.clone(),
        trace_id: None,
        request_id: None,
    }
}

/// The stop reason a model failure ends a turn with.
fn llm_stop_reason(e: &LlmError) -> StopReason {
    match e {
        LlmError::InvalidResponse(_) => StopReason::InvalidLlmResponse,
        _ => StopReason::LlmApiError,
    }
}

/// The legacy single decision, for one of the pending calls.
fn with_id(d: &Decision, id: &str) -> Decision {
    let id = id.to_owned();
    match d {
        Decision::Approve { .. } => Decision::Approve { tool_call_id: id },
        Decision::Deny { reason, .. } => Decision::Deny {
            tool_call_id: id,
            reason: reason.clone(),
        },
        Decision::Return {
            status,
            tool_return,
            ..
        } => Decision::Return {
            tool_call_id: id,
            status: status.clone(),
            tool_return: tool_return.clone(),
        },
    }
}

/// Offers the request's client-side tools (hiding attached tools of the same name, as Letta
/// does) and routes every call to one through the approval path.
fn add_client_tools(ctx: &mut AgentContext, rules: &mut Vec<ToolRule>, tools: &[ClientTool]) {
    for t in tools {
        ctx.tools.retain(|attached| attached.name != t.name);
        ctx.tools.push(mneme_types::Tool {
            id: mneme_types::ToolId::new(),
            tool_type: CLIENT_TOOL_TYPE.into(),
            name: t.name.clone(),
            description: t.description.clone(),
            source_type: None,
            source_code: None,
            json_schema: Some(serde_json::json!({
                "name": t.name, "description": t.description, "parameters": t.parameters,
            })),
            args_json_schema: None,
            tags: Vec::new(),
            return_char_limit: crate::tools::DEFAULT_RETURN_CHAR_LIMIT,
            pip_requirements: None,
            npm_requirements: None,
            default_requires_approval: Some(true),
            enable_parallel_execution: None,
            created_by_id: None,
            last_updated_by_id: None,
            metadata_: None,
            project_id: None,
        });
        rules.push(ToolRule::RequiresApproval {
            tool_name: t.name.clone(),
        });
    }
}

/// The `tool_type` of a request's client-side tools (never stored).
pub(crate) const CLIENT_TOOL_TYPE: &str = "client";
