//! `/v1/messages/batches/...`: many agents' requests as one job.

use axum::Json;
use axum::extract::State;
use mneme_service::Service;
use mneme_store::Order;
use mneme_types::{AgentId, BatchJob, CreateBatch, JobId, LettaBatchMessages};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};
use crate::openapi::{Route, op, route};

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        route("/v1/messages/batches/")
            .get(list, op("list_batches", "List unfinished batches"))
            .post(
                create,
                op("create_batch", "Create a batch of agents' requests"),
            ),
        route("/v1/messages/batches/{batch_id}")
            .get(retrieve, op("retrieve_batch", "Retrieve a batch")),
        route("/v1/messages/batches/{batch_id}/messages").get(
            messages,
            op("list_messages_for_batch", "List a batch's messages"),
        ),
        route("/v1/messages/batches/{batch_id}/cancel")
            .patch(cancel, op("cancel_batch", "Cancel a batch")),
    ]
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
struct AgentQuery {
    agent_id: Option<AgentId>,
}

async fn create(
    State(app): State<Service>,
    ApiJson(req): ApiJson<CreateBatch>,
) -> ApiResult<BatchJob> {
    Ok(Json(app.create_batch(req).await?))
}

/// Like Letta's, only the batches still going.
async fn list(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Vec<BatchJob>> {
    let page = page.page(100, Order::Desc)?;
    Ok(Json(app.list_batches(&page).await?))
}

async fn retrieve(State(app): State<Service>, ApiPath(id): ApiPath<JobId>) -> ApiResult<BatchJob> {
    Ok(Json(app.get_batch(id).await?))
}

async fn messages(
    State(app): State<Service>,
    ApiPath(id): ApiPath<JobId>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(q): ApiQuery<AgentQuery>,
) -> ApiResult<LettaBatchMessages> {
    let page = page.page(100, Order::Desc)?;
    Ok(Json(app.batch_messages(id, q.agent_id, &page).await?))
}

/// Answers `null`, as Letta's route (which declares no response) does.
async fn cancel(State(app): State<Service>, ApiPath(id): ApiPath<JobId>) -> ApiResult<()> {
    app.cancel_batch(id).await?;
    Ok(Json(()))
}
