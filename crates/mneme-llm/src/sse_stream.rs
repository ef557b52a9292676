//! The one loop every SSE-speaking client shares: read the body with an idle timeout, parse
//! events, let the protocol's decoder turn each into deltas, and end with `Done` only when the
//! decoder saw a complete response (a body cut off early is an error, never a short answer).

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt;

use crate::sse::{SseEvent, SseParser};
use crate::{ChatDelta, ChatStream, LlmError};

/// A protocol's reading of its events.
pub(crate) trait SseDecoder: Send + 'static {
    /// Appends the deltas of one event to `out`; `Ok(true)` when the event ends the response.
    fn event(&mut self, event: &SseEvent, out: &mut Vec<ChatDelta>) -> Result<bool, LlmError>;

    /// The closing `Done` after an ending event (`explicit`) or at the end of the body; `None`
    /// when what was seen is not a complete response.
    fn finish(&mut self, explicit: bool) -> Option<ChatDelta>;

    /// How a network error reads.
    fn network_error(&self, error: &reqwest::Error) -> LlmError;
}

/// The deltas of a streaming response; `idle` bounds the wait for each network read.
pub(crate) fn decoded<D: SseDecoder>(
    response: reqwest::Response,
    idle: Duration,
    decoder: D,
) -> ChatStream {
    let state = State {
        body: Box::pin(response.bytes_stream()),
        parser: SseParser::default(),
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
    parser: SseParser,
    decoder: D,
    ready: VecDeque<Result<ChatDelta, LlmError>>,
    /// Nothing follows what is in `ready`.
    finished: bool,
    idle: Duration,
}

impl<D: SseDecoder> State<D> {
    /// Reads once from the network and queues what it completes.
    async fn read(&mut self) {
        match tokio::time::timeout(self.idle, self.body.next()).await {
            Err(_) => self.fail(LlmError::Timeout),
            Ok(Some(Err(e))) => {
                let error = self.decoder.network_error(&e);
                self.fail(error);
            }
            Ok(Some(Ok(bytes))) => {
                for event in self.parser.push(&bytes) {
                    self.event(&event);
                }
            }
            Ok(None) => {
                if let Some(event) = self.parser.finish() {
                    self.event(&event);
                }
                self.end(false);
            }
        }
    }

    fn event(&mut self, event: &SseEvent) {
        if self.finished {
            return;
        }
        let mut out = Vec::new();
        let outcome = self.decoder.event(event, &mut out);
        self.ready.extend(out.into_iter().map(Ok));
        match outcome {
            Ok(true) => self.end(true),
            Ok(false) => {}
            Err(error) => self.fail(error),
        }
    }

    fn end(&mut self, explicit: bool) {
        if self.finished {
            return;
        }
        match self.decoder.finish(explicit) {
            Some(done) => {
                self.ready.push_back(Ok(done));
                self.finished = true;
            }
            None => self.fail(LlmError::Connection(
                "the stream ended before the response was complete".to_owned(),
            )),
        }
    }

    fn fail(&mut self, error: LlmError) {
        self.ready.push_back(Err(error));
        self.finished = true;
    }
}
