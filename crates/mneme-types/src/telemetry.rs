//! Telemetry: a step's `ProviderTrace` (the provider request and response of its model call)
//! and the spans of a run's trace.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{AgentId, ProviderTraceId, RunId, StepId, time};

/// `ProviderTrace`, in Letta's field order. `request_json` and `response_json` are the bodies
/// as the provider exchanged them, written out as stored (never parsed into a tree and
/// rendered again): what the model was sent and answered, nothing of the HTTP call around it
/// (no headers, no URL, so no key).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProviderTrace {
    pub created_by_id: Option<String>,
    pub last_updated_by_id: Option<String>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub updated_at: Option<DateTime<Utc>>,
    pub id: ProviderTraceId,
    #[schemars(with = "serde_json::Value")]
    pub request_json: Box<RawValue>,
    #[schemars(with = "serde_json::Value")]
    pub response_json: Box<RawValue>,
    pub step_id: Option<StepId>,
    pub agent_id: Option<AgentId>,
    pub agent_tags: Option<Vec<String>>,
    /// `agent_step` for the calls of a turn's steps (the only calls traced).
    pub call_type: Option<String>,
    pub run_id: Option<RunId>,
    pub source: Option<String>,
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub compaction_settings: Option<Box<RawValue>>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub llm_config: Option<Box<RawValue>>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub billing_context: Option<Box<RawValue>>,
}

/// One span of `GET /v1/runs/{id}/trace`, in the columns of the OpenTelemetry ClickHouse
/// exporter Letta reads them from. mneme keeps no tracing backend: the spans are what its own
/// records say (the run as the root span, one `agent_step` span per step), and what they do
/// not know (a step's own start and duration) is `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct TraceSpan {
    #[serde(serialize_with = "time::serialize_opt")]
    pub timestamp: Option<DateTime<Utc>>,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub span_name: String,
    /// Nanoseconds, when known.
    pub duration: Option<u64>,
    /// `STATUS_CODE_OK`, `STATUS_CODE_ERROR` or `STATUS_CODE_UNSET`.
    pub status_code: String,
    pub span_attributes: serde_json::Map<String, serde_json::Value>,
}
