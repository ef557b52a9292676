//! Errors to HTTP: the one table that decides every status code, in Letta's body shapes.

use std::any::Any;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mneme_llm::LlmError;
use mneme_service::ServiceError;
use mneme_store::StoreError;
use serde_json::{Value, json};

/// What a handler can fail with.
#[derive(Debug)]
pub(crate) enum ApiError {
    Service(ServiceError),
    /// The request could not be read: FastAPI's 422 list form, which the spec declares.
    Malformed {
        loc: Vec<Value>,
        msg: String,
        kind: &'static str,
    },
    /// A plain status with a fixed detail (unknown route, wrong method).
    Status(StatusCode, &'static str),
    /// A Letta operation mneme does not serve, named in the detail.
    NotImplemented(String),
    /// The caller's rate limit is spent: 429 with `Retry-After` (whole seconds). The SDKs
    /// retry a 429 after that long, which is what the caller should do.
    RateLimited {
        retry_after: u64,
        per_minute: u32,
    },
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError::Service(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use ServiceError as S;
        use StoreError as D;
        let (status, detail) = match self {
            ApiError::Malformed { loc, msg, kind } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!([{ "loc": loc, "msg": msg, "type": kind }]),
            ),
            ApiError::Status(status, detail) => (status, json!(detail)),
            ApiError::NotImplemented(detail) => (StatusCode::NOT_IMPLEMENTED, json!(detail)),
            ApiError::RateLimited {
                retry_after,
                per_minute,
            } => return rate_limited(retry_after, per_minute),
            ApiError::Service(S::Llm(e)) => return llm_error(&e),
            ApiError::Service(S::PendingApproval(id)) => return pending_approval(&id),
            ApiError::Service(S::McpConnection(m)) => return mcp_connection_error(&m),
            ApiError::Service(e @ S::ConversationBusy { .. }) => return conversation_busy(&e),
            ApiError::Service(S::NoSpeaker(m)) => return no_speaker(&m),
            ApiError::Service(e) => {
                let status = match &e {
                    S::BadRequest(_) => StatusCode::BAD_REQUEST,
                    S::Unprocessable(_) | S::Store(D::Invalid(_)) => {
                        StatusCode::UNPROCESSABLE_ENTITY
                    }
                    S::Store(D::NotFound { .. }) | S::NotFound(_) => StatusCode::NOT_FOUND,
                    S::Store(D::Conflict(_)) | S::Conflict(_) => StatusCode::CONFLICT,
                    S::Expired(_) => StatusCode::GONE,
                    S::Unauthorized => StatusCode::UNAUTHORIZED,
                    S::Forbidden(_) => StatusCode::FORBIDDEN,
                    S::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                    // Letta has no quotas to copy. 403, not 429: the SDKs retry a 429 (and a
                    // 409) on their own, and a quota does not lift by waiting; 403 surfaces as
                    // a permission error at once, with the limit named in the detail.
                    S::QuotaExceeded(_) => StatusCode::FORBIDDEN,
                    S::McpTimeout(_) => StatusCode::REQUEST_TIMEOUT,
                    // Answered above, in Letta's shape for it.
                    S::McpConnection(_) => StatusCode::BAD_GATEWAY,
                    // Answered above, with the detail object clients key on.
                    S::PendingApproval(_) | S::ConversationBusy { .. } => StatusCode::CONFLICT,
                    S::Embedding(_) | S::Store(D::Unavailable(_)) => {
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                    S::Store(D::Db(_) | D::Corrupt(_)) | S::Internal(_) => {
                        StatusCode::INTERNAL_SERVER_ERROR
                    }
                    // Answered above, with the provider's error shape.
                    S::Llm(_) => StatusCode::BAD_GATEWAY,
                    S::Generation(_) => StatusCode::BAD_GATEWAY,
                    // Answered above, not to be retried.
                    S::NoSpeaker(_) => StatusCode::BAD_GATEWAY,
                };
                let detail = if status.is_server_error()
                    && !matches!(
                        e,
                        S::Embedding(_) | S::Store(D::Unavailable(_)) | S::Generation(_)
                    ) {
                    // Logged once, here, where it is turned into a response.
                    tracing::error!(error = %e, "request failed");
                    "An unknown error occurred".to_owned()
                } else {
                    e.to_string()
                };
                (status, json!(detail))
            }
        };
        (status, Json(json!({ "detail": detail }))).into_response()
    }
}

/// A model provider failure, in Letta's shape (`{"error": {type, message, detail}}`, plus a
/// `detail` for clients that read only that). `x-should-retry: false`: the SDK would otherwise
/// resend the message, and steps that completed before the failure are already stored.
fn llm_error(e: &LlmError) -> Response {
    let (status, kind) = match e {
        LlmError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "llm_rate_limit"),
        LlmError::Authentication(_) => (StatusCode::UNAUTHORIZED, "llm_authentication"),
        LlmError::Timeout => (StatusCode::GATEWAY_TIMEOUT, "llm_timeout"),
        LlmError::BadRequest(_) | LlmError::ContextWindowExceeded(_) => {
            (StatusCode::BAD_REQUEST, "llm_bad_request")
        }
        LlmError::Unsupported(_) => (StatusCode::BAD_REQUEST, "llm_unsupported"),
        LlmError::Unavailable { .. } | LlmError::Connection(_) => {
            (StatusCode::BAD_GATEWAY, "llm_error")
        }
        LlmError::InvalidResponse(_) => (StatusCode::BAD_GATEWAY, "llm_invalid_response"),
    };
    let message = e.to_string();
    let body = json!({
        "error": {"type": kind, "message": message, "detail": message},
        "detail": message,
    });
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().insert(
        "x-should-retry",
        axum::http::HeaderValue::from_static("false"),
    );
    res
}

