//! Drives a streamed response body through a protocol's decoder (SSE for Gemini, NDJSON for
//! Ollama): a read timeout per network read, and the stream ends after `Done` or the first
//! error, so nothing half-read is passed on as complete.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt;

use crate::openai::error::from_reqwest;
use crate::{ChatDelta, ChatStream, LlmError};

/// A protocol's incremental reader.
pub(crate) trait Decoder: Send + 'static {
    /// Feeds one network read; returns what it completed.
    fn push(&mut self, bytes: &[u8]) -> Vec<Result<ChatDelta, LlmError>>;

    /// The end of the body: the last deltas, ending in `Done`, or an error when the response
    /// was cut short.
    fn end(&mut self) -> Vec<Result<ChatDelta, LlmError>>;
}

/// The deltas of `response` as `decoder` reads them; `idle` bounds the wait for each read.
pub(crate) fn stream<D: Decoder>(
    response: reqwest::Response,
    idle: Duration,
    decoder: D,
) -> ChatStream {
    let state = State {
        body: Box::pin(response.bytes_stream()),
        decoder,
        ready: VecDeque::new(),
        finished: false,
        idle,
    };
    // `unfold` rather than a spawned task: dropping the stream drops the connection at once.
    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            loop {
                if let Some(item) = state.ready.pop_front() {
                    return Some((item, state));
                }
                if state.finished {
                    return None;
                }
                state.read().await;
            }
        },
    ))
}

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

struct State<D> {
    body: Body,
    decoder: D,
    ready: VecDeque<Result<ChatDelta, LlmError>>,
    finished: bool,
    idle: Duration,
}

impl<D: Decoder> State<D> {
    async fn read(&mut self) {
        let items = match tokio::time::timeout(self.idle, self.body.next()).await {
            Err(_) => vec![Err(LlmError::Timeout)],
            Ok(Some(Err(e))) => vec![Err(from_reqwest(&e))],
            Ok(Some(Ok(bytes))) => self.decoder.push(&bytes),
            Ok(None) => {
                let mut items = self.decoder.end();
                if items.is_empty() {
                    items.push(Err(cut_short()));
                }
                self.finished = true;
                items
            }
        };
        for item in items {
            let last = matches!(item, Err(_) | Ok(ChatDelta::Done { .. }));
            self.ready.push_back(item);
            if last {
                self.finished = true;
                break;
            }
        }
    }
}

/// The error for a body that ended before the response was complete.
pub(crate) fn cut_short() -> LlmError {
    LlmError::Connection("the stream ended before the response was complete".to_owned())
}
