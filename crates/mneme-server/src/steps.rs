//! `/v1/steps/...` (but `GET /v1/steps/{id}`, with the runs) and `GET /v1/tags/`.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use mneme_service::Service;
use mneme_store::{Order, StepFilter, TagQuery};
use mneme_types::{
    AgentId, FeedbackType, LettaMessage, ModifyFeedbackRequest, RunId, Step, StepId, StepMetrics,
};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery, list_param};

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The filters of `list_steps`. `tags`, `project_id` and the `X-Project` header are accepted
/// and unused: Letta ignores `tags` too, and projects are a cloud notion.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct StepQuery {
    agent_id: Option<AgentId>,
    run_id: Option<RunId>,
    model: Option<String>,
    #[serde(default)]
    trace_ids: Vec<String>,
    feedback: Option<FeedbackType>,
    has_feedback: Option<bool>,
    start_date: Option<DateTime<Utc>>,
    end_date: Option<DateTime<Utc>>,
}

impl StepQuery {
    fn filter(self) -> StepFilter {
        StepFilter {
            agent: self.agent_id,
            run: self.run_id,
            model: self.model,
            trace_ids: list_param(&self.trace_ids),
            feedback: self.feedback.map(|f| f.as_str().to_owned()),
            has_feedback: self.has_feedback,
            start_date: self.start_date,
            end_date: self.end_date,
        }
    }
}

/// `GET /v1/steps/`: newest first, 50 by default.
pub(crate) async fn list(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(q): ApiQuery<StepQuery>,
) -> ApiResult<Vec<Step>> {
    let page = page.page(50, Order::Desc)?;
    Ok(Json(app.list_steps(&q.filter(), &page).await?))
}

pub(crate) async fn feedback(
    State(app): State<Service>,
    ApiPath(id): ApiPath<StepId>,
    ApiJson(req): ApiJson<ModifyFeedbackRequest>,
) -> ApiResult<Step> {
    Ok(Json(app.step_feedback(id, req).await?))
}

/// `GET /v1/steps/{id}/messages`: oldest first, 100 by default.
pub(crate) async fn messages(
    State(app): State<Service>,
    ApiPath(id): ApiPath<StepId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Vec<LettaMessage>> {
    let page = page.page(100, Order::Asc)?;
    Ok(Json(app.step_messages(id, &page).await?))
}

pub(crate) async fn metrics(
    State(app): State<Service>,
    ApiPath(id): ApiPath<StepId>,
) -> ApiResult<StepMetrics> {
    Ok(Json(app.step_metrics(id).await?))
}

/// `list_tags`: `name` and the older `query_text` both filter by a part of the tag.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct TagsQuery {
    before: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
    order: Option<String>,
    name: Option<String>,
    query_text: Option<String>,
}

pub(crate) async fn tags(
    State(app): State<Service>,
    ApiQuery(q): ApiQuery<TagsQuery>,
) -> ApiResult<Vec<String>> {
    let descending = match q.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::Malformed {
                loc: vec!["query".into(), "order".into()],
                msg: format!("Input should be 'asc' or 'desc', got '{other}'"),
                kind: "enum",
            });
        }
    };
    let query = TagQuery {
        before: q.before,
        after: q.after,
        text: q.name.or(q.query_text).filter(|t| !t.is_empty()),
        limit: q.limit.unwrap_or(50).min(10_000),
        descending,
    };
    Ok(Json(app.list_tags(&query).await?))
}
