//! SSE protocols on the shared stream driver (`framed.rs`): the SSE parser splits the body into
//! events and the protocol's `SseDecoder` reads each; `Done` comes only once the decoder saw a
//! complete response.

use std::time::Duration;

use crate::framed::{self, Decoder, cut_short};
use crate::sse::{SseEvent, SseParser};
use crate::{ChatDelta, ChatStream, LlmError};

/// A protocol's reading of its events.
pub(crate) trait SseDecoder: Send + 'static {
    /// Appends the deltas of one event to `out`; `Ok(true)` when the event ends the response.
    fn event(&mut self, event: &SseEvent, out: &mut Vec<ChatDelta>) -> Result<bool, LlmError>;

    /// The closing `Done` after an ending event (`explicit`) or at the end of the body; `None`
    /// when what was seen is not a complete response.
    fn finish(&mut self, explicit: bool) -> Option<ChatDelta>;
}

/// The deltas of a streaming SSE response; `idle` bounds the wait for each network read.
pub(crate) fn decoded<D: SseDecoder>(
    response: reqwest::Response,
    idle: Duration,
    decoder: D,
) -> ChatStream {
    framed::stream(response, idle, events(decoder))
}

/// The shared driver's reading of an SSE body through `decoder`.
pub(crate) fn events<D: SseDecoder>(decoder: D) -> Events<D> {
    Events {
        parser: SseParser::default(),
        decoder,
        ended: false,
    }
}

pub(crate) struct Events<D> {
    parser: SseParser,
    decoder: D,
    /// An ending event or an error was passed on: nothing after it counts.
    ended: bool,
}

impl<D: SseDecoder> Events<D> {
    fn read(&mut self, events: Vec<SseEvent>) -> Vec<Result<ChatDelta, LlmError>> {
        let mut items = Vec::new();
        for event in events {
            if self.ended {
                break;
            }
            let mut out = Vec::new();
            let outcome = self.decoder.event(&event, &mut out);
            items.extend(out.into_iter().map(Ok));
            match outcome {
                Ok(false) => {}
                Ok(true) => items.push(self.close(true)),
                Err(error) => {
                    self.ended = true;
                    items.push(Err(error));
                }
            }
        }
        items
    }

    fn close(&mut self, explicit: bool) -> Result<ChatDelta, LlmError> {
        self.ended = true;
        self.decoder.finish(explicit).ok_or_else(cut_short)
    }
}

impl<D: SseDecoder> Decoder for Events<D> {
    fn push(&mut self, bytes: &[u8]) -> Vec<Result<ChatDelta, LlmError>> {
        let events = self.parser.push(bytes);
        self.read(events)
    }

    fn end(&mut self) -> Vec<Result<ChatDelta, LlmError>> {
        let last: Vec<SseEvent> = self.parser.finish().into_iter().collect();
        let mut items = self.read(last);
        if !self.ended {
            items.push(self.close(false));
        }
        items
    }
}
