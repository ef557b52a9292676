//! Context compaction: when an agent's context fills up, its older messages leave the context
//! and a summary written by a model takes their place (Letta's recursive summaries).
//!
//! `plan` picks the messages (pure); `transcript` renders what the summarizer reads and the
//! summary message; `summarize` here runs the summarizer call with Letta's fallbacks, and
//! `rebuild` turns the result into one `CompactionCommit` (the summary stored, the context
//! replaced, the system message recompiled with the new counts). Nothing is deleted: what
//! leaves the context stays stored, listed and searchable (recall memory), and an earlier
//! summary is summarised again with the rest. When the summarizer fails nothing is written.

mod plan;
mod transcript;

use chrono::{DateTime, Utc};
use mneme_llm::tokens::TokenCounter;
use mneme_llm::{ChatRequest, LlmClient, LlmError, ToolSchema};
use mneme_store::{Agent, CompactionCommit, Message, Role};
use mneme_types::{
    Block, CompactionEventData, CompactionMode, CompactionSettings, CompactionStats, LlmConfig,
    MessageId, RunId, StepId,
};

use crate::context::chat_history;
use crate::system::{MemoryStats, compile_system_message};
use crate::tokens::ContextTokens;
use plan::{Estimate, PlanInput, Strategy};

pub(crate) use transcript::{is_summary, unpacked};

/// Letta's trigger: compact once a call's context passes this share of the window.
pub const DEFAULT_THRESHOLD: f64 = 0.9;

const PROMPT_ALL: &str = include_str!("prompts/all.md");
const PROMPT_SLIDING: &str = include_str!("prompts/sliding.md");
const PROMPT_SELF_ALL: &str = include_str!("prompts/self_all.md");
const PROMPT_SELF_SLIDING: &str = include_str!("prompts/self_sliding.md");

/// The summarizer prompt of a mode when the agent's settings name none.
pub fn default_prompt(mode: CompactionMode) -> &'static str {
    match mode {
        CompactionMode::All => PROMPT_ALL,
        CompactionMode::SlidingWindow => PROMPT_SLIDING,
        CompactionMode::SelfCompactAll => PROMPT_SELF_ALL,
        CompactionMode::SelfCompactSlidingWindow => PROMPT_SELF_SLIDING,
    }
    .trim_end()
}

/// How a turn compacts, beyond the agent's settings.
#[derive(Debug, Clone, Default)]
pub struct CompactionOptions {
    /// The model that writes summaries (`compaction_settings.model`, resolved by the caller);
    /// `None`: the model of the request.
    pub summarizer: Option<LlmConfig>,
    /// `include_compaction_messages`: the summary is stored with role `summary` and shown as a
    /// `summary_message` after an `event_message`; else it is a user message.
    pub include_messages: bool,
}

/// Why a compaction ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The provider-reported size of a step's call passed the threshold.
    PostStep,
    /// The local count of the next call passed the threshold (mneme compacts before a call
    /// too: a large new input would otherwise fail).
    PreStep,
    /// The provider refused the call as too long.
    ContextWindowExceeded,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::PostStep => "post_step_context_check",
            Trigger::PreStep => "pre_step_context_check",
            Trigger::ContextWindowExceeded => "context_window_exceeded",
        }
    }
}

/// A compaction starting: what Letta's `event_message` says.
#[derive(Debug, Clone)]
pub struct CompactionStart {
    pub id: MessageId,
    pub date: DateTime<Utc>,
    pub step_id: StepId,
    pub run_id: RunId,
    pub data: CompactionEventData,
}

/// A compaction that is stored: its summary message, the summary as the model wrote it, and
/// its stats.
#[derive(Debug, Clone)]
pub struct Compacted {
    pub start: CompactionStart,
    pub summary: Message,
    pub summary_text: String,
    pub stats: CompactionStats,
}

/// What one compaction reads.
pub(crate) struct Job<'a> {
    pub settings: &'a CompactionSettings,
    /// The in-context messages, the system message first.
    pub messages: &'a [Message],
    /// The system prompt as the model gets it.
    pub system_text: &'a str,
    /// The tools offered (counted; offered again in the `self_compact` modes).
    pub tools: &'a [ToolSchema],
    /// The request's inputs not stored yet (counted, kept).
    pub pending: &'a [Message],
    pub newest_turn: usize,
    /// The smallest cut worth making (`PlanInput::min_cut`).
    pub min_cut: usize,
    /// The model of the request: its window and tokenizer, and the `self_compact` writer.
    pub model: &'a LlmConfig,
    /// The writer of the other modes' summaries.
    pub summarizer: &'a LlmConfig,
    /// Letta's after-the-fact check (`None` for the summarize route): a result still over it
    /// is compacted again with mode `all`.
    pub threshold: Option<u64>,
}

