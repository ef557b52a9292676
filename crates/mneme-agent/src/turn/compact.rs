//! Where the loop compacts its context (before a call that would pass the threshold, after a
//! step whose call did, when the provider refuses a call as too long), and the summarize
//! route's compaction on demand. The work itself is `crate::compaction`'s.

use mneme_llm::tokens::{MESSAGE_OVERHEAD, TokenCounter};
use mneme_llm::{ChatRequest, ChatResponse};
use mneme_store::AgentContext;
use mneme_types::{
    CompactionEventData, CompactionSettings, CompactionStats, LlmConfig, MessageId, StepId,
    StopReason, Thread,
};

use super::{AgentError, Next, Runtime, Turn, TurnEvent, TurnInput, emit};
use crate::compaction::{
    self, Compacted, CompactionStart, Job, Rebuild, Refusal, Summary, Trigger, is_summary,
};
use crate::context::{Flavor, build_request};
use crate::tokens::{ContextTokens, text_bound, upper_bound};
use crate::tool_rules::Solver;

/// What a compaction attempt did to the turn.
pub(super) enum Outcome {
    /// The context is compacted; requests must be built again.
    Done,
    /// Nothing left the context, and the call may go ahead.
    Unchanged,
    /// The turn ends here.
    Stop(Next),
}

/// What `Runtime::summarize` did.
#[derive(Debug)]
pub struct Summarized {
    /// The summary as the model wrote it (or the existing one, when nothing was compacted).
    pub summary: String,
    pub messages_before: usize,
    pub messages_after: usize,
}

/// The model call a compaction is made for: the turn's input, the request as built (its
/// tools go to the summarizer in the `self_compact` modes), the step it belongs to.
pub(super) struct Call<'a> {
    pub input: &'a TurnInput,
    pub request: &'a ChatRequest,
    pub step_id: StepId,
}

impl Runtime {
    /// Before a model call: compacts when the local count of the request passes the
    /// threshold (Letta waits for the first call's usage; a large new input would fail it).
    pub(super) async fn fit(
        &self,
        turn: &mut Turn,
        call: &Call<'_>,
    ) -> Result<Outcome, AgentError> {
        let limit = self.threshold * window(turn) as f64;
        // Far from full (by sizes alone): no need to count.
        if request_bound(turn, call.request) as f64 <= limit {
            return Ok(Outcome::Unchanged);
        }
        let size = request_size(turn, call.request);
        if size as f64 <= limit {
            return Ok(Outcome::Unchanged);
        }
        let trigger = (Trigger::PreStep, Some(size));
        self.compact(turn, call, trigger).await
    }

    /// After the provider refused the call as too long: compacts whatever the count says.
    pub(super) async fn make_room(
        &self,
        turn: &mut Turn,
        call: &Call<'_>,
    ) -> Result<Outcome, AgentError> {
        let size = request_size(turn, call.request);
        let trigger = (Trigger::ContextWindowExceeded, Some(size));
        Ok(match self.compact(turn, call, trigger).await? {
            // Nothing could leave, and the provider says it does not fit.
            Outcome::Unchanged => overflow(),
            other => other,
        })
    }

    /// After a committed step: compacts when the provider's count of its call passed the
    /// threshold; `Some` ends the turn (the step stays committed).
    pub(super) async fn after_step(
        &self,
        turn: &mut Turn,
        call: &Call<'_>,
        response: &ChatResponse,
    ) -> Result<Option<Next>, AgentError> {
        let used = response.usage.prompt_tokens + response.usage.completion_tokens;
        if used as f64 <= self.threshold * window(turn) as f64 {
            return Ok(None);
        }
        let trigger = (Trigger::PostStep, Some(used));
        Ok(match self.compact(turn, call, trigger).await? {
            Outcome::Stop(next) => Some(next),
            Outcome::Done | Outcome::Unchanged => None,
        })
    }

    /// One compaction of the turn's context: announced, summarised, stored in one commit, and
    /// the turn moved on to the new context (and its recompiled system prompt).
    async fn compact(
        &self,
        turn: &mut Turn,
        call: &Call<'_>,
        (trigger, size): (Trigger, Option<u64>),
    ) -> Result<Outcome, AgentError> {
        let (input, step_id) = (call.input, call.step_id);
        // Such agents forget their history after every turn; they are not compacted.
        if turn.ctx.agent.settings.message_buffer_autoclear {
            return Ok(Outcome::Unchanged);
        }
        let start = CompactionStart {
            id: MessageId::new(),
            date: mneme_types::time::now(),
            step_id,
            run_id: input.run_id,
            data: CompactionEventData {
                trigger: trigger.as_str().to_owned(),
                context_token_estimate: size,
                context_window: turn.ctx.agent.llm_config.context_window,
            },
        };
        let announce = || {
            if input.compaction.include_messages {
                emit(input, TurnEvent::CompactionStarted(start.clone()));
            }
        };
        let model = turn.ctx.agent.llm_config.clone();
        let summarizer = input.compaction.summarizer.as_ref().unwrap_or(&model);
        let settings = settings_of(&turn.ctx);
        let job = Job {
            settings: &settings,
            messages: &turn.ctx.messages,
            system_text: &turn.system_text,
            tools: &call.request.tools,
            pending: &turn.pending_inputs,
            newest_turn: newest_turn(turn),
            min_cut: 2,
            model: &model,
            summarizer,
            threshold: Some((self.threshold * window(turn) as f64) as u64),
        };
        let summarized = compaction::summarize(&*self.llm, &mut turn.tokens, &job, announce);
        let summary = match summarized.await {
            Ok(summary) => summary,
            Err(refusal) => return Ok(refused(refusal, size, window(turn))),
        };
        let done = self.store_compaction(turn, input, start, summary).await?;
        emit(input, TurnEvent::Compacted(Box::new(done.clone())));
        turn.compactions.push(done);
        Ok(Outcome::Done)
    }

