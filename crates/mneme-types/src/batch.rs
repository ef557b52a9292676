//! Message batches (`/v1/messages/batches`): the request that starts one, and the batch's
//! messages. The batch itself is a `Job` of type `batch` (Letta's `BatchJob` has the same
//! fields in the same order).

use serde::{Deserialize, Serialize};

use crate::{AgentId, InternalMessage, Job, LettaRequest};

/// `BatchJob`: a `Job` whose `job_type` is `batch`.
pub type BatchJob = Job;

/// `CreateBatch`. Unknown keys are ignored.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct CreateBatch {
    pub requests: Vec<LettaBatchRequest>,
    #[serde(default)]
    pub callback_url: Option<String>,
}

/// `LettaBatchRequest`: one agent's request, `LettaRequest`'s fields beside its `agent_id`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct LettaBatchRequest {
    pub agent_id: AgentId,
    #[serde(flatten)]
    pub request: LettaRequest,
}

/// `LettaBatchMessages`: what the batch's requests stored, in Letta's internal shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LettaBatchMessages {
    pub messages: Vec<InternalMessage>,
}

/// Where a batch stands, in its job's `metadata` (`progress`): how many of its requests' runs
/// are in each status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BatchProgress {
    pub total: u64,
    pub created: u64,
    pub running: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
}

/// One request of a batch, in its job's `metadata` (`requests`, in request order): the run
/// that carries it and how that run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BatchRequestState {
    pub agent_id: AgentId,
    pub run_id: crate::RunId,
    pub status: crate::RunStatus,
    pub stop_reason: Option<crate::StopReason>,
}

/// What is POSTed to a batch's `callback_url` once it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BatchCallback {
    pub job_id: crate::JobId,
    pub status: crate::JobStatus,
    #[serde(serialize_with = "crate::time::serialize_opt")]
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
}
