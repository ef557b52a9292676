//! `/v1/sandbox-config/...`: sandbox configurations and their environment variables.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
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
use crate::openapi::{Route, op, route};

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Letta's list limit for these routes.
const DEFAULT_LIMIT: u32 = 1000;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        route("/v1/sandbox-config/")
            .post(
                create,
                op("create_sandbox_config_v1_sandbox_config__post", "Create sandbox configuration"),
            )
            .get(
                list,
                op("list_sandbox_configs_v1_sandbox_config__get", "List sandbox configurations"),
            ),
        route("/v1/sandbox-config/e2b/default").post(
            default_e2b,
            op(
                "create_default_e2b_sandbox_config_v1_sandbox_config_e2b_default_post",
                "The E2B configuration (stored; E2B does not run here)",
            ),
        ),
        route("/v1/sandbox-config/local").post(
            create_local,
            op(
                "create_custom_local_sandbox_config_v1_sandbox_config_local_post",
                "Create the local sandbox configuration",
            ),
        ),
        route("/v1/sandbox-config/local/default").post(
            default_local,
            op(
                "create_default_local_sandbox_config_v1_sandbox_config_local_default_post",
                "The local sandbox configuration",
            ),
        ),
        route("/v1/sandbox-config/local/recreate-venv").post(
            recreate_venv,
            op(
                "force_recreate_local_sandbox_venv_v1_sandbox_config_local_recreate_venv_post",
                "Recreate the tools' virtualenv with the pip requirements",
            ),
        ),
        route("/v1/sandbox-config/{sandbox_config_id}")
            .patch(
                modify,
                op(
                    "update_sandbox_config_v1_sandbox_config__sandbox_config_id__patch",
                    "Modify a sandbox configuration",
                ),
            )
            .delete(
                delete,
                op(
                    "delete_sandbox_config_v1_sandbox_config__sandbox_config_id__delete",
                    "Delete a sandbox configuration",
                ),
            ),
        route("/v1/sandbox-config/{sandbox_config_id}/environment-variable")
            .post(
                create_env_var,
                op(
                    "create_sandbox_env_var_v1_sandbox_config__sandbox_config_id__environment_variable_post",
                    "Create an environment variable of a configuration",
                ),
            )
            .get(
                list_env_vars,
                op(
                    "list_sandbox_env_vars_v1_sandbox_config__sandbox_config_id__environment_variable_get",
                    "List a configuration's environment variables",
                ),
            ),
        route("/v1/sandbox-config/environment-variable/{env_var_id}")
            .patch(
                modify_env_var,
                op(
                    "update_sandbox_env_var_v1_sandbox_config_environment_variable__env_var_id__patch",
                    "Modify an environment variable",
                ),
            )
            .delete(
                delete_env_var,
                op(
                    "delete_sandbox_env_var_v1_sandbox_config_environment_variable__env_var_id__delete",
                    "Delete an environment variable",
                ),
            ),
    ]
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
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
