//! Our own extractors: malformed input becomes Letta's 422 JSON, never axum's plain text.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use mneme_store::{Order, Page};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use serde_path_to_error::Segment;

use crate::error::ApiError;
use crate::limits::MaxBody;
use mneme_service::ServiceError;

/// A JSON body. An empty body reads as `{}`, since every create/update body here is optional
/// field by field.
pub(crate) struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let limit = req.extensions().get::<MaxBody>().copied();
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_rejection(&e, limit))?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(de)
            .map(ApiJson)
            .map_err(|e| {
                let mut loc = vec![json!("body")];
                loc.extend(e.path().iter().filter_map(|segment| match segment {
                    Segment::Seq { index } => Some(json!(index.to_string())),
                    Segment::Map { key } => Some(json!(key)),
                    Segment::Enum { variant } => Some(json!(variant)),
                    Segment::Unknown => None,
                }));
                let inner = e.into_inner();
                let kind = match inner.classify() {
                    serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                        "json_invalid"
                    }
                    _ => "value_error",
                };
                ApiError::Malformed {
                    loc,
                    msg: inner.to_string(),
                    kind,
                }
            })
    }
}

/// A body over the limit is a 413 naming the limit (never axum's plain text); anything
/// else that stops the body being read is Letta's 422.
fn body_rejection(e: &BytesRejection, limit: Option<MaxBody>) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let limit = limit.map_or_else(String::new, |MaxBody(n)| format!(" ({n} bytes)"));
        return ApiError::Service(ServiceError::TooLarge(format!(
            "The request body is larger than this server accepts{limit}"
        )));
    }
    ApiError::Malformed {
        loc: vec![json!("body")],
        msg: e.body_text(),
        kind: "value_error",
    }
}

/// Path parameters; a malformed id is a 422, as Letta answers it.
pub(crate) struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e| ApiError::Malformed {
                loc: vec![json!("path")],
                msg: e.body_text(),
                kind: "value_error",
            })
    }
}

/// Query parameters, with repeated keys (`tags=a&tags=b`) read as lists.
pub(crate) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_html_form::from_str(query)
            .map(ApiQuery)
            .map_err(|e| ApiError::Malformed {
                loc: vec![json!("query")],
                msg: e.to_string(),
                kind: "value_error",
            })
    }
}

/// Letta's pagination parameters, including the deprecated `ascending`/`sort_by` twins.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct PageQuery {
    before: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
    order: Option<String>,
    order_by: Option<String>,
    ascending: Option<bool>,
    sort_by: Option<String>,
}

/// No page is larger than this, whatever `limit` asks.
const MAX_PAGE: u32 = 10_000;

impl PageQuery {
    /// The page, with the route's default `limit` and `order`.
    pub(crate) fn page(&self, default_limit: u32, default_order: Order) -> Result<Page, ApiError> {
        let order = match (self.order.as_deref(), self.ascending) {
            (Some("asc"), _) => Order::Asc,
            (Some("desc"), _) => Order::Desc,
            (Some(other), _) => {
                return Err(ApiError::Malformed {
                    loc: vec![json!("query"), json!("order")],
                    msg: format!("Input should be 'asc' or 'desc', got '{other}'"),
                    kind: "enum",
                });
            }
            (None, Some(true)) => Order::Asc,
            (None, Some(false)) => Order::Desc,
            (None, None) => default_order,
        };
        Ok(Page {
            before: self.before.clone(),
            after: self.after.clone(),
            limit: self.limit.unwrap_or(default_limit).min(MAX_PAGE),
            order,
            order_by: self.order_by.clone().or_else(|| self.sort_by.clone()),
        })
    }
}

/// A list parameter that may come as repeated keys or comma-joined (the TS SDK joins).
pub(crate) fn list_param(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The project the SDK names in `X-Project-Id` (its `project_id` client option): the project
/// of what is created without one, and a filter where Letta reads it (identities).
pub(crate) struct Project(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Project {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let project = parts
            .headers
            .get("x-project-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        Ok(Project(project))
    }
}
