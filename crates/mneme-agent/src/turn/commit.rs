//! The end of a step: everything it produced written in one `commit_step`, and the turn's
//! in-memory state moved on to match (context, version, memory, usage). A step whose calls
//! leave the process writes its model answer first (`commit_answer`) and the rest after.

use std::time::Duration;

use chrono::Utc;
use mneme_llm::ChatResponse;
use mneme_store::{AgentContext, Message, Passage, StepCommit, StepTimings, StepTrace, StoreError};
use mneme_types::{MessageId, Step, StepId, StopReason, UsageStatistics};

use super::{AgentError, Runtime, Turn, TurnInput};
use crate::step::StepOutcome;
use crate::system::{MemoryStats, compile_system_message};

impl Runtime {
    /// Writes the step: inputs (first step), new messages, context, memory, system prompt,
    /// passages and the step record, in one transaction.
    pub(super) async fn commit(
        &self,
        turn: &mut Turn,
        input: &TurnInput,
        (step_id, response): (StepId, &ChatResponse),
        outcome: &StepOutcome,
        timings: StepTimings,
    ) -> Result<(), AgentError> {
        let mut step = step_record(&turn.ctx, input, step_id, response);
        step.stop_reason = outcome
            .stop_reason
            .or(Some(StopReason::EndTurn))
            .filter(|_| !outcome.continues);
        let write = Write {
            messages: outcome.messages.clone(),
            passages: outcome.passages.clone(),
            memory_changed: outcome.memory_changed,
            trace: self.trace(input, &step, response),
            step,
            timings,
        };
        self.write(turn, input, write).await?;
        if let Some(ns) = timings.step_ns {
            mneme_metrics::step(Duration::from_nanos(u64::try_from(ns).unwrap_or(0)));
        }
        turn.produced.extend(outcome.messages.iter().cloned());
        turn.usage.add(&step_usage(response));
        Ok(())
    }

    /// The first half of a step whose calls are stored before they run: the inputs (first
    /// step), the model's answer with its calls, the context, and the step record `pending`
    /// (`commit` replaces it once the calls returned).
    pub(super) async fn commit_answer(
        &self,
        turn: &mut Turn,
        input: &TurnInput,
        (step_id, response): (StepId, &ChatResponse),
        answer: Message,
        timings: StepTimings,
    ) -> Result<(), AgentError> {
        let mut step = step_record(&turn.ctx, input, step_id, response);
        step.status = Step::PENDING.into();
        let write = Write {
            messages: vec![answer.clone()],
            passages: Vec::new(),
            memory_changed: false,
            trace: self.trace(input, &step, response),
            step,
            timings,
        };
        self.write(turn, input, write).await?;
        turn.produced.push(answer);
        Ok(())
    }

    /// The step's provider exchange to store with it, when traces are kept and the client
    /// recorded one (the bodies are shared, not copied).
    fn trace(&self, input: &TurnInput, step: &Step, response: &ChatResponse) -> Option<StepTrace> {
        let exchange = response.exchange.as_ref().filter(|_| self.traces)?;
        Some(StepTrace {
            step_id: step.id,
            agent_id: input.agent_id,
            run_id: input.run_id,
            request: exchange.request.clone(),
            response: exchange.response.clone(),
            created_at: mneme_types::time::now(),
        })
    }

