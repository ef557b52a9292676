//! `/v1/archives/...`, `/v1/agents/{id}/archives/...` and `/v1/passages/search`: archives as
//! standalone, shareable collections of passages.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mneme_service::Service;
use mneme_store::{ArchiveFilter, Order};
use mneme_types::{
    AgentId, AgentState, Archive, ArchiveCreate, ArchiveId, ArchiveUpdate, Passage,
    PassageBatchCreate, PassageCreate, PassageId, PassageSearchRequest, PassageSearchResult,
};
use serde::Deserialize;
use serde_json::Value;

use crate::agents::IncludeQuery;
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) async fn create(
    State(app): State<Service>,
    ApiJson(req): ApiJson<ArchiveCreate>,
) -> ApiResult<Archive> {
    Ok(Json(app.create_archive(req).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct FilterQuery {
    name: Option<String>,
    agent_id: Option<AgentId>,
}

pub(crate) async fn list(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(f): ApiQuery<FilterQuery>,
) -> ApiResult<Vec<Archive>> {
    let page = page.page(50, Order::Desc)?;
    let filter = ArchiveFilter {
        name: f.name,
        agent: f.agent_id,
    };
    Ok(Json(app.list_archives(&filter, &page).await?))
}

pub(crate) async fn retrieve(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ArchiveId>,
) -> ApiResult<Archive> {
    Ok(Json(app.get_archive(id).await?))
}

pub(crate) async fn modify(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ArchiveId>,
    ApiJson(req): ApiJson<ArchiveUpdate>,
) -> ApiResult<Archive> {
    Ok(Json(app.update_archive(id, req).await?))
}

pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ArchiveId>,
) -> Result<StatusCode, ApiError> {
    app.delete_archive(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn agents(
    State(app): State<Service>,
    client: Client,
    ApiPath(id): ApiPath<ArchiveId>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(include): ApiQuery<IncludeQuery>,
) -> ApiResult<Vec<AgentState>> {
    let page = page.page(50, Order::Desc)?;
    let include = include.resolve(client);
    Ok(Json(app.archive_agents(id, &page, include).await?))
}

pub(crate) async fn create_passage(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ArchiveId>,
    ApiJson(req): ApiJson<PassageCreate>,
) -> ApiResult<Option<Passage>> {
    let mut stored = app.create_archive_passages(id, vec![req]).await?;
    Ok(Json(stored.pop()))
}

pub(crate) async fn create_passages(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ArchiveId>,
    ApiJson(req): ApiJson<PassageBatchCreate>,
) -> ApiResult<Vec<Passage>> {
    Ok(Json(app.create_archive_passages(id, req.passages).await?))
}

pub(crate) async fn delete_passage(
    State(app): State<Service>,
    ApiPath((id, passage)): ApiPath<(ArchiveId, PassageId)>,
) -> Result<StatusCode, ApiError> {
    app.delete_archive_passage(id, passage).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn attach(
    State(app): State<Service>,
    ApiPath((agent, id)): ApiPath<(AgentId, ArchiveId)>,
) -> ApiResult<Value> {
    app.attach_archive(agent, id).await?;
    Ok(Json(Value::Null))
}

pub(crate) async fn detach(
    State(app): State<Service>,
    ApiPath((agent, id)): ApiPath<(AgentId, ArchiveId)>,
) -> ApiResult<Value> {
    app.detach_archive(agent, id).await?;
    Ok(Json(Value::Null))
}

pub(crate) async fn search_passages(
    State(app): State<Service>,
    ApiJson(req): ApiJson<PassageSearchRequest>,
) -> ApiResult<Vec<PassageSearchResult>> {
    Ok(Json(app.search_all_passages(req).await?))
}
