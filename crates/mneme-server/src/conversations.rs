//! `/v1/conversations/...`: threads of one agent with their own history, sharing its memory.
//! A route's `conversation_id` is a `conv-` id, or `default` with an `agent_id` (query, or body
//! on POSTs that have one), or an agent id (Letta's deprecated form).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use mneme_service::{ConversationMessages, ConversationRef, ConversationReply, Service};
use mneme_store::{ConversationFilter, Order};
use mneme_types::{
    AgentId, CancelledRuns, CompactionResponse, Conversation, ConversationId, ConversationOrderBy,
    CreateConversation, LettaMessage, LettaRequest, RetrieveStream, SummarizeRequest,
    UpdateConversation,
};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery, list_param};
use crate::sse::sse_response;

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct AgentQuery {
    agent_id: Option<AgentId>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ListQuery {
    agent_id: Option<AgentId>,
    summary_search: Option<String>,
    order_by: Option<ConversationOrderBy>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct CreateQuery {
    agent_id: AgentId,
}

pub(crate) async fn create(
    State(app): State<Service>,
    ApiQuery(q): ApiQuery<CreateQuery>,
    ApiJson(req): ApiJson<Option<CreateConversation>>,
) -> ApiResult<Conversation> {
    let req = req.unwrap_or_default();
    Ok(Json(app.create_conversation(q.agent_id, req).await?))
}

pub(crate) async fn list(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Vec<Conversation>> {
    let page = page.page(50, Order::Desc)?;
    let filter = ConversationFilter {
        agent: q.agent_id,
        summary_search: q.summary_search,
        order_by: q.order_by.unwrap_or_default(),
    };
    Ok(Json(app.list_conversations(&filter, &page).await?))
}

pub(crate) async fn retrieve(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ConversationId>,
) -> ApiResult<Conversation> {
    Ok(Json(app.get_conversation(id).await?))
}

pub(crate) async fn update(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ConversationId>,
    ApiJson(req): ApiJson<UpdateConversation>,
) -> ApiResult<Conversation> {
    Ok(Json(app.update_conversation(id, req).await?))
}

/// Letta answers a bare `null`.
pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ConversationId>,
) -> ApiResult<()> {
    app.delete_conversation(id).await?;
    Ok(Json(()))
}

pub(crate) async fn fork(
    State(app): State<Service>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AgentQuery>,
) -> ApiResult<Conversation> {
    let source = ConversationRef::parse(&id, q.agent_id)?;
    Ok(Json(app.fork_conversation(source).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct MessagesQuery {
    agent_id: Option<AgentId>,
    #[serde(default)]
    include_return_message_types: Vec<String>,
}

pub(crate) async fn messages(
    State(app): State<Service>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> ApiResult<Vec<LettaMessage>> {
    let conversation = ConversationRef::parse(&id, q.agent_id)?;
    let list = ConversationMessages {
        page: page.page(100, Order::Desc)?,
        include_types: list_param(&q.include_return_message_types),
    };
    Ok(Json(
        app.list_conversation_messages(conversation, list).await?,
    ))
}

/// `POST .../messages`: a stream unless the body says `streaming: false`.
pub(crate) async fn send(
    State(app): State<Service>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<LettaRequest>,
) -> Result<Response, ApiError> {
    let conversation = ConversationRef::parse(&id, req.agent_id)?;
    let pings = req.include_pings.unwrap_or(true);
    Ok(
        match app.send_conversation_message(conversation, req).await? {
            ConversationReply::Stream(stream) => sse_response(stream, pings),
            ConversationReply::Response(response) => Json(response).into_response(),
        },
    )
}

/// `POST .../messages/preview-raw-payload`: the provider's request body, as JSON.
pub(crate) async fn preview(
    State(app): State<Service>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<LettaRequest>,
) -> ApiResult<serde_json::Value> {
    let conversation = ConversationRef::parse(&id, req.agent_id)?;
    Ok(Json(
        app.preview_conversation_request(conversation, req).await?,
    ))
}

/// `POST .../stream`: the body may be absent.
pub(crate) async fn stream(
    State(app): State<Service>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<Option<RetrieveStream>>,
) -> Result<Response, ApiError> {
    let req = req.unwrap_or_default();
    let conversation = ConversationRef::parse(&id, req.agent_id)?;
    let pings = req.include_pings.unwrap_or(true);
    let stream = app.retrieve_conversation_stream(conversation, req).await?;
    Ok(sse_response(stream, pings))
}

pub(crate) async fn cancel(
    State(app): State<Service>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AgentQuery>,
) -> ApiResult<CancelledRuns> {
    let conversation = ConversationRef::parse(&id, q.agent_id)?;
    Ok(Json(app.cancel_conversation(conversation).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct RecompileQuery {
    #[serde(default)]
    dry_run: bool,
}

/// `POST .../recompile`: the compiled system prompt, as a JSON string.
pub(crate) async fn recompile(
    State(app): State<Service>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<RecompileQuery>,
    ApiJson(req): ApiJson<Option<SummarizeRequest>>,
) -> ApiResult<String> {
    let agent = req.and_then(|r| r.agent_id);
    let conversation = ConversationRef::parse(&id, agent)?;
    Ok(Json(
        app.recompile_conversation(conversation, q.dry_run).await?,
    ))
}

pub(crate) async fn compact(
    State(app): State<Service>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<Option<SummarizeRequest>>,
) -> ApiResult<CompactionResponse> {
    let agent = req.as_ref().and_then(|r| r.agent_id);
    let conversation = ConversationRef::parse(&id, agent)?;
    Ok(Json(app.compact_conversation(conversation, req).await?))
}