    /// One transaction of a step: `w`'s messages after the request's inputs (on the turn's
    /// first write), the context, memory changes and the system prompt; the turn's state
    /// follows what was written.
    async fn write(&self, turn: &mut Turn, input: &TurnInput, w: Write) -> Result<(), AgentError> {
        let now = mneme_types::time::now();
        let messages = step_messages(turn, input, &w.step, w.messages);
        let autoclear = turn.ctx.agent.settings.message_buffer_autoclear;
        let mut message_ids: Vec<MessageId> = turn.ctx.agent.message_ids.clone();
        if !autoclear {
            message_ids.extend(messages.iter().map(|m| m.id));
        }
        turn.messages_total += messages.len() as u64;
        let mut attempts = 0;
        let system_text = loop {
            let system_text = w
                .memory_changed
                .then(|| recompiled_system(turn, message_ids.len(), w.passages.len()));
            let commit = StepCommit {
                agent_id: input.agent_id,
                conversation_id: turn.ctx.conversation,
                run_id: input.run_id,
                step: Some(w.step.clone()),
                timings: Some(w.timings),
                messages: messages.clone(),
                message_ids: message_ids.clone(),
                message_ids_version: turn.ctx.agent.message_ids_version,
                block_changes: turn.memory.changes(),
                system_text: system_text.clone(),
                passages: w.passages.clone(),
                file_changes: turn.memory.files.changes(),
                trace: w.trace.clone(),
                created_at: now,
            };
            match self.store.commit_step(commit).await {
                Ok(()) => break system_text,
                Err(StoreError::Conflict(why)) if attempts < REBASE_ATTEMPTS => {
                    attempts += 1;
                    if !self.rebase_memory(turn).await? {
                        return Err(StoreError::Conflict(why).into());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        };
        turn.memory.mark_committed();
        turn.ctx.agent.message_ids_version += 1;
        // The stored system message as of this commit (the request keeps sending its frozen
        // copy, `turn.system_text`).
        if let (Some((_, text)), Some(first)) = (system_text, turn.ctx.messages.first_mut()) {
            first.text = text;
        }
        turn.ctx.blocks = turn.memory.blocks().to_vec();
        turn.ctx.files = turn.memory.files.current().clone();
        if !autoclear {
            turn.ctx.agent.message_ids = message_ids;
        }
        // Autoclear agents still see this request's own steps.
        turn.ctx.messages.extend(messages);
        Ok(())
    }
}

/// The messages a step writes: the request's inputs on its first write (stamped with the
/// step and run), then the step's own; all naming the turn's group, if it runs for one.
fn step_messages(
    turn: &mut Turn,
    input: &TurnInput,
    step: &Step,
    own: Vec<Message>,
) -> Vec<Message> {
    let mut messages: Vec<Message> = turn.pending_inputs.drain(..).collect();
    for m in &mut messages {
        m.step_id = Some(step.id);
        m.run_id = Some(input.run_id);
    }
    messages.extend(own);
    if let Some(group) = input.group_id {
        for m in &mut messages {
            m.group_id.get_or_insert_with(|| group.to_string());
        }
    }
    messages
}

/// How many times a step's memory edits are replayed on blocks another writer changed.
const REBASE_ATTEMPTS: u32 = 3;

impl Runtime {
    /// After a refused commit: replays the turn's memory edits on the blocks as stored now,
    /// when another writer (a turn of another conversation of the agent) changed them. `false`
    /// when that was not the cause, or the edits conflict with the other writer's.
    async fn rebase_memory(&self, turn: &mut Turn) -> Result<bool, AgentError> {
        if turn.memory.updated_ids().is_empty() {
            return Ok(false);
        }
        let current = self.store.get_blocks(&turn.memory.stored_ids()).await?;
        let rebased = turn.memory.rebase(&current);
        if rebased {
            tracing::info!("memory edits replayed on blocks another writer changed meanwhile");
        }
        Ok(rebased)
    }
}

/// What one transaction of a step writes besides the request's inputs.
struct Write {
    messages: Vec<Message>,
    passages: Vec<Passage>,
    memory_changed: bool,
    trace: Option<StepTrace>,
    step: Step,
    /// The step's timings so far, stored with its record.
    timings: StepTimings,
}

/// The system message after a memory change, compiled from the working memory (the prompt
/// sent to the model stays frozen for the request).
fn recompiled_system(
    turn: &mut Turn,
    in_context: usize,
    new_passages: usize,
) -> (MessageId, String) {
    turn.ctx.passage_count += new_passages as u64;
    let stats = MemoryStats {
        messages_total: turn.messages_total,
        in_context: in_context as u64,
        passages: turn.ctx.passage_count,
        conversation: turn.ctx.conversation,
    };
    let text = compile_system_message(
        &turn.ctx.agent,
        turn.memory.blocks(),
        turn.memory.files.current(),
        stats,
        Utc::now(),
    );
    (turn.ctx.agent.message_ids[0], text)
}

fn step_usage(response: &ChatResponse) -> UsageStatistics {
    let u = response.usage;
    UsageStatistics {
        completion_tokens: u.completion_tokens,
        prompt_tokens: u.prompt_tokens,
        total_tokens: u.total_tokens,
        step_count: 1,
        cached_input_tokens: u.cache_read_tokens,
        cache_write_tokens: u.cache_creation_tokens,
        reasoning_tokens: u.reasoning_tokens,
        context_tokens: Some(u.total_tokens),
    }
}

fn step_record(ctx: &AgentContext, input: &TurnInput, id: StepId, response: &ChatResponse) -> Step {
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
        cached_input_tokens: u.cache_read_tokens,
        cache_write_tokens: u.cache_creation_tokens,
        reasoning_tokens: u.reasoning_tokens,
        stop_reason: None,
        status: Step::SUCCESS.into(),
        error_type: None,
        error_data: None,
        tags: Vec::new(),
        messages: Vec::new(),
        feedback: None,
        project_id: ctx.agent.project_id.clone(),
        tid: None,
        trace_id: None,
        request_id: None,
    }
}
