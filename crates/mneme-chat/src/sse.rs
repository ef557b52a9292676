//! The message stream's frames (cut from the body by mneme-types' SSE parser, the one the model
//! clients use), each frame's `data` decoded into a [`StreamEvent`].

use mneme_types::{LettaErrorMessage, LettaMessage, LettaStreamingResponse, LettaUsageStatistics};
use serde_json::Value;

pub(crate) use mneme_types::sse::{SseEvent, SseParser};

/// What one frame says, in the terms the chat renders.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StreamEvent {
    /// A message, whole or (token streaming) a fragment of one sharing its id.
    Message(Box<LettaMessage>),
    /// A ping: the run's id, nothing to show.
    Ping {
        run_id: Option<String>,
    },
    /// Why the turn ended (`end_turn`, `max_steps`, ...), spelled as the server spelled it.
    Stop(String),
    Usage(LettaUsageStatistics),
    /// An error the server reported inside the stream.
    Error(String),
    /// `data: [DONE]`.
    Done,
    /// A frame of a kind this client does not know (newer servers add some): skipped.
    Other,
}

/// Decodes a frame: the typed union first; a frame it refuses is read as plain JSON, so an
/// error or stop reason from a server newer (or looser) than these types still shows.
pub(crate) fn decode(frame: &SseEvent) -> StreamEvent {
    if frame.data.trim() == "[DONE]" {
        return StreamEvent::Done;
    }
    if frame.event.as_deref() == Some("error") {
        return StreamEvent::Error(error_text(&frame.data));
    }
    match serde_json::from_str::<LettaStreamingResponse>(&frame.data) {
        Ok(chunk) => typed(chunk),
        Err(_) => untyped(&frame.data),
    }
}

fn typed(chunk: LettaStreamingResponse) -> StreamEvent {
    match chunk {
        LettaStreamingResponse::Message(m) => StreamEvent::Message(Box::new(m)),
        LettaStreamingResponse::Ping(p) => StreamEvent::Ping {
            run_id: p.run_id.map(|r| r.to_string()),
        },
        LettaStreamingResponse::StopReason(r) => StreamEvent::Stop(r.stop_reason.as_str().into()),
        LettaStreamingResponse::Usage(u) => StreamEvent::Usage(u),
        LettaStreamingResponse::Error(e) => StreamEvent::Error(error_message_text(&e)),
    }
}

fn untyped(data: &str) -> StreamEvent {
    let Ok(value) = serde_json::from_str::<Value>(data) else {
        return StreamEvent::Other;
    };
    let kind = value.get("message_type").and_then(Value::as_str);
    match kind {
        Some("stop_reason") => match value.get("stop_reason").and_then(Value::as_str) {
            Some(reason) => StreamEvent::Stop(reason.to_owned()),
            None => StreamEvent::Other,
        },
        Some("error_message") => StreamEvent::Error(error_text(data)),
        _ if value.get("error").is_some() => StreamEvent::Error(error_text(data)),
        _ => StreamEvent::Other,
    }
}

fn error_message_text(e: &LettaErrorMessage) -> String {
    match &e.detail {
        Some(detail) if !detail.is_empty() && detail != &e.message => {
            format!("{} ({detail})", e.message)
        }
        _ => e.message.clone(),
    }
}

/// The readable part of an error payload: its `message`, `detail` or `error.message`, else the
/// payload itself.
fn error_text(data: &str) -> String {
    if let Ok(e) = serde_json::from_str::<LettaErrorMessage>(data) {
        return error_message_text(&e);
    }
    let Ok(value) = serde_json::from_str::<Value>(data) else {
        return data.to_owned();
    };
    let pick = |v: &Value| {
        ["message", "detail"]
            .iter()
            .find_map(|k| v.get(k).and_then(Value::as_str).map(str::to_owned))
    };
    pick(&value)
        .or_else(|| value.get("error").and_then(pick))
        .or_else(|| {
            value
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| data.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_types::MessageBody;

    fn data(d: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: d.into(),
        }
    }

    #[test]
    fn done_stop_usage_and_ping_decode() {
        assert_eq!(decode(&data("[DONE]")), StreamEvent::Done);
        let stop = data(r#"{"message_type":"stop_reason","stop_reason":"max_steps"}"#);
        assert_eq!(decode(&stop), StreamEvent::Stop("max_steps".into()));
        let usage = data(
            r#"{"message_type":"usage_statistics","completion_tokens":5,"prompt_tokens":7,"total_tokens":12,"step_count":2}"#,
        );
        match decode(&usage) {
            StreamEvent::Usage(u) => assert_eq!((u.total_tokens, u.step_count), (12, 2)),
            other => panic!("{other:?}"),
        }
        let ping = data(
            r#"{"id":"ping-1","date":"2025-01-01T00:00:00+00:00","message_type":"ping","run_id":"run-6a3e4d4e-1f0b-4a55-9d0e-2b7b1c3c9a11"}"#,
        );
        assert_eq!(
            decode(&ping),
            StreamEvent::Ping {
                run_id: Some("run-6a3e4d4e-1f0b-4a55-9d0e-2b7b1c3c9a11".into())
            }
        );
    }

    #[test]
    fn messages_decode_typed() {
        let frame = data(
            r#"{"id":"message-6a3e4d4e-1f0b-4a55-9d0e-2b7b1c3c9a11","date":"2025-01-01T00:00:00+00:00","message_type":"assistant_message","content":"hi"}"#,
        );
        match decode(&frame) {
            StreamEvent::Message(m) => assert!(matches!(m.body, MessageBody::Assistant(_))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_read_from_error_events_and_loose_payloads() {
        let typed = SseEvent {
            event: Some("error".into()),
            data: r#"{"message_type":"error_message","run_id":"run-6a3e4d4e-1f0b-4a55-9d0e-2b7b1c3c9a11","error_type":"llm_error","message":"model failed","detail":"429 rate limited"}"#.into(),
        };
        assert_eq!(
            decode(&typed),
            StreamEvent::Error("model failed (429 rate limited)".into())
        );
        let loose = data(r#"{"message_type":"error_message","message":"boom"}"#);
        assert_eq!(decode(&loose), StreamEvent::Error("boom".into()));
        let openai = data(r#"{"error":{"message":"bad key"}}"#);
        assert_eq!(decode(&openai), StreamEvent::Error("bad key".into()));
        let text = SseEvent {
            event: Some("error".into()),
            data: "plain words".into(),
        };
        assert_eq!(decode(&text), StreamEvent::Error("plain words".into()));
    }

    #[test]
    fn unknown_frames_and_unknown_stop_reasons() {
        assert_eq!(
            decode(&data(r#"{"message_type":"brand_new"}"#)),
            StreamEvent::Other
        );
        assert_eq!(decode(&data("not json")), StreamEvent::Other);
        let newer = data(r#"{"message_type":"stop_reason","stop_reason":"some_new_reason"}"#);
        assert_eq!(decode(&newer), StreamEvent::Stop("some_new_reason".into()));
    }
}
