//! Telemetry: a step's provider trace (`GET /v1/telemetry/{step_id}`, `GET
//! /v1/steps/{step_id}/trace`), a run's trace spans and a step's transaction id.

use axum::Json;
use axum::extract::State;
use mneme_service::Service;
use mneme_types::{ProviderTrace, RunId, Step, StepId, TraceSpan};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::openapi::{Route, op, route};

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        route("/v1/telemetry/{step_id}").get(
            provider_trace,
            op(
                "retrieve_provider_trace",
                "A step's provider request and response (deprecated path)",
            ),
        ),
        route("/v1/steps/{step_id}/trace").get(
            step_trace,
            op(
                "retrieve_trace_for_step",
                "A step's provider request and response",
            ),
        ),
        route("/v1/runs/{run_id}/trace").get(
            run_trace,
            op("retrieve_trace_for_run", "A run's spans, from its steps"),
        ),
        route("/v1/steps/{step_id}/transaction/{transaction_id}").patch(
            transaction,
            op(
                "update_step_transaction_id",
                "Record the transaction that processed a step",
            ),
        ),
    ]
}

/// The deprecated form takes any string: what is not a step id has no trace (`null`), as
/// Letta answers every failure of this route.
async fn provider_trace(
    State(app): State<Service>,
    ApiPath(step_id): ApiPath<String>,
) -> ApiResult<Option<ProviderTrace>> {
    let Ok(id) = step_id.parse::<StepId>() else {
        return Ok(Json(None));
    };
    Ok(Json(app.step_trace(id).await?))
}

async fn step_trace(
    State(app): State<Service>,
    ApiPath(id): ApiPath<StepId>,
) -> ApiResult<Option<ProviderTrace>> {
    Ok(Json(app.step_trace(id).await?))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct TraceQuery {
    limit: Option<i64>,
}

/// At most `limit` spans (1 to 5000, default 1000).
async fn run_trace(
    State(app): State<Service>,
    ApiPath(id): ApiPath<RunId>,
    ApiQuery(q): ApiQuery<TraceQuery>,
) -> ApiResult<Vec<TraceSpan>> {
    let limit = q.limit.unwrap_or(1000);
    let Some(limit) = usize::try_from(limit)
        .ok()
        .filter(|l| (1..=5000).contains(l))
    else {
        return Err(ApiError::Malformed {
            loc: vec![json!("query"), json!("limit")],
            msg: "Input should be between 1 and 5000".into(),
            kind: "value_error",
        });
    };
    Ok(Json(app.run_trace(id, limit).await?))
}

async fn transaction(
    State(app): State<Service>,
    ApiPath((id, transaction_id)): ApiPath<(StepId, String)>,
) -> ApiResult<Step> {
    Ok(Json(app.step_transaction(id, transaction_id).await?))
}
