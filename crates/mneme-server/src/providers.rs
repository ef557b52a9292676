//! `/v1/providers/...`: providers created with the user's own key.

use axum::Json;
use axum::extract::State;
use mneme_service::Service;
use mneme_store::{Order, ProviderFilter};
use mneme_types::{CheckProvider, CreateProvider, ProviderId, UpdateProvider};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct FilterQuery {
    name: Option<String>,
    provider_type: Option<String>,
}

pub(crate) async fn list(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(filter): ApiQuery<FilterQuery>,
) -> ApiResult<Vec<Value>> {
    let page = page.page(50, Order::Desc)?;
    let filter = ProviderFilter {
        name: filter.name,
        provider_type: filter.provider_type,
    };
    Ok(Json(app.list_providers(&filter, &page).await?))
}

pub(crate) async fn create(
    State(app): State<Service>,
    ApiJson(req): ApiJson<CreateProvider>,
) -> ApiResult<Value> {
    Ok(Json(app.create_provider(req).await?))
}

pub(crate) async fn retrieve(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ProviderId>,
) -> ApiResult<Value> {
    Ok(Json(app.get_provider(id).await?))
}

pub(crate) async fn modify(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ProviderId>,
    ApiJson(req): ApiJson<UpdateProvider>,
) -> ApiResult<Value> {
    Ok(Json(app.update_provider(id, req).await?))
}

pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ProviderId>,
) -> ApiResult<Value> {
    Ok(Json(app.delete_provider(id).await?))
}

pub(crate) async fn check(
    State(app): State<Service>,
    ApiJson(req): ApiJson<CheckProvider>,
) -> ApiResult<Value> {
    Ok(Json(app.check_provider(req).await?))
}

pub(crate) async fn check_existing(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ProviderId>,
) -> ApiResult<Value> {
    Ok(Json(app.check_existing_provider(id).await?))
}

pub(crate) async fn refresh(
    State(app): State<Service>,
    ApiPath(id): ApiPath<ProviderId>,
) -> ApiResult<Value> {
    Ok(Json(app.refresh_provider(id).await?))
}
