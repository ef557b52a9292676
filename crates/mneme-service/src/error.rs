//! Errors of the use cases, wrapping storage, runtime and model errors. The HTTP mapping lives
//! in `mneme-server`.

use mneme_agent::AgentError;
use mneme_llm::LlmError;
use mneme_scheduler::SchedulerError;
use mneme_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is well-formed but not acceptable (bad model handle, unsupported option).
    #[error("{0}")]
    BadRequest(String),
    /// What was named does not exist (Letta's 404 for an unknown model handle).
    #[error("{0}")]
    NotFound(String),
    /// A value breaks a rule of the resource (a block value over its limit).
    #[error("{0}")]
    Unprocessable(String),
    /// The request conflicts with the current state (no active run to cancel).
    #[error("{0}")]
    Conflict(String),
    /// New input while the agent waits for a human to approve a tool call.
    #[error(
        "CONFLICT: Cannot send a new message: the agent is waiting for an approval of request {0}; answer it with an approval first"
    )]
    PendingApproval(mneme_types::MessageId),
    /// Another request's turn is running in the conversation (Letta's `CONVERSATION_BUSY`);
    /// `run` is that turn's run when known.
    #[error(
        "CONFLICT: Cannot send a new message: Another request{} is currently being processed for this conversation. Please wait for it to complete.",
        run.map(|r| format!(" (run_id={r})")).unwrap_or_default()
    )]
    ConversationBusy { run: Option<mneme_types::RunId> },
    /// The request body is larger than the server accepts (an upload over its limit).
    #[error("{0}")]
    TooLarge(String),
    /// A quota of the store (`--max-agents`, `--max-passages`) would be passed; the message
    /// names it.
    #[error("{0}")]
    QuotaExceeded(String),
    /// What was asked for existed but is no longer kept (an old run's stream).
    #[error("{0}")]
    Expired(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model provider failed; the turn stopped and the run is marked failed.
    #[error(transparent)]
    Llm(LlmError),
    /// A direct model call (`generate`) failed: Letta answers 502 whatever the provider said.
    #[error("LLM provider error: {0}")]
    Generation(LlmError),
    /// An MCP server could not be reached or broke the connection (Letta's 502).
    #[error("{0}")]
    McpConnection(String),
    /// An MCP server did not answer in time (Letta's 408).
    #[error("{0}")]
    McpTimeout(String),
    /// The embedding model failed or is not installed; nothing was stored.
    #[error("embedding model unavailable: {0}")]
    Embedding(String),
    /// The agent's stored state cannot run a turn.
    #[error("{0}")]
    Internal(String),
    /// A dynamic group's manager answered without naming a participant; the turns before
    /// stay stored.
    #[error("{0}")]
    NoSpeaker(String),
    /// No credentials, or none this server knows (Letta's 401 `Unauthorized`).
    #[error("Unauthorized")]
    Unauthorized,
    /// The caller is known but may not do this (a member key on an admin route, a key acting
    /// as another organization's user).
    #[error("{0}")]
    Forbidden(String),
}

impl ServiceError {
    pub(crate) fn bad(msg: impl Into<String>) -> Self {
        ServiceError::BadRequest(msg.into())
    }
}

impl From<AgentError> for ServiceError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::Store(s) => ServiceError::Store(s),
            AgentError::BadRequest(m) => ServiceError::BadRequest(m),
            AgentError::Llm(e) => ServiceError::Llm(e),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<SchedulerError> for ServiceError {
    fn from(e: SchedulerError) -> Self {
        match e {
            SchedulerError::PendingApproval(id) => ServiceError::PendingApproval(id),
            SchedulerError::Busy { run, .. } => ServiceError::ConversationBusy { run },
            SchedulerError::Agent(e) => e.into(),
            SchedulerError::Store(e) => ServiceError::Store(e),
            SchedulerError::Aborted(m) => ServiceError::Internal(format!("turn task failed: {m}")),
        }
    }
}
