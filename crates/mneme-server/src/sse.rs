//! Server-sent events framed as Letta frames them: unnamed `data:` events, `event: error` for
//! errors, `data: [DONE]` last; keep-alive pings while a run is quiet.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use mneme_service::{MessageStream, SseEvent};

/// Letta pings every 20 s, which keeps the SDK's 60 s read timeout from firing.
const KEEPALIVE: Duration = Duration::from_secs(20);

/// The response for a run's event stream; the connection closes after `[DONE]`.
pub(crate) fn sse_response(stream: MessageStream, pings: bool) -> Response {
    let run = stream.run_id;
    let body = futures_util::stream::unfold(
        (stream.events, false),
        move |(mut rx, finished)| async move {
            if finished {
                return None;
            }
            let event = if pings {
                match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
                    Ok(e) => e?,
                    Err(_) => SseEvent::ping(run, None),
                }
            } else {
                rx.recv().await?
            };
            let done = event == SseEvent::Done;
            let frame = Ok::<_, Infallible>(Bytes::from(event.frame()));
            Some((frame, (rx, done)))
        },
    );
    let mut res = Body::from_stream(body).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}
