//! `/v1/groups/...` and `/v1/agents/{id}/groups`: multi-agent groups, their shared blocks,
//! their messages, and messages to a group (the older SDKs' routes).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use mneme_service::{ListMessages, RenderOverrides, Service};
use mneme_store::{GroupFilter, Order};
use mneme_types::{
    AgentId, BlockId, Deleted, Group, GroupCreate, GroupId, GroupUpdate, LettaMessage,
    LettaRequest, LettaResponse, ManagerType, MessageId, MessageUpdate,
};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery, list_param};
use crate::sse::sse_response;

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct FilterQuery {
    manager_type: Option<ManagerType>,
    project_id: Option<String>,
    #[serde(default)]
    show_hidden_groups: bool,
}

pub(crate) async fn list(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(q): ApiQuery<FilterQuery>,
) -> ApiResult<Vec<Group>> {
    let page = page.page(50, Order::Asc)?;
    let filter = GroupFilter {
        manager_type: q.manager_type,
        project_id: q.project_id,
        show_hidden: q.show_hidden_groups,
    };
    Ok(Json(app.list_groups(&filter, &page).await?))
}

pub(crate) async fn create(
    State(app): State<Service>,
    ApiJson(req): ApiJson<GroupCreate>,
) -> ApiResult<Group> {
    Ok(Json(app.create_group(req).await?))
}

pub(crate) async fn count(State(app): State<Service>) -> ApiResult<u64> {
    Ok(Json(app.count_groups().await?))
}

pub(crate) async fn retrieve(
    State(app): State<Service>,
    ApiPath(id): ApiPath<GroupId>,
) -> ApiResult<Group> {
    Ok(Json(app.get_group(id).await?))
}

pub(crate) async fn modify(
    State(app): State<Service>,
    ApiPath(id): ApiPath<GroupId>,
    ApiJson(req): ApiJson<GroupUpdate>,
) -> ApiResult<Group> {
    Ok(Json(app.update_group(id, req).await?))
}

pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<GroupId>,
) -> ApiResult<Deleted> {
    app.delete_group(id).await?;
    Ok(Json(Deleted {
        message: format!("Group id={id} successfully deleted"),
    }))
}

/// Attach and detach answer `null`, as Letta's.
pub(crate) async fn attach_block(
    State(app): State<Service>,
    ApiPath((id, block)): ApiPath<(GroupId, BlockId)>,
) -> ApiResult<()> {
    Ok(Json(app.attach_group_block(id, block).await?))
}

pub(crate) async fn detach_block(
    State(app): State<Service>,
    ApiPath((id, block)): ApiPath<(GroupId, BlockId)>,
) -> ApiResult<()> {
    Ok(Json(app.detach_group_block(id, block).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct AgentGroupsQuery {
    manager_type: Option<String>,
}

/// `GET /v1/agents/{id}/groups`: 100 a page, newest first by default.
pub(crate) async fn of_agent(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(q): ApiQuery<AgentGroupsQuery>,
) -> ApiResult<Vec<Group>> {
    let page = page.page(100, Order::Desc)?;
    let kind = q.manager_type.as_deref();
    Ok(Json(app.groups_of_agent(id, kind, &page).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct MessagesQuery {
    before: Option<MessageId>,
    after: Option<MessageId>,
    limit: Option<u32>,
    order: Option<Direction>,
    use_assistant_message: Option<bool>,
    assistant_message_tool_name: Option<String>,
    assistant_message_tool_kwarg: Option<String>,
    #[serde(default)]
    include_return_message_types: Vec<String>,
}

/// `order` as the route takes it: anything else is a 422.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Direction {
    Asc,
    Desc,
}

/// `GET /v1/groups/{id}/messages`: 10 a page, the newest by default.
pub(crate) async fn messages(
    State(app): State<Service>,
    ApiPath(id): ApiPath<GroupId>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> ApiResult<Vec<LettaMessage>> {
    let list = ListMessages {
        before: q.before,
        after: q.after,
        limit: q.limit.unwrap_or(10).min(10_000),
        order: match q.order {
            Some(Direction::Asc) => Order::Asc,
            Some(Direction::Desc) | None => Order::Desc,
        },
        render: Some(RenderOverrides {
            use_assistant_message: q.use_assistant_message,
            tool_name: q.assistant_message_tool_name,
            tool_kwarg: q.assistant_message_tool_kwarg,
        }),
        include_types: list_param(&q.include_return_message_types),
        conversation: None,
    };
    Ok(Json(app.list_group_messages(id, list).await?))
}

pub(crate) async fn modify_message(
    State(app): State<Service>,
    ApiPath((id, message)): ApiPath<(GroupId, MessageId)>,
    ApiJson(update): ApiJson<MessageUpdate>,
) -> ApiResult<LettaMessage> {
    Ok(Json(app.modify_group_message(id, message, update).await?))
}

/// Answers `null`, as Letta's.
pub(crate) async fn reset_messages(
    State(app): State<Service>,
    ApiPath(id): ApiPath<GroupId>,
) -> ApiResult<()> {
    Ok(Json(app.reset_group_messages(id).await?))
}

/// `POST /v1/groups/{id}/messages`: a `LettaResponse`, or a stream with `streaming: true`.
pub(crate) async fn send(
    State(app): State<Service>,
    ApiPath(id): ApiPath<GroupId>,
    ApiJson(req): ApiJson<LettaRequest>,
) -> Result<Response, ApiError> {
    if req.streaming == Some(true) {
        return stream_reply(app, id, req).await;
    }
    let reply: LettaResponse = app.send_group_message(id, req).await?;
    Ok(Json(reply).into_response())
}

/// `POST /v1/groups/{id}/messages/stream`: always a stream.
pub(crate) async fn stream(
    State(app): State<Service>,
    ApiPath(id): ApiPath<GroupId>,
    ApiJson(req): ApiJson<LettaRequest>,
) -> Result<Response, ApiError> {
    stream_reply(app, id, req).await
}

async fn stream_reply(app: Service, id: GroupId, req: LettaRequest) -> Result<Response, ApiError> {
    let pings = req.include_pings.unwrap_or(true);
    let stream = app.stream_group_message(id, req).await?;
    Ok(sse_response(stream, pings))
}
