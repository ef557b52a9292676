//! The audit log's layer: every mutation (any method but GET, HEAD and OPTIONS) that reached
//! an organization's router is recorded after its answer — who (organization, user, key),
//! what (method, route template, path), when, and its status — through the control plane's
//! writer, which never holds the request up.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use mneme_service::{Caller, Tenancy};
use mneme_store::NewAuditEntry;

pub(crate) async fn record(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let extensions = request.extensions();
    let (Some(tenancy), Some(caller)) = (
        extensions.get::<Tenancy>().cloned(),
        extensions.get::<Caller>().cloned(),
    ) else {
        // A router without the gateway: nobody to record.
        return next.run(request).await;
    };
    let route = extensions
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let asked_id = request_id(request.headers());
    let response = next.run(request).await;
    tenancy.record(NewAuditEntry {
        at: mneme_types::time::now(),
        organization_id: caller.org,
        user_id: caller.user,
        key_id: caller.key,
        method,
        route,
        path,
        status: response.status().as_u16(),
        request_id: request_id(response.headers()).or(asked_id),
    });
    response
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
