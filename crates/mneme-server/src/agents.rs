//! `/v1/agents/...`: agents and their core memory.

use axum::Json;
use axum::extract::State;
use mneme_service::{Include, Service};
use mneme_store::{AgentFilter, Order};
use mneme_types::{
    AgentId, AgentState, Block, BlockId, BlockUpdate, CreateAgent, Deleted, IdentityId, Memory,
    UpdateAgent,
};
use serde::Deserialize;

use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery, Project, list_param};

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct FilterQuery {
    name: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    match_all_tags: bool,
    query_text: Option<String>,
    project_id: Option<String>,
    template_id: Option<String>,
    base_template_id: Option<String>,
    last_stop_reason: Option<String>,
    identity_id: Option<IdentityId>,
    #[serde(default)]
    identifier_keys: Vec<String>,
}

impl FilterQuery {
    fn filter(self) -> AgentFilter {
        AgentFilter {
            id: None,
            name: self.name,
            tags: list_param(&self.tags),
            match_all_tags: self.match_all_tags,
            query_text: self.query_text.filter(|q| !q.is_empty()),
            project_id: self.project_id,
            template_id: self.template_id,
            base_template_id: self.base_template_id,
            last_stop_reason: self.last_stop_reason,
            identity_id: self.identity_id,
            identifier_keys: list_param(&self.identifier_keys),
        }
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct IncludeQuery {
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    include_relationships: Vec<String>,
}

impl IncludeQuery {
    /// `include` wins; the deprecated `include_relationships` is read when `include` is absent.
    pub(crate) fn resolve(&self, client: Client) -> Include {
        let names = match self.include.is_empty() {
            true => &self.include_relationships,
            false => &self.include,
        };
        client.include(&list_param(names))
    }
}

pub(crate) async fn create(
    State(app): State<Service>,
    Project(project): Project,
    ApiJson(mut req): ApiJson<CreateAgent>,
) -> ApiResult<AgentState> {
    if req.project_id.is_none() {
        req.project_id = project;
    }
    Ok(Json(app.create_agent(req).await?))
}

pub(crate) async fn list(
    State(app): State<Service>,
    client: Client,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(filter): ApiQuery<FilterQuery>,
    ApiQuery(include): ApiQuery<IncludeQuery>,
) -> ApiResult<Vec<AgentState>> {
    let page = page.page(50, Order::Desc)?;
    let include = include.resolve(client);
    Ok(Json(
        app.list_agents(&filter.filter(), &page, include).await?,
    ))
}

pub(crate) async fn count(
    State(app): State<Service>,
    ApiQuery(q): ApiQuery<FilterQuery>,
) -> ApiResult<u64> {
    Ok(Json(app.count_agents(&q.filter()).await?))
}

pub(crate) async fn retrieve(
    State(app): State<Service>,
    client: Client,
    ApiPath(id): ApiPath<AgentId>,
    ApiQuery(q): ApiQuery<IncludeQuery>,
) -> ApiResult<AgentState> {
    let include = q.resolve(client);
    Ok(Json(app.get_agent(id, include).await?))
}

pub(crate) async fn modify(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<UpdateAgent>,
) -> ApiResult<AgentState> {
    Ok(Json(app.update_agent(id, req).await?))
}

pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
) -> ApiResult<Deleted> {
    app.delete_agent(id).await?;
    Ok(Json(Deleted {
        message: format!("Agent id={id} successfully deleted"),
    }))
}

pub(crate) async fn memory(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
) -> ApiResult<Memory> {
    Ok(Json(app.get_agent(id, Include::ALL).await?.memory))
}

pub(crate) async fn list_blocks(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Vec<Block>> {
    let page = q.page(100, Order::Desc)?;
    Ok(Json(app.agent_blocks(id, &page).await?))
}

pub(crate) async fn retrieve_block(
    State(app): State<Service>,
    ApiPath((id, label)): ApiPath<(AgentId, String)>,
) -> ApiResult<Block> {
    Ok(Json(app.agent_block(id, &label).await?))
}

pub(crate) async fn modify_block(
    State(app): State<Service>,
    ApiPath((id, label)): ApiPath<(AgentId, String)>,
    ApiJson(update): ApiJson<BlockUpdate>,
) -> ApiResult<Block> {
    Ok(Json(app.update_agent_block(id, &label, update).await?))
}

pub(crate) async fn attach_block(
    State(app): State<Service>,
    ApiPath((id, block)): ApiPath<(AgentId, BlockId)>,
) -> ApiResult<AgentState> {
    Ok(Json(app.attach_block(id, block).await?))
}

pub(crate) async fn detach_block(
    State(app): State<Service>,
    ApiPath((id, block)): ApiPath<(AgentId, BlockId)>,
) -> ApiResult<AgentState> {
    Ok(Json(app.detach_block(id, block).await?))
}

/// Both recompile routes answer with the new system prompt as a JSON string.
pub(crate) async fn recompile(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
) -> ApiResult<String> {
    Ok(Json(app.recompile(id).await?))
}
