//! Small request bodies read before the handler. A handler that takes no body (`POST
//! .../default`, cancel, recompile) leaves it on the connection; when the body had not fully
//! arrived by the time the answer is written, hyper closes the connection after it, and a
//! client that reuses the connection meets "disconnected without sending a response" on its
//! next request (the SDK suite met it under load). Read first, every connection stays reusable.

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Bodies up to this size (as declared by `Content-Length`) are read before the handler;
/// larger ones, and streamed ones, are left to the handler (uploads stream).
const SMALL_BODY: usize = 64 * 1024;

pub(crate) async fn read_small(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if !declared.is_some_and(|n| n > 0 && n <= SMALL_BODY) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, SMALL_BODY).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        // The client stopped sending (or sent more than it declared): nothing to answer to.
        Err(_) => ApiError::Status(
            StatusCode::BAD_REQUEST,
            "the request body could not be read",
        )
        .into_response(),
    }
}
