//! `/v1/folders/...` and its twin `/v1/sources/...` (the same handlers, the same data), an
//! agent's folders (`/v1/agents/{id}/folders`, `/sources`), and `/v1/jobs/...`.

use std::path::{Path, PathBuf};

use axum::Json;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mneme_service::{Service, ServiceError, Upload, Uploaded};
use mneme_store::{FolderFilter, JobFilter, Order, PassageList};
use mneme_types::{
    AgentId, AgentState, DuplicateFileHandling, FileId, FileMetadata, Folder, FolderCreate,
    FolderId, FolderUpdate, Job, JobId, OrganizationSourcesStats, PaginatedAgentFiles, Passage,
    PassageId,
};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::agents::IncludeQuery;
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct NameQuery {
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ContentQuery {
    #[serde(default)]
    include_content: bool,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct MetadataQuery {
    #[serde(default)]
    include_detailed_per_source_metadata: bool,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct AgentFilesQuery {
    is_open: Option<bool>,
    /// The deprecated cursor: the same as `after`.
    cursor: Option<String>,
}

/// The agent's files, open and closed, newest attachment first by default.
pub(crate) async fn agent_files(
    State(app): State<Service>,
    ApiPath(agent): ApiPath<AgentId>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(q): ApiQuery<AgentFilesQuery>,
) -> ApiResult<PaginatedAgentFiles> {
    let mut page = page.page(100, Order::Desc)?;
    if page.after.is_none() {
        page.after = q.cursor;
    }
    Ok(Json(app.list_agent_files(agent, q.is_open, &page).await?))
}

/// Opens the whole file in the agent's context; answers the files closed to make room.
pub(crate) async fn open_agent_file(
    State(app): State<Service>,
    ApiPath((agent, file)): ApiPath<(AgentId, FileId)>,
) -> ApiResult<Vec<String>> {
    Ok(Json(app.open_agent_file(agent, file).await?))
}

pub(crate) async fn close_agent_file(
    State(app): State<Service>,
    ApiPath((agent, file)): ApiPath<(AgentId, FileId)>,
) -> ApiResult<Value> {
    app.close_agent_file(agent, file).await?;
    Ok(Json(
        serde_json::json!({ "message": format!("File id={file} successfully closed") }),
    ))
}

/// Closes every open file; answers their names.
pub(crate) async fn close_all_agent_files(
    State(app): State<Service>,
    ApiPath(agent): ApiPath<AgentId>,
) -> ApiResult<Vec<String>> {
    Ok(Json(app.close_all_agent_files(agent).await?))
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

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct UploadQuery {
    #[serde(default)]
    duplicate_handling: DuplicateFileHandling,
    name: Option<String>,
}

/// `multipart/form-data` with the file in the `file` field, streamed to disk as it arrives
/// (never whole in memory) and refused with a 413 past the server's limit. Answers the file,
/// `pending` while it is processed in the background; a skipped duplicate is the file found,
/// with `X-Upload-Result: skipped` as Letta marks it.
pub(crate) async fn upload(
    State(app): State<Service>,
    ApiPath(id): ApiPath<FolderId>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    app.get_folder(id).await?;
    let mut multipart = multipart.map_err(|e| bad_form(&e.body_text()))?;
    let field = loop {
        match multipart
            .next_field()
            .await
            .map_err(|e| bad_form(&e.body_text()))?
        {
            Some(field) if field.name() == Some("file") => break field,
            Some(_) => continue,
            None => return Err(bad_form("the form has no `file` field")),
        }
    };
    let name = q
        .name
        .or_else(|| field.file_name().map(base_name))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad_form("the file has no name"))?;
    let mime = field.content_type().map(str::to_owned);
    app.check_upload(&name, mime.as_deref())?;
    let (file, path) = app.upload_target().await?;
    let partial = Partial(Some(path));
    let size = receive(field, partial.path(), app.max_upload_bytes()).await?;
    let up = Upload {
        folder: id,
        name,
        mime,
        path: partial.keep(),
        size,
        duplicate: q.duplicate_handling,
    };
    Ok(match app.upload_file(file, up).await? {
        Uploaded::Stored(file) => Json(file).into_response(),
        Uploaded::Skipped(file) => ([("x-upload-result", "skipped")], Json(file)).into_response(),
    })
}

/// A file being received: removed unless kept, so that a refused upload, or one whose client
/// went away midway (the handler is dropped), leaves nothing behind.
struct Partial(Option<PathBuf>);

impl Partial {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn keep(mut self) -> PathBuf {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // A small synchronous unlink; the runtime may be the one dropping us.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Writes the field's bytes to `path` as they arrive; answers their count, or a 413 as soon as
/// they pass `max`.
async fn receive(mut field: Field<'_>, path: &Path, max: u64) -> Result<u64, ApiError> {
    let io = |e: std::io::Error| ApiError::Service(ServiceError::Internal(e.to_string()));
    let mut out = tokio::fs::File::create(path).await.map_err(io)?;
    let mut size = 0u64;
    while let Some(bytes) = field.chunk().await.map_err(|e| bad_form(&e.body_text()))? {
        size += bytes.len() as u64;
        if size > max {
            return Err(ApiError::Service(ServiceError::TooLarge(format!(
                "File too large: the limit is {max} bytes"
            ))));
        }
        out.write_all(&bytes).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    Ok(size)
}

/// The last component of an uploaded file's name (browsers may send a path).
fn base_name(name: &str) -> String {
    name.rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .trim()
        .to_owned()
}

fn bad_form(msg: &str) -> ApiError {
    ApiError::Service(ServiceError::BadRequest(format!("invalid upload: {msg}")))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct PassagesQuery {
    after: Option<PassageId>,
    before: Option<PassageId>,
    limit: Option<u32>,
    order: Option<String>,
}

/// The passages of the folder's files, newest first unless `order=asc`.
pub(crate) async fn passages(
    State(app): State<Service>,
    ApiPath(id): ApiPath<FolderId>,
    ApiQuery(q): ApiQuery<PassagesQuery>,
) -> ApiResult<Vec<Passage>> {
    let query = PassageList {
        after: q.after,
        before: q.before,
        limit: q.limit.unwrap_or(100).min(10_000),
        ascending: q.order.as_deref() == Some("asc"),
        search: None,
    };
    Ok(Json(app.folder_passages(id, &query).await?))
}
