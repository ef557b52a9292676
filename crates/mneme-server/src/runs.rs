//! `/v1/runs/...` and `/v1/steps/...`.

use axum::Json;
use axum::extract::State;
use mneme_service::Service;
use mneme_store::{Order, RunFilter};
use mneme_types::{
    AgentId, ConversationId, LettaMessage, LettaUsageStatistics, Run, RunId, RunMetrics, RunStatus,
    Step, StepId, StopReason,
};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery, list_param};

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct FilterQuery {
    agent_id: Option<AgentId>,
    #[serde(default)]
    agent_ids: Vec<AgentId>,
    #[serde(default)]
    statuses: Vec<String>,
    background: Option<bool>,
    stop_reason: Option<StopReason>,
    #[serde(default)]
    active: bool,
    conversation_id: Option<ConversationId>,
}

impl FilterQuery {
    fn filter(self) -> Result<RunFilter, ApiError> {
        let statuses = list_param(&self.statuses)
            .iter()
            .map(|s| {
                serde_json::from_value::<RunStatus>(Value::String(s.clone())).map_err(|_| {
                    ApiError::Malformed {
                        loc: vec!["query".into(), "statuses".into()],
                        msg: format!("unknown run status '{s}'"),
                        kind: "enum",
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut agent_ids = self.agent_ids;
        agent_ids.extend(self.agent_id);
        Ok(RunFilter {
            agent_ids,
            statuses,
            background: self.background,
            stop_reason: self.stop_reason,
            active: self.active,
            conversation: self.conversation_id,
        })
    }
}

pub(crate) async fn list(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(filter): ApiQuery<FilterQuery>,
) -> ApiResult<Vec<Run>> {
    let page = page.page(100, Order::Desc)?;
    Ok(Json(app.list_runs(&filter.filter()?, &page).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ActiveQuery {
    agent_id: Option<AgentId>,
    background: Option<bool>,
}

/// `GET /v1/runs/active`: deprecated in Letta but what seed-era SDKs call to find the runs still
/// going. Like Letta: `created` or `running`, at most 100, no other paging.
pub(crate) async fn active(
    State(app): State<Service>,
    ApiQuery(q): ApiQuery<ActiveQuery>,
) -> ApiResult<Vec<Run>> {
    let filter = RunFilter {
        agent_ids: q.agent_id.into_iter().collect(),
        statuses: vec![RunStatus::Created, RunStatus::Running],
        background: q.background,
        ..RunFilter::default()
    };
    let page = PageQuery::default().page(100, Order::Desc)?;
    Ok(Json(app.list_runs(&filter, &page).await?))
}

pub(crate) async fn retrieve(
    State(app): State<Service>,
    ApiPath(id): ApiPath<RunId>,
) -> ApiResult<Run> {
    Ok(Json(app.get_run(id).await?))
}

pub(crate) async fn messages(
    State(app): State<Service>,
    ApiPath(id): ApiPath<RunId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Vec<LettaMessage>> {
    let page = page.page(100, Order::Asc)?;
    Ok(Json(app.run_messages(id, &page).await?))
}

pub(crate) async fn steps(
    State(app): State<Service>,
    ApiPath(id): ApiPath<RunId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Vec<Step>> {
    let page = page.page(100, Order::Desc)?;
    Ok(Json(app.run_steps(id, &page).await?))
}

pub(crate) async fn usage(
    State(app): State<Service>,
    ApiPath(id): ApiPath<RunId>,
) -> ApiResult<LettaUsageStatistics> {
    Ok(Json(app.run_usage(id).await?))
}

/// `GET /v1/runs/{id}/metrics`.
pub(crate) async fn metrics(
    State(app): State<Service>,
    ApiPath(id): ApiPath<RunId>,
) -> ApiResult<RunMetrics> {
    Ok(Json(app.run_metrics(id).await?))
}

/// `DELETE /v1/runs/{id}`: the deleted run, which the seed-era SDKs parse the answer as (the
/// 0.16.7 schema leaves it open).
pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<RunId>,
) -> ApiResult<Run> {
    Ok(Json(app.delete_run(id).await?))
}

pub(crate) async fn step(
    State(app): State<Service>,
    ApiPath(id): ApiPath<StepId>,
) -> ApiResult<Step> {
    Ok(Json(app.get_step(id).await?))
}

/// `RetrieveStreamRequest`; `agent_id`, `run_id`, `otid`, `poll_interval` and `batch_size` are
/// accepted and unused.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct StreamRequest {
    starting_after: Option<u64>,
    include_pings: Option<bool>,
}

/// `POST /v1/runs/{id}/stream`: resumes a background run's stream after `starting_after`.
pub(crate) async fn stream(
    State(app): State<Service>,
    ApiPath(id): ApiPath<RunId>,
    ApiJson(req): ApiJson<StreamRequest>,
) -> Result<axum::response::Response, ApiError> {
    let pings = req.include_pings.unwrap_or(true);
    let stream = app
        .resume_stream(id, req.starting_after.unwrap_or(0))
        .await?;
    Ok(crate::sse::sse_response(stream, pings))
}
