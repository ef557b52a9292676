//! `/v1/folders/...` and its twin `/v1/sources/...` (the same handlers, the same data), an
//! agent's folders (`/v1/agents/{id}/folders`, `/sources`), and `/v1/jobs/...`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mneme_service::Service;
use mneme_store::{FolderFilter, JobFilter, Order};
use mneme_types::{
    AgentId, AgentState, FileId, FileMetadata, Folder, FolderCreate, FolderId, FolderUpdate, Job,
    JobId, OrganizationSourcesStats,
};
use serde::Deserialize;
use serde_json::Value;

use crate::agents::IncludeQuery;
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NameQuery {
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ContentQuery {
    #[serde(default)]
    include_content: bool,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct MetadataQuery {
    #[serde(default)]
    include_detailed_per_source_metadata: bool,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct JobQuery {
    source_id: Option<FolderId>,
    #[serde(default)]
    active: bool,
}

/// Oldest first by default, as Letta lists folders.
pub(crate) async fn list(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(q): ApiQuery<NameQuery>,
) -> ApiResult<Vec<Folder>> {
    let page = page.page(50, Order::Asc)?;
    let filter = FolderFilter { name: q.name };
    Ok(Json(app.list_folders(&filter, &page).await?))
}

pub(crate) async fn create(
    State(app): State<Service>,
    ApiJson(req): ApiJson<FolderCreate>,
) -> ApiResult<Folder> {
    Ok(Json(app.create_folder(req).await?))
}

/// A bare integer, as every count route answers.
pub(crate) async fn count(State(app): State<Service>) -> ApiResult<u64> {
    Ok(Json(app.count_folders().await?))
}

pub(crate) async fn metadata(
    State(app): State<Service>,
    ApiQuery(q): ApiQuery<MetadataQuery>,
) -> ApiResult<OrganizationSourcesStats> {
    let detailed = q.include_detailed_per_source_metadata;
    Ok(Json(app.folders_metadata(detailed).await?))
}

/// The folder's id as a bare JSON string.
pub(crate) async fn id_by_name(
    State(app): State<Service>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<FolderId> {
    Ok(Json(app.folder_id_by_name(&name).await?))
}

pub(crate) async fn retrieve(
    State(app): State<Service>,
    ApiPath(id): ApiPath<FolderId>,
) -> ApiResult<Folder> {
    Ok(Json(app.get_folder(id).await?))
}

pub(crate) async fn modify(
    State(app): State<Service>,
    ApiPath(id): ApiPath<FolderId>,
    ApiJson(req): ApiJson<FolderUpdate>,
) -> ApiResult<Folder> {
    Ok(Json(app.update_folder(id, req).await?))
}

/// Answers JSON `null`, as Letta's handler returns nothing.
pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<FolderId>,
) -> ApiResult<Value> {
    app.delete_folder(id).await?;
    Ok(Json(Value::Null))
}

/// Ids of the agents the folder is attached to.
pub(crate) async fn agents(
    State(app): State<Service>,
    ApiPath(id): ApiPath<FolderId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Vec<AgentId>> {
    let page = page.page(50, Order::Asc)?;
    Ok(Json(app.folder_agents(id, &page).await?))
}

/// Newest first by default, as Letta lists files.
pub(crate) async fn files(
    State(app): State<Service>,
    ApiPath(id): ApiPath<FolderId>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(q): ApiQuery<ContentQuery>,
) -> ApiResult<Vec<FileMetadata>> {
    let page = page.page(1000, Order::Desc)?;
    Ok(Json(app.list_files(id, &page, q.include_content).await?))
}

pub(crate) async fn file(
    State(app): State<Service>,
    ApiPath((id, file)): ApiPath<(FolderId, FileId)>,
    ApiQuery(q): ApiQuery<ContentQuery>,
) -> ApiResult<FileMetadata> {
    Ok(Json(app.get_file(id, file, q.include_content).await?))
}

pub(crate) async fn delete_file(
    State(app): State<Service>,
    ApiPath((id, file)): ApiPath<(FolderId, FileId)>,
) -> Result<StatusCode, ApiError> {
    app.delete_file(id, file).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The agent's folders in attachment order.
pub(crate) async fn of_agent(
    State(app): State<Service>,
    ApiPath(agent): ApiPath<AgentId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Vec<Folder>> {
    let page = page.page(50, Order::Asc)?;
    Ok(Json(app.agent_folders(agent, &page).await?))
}

/// Answers the agent, as the sources route does (the folders route may answer `null`).
pub(crate) async fn attach(
    State(app): State<Service>,
    client: Client,
    ApiPath((agent, id)): ApiPath<(AgentId, FolderId)>,
    ApiQuery(include): ApiQuery<IncludeQuery>,
) -> ApiResult<AgentState> {
    app.attach_folder(agent, id).await?;
    Ok(Json(app.get_agent(agent, include.resolve(client)).await?))
}

pub(crate) async fn detach(
    State(app): State<Service>,
    client: Client,
    ApiPath((agent, id)): ApiPath<(AgentId, FolderId)>,
    ApiQuery(include): ApiQuery<IncludeQuery>,
) -> ApiResult<AgentState> {
    app.detach_folder(agent, id).await?;
    Ok(Json(app.get_agent(agent, include.resolve(client)).await?))
}

/// Newest first by default, as Letta lists jobs.
pub(crate) async fn jobs(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> ApiResult<Vec<Job>> {
    let page = page.page(100, Order::Desc)?;
    let filter = JobFilter {
        folder: q.source_id,
        active: q.active,
    };
    Ok(Json(app.list_jobs(&filter, &page).await?))
}

pub(crate) async fn active_jobs(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> ApiResult<Vec<Job>> {
    let page = page.page(100, Order::Desc)?;
    let filter = JobFilter {
        folder: q.source_id,
        active: true,
    };
    Ok(Json(app.list_jobs(&filter, &page).await?))
}

pub(crate) async fn job(State(app): State<Service>, ApiPath(id): ApiPath<JobId>) -> ApiResult<Job> {
    Ok(Json(app.get_job(id).await?))
}

pub(crate) async fn cancel_job(
    State(app): State<Service>,
    ApiPath(id): ApiPath<JobId>,
) -> ApiResult<Job> {
    Ok(Json(app.cancel_job(id).await?))
}

pub(crate) async fn delete_job(
    State(app): State<Service>,
    ApiPath(id): ApiPath<JobId>,
) -> ApiResult<Job> {
    Ok(Json(app.delete_job(id).await?))
}
