//! The outer router: every request is authenticated, then handed to its organization's own
//! router (the API's route table over that organization's `Service`), built on its first
//! request and kept. Handlers never see another tenant's service, so no route can reach
//! another tenant's data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use mneme_service::{AuthMode, Caller, Credentials, Tenancy};
use mneme_types::OrgId;
use tower::ServiceExt;

use crate::error::ApiError;

#[derive(Clone)]
pub(crate) struct Gateway {
    tenancy: Tenancy,
    routers: Arc<Mutex<HashMap<OrgId, Router>>>,
}

/// The whole server: authentication, then the caller's organization's API.
pub fn gateway_router(tenancy: Tenancy) -> Router {
    let gateway = Gateway {
        tenancy,
        routers: Arc::default(),
    };
    Router::new().fallback(dispatch).with_state(gateway)
}

async fn dispatch(State(gateway): State<Gateway>, mut request: Request) -> Response {
    let path = request.uri().path();
    let caller = if is_public(path) {
        Caller::anonymous()
    } else {
        match authorize(&gateway.tenancy, request.headers(), path).await {
            Ok(caller) => caller,
            Err(e) => return e.into_response(),
        }
    };
    let router = match gateway.router(caller.org).await {
        Ok(router) => router,
        Err(e) => return e.into_response(),
    };
    request.extensions_mut().insert(caller);
    request.extensions_mut().insert(gateway.tenancy.clone());
    request.extensions_mut().insert(gateway.clone());
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The caller of a request that needs one. `/metrics` on a server that requires keys is the
/// operator's (an admin key or the password).
async fn authorize(tenancy: &Tenancy, headers: &HeaderMap, path: &str) -> Result<Caller, ApiError> {
    let caller = tenancy.authenticate(&credentials(headers)).await?;
    if path == "/metrics" && matches!(tenancy.mode(), AuthMode::Required { .. }) && !caller.admin {
        return Err(mneme_service::ServiceError::Forbidden(
            "the metrics need an admin key".to_owned(),
        )
        .into());
    }
    Ok(caller)
}

impl Gateway {
    async fn router(&self, org: OrgId) -> Result<Router, ApiError> {
        if let Some(router) = self.lock().get(&org) {
            return Ok(router.clone());
        }
        let service = self.tenancy.service(org).await?;
        let router = crate::routes::router(service);
        Ok(self.lock().entry(org).or_insert(router).clone())
    }

    /// Drops a deleted organization's router (and with it the last hold on its service).
    pub(crate) fn forget(&self, org: OrgId) {
        self.lock().remove(&org);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<OrgId, Router>> {
        self.routers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Paths anyone may read, as Letta exempts its probes: health and readiness, the web UI's
/// files (it asks for a key itself) and the API's description.
fn is_public(path: &str) -> bool {
    let path = path.strip_suffix('/').unwrap_or(path);
    matches!(
        path,
        "" | "/v1/health"
            | "/v1/ready"
            | "/latest/health"
            | "/latest/ready"
            | "/openapi.json"
            | "/docs"
    ) || path.starts_with("/ui/")
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case), as the SDKs send it.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn credentials(headers: &HeaderMap) -> Credentials {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Credentials {
        bearer: bearer_token(headers)
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        bare_password: text("x-bare-password"),
        user_id: text("user_id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_from_letta_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "bearer  sk-1 ".parse().unwrap());
        headers.insert("x-bare-password", "password pw".parse().unwrap());
        headers.insert("user_id", "user-1".parse().unwrap());
        let c = credentials(&headers);
        assert_eq!(c.bearer.as_deref(), Some("sk-1"));
        assert_eq!(c.bare_password.as_deref(), Some("password pw"));
        assert_eq!(c.user_id.as_deref(), Some("user-1"));
        headers.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(credentials(&headers).bearer, None);
    }

    #[test]
    fn only_probes_the_ui_and_the_description_are_public() {
        for p in [
            "/",
            "/v1/health/",
            "/v1/ready",
            "/ui/app.js",
            "/openapi.json",
            "/docs",
        ] {
            assert!(is_public(p), "{p}");
        }
        for p in [
            "/v1/agents/",
            "/metrics",
            "/v1/admin/orgs",
            "/uix",
            "/v1/healthz",
        ] {
            assert!(!is_public(p), "{p}");
        }
    }
}
