//! `/v1/blocks/...`: blocks as standalone, shareable resources.

use axum::Json;
use axum::extract::State;
use mneme_service::Service;
use mneme_store::{BlockFilter, Order};
use mneme_types::{AgentState, Block, BlockId, BlockUpdate, CreateBlock, IdentityId};
use serde::Deserialize;
use serde_json::Value;

use crate::agents::IncludeQuery;
use crate::client::Client;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery, list_param};

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct FilterQuery {
    label: Option<String>,
    #[serde(default)]
    templates_only: bool,
    name: Option<String>,
    project_id: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    match_all_tags: bool,
    label_search: Option<String>,
    description_search: Option<String>,
    value_search: Option<String>,
    connected_to_agents_count_gt: Option<u64>,
    connected_to_agents_count_lt: Option<u64>,
    #[serde(default)]
    connected_to_agents_count_eq: Vec<u64>,
    identity_id: Option<IdentityId>,
    #[serde(default)]
    identifier_keys: Vec<String>,
}

impl FilterQuery {
    fn filter(self) -> BlockFilter {
        BlockFilter {
            label: self.label,
            templates_only: self.templates_only,
            template_name: self.name,
            project_id: self.project_id,
            tags: list_param(&self.tags),
            match_all_tags: self.match_all_tags,
            label_search: self.label_search,
            description_search: self.description_search,
            value_search: self.value_search,
            agents_count_gt: self.connected_to_agents_count_gt,
            agents_count_lt: self.connected_to_agents_count_lt,
            agents_count_eq: self.connected_to_agents_count_eq,
            identity_id: self.identity_id,
            identifier_keys: list_param(&self.identifier_keys),
        }
    }
}

pub(crate) async fn create(
    State(app): State<Service>,
    ApiJson(req): ApiJson<CreateBlock>,
) -> ApiResult<Block> {
    Ok(Json(app.create_block(req).await?))
}

pub(crate) async fn list(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(filter): ApiQuery<FilterQuery>,
) -> ApiResult<Vec<Block>> {
    let page = page.page(50, Order::Asc)?;
    Ok(Json(app.list_blocks(&filter.filter(), &page).await?))
}

pub(crate) async fn count(
    State(app): State<Service>,
    ApiQuery(q): ApiQuery<FilterQuery>,
) -> ApiResult<u64> {
    Ok(Json(app.count_blocks(&q.filter()).await?))
}

pub(crate) async fn retrieve(
    State(app): State<Service>,
    ApiPath(id): ApiPath<BlockId>,
) -> ApiResult<Block> {
    Ok(Json(app.get_block(id).await?))
}

pub(crate) async fn modify(
    State(app): State<Service>,
    ApiPath(id): ApiPath<BlockId>,
    ApiJson(update): ApiJson<BlockUpdate>,
) -> ApiResult<Block> {
    Ok(Json(app.update_block(id, update).await?))
}

/// Answers JSON `null`: an empty body labelled JSON would make the SDK fail to parse it.
pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<BlockId>,
) -> ApiResult<Value> {
    app.delete_block(id).await?;
    Ok(Json(Value::Null))
}

pub(crate) async fn agents(
    State(app): State<Service>,
    client: Client,
    ApiPath(id): ApiPath<BlockId>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(include): ApiQuery<IncludeQuery>,
) -> ApiResult<Vec<AgentState>> {
    let page = page.page(50, Order::Desc)?;
    let include = include.resolve(client);
    Ok(Json(app.agents_of_block(id, &page, include).await?))
}
