//! `/v1/agents/{id}/messages...`, reset and context: a turn of the agent and its history.

use axum::Json;
use axum::extract::State;
use mneme_service::{ListMessages, RenderOverrides, Service};
use mneme_store::Order;
use mneme_types::{AgentId, AgentState, LettaRequest, MessageId, MessageUpdate, ResetMessages};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, list_param};

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) async fn send(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<LettaRequest>,
) -> ApiResult<Value> {
    if req.streaming == Some(true) {
        return Err(ApiError::Service(
            mneme_service::ServiceError::Unprocessable(
                "streaming=true is not supported by this version of mneme yet".into(),
            ),
        ));
    }
    Ok(Json(app.send_message(id, req).await?))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    before: Option<MessageId>,
    after: Option<MessageId>,
    limit: Option<u32>,
    order: Option<String>,
    use_assistant_message: Option<bool>,
    assistant_message_tool_name: Option<String>,
    assistant_message_tool_kwarg: Option<String>,
    #[serde(default)]
    include_return_message_types: Vec<String>,
}

pub(crate) async fn list(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Vec<Value>> {
    let order = match q.order.as_deref() {
        Some("asc") => Order::Asc,
        _ => Order::Desc,
    };
    let list = ListMessages {
        before: q.before,
        after: q.after,
        limit: q.limit.unwrap_or(100).min(10_000),
        order,
        render: Some(RenderOverrides {
            use_assistant_message: q.use_assistant_message,
            tool_name: q.assistant_message_tool_name,
            tool_kwarg: q.assistant_message_tool_kwarg,
        }),
        include_types: list_param(&q.include_return_message_types),
    };
    Ok(Json(app.list_messages(id, list).await?))
}

pub(crate) async fn modify(
    State(app): State<Service>,
    ApiPath((id, message)): ApiPath<(AgentId, MessageId)>,
    ApiJson(update): ApiJson<MessageUpdate>,
) -> ApiResult<Value> {
    Ok(Json(app.modify_message(id, message, update).await?))
}

pub(crate) async fn reset(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<ResetMessages>,
) -> ApiResult<AgentState> {
    Ok(Json(app.reset_messages(id, req).await?))
}

pub(crate) async fn context(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
) -> ApiResult<Value> {
    Ok(Json(app.context_window(id).await?))
}
