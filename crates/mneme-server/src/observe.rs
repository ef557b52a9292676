//! Request ids and the request's span. Every request gets an id (the client's `X-Request-Id`
//! when it is sane, else a fresh one) echoed in the response, and a span (method, route
//! template, request id) that every log line and trace span of its work sits under; a turn the
//! request starts is a child of it, so its run id joins the same context. An incoming W3C
//! `traceparent` is kept on the span as a field, for the trace exporter to continue.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Duration;
use tracing::Span;

/// The header a request id is read from and echoed in.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-chosen request id kept; a longer one is replaced.
const MAX_REQUEST_ID: usize = 128;

/// The request's id, in its extensions for the span.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(HeaderValue);

impl RequestId {
    fn as_str(&self) -> &str {
        // Only visible ASCII is ever stored (`sane`, `fresh`).
        self.0.to_str().unwrap_or_default()
    }
}

/// Gives the request its id and echoes it in the response.
pub(crate) async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| sane(v.as_bytes()))
        .cloned()
        .unwrap_or_else(fresh);
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// A client's id is kept when it is 1 to 128 visible ASCII characters: it goes into every log
/// line of the request, so no spaces, controls or unbounded lengths.
fn sane(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len()) && id.iter().all(|b| b.is_ascii_graphic())
}

fn fresh() -> HeaderValue {
    let id = uuid::Uuid::new_v4().simple().to_string();
    HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("unknown"))
}

/// The request's span: under its route template (bounded, unlike raw paths), with its id, and
/// the caller's trace context when it sent a well-formed one.
pub(crate) fn request_span<B>(request: &axum::http::Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    let id = request
        .extensions()
        .get::<RequestId>()
        .map_or("", RequestId::as_str);
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_traceparent(v));
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        request_id = id,
        traceparent,
        status = tracing::field::Empty,
    )
}

/// The answer's status on the request's span (for traces), and tower-http's debug line.
pub(crate) fn finished(response: &Response, latency: Duration, span: &Span) {
    let status = response.status().as_u16();
    span.record("status", status);
    let latency_ms = latency.as_millis() as u64;
    tracing::debug!(status, latency_ms, "finished processing request");
}

/// `00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero (W3C Trace Context, version 00).
fn valid_traceparent(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    matches!(parts.as_slice(), [version, trace, parent, flags]
        if *version == "00" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2)
            && nonzero(trace) && nonzero(parent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_kept_only_when_short_and_visible() {
        assert!(sane(b"req-123_abc.DEF"));
        assert!(sane(&[b'a'; 128]));
        assert!(!sane(&[b'a'; 129]));
        assert!(!sane(b""));
        assert!(!sane(b"two words"));
        assert!(!sane(b"line\nbreak"));
        assert!(!sane("é".as_bytes()));
        assert_eq!(fresh().len(), 32);
    }

    #[test]
    fn traceparents_follow_the_w3c_shape() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(valid_traceparent(ok));
        assert!(!valid_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!valid_traceparent(
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
        ));
        assert!(!valid_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"
        ));
        assert!(!valid_traceparent("garbage"));
    }
}
