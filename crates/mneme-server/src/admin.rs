//! The control plane's routes: Letta's `/v1/admin/orgs` and `/v1/admin/users`, and mneme's
//! API keys and audit log under `/v1/admin` too. Each needs an admin caller (the service
//! decides); the gateway hands the caller and the `Tenancy` to them.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use mneme_service::{Caller, NewKey, Tenancy};
use mneme_store::{AuditFilter, Order};
use mneme_types::{
    ApiKey, ApiKeyId, AuditEntry, KeyRole, OrgId, Organization, OrganizationCreate,
    OrganizationUpdate, User, UserCreate, UserId, UserUpdate,
};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::{Route, op, route};

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        route("/v1/admin/orgs/")
            .get(list_orgs, op("list_orgs", "List organizations"))
            .post(
                create_org,
                op("create_organization", "Create an organization"),
            )
            .patch(
                update_org,
                op("update_organization", "Update an organization"),
            )
            .delete(
                delete_org,
                op(
                    "delete_organization_by_id",
                    "Delete an organization with its users, keys and data",
                ),
            ),
        route("/v1/admin/users/")
            .get(list_users, op("list_users", "List users"))
            .post(create_user, op("create_user", "Create a user"))
            .put(update_user, op("update_user", "Update a user"))
            .delete(delete_user, op("delete_user", "Delete a user and its keys")),
        route("/v1/admin/keys/")
            .get(
                list_keys,
                op("list_api_keys", "List API keys (never the keys)"),
            )
            .post(
                create_key,
                op("create_api_key", "Create an API key, shown once"),
            ),
        route("/v1/admin/keys/{key_id}")
            .delete(revoke_key, op("revoke_api_key", "Revoke an API key")),
        route("/v1/admin/audit/").get(
            list_audit,
            op("list_audit_log", "The recorded mutations, newest first"),
        ),
    ]
}

/// The caller and the control plane, as the gateway put them on the request. A router built
/// without the gateway (one organization, no authentication) serves no admin route.
pub(crate) struct Control {
    tenancy: Tenancy,
    caller: Caller,
    gateway: Option<crate::gateway::Gateway>,
}

impl<S: Send + Sync> FromRequestParts<S> for Control {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let tenancy = parts.extensions.get::<Tenancy>().cloned();
        let caller = parts.extensions.get::<Caller>().cloned();
        match (tenancy, caller) {
            (Some(tenancy), Some(caller)) => Ok(Control {
                tenancy,
                caller,
                gateway: parts.extensions.get::<crate::gateway::Gateway>().cloned(),
            }),
            _ => Err(ApiError::Status(StatusCode::NOT_FOUND, "Not Found")),
        }
    }
}

impl crate::openapi::describe::ArgDoc for Control {}

/// Letta's admin listings: `after` an id, `limit` of them.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct AdminPage<T> {
    #[serde(default)]
    after: Option<T>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct OrgParam {
    org_id: OrgId,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct UserParam {
    user_id: UserId,
}

async fn list_orgs(
    c: Control,
    ApiQuery(q): ApiQuery<AdminPage<OrgId>>,
) -> ApiResult<Vec<Organization>> {
    Ok(Json(
        c.tenancy.list_orgs(&c.caller, q.after, q.limit).await?,
    ))
}

async fn create_org(
    c: Control,
    ApiJson(req): ApiJson<OrganizationCreate>,
) -> ApiResult<Organization> {
    Ok(Json(c.tenancy.create_org(&c.caller, req).await?))
}

async fn update_org(
    c: Control,
    ApiQuery(q): ApiQuery<OrgParam>,
    ApiJson(req): ApiJson<OrganizationUpdate>,
) -> ApiResult<Organization> {
    Ok(Json(c.tenancy.update_org(&c.caller, q.org_id, req).await?))
}

async fn delete_org(c: Control, ApiQuery(q): ApiQuery<OrgParam>) -> ApiResult<Organization> {
    let org = c.tenancy.delete_org(&c.caller, q.org_id).await?;
    if let Some(gateway) = &c.gateway {
        gateway.forget(org.id);
    }
    Ok(Json(org))
}

async fn list_users(c: Control, ApiQuery(q): ApiQuery<AdminPage<UserId>>) -> ApiResult<Vec<User>> {
    Ok(Json(
        c.tenancy.list_users(&c.caller, q.after, q.limit).await?,
    ))
}

async fn create_user(c: Control, ApiJson(req): ApiJson<UserCreate>) -> ApiResult<User> {
    Ok(Json(c.tenancy.create_user(&c.caller, req).await?))
}

async fn update_user(c: Control, ApiJson(req): ApiJson<UserUpdate>) -> ApiResult<User> {
    Ok(Json(c.tenancy.update_user(&c.caller, req).await?))
}

async fn delete_user(c: Control, ApiQuery(q): ApiQuery<UserParam>) -> ApiResult<User> {
    Ok(Json(c.tenancy.delete_user(&c.caller, q.user_id).await?))
}

/// A key to create: for a user (the default user when none is named), member by default.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyCreate {
    name: String,
    #[serde(default)]
    user_id: Option<UserId>,
    #[serde(default)]
    role: Option<KeyRole>,
}

/// A created key: its listing and, this once, the key itself.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct CreatedKey {
    #[serde(flatten)]
    key: ApiKey,
    api_key: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct KeyFilter {
    #[serde(default)]
    organization_id: Option<OrgId>,
}

async fn list_keys(c: Control, ApiQuery(q): ApiQuery<KeyFilter>) -> ApiResult<Vec<ApiKey>> {
    Ok(Json(
        c.tenancy.list_keys(&c.caller, q.organization_id).await?,
    ))
}

async fn create_key(c: Control, ApiJson(req): ApiJson<KeyCreate>) -> ApiResult<CreatedKey> {
    let new = NewKey {
        name: req.name,
        user: req.user_id,
        role: req.role.unwrap_or(KeyRole::Member),
    };
    let (key, api_key) = c.tenancy.create_key(&c.caller, new).await?;
    Ok(Json(CreatedKey { key, api_key }))
}

async fn revoke_key(c: Control, ApiPath(id): ApiPath<ApiKeyId>) -> ApiResult<ApiKey> {
    Ok(Json(c.tenancy.revoke_key(&c.caller, id).await?))
}

/// The audit log's filters: newest first unless `order=asc`, by `seq` cursors.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    organization_id: Option<OrgId>,
    #[serde(default)]
    user_id: Option<UserId>,
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    order: Option<Direction>,
}

#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Direction {
    Asc,
    Desc,
}

async fn list_audit(c: Control, ApiQuery(q): ApiQuery<AuditQuery>) -> ApiResult<Vec<AuditEntry>> {
    let filter = AuditFilter {
        organization_id: q.organization_id,
        user_id: q.user_id,
        after: q.after,
        before: q.before,
        limit: q.limit.unwrap_or(50),
        order: match q.order {
            Some(Direction::Asc) => Order::Asc,
            _ => Order::Desc,
        },
    };
    Ok(Json(c.tenancy.list_audit(&c.caller, filter).await?))
}
