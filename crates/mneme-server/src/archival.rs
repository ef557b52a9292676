//! `/v1/agents/{id}/archival-memory...`: an agent's archival passages.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use mneme_service::{ArchivalSearch, Service};
use mneme_store::PassageList;
use mneme_types::{
    AgentId, ArchivalMemorySearchResponse, CreateArchivalMemory, Deleted, Passage, PassageId,
};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, list_param};

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ListQuery {
    after: Option<PassageId>,
    before: Option<PassageId>,
    limit: Option<u32>,
    search: Option<String>,
    ascending: Option<bool>,
}

pub(crate) async fn list(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Vec<Passage>> {
    let query = PassageList {
        after: q.after,
        before: q.before,
        limit: q.limit.unwrap_or(100).min(10_000),
        ascending: q.ascending.unwrap_or(true),
        search: q.search,
    };
    Ok(Json(app.list_passages(id, &query).await?))
}

pub(crate) async fn create(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<CreateArchivalMemory>,
) -> ApiResult<Vec<Passage>> {
    Ok(Json(app.insert_passage(id, req).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct SearchQuery {
    query: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    tag_match_mode: Option<String>,
    top_k: Option<u32>,
    start_datetime: Option<DateTime<Utc>>,
    end_datetime: Option<DateTime<Utc>>,
}

pub(crate) async fn search(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<ArchivalMemorySearchResponse> {
    let match_all = match q.tag_match_mode.as_deref() {
        None | Some("any") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ApiError::Malformed {
                loc: vec!["query".into(), "tag_match_mode".into()],
                msg: format!("Input should be 'any' or 'all', got '{other}'"),
                kind: "enum",
            });
        }
    };
    let query = q.query.ok_or_else(|| ApiError::Malformed {
        loc: vec!["query".into(), "query".into()],
        msg: "Field required".into(),
        kind: "missing",
    })?;
    let search = ArchivalSearch {
        query,
        tags: list_param(&q.tags),
        match_all,
        top_k: q.top_k,
        start: q.start_datetime,
        end: q.end_datetime,
    };
    Ok(Json(app.search_passages(id, search).await?))
}

pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath((id, memory)): ApiPath<(AgentId, PassageId)>,
) -> ApiResult<Deleted> {
    Ok(Json(app.delete_passage(id, memory).await?))
}