    /// Stores the summary in place of what it summarises and moves the turn to the new
    /// context.
    async fn store_compaction(
        &self,
        turn: &mut Turn,
        input: &TurnInput,
        start: CompactionStart,
        summary: Summary,
    ) -> Result<Compacted, AgentError> {
        let before = turn.ctx.messages.len();
        let kept = before.saturating_sub(summary.cut);
        let stats = CompactionStats {
            trigger: start.data.trigger.clone(),
            context_tokens_before: start.data.context_token_estimate,
            context_tokens_after: Some(summary.tokens_after),
            context_window: start.data.context_window,
            messages_count_before: before as u32,
            messages_count_after: (kept + 2) as u32,
        };
        let agent = &turn.ctx.agent;
        let as_summary = input.compaction.include_messages;
        let mut message = compaction::summary_message(agent, &summary, Some(&stats), as_summary);
        message.step_id = Some(start.step_id);
        message.run_id = Some(input.run_id);
        let rebuild = Rebuild {
            agent,
            blocks: turn.memory.blocks(),
            files: turn.memory.files.current(),
            messages_total: turn.messages_total,
            passages: turn.ctx.passage_count,
            conversation: turn.ctx.conversation,
        };
        let rebuilt = compaction::rebuild(&rebuild, &turn.ctx.messages, summary.cut, message);
        let summary_message = rebuilt.commit.summary.clone();
        self.store.compact_context(rebuilt.commit).await?;
        tracing::info!(
            agent = %input.agent_id, summarised = summary.cut - 1, kept,
            tokens_after = summary.tokens_after, "compacted the context"
        );
        turn.tokens.forget(rebuilt.messages[0].id);
        turn.ctx.agent.message_ids = rebuilt.messages.iter().map(|m| m.id).collect();
        turn.ctx.agent.message_ids_version += 1;
        turn.ctx.messages = rebuilt.messages;
        // The request's overrides apply to the rebuilt prompt too.
        turn.system_text = input
            .system
            .request_text(&rebuilt.system_text, turn.memory.blocks());
        turn.messages_total += 1;
        turn.produced.push(summary_message.clone());
        Ok(Compacted {
            start,
            summary: summary_message,
            summary_text: summary.text,
            stats,
        })
    }

    /// `POST /v1/agents/{id}/summarize`: compacts the agent's context now with `settings`
    /// (the agent's, with the request's overrides) and `summarizer` (resolved by the caller;
    /// `None`: the agent's model). The summary is stored with role `summary`, the system
    /// message recompiled. A context holding only the system message and summaries answers
    /// the summary it has; one that cannot shrink is a `BadRequest`. The caller holds the
    /// agent (no turn runs meanwhile).
    pub async fn summarize(
        &self,
        thread: Thread,
        settings: &CompactionSettings,
        summarizer: Option<LlmConfig>,
    ) -> Result<Summarized, AgentError> {
        let ctx = crate::thread_context(&*self.store, thread).await?;
        let before = ctx.messages.len();
        if ctx.messages.iter().skip(1).all(is_summary) {
            return Ok(Summarized {
                summary: existing_summary(&ctx),
                messages_before: before,
                messages_after: before,
            });
        }
        let request = agent_request(&ctx);
        let model = ctx.agent.llm_config.clone();
        let job = Job {
            settings,
            messages: &ctx.messages,
            system_text: request.system.as_deref().unwrap_or_default(),
            tools: &request.tools,
            pending: &[],
            newest_turn: last_input(&ctx),
            // The count must shrink: two messages at least make way for the summary.
            min_cut: 3,
            model: &model,
            summarizer: summarizer.as_ref().unwrap_or(&model),
            threshold: None,
        };
        let summary = compaction::summarize(&*self.llm, &mut ContextTokens::new(), &job, || {})
            .await
            .map_err(|refusal| match refusal {
                Refusal::Model(e) => AgentError::Llm(e),
                Refusal::Nothing | Refusal::Overflow => not_shrunk(),
            })?;
        // The summary and the kept messages: `min_cut` 3 makes this at least one fewer.
        let after = before - summary.cut + 2;
        let message = compaction::summary_message(&ctx.agent, &summary, None, true);
        let rebuild = Rebuild {
            agent: &ctx.agent,
            blocks: &ctx.blocks,
            files: &ctx.files,
            messages_total: ctx.message_count,
            passages: ctx.passage_count,
            conversation: ctx.conversation,
        };
        let rebuilt = compaction::rebuild(&rebuild, &ctx.messages, summary.cut, message);
        self.store.compact_context(rebuilt.commit).await?;
        Ok(Summarized {
            summary: summary.text,
            messages_before: before,
            messages_after: after,
        })
    }
}

