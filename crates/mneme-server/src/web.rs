//! The web UI's files (`mneme-web`): `GET /` is its page, `GET /ui/<file>` the rest. They are
//! not API routes (no OpenAPI operation): the UI is a client of the API like any other.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mneme_service::Service;
use mneme_web::Asset;

use crate::error::ApiError;

/// What the page may load: its own files only, no inline script. `connect-src *` because
/// Settings may point the UI at another Letta-compatible server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src *; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub(crate) fn router() -> Router<Service> {
    Router::new()
        .route("/", get(index))
        .route("/ui/{*path}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    match mneme_web::index() {
        Some(asset) => answer(asset, &headers),
        None => ApiError::Status(StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match mneme_web::asset(&path) {
        Some(asset) => answer(asset, &headers),
        None => ApiError::Status(StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

/// The file, or `304 Not Modified` when the browser already holds these bytes. `no-cache`
/// makes the browser ask every time, so a new binary's UI is never mixed with an old one's.
fn answer(asset: Asset, request: &HeaderMap) -> Response {
    let etag = HeaderValue::from_static(asset.etag);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.as_bytes() == asset.etag.as_bytes());
    let headers = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let content_type = HeaderValue::from_static(asset.content_type);
    (headers, [(header::CONTENT_TYPE, content_type)], asset.bytes).into_response()
}