/// A summary written, not stored yet.
#[derive(Debug)]
pub(crate) struct Summary {
    /// `messages[1..cut]` are summarised.
    pub cut: usize,
    pub text: String,
    pub mode: CompactionMode,
    /// The context after it (messages, summary, tools, pending inputs), by the local count.
    pub tokens_after: u64,
}

/// Why a compaction did not happen.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// No message can leave the context (only the system message, or a pending approval).
    Nothing,
    /// Even after compacting all it could, the context does not fit the window.
    Overflow,
    /// The summarizer's call failed.
    Model(LlmError),
}

/// Plans and writes the summary (a sliding window that cannot make room falls back to `all`,
/// as does a result still over the threshold); `announce` runs once there is something to
/// summarise, before the summarizer is asked. Stores nothing.
pub(crate) async fn summarize(
    llm: &dyn LlmClient,
    tokens: &mut ContextTokens,
    job: &Job<'_>,
    announce: impl FnOnce(),
) -> Result<Summary, Refusal> {
    let counter = TokenCounter::for_config(job.model);
    let counts = message_counts(tokens, &counter, job);
    let fixed = tokens.tools(&counter, job.tools) + tokens.messages(&counter, job.pending);
    let window = u64::from(job.model.context_window);
    let input = PlanInput {
        messages: job.messages,
        tokens: &counts,
        fixed,
        window,
        newest_turn: job.newest_turn,
        min_cut: job.min_cut,
    };
    let estimate = Estimate::new(&input);
    let all = Strategy::All {
        goal: job.threshold.unwrap_or(window),
    };
    let mut mode = job.settings.mode;
    let planned = match mode.is_sliding() {
        true => plan::plan(
            &input,
            Strategy::Sliding {
                percentage: job.settings.sliding_window_percentage,
            },
        ),
        false => plan::plan(&input, all),
    };
    let cut = match planned {
        Some(cut) => cut,
        None => {
            mode = CompactionMode::All;
            plan::plan(&input, all).ok_or(Refusal::Nothing)?
        }
    };
    announce();
    let mut summary = write(llm, job, cut, mode).await?;
    let mut after = estimate.after(cut) + tokens.text(&counter, &summary);
    if job.threshold.is_some_and(|t| after >= t) && mode.is_sliding() {
        // Letta's after-the-fact fallback: all of it, if that cuts more.
        if let Some(more) = plan::plan(&input, all).filter(|&c| c > cut) {
            tracing::info!(
                before = after,
                "the sliding window left too much; compacting all"
            );
            summary = write(llm, job, more, CompactionMode::All).await?;
            after = estimate.after(more) + tokens.text(&counter, &summary);
            return finish(job, more, summary, CompactionMode::All, after);
        }
    }
    finish(job, cut, summary, mode, after)
}

/// The summary, unless even it leaves the context over the window.
fn finish(
    job: &Job<'_>,
    cut: usize,
    text: String,
    mode: CompactionMode,
    tokens_after: u64,
) -> Result<Summary, Refusal> {
    if job.threshold.is_some() {
        if tokens_after >= u64::from(job.model.context_window) {
            return Err(Refusal::Overflow);
        }
        if job.threshold.is_some_and(|t| tokens_after >= t) {
            tracing::warn!(
                tokens_after,
                "the context is still over the threshold after compaction"
            );
        }
    }
    Ok(Summary {
        cut,
        text,
        mode,
        tokens_after,
    })
}

/// Tokens of each in-context message, the system prompt as sent in place of the stored one.
fn message_counts(tokens: &mut ContextTokens, counter: &TokenCounter, job: &Job<'_>) -> Vec<u64> {
    let system = tokens.text(counter, job.system_text);
    let rest = job
        .messages
        .iter()
        .skip(1)
        .map(|m| tokens.message(counter, m));
    std::iter::once(system).chain(rest).collect()
}