/// How the turn goes on when nothing was compacted: as it was if the context fits the window,
/// else it stops; a failing summarizer stops it with the model's error.
fn refused(refusal: Refusal, size: Option<u64>, window: u64) -> Outcome {
    match refusal {
        Refusal::Nothing if size.is_some_and(|s| s >= window) => overflow(),
        Refusal::Nothing => Outcome::Unchanged,
        Refusal::Overflow => overflow(),
        Refusal::Model(e) => {
            tracing::warn!(error = %e, "the summarizer failed; nothing was compacted");
            Outcome::Stop(Next::Failed(e))
        }
    }
}

fn overflow() -> Outcome {
    Outcome::Stop(Next::Stop(StopReason::ContextWindowOverflowInSystemPrompt))
}

fn not_shrunk() -> AgentError {
    AgentError::BadRequest(
        "Summarization failed to reduce the number of messages. There may not be enough \
         messages to compact; mode `all` compacts more."
            .into(),
    )
}

fn window(turn: &Turn) -> u64 {
    u64::from(turn.ctx.agent.llm_config.context_window)
}

fn settings_of(ctx: &AgentContext) -> CompactionSettings {
    ctx.agent
        .settings
        .compaction_settings
        .clone()
        .unwrap_or_default()
}

/// The local count of a request: its system prompt, tools, history and pending inputs.
fn request_size(turn: &mut Turn, request: &ChatRequest) -> u64 {
    let counter = TokenCounter::for_config(&turn.ctx.agent.llm_config);
    let t = &mut turn.tokens;
    let system = request.system.as_deref().unwrap_or_default();
    t.text(&counter, system)
        + t.tools(&counter, &request.tools)
        + t.messages(&counter, turn.ctx.messages.iter().skip(1))
        + t.messages(&counter, &turn.pending_inputs)
}

/// A bound on `request_size` from sizes alone.
fn request_bound(turn: &Turn, request: &ChatRequest) -> u64 {
    let system = request.system.as_deref().unwrap_or_default();
    let tools: u64 = request
        .tools
        .iter()
        .map(|t| text_bound(&serde_json::to_string(t).unwrap_or_default()) + MESSAGE_OVERHEAD)
        .sum();
    text_bound(system)
        + tools
        + upper_bound(turn.ctx.messages.iter().skip(1))
        + upper_bound(&turn.pending_inputs)
}

/// Where this request's turn starts in the context: its first input once stored, else the
/// end (its inputs are pending, or already summarised).
fn newest_turn(turn: &Turn) -> usize {
    let messages = &turn.ctx.messages;
    turn.first_input
        .and_then(|id| messages.iter().position(|m| m.id == id))
        .unwrap_or(messages.len())
}

/// Where the newest exchange starts: the last user input (not a heartbeat nor a summary).
fn last_input(ctx: &AgentContext) -> usize {
    let input = |m: &&mneme_store::Message| {
        m.role == mneme_store::Role::User && !is_summary(m) && !is_heartbeat(&m.text)
    };
    let found = ctx.messages.iter().rev().position(|m| input(&m));
    found.map_or(ctx.messages.len(), |from_end| {
        ctx.messages.len() - 1 - from_end
    })
}

fn is_heartbeat(text: &str) -> bool {
    text.trim_start().starts_with('{')
        && serde_json::from_str::<serde_json::Value>(text)
            .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("heartbeat"))
}

/// The summary an already compacted context holds (its note and text), or nothing.
fn existing_summary(ctx: &AgentContext) -> String {
    ctx.messages
        .iter()
        .skip(1)
        .find(|m| is_summary(m))
        .map(|m| compaction::unpacked(&m.text).unwrap_or_else(|| m.text.clone()))
        .unwrap_or_default()
}

/// The agent's next request without inputs: what its model would be sent (for counting, and
/// for the `self_compact` modes).
fn agent_request(ctx: &AgentContext) -> ChatRequest {
    let flavor = Flavor::of(ctx.agent.agent_type);
    let solver = Solver::new(crate::system::tool_rules(&ctx.agent));
    let attached: Vec<String> = ctx.tools.iter().map(|t| t.name.clone()).collect();
    let allowed = solver.allowed(&attached);
    let system = ctx.messages.first().map(|m| m.text.as_str()).unwrap_or("");
    build_request(ctx, flavor, system, &[], (&solver, &allowed))
}
