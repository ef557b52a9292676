//! SSE protocols on the shared stream driver (`framed.rs`): the SSE parser splits the body into
//! events and the protocol's `SseDecoder` reads each; `Done` comes only once the decoder saw a
//! complete response.

use std::time::Duration;

use crate::framed::{self, Decoder, cut_short};
use bytes::Bytes;
use mneme_types::sse::{SseEvent, SseParser};

use crate::{ChatDelta, ChatStream, Exchange, LlmError};

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

/// As `decoded`, also keeping the body's events: the `Done` is preceded by the call's
/// `Exchange` (`request` as sent, the events' data as received).
pub(crate) fn recorded<D: SseDecoder>(
    response: reqwest::Response,
    idle: Duration,
    decoder: D,
    request: Bytes,
) -> ChatStream {
    let mut events = events(decoder);
    events.recording = Some(Recording {
        request,
        response: b"{\"stream\":[".to_vec(),
        empty: true,
    });
    framed::stream(response, idle, events)
}

/// The events of a stream, appended as they are read: each event's data is JSON already, so
/// the response is assembled by concatenation, never parsed and rendered again.
struct Recording {
    request: Bytes,
    response: Vec<u8>,
    empty: bool,
}

impl Recording {
    fn push(&mut self, event: &SseEvent) {
        let data = event.data.trim();
        // OpenAI's closing `[DONE]` and keep-alives carry no JSON.
        if data == "[DONE]" || !(data.starts_with('{') || data.starts_with('[')) {
            return;
        }
        if !std::mem::take(&mut self.empty) {
            self.response.push(b',');
        }
        self.response.extend_from_slice(data.as_bytes());
    }

    fn finish(self) -> ChatDelta {
        let mut response = self.response;
        response.extend_from_slice(b"]}");
        ChatDelta::Exchange(Exchange {
            request: self.request,
            response: response.into(),
        })
    }
}

/// The shared driver's reading of an SSE body through `decoder`.
pub(crate) fn events<D: SseDecoder>(decoder: D) -> Events<D> {
    Events {
        parser: SseParser::default(),
        decoder,
        ended: false,
        recording: None,
    }
}

pub(crate) struct Events<D> {
    parser: SseParser,
    decoder: D,
    /// An ending event or an error was passed on: nothing after it counts.
    ended: bool,
    recording: Option<Recording>,
}

impl<D: SseDecoder> Events<D> {
    fn read(&mut self, events: Vec<SseEvent>) -> Vec<Result<ChatDelta, LlmError>> {
        let mut items = Vec::new();
        for event in events {
            if self.ended {
                break;
            }
            if let Some(recording) = &mut self.recording {
                recording.push(&event);
            }
            let mut out = Vec::new();
            let outcome = self.decoder.event(&event, &mut out);
            items.extend(out.into_iter().map(Ok));
            match outcome {
                Ok(false) => {}
                Ok(true) => self.close(true, &mut items),
                Err(error) => {
                    self.ended = true;
                    items.push(Err(error));
                }
            }
        }
        items
    }

    /// Ends the response: its `Exchange` when recorded, then its `Done` (or the error of a
    /// response cut short).
    fn close(&mut self, explicit: bool, items: &mut Vec<Result<ChatDelta, LlmError>>) {
        self.ended = true;
        match self.decoder.finish(explicit) {
            Some(done) => {
                items.extend(self.recording.take().map(|r| Ok(r.finish())));
                items.push(Ok(done));
            }
            None => items.push(Err(cut_short())),
        }
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
            self.close(false, &mut items);
        }
        items
    }
}
