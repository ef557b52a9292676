//! Steps across runs (`GET /v1/steps/`), their feedback, messages and metrics, and the tag list.

use std::time::Duration;

use mneme_store::{Page, StepEdit, StepFilter, StepRecord, StepTrace, TagQuery};
use mneme_types::{
    LettaMessage, ModifyFeedbackRequest, ProviderTrace, ProviderTraceId, RunId, Step, StepId,
    StepMetrics, TraceSpan, time,
};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::render::{RenderOptions, letta_messages};
use crate::{Result, Service};

impl Service {
    pub async fn list_steps(&self, filter: &StepFilter, page: &Page) -> Result<Vec<Step>> {
        Ok(self.store.list_steps(filter, page).await?)
    }

    /// Stores a user's feedback on a step: `feedback` replaces the stored one (null clears
    /// it); tags replace the step's only when some are given, as Letta does.
    pub async fn step_feedback(&self, id: StepId, req: ModifyFeedbackRequest) -> Result<Step> {
        let edit: StepEdit = Box::new(move |s| {
            s.feedback = req.feedback.map(|f| f.as_str().to_owned());
            if let Some(tags) = req.tags.filter(|t| !t.is_empty()) {
                s.tags = tags;
            }
        });
        Ok(self.store.update_step(id, edit).await?)
    }

    /// The messages a step wrote, rendered as its agent's messages are.
    pub async fn step_messages(&self, id: StepId, page: &Page) -> Result<Vec<LettaMessage>> {
        let step = self.store.get_step(id).await?;
        let native = match step.agent_id {
            Some(agent) => {
                let agent = self.store.get_agent(agent).await?;
                mneme_agent::Flavor::of(agent.agent_type) == mneme_agent::Flavor::Native
            }
            None => true,
        };
        let opts = RenderOptions::new(native);
        let stored = self.store.step_messages(id, page).await?;
        Ok(stored
            .iter()
            .flat_map(|m| letta_messages(m, &opts))
            .collect())
    }

    /// A step's metrics: its ids and the timings stored with it (null for steps stored before
    /// mneme kept them, and a pending step's `step_ns`).
    pub async fn step_metrics(&self, id: StepId) -> Result<StepMetrics> {
        let StepRecord { step, timings } = self.store.get_step_record(id).await?;
        let t = timings.unwrap_or_default();
        Ok(StepMetrics {
            id: step.id,
            organization_id: None,
            provider_id: None,
            run_id: step.run_id,
            agent_id: step.agent_id,
            step_start_ns: timings.map(|t| t.step_start_ns),
            llm_request_start_ns: t.llm_request_start_ns,
            llm_request_ns: t.llm_request_ns,
            tool_execution_ns: t.tool_execution_ns,
            step_ns: t.step_ns,
            base_template_id: None,
            template_id: None,
            project_id: step.project_id,
        })
    }

    /// Records which transaction processed a step (Letta's `tid`), replacing any before.
    pub async fn step_transaction(&self, id: StepId, transaction_id: String) -> Result<Step> {
        let edit: StepEdit = Box::new(move |s| s.tid = Some(transaction_id));
        Ok(self.store.update_step(id, edit).await?)
    }

    /// The provider trace of a step: `None` for a step without one (traces off, pruned, a
    /// step that made no model call) and for an unknown step, as Letta answers both.
    pub async fn step_trace(&self, id: StepId) -> Result<Option<ProviderTrace>> {
        Ok(self.store.step_trace(id).await?.map(provider_trace))
    }

    /// The spans of a run's trace, from its records: the run as the root span and one
    /// `agent_step` span per step, in order, at most `limit`.
    pub async fn run_trace(&self, id: RunId, limit: usize) -> Result<Vec<TraceSpan>> {
        let run = self.store.get_run(id).await?;
        let filter = StepFilter {
            run: Some(id),
            ..StepFilter::default()
        };
        let page = Page {
            limit: u32::try_from(limit.saturating_sub(1)).unwrap_or(u32::MAX),
            order: mneme_store::Order::Asc,
            ..Page::default()
        };
        let steps = self.store.list_steps(&filter, &page).await?;
        let trace_id = id.uuid().simple().to_string();
        let root = root_span(&run, &trace_id);
        let parent = root.span_id.clone();
        let mut spans = vec![root];
        spans.extend(steps.iter().map(|s| step_span(s, &trace_id, &parent)));
        spans.truncate(limit);
        Ok(spans)
    }

