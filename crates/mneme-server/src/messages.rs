//! `/v1/agents/{id}/messages...`, reset, summarize and context: a turn of the agent and its
//! history.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use mneme_service::{ListMessages, RenderOverrides, Service};
use mneme_store::Order;
use mneme_types::{
    AgentId, AgentState, CancelledRuns, CompactionResponse, ContextWindowOverview, LettaMessage,
    LettaRequest, MessageId, MessageListResult, MessageUpdate, ResetMessages, Run, RunId,
    SummarizeRequest,
};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, list_param};
use crate::sse::sse_response;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// `POST .../messages`: a `LettaResponse`, or a stream when the body says `streaming: true`.
pub(crate) async fn send(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<LettaRequest>,
) -> Result<Response, ApiError> {
    if req.streaming == Some(true) {
        return stream_reply(app, id, req).await;
    }
    Ok(Json(app.send_message(id, req).await?).into_response())
}

/// `POST .../messages/stream`: always a stream.
pub(crate) async fn stream(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<LettaRequest>,
) -> Result<Response, ApiError> {
    stream_reply(app, id, req).await
}

async fn stream_reply(app: Service, id: AgentId, req: LettaRequest) -> Result<Response, ApiError> {
    let pings = req.include_pings.unwrap_or(true);
    let stream = app.stream_message(id, req).await?;
    Ok(sse_response(stream, pings))
}

/// `POST .../messages/async`: the run, at once.
pub(crate) async fn send_async(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<LettaRequest>,
) -> ApiResult<Run> {
    Ok(Json(app.send_message_async(id, req).await?))
}

/// `POST .../messages/preview-raw-payload`: the provider's request body of the turn's first
/// model call, nothing stored or sent.
pub(crate) async fn preview(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<LettaRequest>,
) -> ApiResult<serde_json::Value> {
    Ok(Json(app.preview_request(id, req).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct CancelRequest {
    run_ids: Option<Vec<RunId>>,
}

pub(crate) async fn cancel(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<CancelRequest>,
) -> ApiResult<CancelledRuns> {
    Ok(Json(app.cancel_runs(id, req.run_ids).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
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
    conversation_id: Option<mneme_types::ConversationId>,
}

pub(crate) async fn list(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Vec<LettaMessage>> {
    Ok(Json(app.list_messages(id, q.list()).await?))
}

/// `GET /v1/messages/`: every agent's messages, paged as one agent's are.
pub(crate) async fn list_all(
    State(app): State<Service>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Vec<LettaMessage>> {
    Ok(Json(app.list_all_messages(q.list()).await?))
}

impl ListQuery {
    fn list(self) -> ListMessages {
        let order = match self.order.as_deref() {
            Some("asc") => Order::Asc,
            _ => Order::Desc,
        };
        ListMessages {
            before: self.before,
            after: self.after,
            limit: self.limit.unwrap_or(100).min(10_000),
            order,
            render: Some(RenderOverrides {
                use_assistant_message: self.use_assistant_message,
                tool_name: self.assistant_message_tool_name,
                tool_kwarg: self.assistant_message_tool_kwarg,
            }),
            include_types: list_param(&self.include_return_message_types),
            conversation: self.conversation_id,
        }
    }
}

/// `GET /v1/messages/{message_id}`: the stored message as the `LettaMessage`s it shows as.
pub(crate) async fn retrieve(
    State(app): State<Service>,
    ApiPath(id): ApiPath<MessageId>,
) -> ApiResult<Vec<LettaMessage>> {
    Ok(Json(app.message_parts(id).await?))
}

pub(crate) async fn modify(
    State(app): State<Service>,
    ApiPath((id, message)): ApiPath<(AgentId, MessageId)>,
    ApiJson(update): ApiJson<MessageUpdate>,
) -> ApiResult<LettaMessage> {
    Ok(Json(app.modify_message(id, message, update).await?))
}

pub(crate) async fn reset(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<ResetMessages>,
) -> ApiResult<AgentState> {
    Ok(Json(app.reset_messages(id, req).await?))
}

/// `POST /v1/agents/{id}/summarize`: the body (and its settings) may be absent or `null`.
pub(crate) async fn summarize(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<Option<SummarizeRequest>>,
) -> ApiResult<CompactionResponse> {
    Ok(Json(app.summarize(id, req).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ContextQuery {
    conversation_id: Option<mneme_types::ConversationId>,
}

/// `GET /v1/agents/{id}/context`: of the default conversation, or of `conversation_id`.
pub(crate) async fn context(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiQuery(q): ApiQuery<ContextQuery>,
) -> ApiResult<ContextWindowOverview> {
    Ok(Json(app.context_window(id, q.conversation_id).await?))
}

pub(crate) async fn search(
    State(app): State<Service>,
    ApiJson(req): ApiJson<mneme_types::SearchAllMessages>,
) -> Result<Json<Vec<MessageListResult>>, ApiError> {
    Ok(Json(app.search_all_messages(req).await?))
}
