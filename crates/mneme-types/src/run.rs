//! Runs and steps: `Run`, `Step`, stop reasons and usage statistics.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{AgentId, RunId, StepId, time};

/// `StopReasonType`, spelled exactly as Letta spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    Error,
    LlmApiError,
    InvalidLlmResponse,
    InvalidToolCall,
    MaxSteps,
    MaxTokensExceeded,
    NoToolCall,
    ToolRule,
    Cancelled,
    InsufficientCredits,
    RequiresApproval,
    ContextWindowOverflowInSystemPrompt,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::Error => "error",
            StopReason::LlmApiError => "llm_api_error",
            StopReason::InvalidLlmResponse => "invalid_llm_response",
            StopReason::InvalidToolCall => "invalid_tool_call",
            StopReason::MaxSteps => "max_steps",
            StopReason::MaxTokensExceeded => "max_tokens_exceeded",
            StopReason::NoToolCall => "no_tool_call",
            StopReason::ToolRule => "tool_rule",
            StopReason::Cancelled => "cancelled",
            StopReason::InsufficientCredits => "insufficient_credits",
            StopReason::RequiresApproval => "requires_approval",
            StopReason::ContextWindowOverflowInSystemPrompt => {
                "context_window_overflow_in_system_prompt"
            }
        }
    }

    /// The run status a run that stopped for this reason ends in.
    pub fn run_status(self) -> RunStatus {
        match self {
            StopReason::EndTurn
            | StopReason::ToolRule
            | StopReason::MaxSteps
            | StopReason::RequiresApproval => RunStatus::Completed,
            StopReason::Cancelled => RunStatus::Cancelled,
            _ => RunStatus::Failed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Created,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Created => "created",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

/// Token usage of a step or of a whole run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct UsageStatistics {
    pub completion_tokens: u64,
    pub prompt_tokens: u64,
    pub total_tokens: u64,
    pub step_count: u64,
    /// Input tokens read from the provider's prompt cache (part of `prompt_tokens`).
    pub cached_input_tokens: Option<u64>,
    /// Input tokens written to the provider's prompt cache (part of `prompt_tokens`).
    #[serde(default)]
    pub cache_write_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    /// The latest context size estimate, not a sum.
    pub context_tokens: Option<u64>,
}

impl UsageStatistics {
    pub fn add(&mut self, other: &UsageStatistics) {
        self.completion_tokens += other.completion_tokens;
        self.prompt_tokens += other.prompt_tokens;
        self.total_tokens += other.total_tokens;
        self.step_count += other.step_count;
        self.cached_input_tokens = sum_opt(self.cached_input_tokens, other.cached_input_tokens);
        self.cache_write_tokens = sum_opt(self.cache_write_tokens, other.cache_write_tokens);
        self.reasoning_tokens = sum_opt(self.reasoning_tokens, other.reasoning_tokens);
        if other.context_tokens.is_some() {
            self.context_tokens = other.context_tokens;
        }
    }
}

fn sum_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}

/// `Run`: one request's execution.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Run {
    pub id: RunId,
    pub agent_id: AgentId,
    pub status: RunStatus,
    pub stop_reason: Option<StopReason>,
    pub background: Option<bool>,
    pub metadata: Option<Map<String, Value>>,
    pub request_config: Option<Value>,
    pub conversation_id: Option<String>,
    pub base_template_id: Option<String>,
    pub callback_url: Option<String>,
    pub callback_sent_at: Option<String>,
    pub callback_status_code: Option<u16>,
    pub callback_error: Option<String>,
    pub ttft_ns: Option<u64>,
    pub total_duration_ns: Option<u64>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Not part of Letta's `Run`: kept for `/v1/runs/{id}/usage`.
    #[serde(skip)]
    pub usage: UsageStatistics,
}

/// `Step`: one model call and what came of it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    pub id: StepId,
    pub run_id: Option<RunId>,
    pub agent_id: Option<AgentId>,
    pub origin: Option<String>,
    pub provider_name: Option<String>,
    pub provider_category: Option<String>,
    pub model: Option<String>,
    pub model_handle: Option<String>,
    pub model_endpoint: Option<String>,
    pub context_window_limit: Option<u32>,
    pub completion_tokens: Option<u64>,
    pub prompt_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    pub stop_reason: Option<StopReason>,
    pub status: String,
    pub error_type: Option<String>,
    pub error_data: Option<Value>,
    pub tags: Vec<String>,
    pub messages: Vec<Value>,
    pub feedback: Option<String>,
    pub project_id: Option<String>,
    /// The transaction that processed the step (`PATCH /v1/steps/{id}/transaction/{tid}`);
    /// stored steps written before it existed read as `None`.
    #[serde(default)]
    pub tid: Option<String>,
    pub trace_id: Option<String>,
    pub request_id: Option<String>,
}

impl Step {
    /// Letta's `StepStatus` while the step's tools still run (its model answer is stored).
    pub const PENDING: &'static str = "pending";
    pub const SUCCESS: &'static str = "success";
    pub const FAILED: &'static str = "failed";

    pub fn is_pending(&self) -> bool {
        self.status == Step::PENDING
    }
}

/// `FeedbackType`: a user's verdict on one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeedbackType {
    Positive,
    Negative,
}

impl FeedbackType {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackType::Positive => "positive",
            FeedbackType::Negative => "negative",
        }
    }
}

/// `ModifyFeedbackRequest` (`PATCH /v1/steps/{id}/feedback`): `feedback` replaces the step's
/// (null clears it); `tags`, when given and not empty, replace its tags.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct ModifyFeedbackRequest {
    #[serde(default)]
    pub feedback: Option<FeedbackType>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// `StepMetrics`: the timings of one step, in nanoseconds (instants since the Unix epoch); the
/// ids are the step's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepMetrics {
    pub id: StepId,
    pub organization_id: Option<String>,
    pub provider_id: Option<String>,
    pub run_id: Option<RunId>,
    pub agent_id: Option<AgentId>,
    pub step_start_ns: Option<i64>,
    pub llm_request_start_ns: Option<i64>,
    pub llm_request_ns: Option<i64>,
    pub tool_execution_ns: Option<i64>,
    pub step_ns: Option<i64>,
    pub base_template_id: Option<String>,
    pub template_id: Option<String>,
    pub project_id: Option<String>,
}

/// `RunMetrics`: when a run started, how long it took, how many steps and which tools it used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunMetrics {
    pub id: RunId,
    pub organization_id: Option<String>,
    pub agent_id: Option<AgentId>,
    pub project_id: Option<String>,
    pub run_start_ns: Option<i64>,
    pub run_ns: Option<i64>,
    pub num_steps: Option<u64>,
    pub tools_used: Option<Vec<String>>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
}

/// `POST /v1/agents/{id}/messages/cancel`: one key per run asked about, in order, with what
/// became of it (`cancelled`, or `failed` for a run that was not active).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancelledRuns(pub Vec<(RunId, RunStatus)>);

impl Serialize for CancelledRuns {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(id, status)| (id, status)))
    }
}

impl<'de> Deserialize<'de> for CancelledRuns {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(CancelledRunsVisitor)
    }
}

/// Reads the map in its order (a `BTreeMap` would sort the runs).
struct CancelledRunsVisitor;

impl<'de> serde::de::Visitor<'de> for CancelledRunsVisitor {
    type Value = CancelledRuns;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map of run ids to run statuses")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<CancelledRuns, A::Error> {
        let mut runs = Vec::new();
        while let Some(entry) = map.next_entry::<RunId, RunStatus>()? {
            runs.push(entry);
        }
        Ok(CancelledRuns(runs))
    }
}
