//! `/v1/identities/...`, and the identity links of agents and blocks
//! (`/v1/agents/{id}/identities/...`, `/v1/blocks/{id}/identities/...`).

use axum::Json;
use axum::extract::State;
use mneme_service::Service;
use mneme_store::{IdentityFilter, Order};
use mneme_types::{
    AgentId, AgentState, Block, BlockId, Identity, IdentityCreate, IdentityId, IdentityProperty,
    IdentityType, IdentityUpdate, IdentityUpsert,
};
use serde::Deserialize;
use serde_json::Value;

use crate::agents::IncludeQuery;
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery, Project};

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct FilterQuery {
    name: Option<String>,
    project_id: Option<String>,
    identifier_key: Option<String>,
    identity_type: Option<IdentityType>,
}

impl FilterQuery {
    fn filter(self) -> IdentityFilter {
        IdentityFilter {
            name: self.name.filter(|n| !n.is_empty()),
            project_id: self.project_id,
            identifier_key: self.identifier_key,
            identity_type: self.identity_type,
        }
    }
}

pub(crate) async fn list(
    State(app): State<Service>,
    Project(project): Project,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(mut filter): ApiQuery<FilterQuery>,
) -> ApiResult<Vec<Identity>> {
    let page = page.page(50, Order::Desc)?;
    // Letta's header, over the query parameter it deprecates.
    if project.is_some() {
        filter.project_id = project;
    }
    Ok(Json(app.list_identities(&filter.filter(), &page).await?))
}

pub(crate) async fn create(
    State(app): State<Service>,
    Project(project): Project,
    ApiJson(mut req): ApiJson<IdentityCreate>,
) -> ApiResult<Identity> {
    if req.project_id.is_none() {
        req.project_id = project;
    }
    Ok(Json(app.create_identity(req).await?))
}

pub(crate) async fn upsert(
    State(app): State<Service>,
    Project(project): Project,
    ApiJson(mut req): ApiJson<IdentityUpsert>,
) -> ApiResult<Identity> {
    if req.project_id.is_none() {
        req.project_id = project;
    }
    Ok(Json(app.upsert_identity(req).await?))
}

/// A bare integer, as every count route answers.
pub(crate) async fn count(State(app): State<Service>) -> ApiResult<u64> {
    Ok(Json(app.count_identities().await?))
}

pub(crate) async fn retrieve(
    State(app): State<Service>,
    ApiPath(id): ApiPath<IdentityId>,
) -> ApiResult<Identity> {
    Ok(Json(app.get_identity(id).await?))
}

pub(crate) async fn modify(
    State(app): State<Service>,
    ApiPath(id): ApiPath<IdentityId>,
    ApiJson(req): ApiJson<IdentityUpdate>,
) -> ApiResult<Identity> {
    Ok(Json(app.update_identity(id, req).await?))
}

/// Answers JSON `null`, as Letta's handler returns nothing.
pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<IdentityId>,
) -> ApiResult<Value> {
    app.delete_identity(id).await?;
    Ok(Json(Value::Null))
}

/// The body is the whole new property list; answers the identity.
pub(crate) async fn properties(
    State(app): State<Service>,
    ApiPath(id): ApiPath<IdentityId>,
    ApiJson(properties): ApiJson<Vec<IdentityProperty>>,
) -> ApiResult<Identity> {
    Ok(Json(app.set_identity_properties(id, properties).await?))
}

pub(crate) async fn agents(
    State(app): State<Service>,
    client: Client,
    ApiPath(id): ApiPath<IdentityId>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(include): ApiQuery<IncludeQuery>,
) -> ApiResult<Vec<AgentState>> {
    let page = page.page(50, Order::Desc)?;
    let include = include.resolve(client);
    Ok(Json(app.agents_of_identity(id, &page, include).await?))
}

pub(crate) async fn blocks(
    State(app): State<Service>,
    ApiPath(id): ApiPath<IdentityId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Vec<Block>> {
    let page = page.page(50, Order::Desc)?;
    Ok(Json(app.blocks_of_identity(id, &page).await?))
}

/// Answers JSON `null`, as Letta does (the SDK types the answer as `object`).
pub(crate) async fn attach_to_agent(
    State(app): State<Service>,
    ApiPath((agent, id)): ApiPath<(AgentId, IdentityId)>,
) -> ApiResult<Value> {
    app.attach_identity_to_agent(agent, id).await?;
    Ok(Json(Value::Null))
}

pub(crate) async fn detach_from_agent(
    State(app): State<Service>,
    ApiPath((agent, id)): ApiPath<(AgentId, IdentityId)>,
) -> ApiResult<Value> {
    app.detach_identity_from_agent(agent, id).await?;
    Ok(Json(Value::Null))
}

pub(crate) async fn attach_to_block(
    State(app): State<Service>,
    ApiPath((block, id)): ApiPath<(BlockId, IdentityId)>,
) -> ApiResult<Block> {
    Ok(Json(app.attach_identity_to_block(block, id).await?))
}

pub(crate) async fn detach_from_block(
    State(app): State<Service>,
    ApiPath((block, id)): ApiPath<(BlockId, IdentityId)>,
) -> ApiResult<Block> {
    Ok(Json(app.detach_identity_from_block(block, id).await?))
}