    /// Deletes the provider traces older than the retention time.
    pub(crate) async fn prune_traces(&self) -> Result<()> {
        let retention = chrono::Duration::from_std(self.config.trace_retention)
            .unwrap_or(chrono::Duration::MAX);
        let before = time::now()
            .checked_sub_signed(retention)
            .unwrap_or_default();
        let pruned = self.store.prune_traces(before).await?;
        if pruned > 0 {
            tracing::debug!(pruned, "deleted expired provider traces");
        }
        Ok(())
    }

    /// Distinct tags of agents and blocks (`GET /v1/tags/`).
    pub async fn list_tags(&self, query: &TagQuery) -> Result<Vec<String>> {
        Ok(self.store.list_tags(query).await?)
    }
}

/// How long a step's provider trace is kept by default: a week. Traces hold each step's whole
/// prompt, so they outgrow everything else stored; a week covers debugging a recent turn.
pub const TRACE_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The wire trace of a stored one. The bodies were JSON when the provider exchanged them; one
/// that is not (a provider's broken answer) is shown as a JSON string rather than refused.
fn provider_trace(t: StepTrace) -> ProviderTrace {
    ProviderTrace {
        created_by_id: None,
        last_updated_by_id: None,
        created_at: t.created_at,
        updated_at: Some(t.created_at),
        id: ProviderTraceId::from_uuid(t.step_id.uuid()),
        request_json: raw_json(&t.request),
        response_json: raw_json(&t.response),
        step_id: Some(t.step_id),
        agent_id: Some(t.agent_id),
        agent_tags: None,
        call_type: Some("agent_step".into()),
        run_id: Some(t.run_id),
        source: None,
        org_id: None,
        user_id: None,
        compaction_settings: None,
        llm_config: None,
        billing_context: None,
    }
}

fn raw_json(bytes: &[u8]) -> Box<RawValue> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    RawValue::from_string(text).unwrap_or_else(|e| {
        let text = String::from_utf8_lossy(bytes);
        tracing::warn!(error = %e, "a stored provider body is not JSON; shown as a string");
        serde_json::value::to_raw_value(&text).unwrap_or_default()
    })
}

fn root_span(run: &mneme_store::RunRecord, trace_id: &str) -> TraceSpan {
    let duration = run
        .completed_at
        .and_then(|end| (end - run.created_at).num_nanoseconds())
        .and_then(|ns| u64::try_from(ns).ok());
    let status = match run.status {
        mneme_types::RunStatus::Completed => "STATUS_CODE_OK",
        mneme_types::RunStatus::Failed => "STATUS_CODE_ERROR",
        _ => "STATUS_CODE_UNSET",
    };
    let mut attributes = Map::new();
    attributes.insert("agent_id".into(), Value::String(run.agent_id.to_string()));
    attributes.insert("run_id".into(), Value::String(run.id.to_string()));
    TraceSpan {
        timestamp: Some(run.created_at),
        trace_id: trace_id.to_owned(),
        span_id: span_id(&run.id.uuid()),
        parent_span_id: String::new(),
        span_name: "run".into(),
        duration,
        status_code: status.into(),
        span_attributes: attributes,
    }
}

fn step_span(step: &Step, trace_id: &str, parent: &str) -> TraceSpan {
    let status = match step.status.as_str() {
        Step::SUCCESS => "STATUS_CODE_OK",
        Step::FAILED => "STATUS_CODE_ERROR",
        _ => "STATUS_CODE_UNSET",
    };
    let mut attributes = Map::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            attributes.insert(key.into(), Value::String(value));
        }
    };
    put("agent_id", step.agent_id.map(|a| a.to_string()));
    put("run_id", step.run_id.map(|r| r.to_string()));
    put("step_id", Some(step.id.to_string()));
    put("model", step.model.clone());
    put(
        "stop_reason",
        step.stop_reason.map(|r| r.as_str().to_owned()),
    );
    TraceSpan {
        timestamp: None,
        trace_id: trace_id.to_owned(),
        span_id: span_id(&step.id.uuid()),
        parent_span_id: parent.to_owned(),
        span_name: "agent_step".into(),
        duration: None,
        status_code: status.into(),
        span_attributes: attributes,
    }
}

/// An OpenTelemetry span id (16 hex digits), taken from the record's uuid.
fn span_id(uuid: &uuid::Uuid) -> String {
    uuid.simple().to_string()[..16].to_owned()
}
