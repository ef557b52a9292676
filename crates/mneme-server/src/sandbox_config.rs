//! `/v1/sandbox-config/...`: sandbox configurations and their environment variables.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, patch, post};
use mneme_service::Service;
use mneme_store::Order;
use mneme_types::{
    LocalSandboxConfig, SandboxConfig, SandboxConfigCreate, SandboxConfigId, SandboxConfigUpdate,
    SandboxEnvVarId, SandboxEnvironmentVariable, SandboxEnvironmentVariableCreate,
    SandboxEnvironmentVariableUpdate, SandboxType,
};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Letta's list limit for these routes.
const DEFAULT_LIMIT: u32 = 1000;

pub(crate) fn routes() -> Vec<(&'static str, MethodRouter<Service>)> {
    vec![
        ("/v1/sandbox-config/", post(create).get(list)),
        ("/v1/sandbox-config/e2b/default", post(default_e2b)),
        ("/v1/sandbox-config/local", post(create_local)),
        ("/v1/sandbox-config/local/default", post(default_local)),
        (
            "/v1/sandbox-config/local/recreate-venv",
            post(recreate_venv),
        ),
        (
            "/v1/sandbox-config/{sandbox_config_id}",
            patch(modify).delete(delete),
        ),
        (
            "/v1/sandbox-config/{sandbox_config_id}/environment-variable",
            post(create_env_var).get(list_env_vars),
        ),
        (
            "/v1/sandbox-config/environment-variable/{env_var_id}",
            patch(modify_env_var).delete(delete_env_var),
        ),
    ]
}

#[derive(Debug, Default, Deserialize)]
struct KindQuery {
    sandbox_type: Option<SandboxType>,
}

async fn create(
    State(app): State<Service>,
    ApiJson(req): ApiJson<SandboxConfigCreate>,
) -> ApiResult<SandboxConfig> {
    Ok(Json(app.create_sandbox_config(req).await?))
}

async fn list(
    State(app): State<Service>,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(kind): ApiQuery<KindQuery>,
) -> ApiResult<Vec<SandboxConfig>> {
    let page = page.page(DEFAULT_LIMIT, Order::Asc)?;
    Ok(Json(
        app.list_sandbox_configs(kind.sandbox_type, &page).await?,
    ))
}

async fn default_e2b(State(app): State<Service>) -> ApiResult<SandboxConfig> {
    Ok(Json(app.default_sandbox_config(SandboxType::E2b).await?))
}

async fn default_local(State(app): State<Service>) -> ApiResult<SandboxConfig> {
    Ok(Json(app.default_sandbox_config(SandboxType::Local).await?))
}

async fn create_local(
    State(app): State<Service>,
    ApiJson(req): ApiJson<LocalSandboxConfig>,
) -> ApiResult<SandboxConfig> {
    Ok(Json(app.create_local_sandbox_config(req).await?))
}

async fn recreate_venv(State(app): State<Service>) -> ApiResult<SandboxConfig> {
    Ok(Json(app.recreate_local_venv().await?))
}

async fn modify(
    State(app): State<Service>,
    ApiPath(id): ApiPath<SandboxConfigId>,
    ApiJson(req): ApiJson<SandboxConfigUpdate>,
) -> ApiResult<SandboxConfig> {
    Ok(Json(app.update_sandbox_config(id, req).await?))
}

async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<SandboxConfigId>,
) -> Result<StatusCode, ApiError> {
    app.delete_sandbox_config(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_env_var(
    State(app): State<Service>,
    ApiPath(id): ApiPath<SandboxConfigId>,
    ApiJson(req): ApiJson<SandboxEnvironmentVariableCreate>,
) -> ApiResult<SandboxEnvironmentVariable> {
    Ok(Json(app.create_sandbox_env_var(id, req).await?))
}

async fn list_env_vars(
    State(app): State<Service>,
    ApiPath(id): ApiPath<SandboxConfigId>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Vec<SandboxEnvironmentVariable>> {
    let page = page.page(DEFAULT_LIMIT, Order::Asc)?;
    Ok(Json(app.list_sandbox_env_vars(id, &page).await?))
}

async fn modify_env_var(
    State(app): State<Service>,
    ApiPath(id): ApiPath<SandboxEnvVarId>,
    ApiJson(req): ApiJson<SandboxEnvironmentVariableUpdate>,
) -> ApiResult<SandboxEnvironmentVariable> {
    Ok(Json(app.update_sandbox_env_var(id, req).await?))
}

async fn delete_env_var(
    State(app): State<Service>,
    ApiPath(id): ApiPath<SandboxEnvVarId>,
) -> Result<StatusCode, ApiError> {
    app.delete_sandbox_env_var(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