/// Asks the mode's writer for the summary of `messages[1..cut]`, clipped.
async fn write(
    llm: &dyn LlmClient,
    job: &Job<'_>,
    cut: usize,
    mode: CompactionMode,
) -> Result<String, Refusal> {
    let prompt = match (&job.settings.prompt, mode == job.settings.mode) {
        (Some(own), true) => own.as_str(),
        _ => default_prompt(mode),
    };
    let leaving = &job.messages[1..cut];
    let (config, request) = match mode.is_self() {
        true => {
            let history = chat_history(leaving, job.model);
            let request = transcript::self_request(job.system_text, history, job.tools, prompt);
            (job.model.clone(), request)
        }
        false => (
            without_reasoning(job.summarizer),
            summary_request(job, leaving, prompt),
        ),
    };
    tracing::debug!(messages = leaving.len(), ?mode, model = %config.model, "summarising");
    let response = llm.chat(&config, &request).await.map_err(Refusal::Model)?;
    let text = response.content.unwrap_or_default();
    if text.trim().is_empty() {
        let e = LlmError::InvalidResponse("the summarizer answered without text".into());
        return Err(Refusal::Model(e));
    }
    Ok(transcript::clipped(&text, job.settings.clip_chars))
}

/// Our summarizer request, its transcript cut to what the summarizer's window takes.
fn summary_request(job: &Job<'_>, leaving: &[Message], prompt: &str) -> ChatRequest {
    let window_chars = job.summarizer.context_window as usize * 4 * 6 / 10;
    let budget = window_chars.saturating_sub(prompt.len() + 1024).max(2_000);
    let text = transcript::fitted_transcript(leaving, budget);
    transcript::summarizer_request(prompt, job.settings.prompt_acknowledgement, text)
}

/// The summarizer's config: no reasoning, as Letta asks for summaries.
fn without_reasoning(config: &LlmConfig) -> LlmConfig {
    let mut config = config.clone();
    config.enable_reasoner = false;
    config.max_reasoning_tokens = 0;
    config
}

/// What the new context is compiled from.
pub(crate) struct Rebuild<'a> {
    pub agent: &'a Agent,
    pub blocks: &'a [Block],
    pub files: &'a mneme_store::AgentFiles,
    /// Every message of the agent stored before the compaction.
    pub messages_total: u64,
    pub passages: u64,
    pub conversation: Option<mneme_types::ConversationId>,
}

/// A compaction ready to store, and the context after it.
pub(crate) struct Rebuilt {
    pub commit: CompactionCommit,
    /// The new in-context messages: the recompiled system message, the summary, the kept ones.
    pub messages: Vec<Message>,
    pub system_text: String,
}

/// The commit of `summary` in place of `messages[1..cut]`: the new context, and the system
/// message recompiled with its true counts and a fresh timestamp.
pub(crate) fn rebuild(
    r: &Rebuild<'_>,
    messages: &[Message],
    cut: usize,
    summary: Message,
) -> Rebuilt {
    let at = summary.created_at;
    let kept = &messages[cut.min(messages.len())..];
    let stats = MemoryStats {
        messages_total: r.messages_total + 1,
        in_context: 2 + kept.len() as u64,
        passages: r.passages,
        conversation: r.conversation,
    };
    let system_text = compile_system_message(r.agent, r.blocks, r.files, stats, at);
    let mut system = messages[0].clone();
    system.text = system_text.clone();
    let mut context = Vec::with_capacity(kept.len() + 2);
    context.push(system);
    context.push(summary.clone());
    context.extend(kept.iter().cloned());
    Rebuilt {
        commit: CompactionCommit {
            agent_id: r.agent.id,
            conversation_id: r.conversation,
            message_ids: context.iter().map(|m| m.id).collect(),
            message_ids_version: r.agent.message_ids_version,
            system_text: Some((messages[0].id, system_text.clone())),
            summary,
            created_at: at,
        },
        messages: context,
        system_text,
    }
}

/// The stored summary message: role `summary` when compactions are shown (and always for the
/// summarize route), else `user` as Letta stores it.
pub(crate) fn summary_message(
    agent: &Agent,
    s: &Summary,
    stats: Option<&CompactionStats>,
    as_summary: bool,
) -> Message {
    let at = mneme_types::time::now();
    let role = if as_summary {
        Role::Summary
    } else {
        Role::User
    };
    Message::new(
        agent.id,
        role,
        transcript::packed(&s.text, stats, s.mode, at),
        at,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_has_its_own_default_prompt() {
        let modes = [
            CompactionMode::All,
            CompactionMode::SlidingWindow,
            CompactionMode::SelfCompactAll,
            CompactionMode::SelfCompactSlidingWindow,
        ];
        let prompts: std::collections::HashSet<&str> =
            modes.iter().map(|m| default_prompt(*m)).collect();
        assert_eq!(prompts.len(), 4);
        assert!(default_prompt(CompactionMode::All).contains("500 words"));
        assert!(default_prompt(CompactionMode::SlidingWindow).contains("300 words"));
        assert!(default_prompt(CompactionMode::SelfCompactAll).contains("Do not call any tool"));
    }
}