/// Too many requests from one caller; `Retry-After` says when a request will pass.
fn rate_limited(retry_after: u64, per_minute: u32) -> Response {
    let detail = format!(
        "Rate limit exceeded: at most {per_minute} requests per minute; retry in {retry_after} s"
    );
    let mut res = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({ "detail": detail })),
    )
        .into_response();
    res.headers_mut()
        .insert(axum::http::header::RETRY_AFTER, retry_after.into());
    res
}

/// Letta's 409 for input while an approval is pending: SDK users read `detail.code` and
/// `detail.pending_request_id`. Not to be retried: the same input would conflict again.
fn pending_approval(id: &mneme_types::MessageId) -> Response {
    let message = ServiceError::PendingApproval(*id).to_string();
    let body = json!({"detail": {
        "code": "PENDING_APPROVAL", "message": message, "pending_request_id": id.to_string(),
    }});
    let mut res = (StatusCode::CONFLICT, Json(body)).into_response();
    res.headers_mut().insert(
        "x-should-retry",
        axum::http::HeaderValue::from_static("false"),
    );
    res
}

/// Letta's 409 for input to a conversation whose turn is running, naming that turn's run.
/// Not to be retried by the SDK: a resend would start a second turn after the first, which
/// the caller did not ask for.
fn conversation_busy(e: &ServiceError) -> Response {
    let mut body = json!({ "detail": e.to_string() });
    if let ServiceError::ConversationBusy { run: Some(run) } = e {
        body["run_id"] = json!(run);
    }
    let mut res = (StatusCode::CONFLICT, Json(body)).into_response();
    res.headers_mut().insert(
        "x-should-retry",
        axum::http::HeaderValue::from_static("false"),
    );
    res
}

/// A dynamic group's manager named no participant: the model's answer was unusable (502),
/// shown in full; not to be retried by the SDK, since the exchange's earlier turns are stored.
fn no_speaker(message: &str) -> Response {
    let body = json!({
        "error": {"type": "llm_invalid_response", "message": message, "detail": message},
        "detail": message,
    });
    let mut res = (StatusCode::BAD_GATEWAY, Json(body)).into_response();
    res.headers_mut().insert(
        "x-should-retry",
        axum::http::HeaderValue::from_static("false"),
    );
    res
}

/// Letta's 502 for an MCP server that cannot be reached, plus a `detail` for clients that
/// read only that.
fn mcp_connection_error(message: &str) -> Response {
    let body = json!({
        "error": {
            "type": "mcp_connection_error",
            "message": "Failed to connect to MCP server.",
            "detail": message,
        },
        "detail": message,
    });
    (StatusCode::BAD_GATEWAY, Json(body)).into_response()
}

/// A panic in a handler is a bug; the client gets Letta's generic 500, never a dropped socket.
pub(crate) fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = what, "handler panicked");
    let body = json!({ "detail": "An unknown error occurred" });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}
