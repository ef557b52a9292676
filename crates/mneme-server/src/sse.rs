//! Server-sent events framed as Letta frames them: unnamed `data:` events, `event: error` for
//! errors, `data: [DONE]` last; keep-alive pings while a run is quiet.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use mneme_service::{MessageStream, SseEvent};

/// While a run is quiet, a comment line goes out this often. SSE parsers (the SDKs') ignore
/// comments; the write is how a client that hung up is noticed within a second or two — an idle
/// HTTP/1 response never reads its socket — so that its run is cancelled rather than left to
/// spend tokens for nobody.
const PROBE: Duration = Duration::from_secs(1);

/// Letta pings every 20 s, which keeps the SDK's 60 s read timeout from firing.
const PINGS_EVERY: u32 = 20;

/// The response for a run's event stream; the connection closes after `[DONE]`.
pub(crate) fn sse_response(stream: MessageStream, pings: bool) -> Response {
    let run = stream.run_id;
    let body = futures_util::stream::unfold(
        (stream.events, false, 0u32),
        move |(mut rx, finished, idle)| async move {
            if finished {
                return None;
            }
            let (frame, idle, done) = match tokio::time::timeout(PROBE, rx.recv()).await {
                Ok(event) => {
                    let event = event?;
                    (event.frame(), 0, event == SseEvent::Done)
                }
                Err(_) if pings && (idle + 1) % PINGS_EVERY == 0 => {
                    (SseEvent::ping(run, None).frame(), idle + 1, false)
                }
                Err(_) => (": keep-alive\n\n".to_owned(), idle + 1, false),
            };
            Some((Ok::<_, Infallible>(Bytes::from(frame)), (rx, done, idle)))
        },
    );
    event_stream(Body::from_stream(body))
}

/// `body` as an SSE response, unbuffered by proxies.
pub(crate) fn event_stream(body: Body) -> Response {
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}
