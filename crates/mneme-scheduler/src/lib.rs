//! The turn scheduler: runs agents' turns outside any request. It owns what a turn needs around
//! the step loop: one turn per agent at a time (`TurnLocks`), the runs executing in this process
//! and their cancellation (`ActiveRun`), the admission check made under the agent's lock (no new
//! input while an approval is pending), and the run's record from `running` to its end.
//! HTTP requests, and later groups, sleep-time agents, conversations and batch jobs, submit a
//! `TurnJob` with a `TurnSink` that receives the turn's progress.

mod execute;
mod hub;
mod locks;
mod replica;

use async_trait::async_trait;
use mneme_agent::approval::ApprovalAnswer;
use mneme_agent::{AgentError, ClientTool, Runtime, TurnEvent, TurnInput, TurnOutput};
use mneme_store::{Message, StoreError};
use mneme_types::{AgentId, ConversationId, MessageId, RunId, Thread};

pub use execute::{Running, Scheduler};
pub use hub::ActiveRun;
pub use locks::{Holder, LocalTurnLocks, TurnGuard, TurnLocks};
pub use replica::{Coordination, FILE_INTERRUPTED, LeaseTurnLocks, SharedConfig};

/// Runs one turn to its end. The agent runtime implements it; tests substitute their own.
#[async_trait]
pub trait TurnRunner: Send + Sync {
    async fn run_turn(&self, input: TurnInput) -> Result<TurnOutput, AgentError>;
}

#[async_trait]
impl TurnRunner for Runtime {
    async fn run_turn(&self, input: TurnInput) -> Result<TurnOutput, AgentError> {
        Runtime::run_turn(self, input).await
    }
}

/// A turn to run, for a run already recorded in the store.
pub struct TurnJob {
    pub agent_id: AgentId,
    /// The conversation the turn runs in; `None` for the agent's default one.
    pub conversation_id: Option<ConversationId>,
    /// When another turn holds the thread: `true` refuses the job (`SchedulerError::Busy`, as
    /// Letta's conversation routes do), `false` waits for it (the agent routes).
    pub refuse_if_busy: bool,
    pub run_id: RunId,
    /// The caller's messages, stored with the turn's first step.
    pub inputs: Vec<Message>,
    /// An answer to the agent's pending approval request; without one, a pending request
    /// refuses the job.
    pub approval: Option<ApprovalAnswer>,
    /// The thread's `message_ids_version` when the submitter found no approval pending: the
    /// check under the lock then reads the last message again only if the context changed.
    pub checked_version: Option<u64>,
    pub max_steps: u32,
    pub stream_tokens: bool,
    pub client_tools: Vec<ClientTool>,
    /// The run was recorded `created` (async requests): it becomes `running` when admitted.
    pub queued: bool,
    /// The sink reads the turn's events (streams); without it the runtime sends none.
    pub wants_events: bool,
    /// The model of this request only (`override_model`), in place of the agent's.
    pub llm_config: Option<mneme_types::LlmConfig>,
    /// The summarizer model and whether compactions are shown.
    pub compaction: mneme_agent::CompactionOptions,
    /// This request's changes to the system prompt it sends (never stored).
    pub system: mneme_agent::SystemOverrides,
    /// The group the turn runs for: its messages name it.
    pub group_id: Option<mneme_types::GroupId>,
}

impl TurnJob {
    /// The thread the job's turn runs in.
    pub fn thread(&self) -> Thread {
        Thread {
            agent: self.agent_id,
            conversation: self.conversation_id,
        }
    }
}

/// Where a job reports. Every method has a default that ignores the report.
#[async_trait]
pub trait TurnSink: Send + 'static {
    /// The job is registered and may wait for the agent; `active.cancel` stops it from now on.
    async fn registered(&mut self, _active: &ActiveRun) {}
    /// The job holds the agent and passed admission; its turn starts.
    async fn admitted(&mut self, _active: &ActiveRun) {}
    /// Progress of the turn (only when the job `wants_events`).
    async fn event(&mut self, _active: &ActiveRun, _event: TurnEvent) {}
    /// The turn ended and its run's outcome is stored.
    async fn finished(
        &mut self,
        _active: &ActiveRun,
        _result: &Result<TurnOutput, SchedulerError>,
    ) {
    }
}

/// A sink for callers that only want the outcome.
pub struct NoSink;

impl TurnSink for NoSink {}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// New input while the agent waits for a human to answer approval request `0`.
    #[error("the agent is waiting for an answer to approval request {0}")]
    PendingApproval(MessageId),
    /// Another request's turn holds the thread (`run`, when it runs in this process).
    #[error("another request is being processed in {thread}")]
    Busy { thread: Thread, run: Option<RunId> },
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The turn's task ended without an outcome (a panic in the step loop).
    #[error("turn task failed: {0}")]
    Aborted(String),
}
