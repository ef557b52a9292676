//! The message stream's wire: server-sent-event frames cut from the body's bytes, and each
//! frame's `data` decoded into a [`StreamEvent`].

use mneme_types::{LettaErrorMessage, LettaMessage, LettaStreamingResponse, LettaUsageStatistics};
use serde_json::Value;

/// One event: its `event:` name (Letta names only errors) and its `data:` lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseFrame {
    pub(crate) event: Option<String>,
    pub(crate) data: String,
}

/// Cuts frames out of a body that arrives in pieces of any size: a piece may end inside a
/// line, even inside a UTF-8 character, so bytes wait here until their line is complete.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    pending: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

impl SseParser {
    /// The frames completed by `bytes`.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<SseFrame> {
        self.pending.extend_from_slice(bytes);
        let mut frames = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if let Some(frame) = self.line(line) {
                frames.push(frame);
            }
        }
        frames
    }

    /// The last frame of a body that ended without the blank line closing it.
    pub(crate) fn finish(&mut self) -> Option<SseFrame> {
        let rest = String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned();
        if !rest.is_empty() {
            // The frame's last line has no newline: it is still one of its lines.
            let _ = self.line(&rest);
        }
        self.dispatch()
    }

    fn line(&mut self, line: &str) -> Option<SseFrame> {
        if line.is_empty() {
            return self.dispatch();
        }
        // Comments (`: keepalive`) keep proxies from closing an idle stream; they carry nothing.
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => self.data.push(value.to_owned()),
            "event" => self.event = Some(value.to_owned()),
            // `id` and `retry` matter to reconnecting clients; this one does not reconnect.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseFrame> {
        let event = self.event.take();
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseFrame { event, data })
    }
}

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
pub(crate) fn decode(frame: &SseFrame) -> StreamEvent {
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

    fn frames(body: &str) -> Vec<SseFrame> {
        let mut p = SseParser::default();
        let mut out = p.push(body.as_bytes());
        out.extend(p.finish());
        out
    }

    fn data(d: &str) -> SseFrame {
        SseFrame {
            event: None,
            data: d.into(),
        }
    }

    #[test]
    fn frames_are_cut_at_blank_lines_and_comments_are_skipped() {
        let body =
            ": keepalive\n\ndata: {\"a\":1}\n\nevent: error\ndata: {\"b\":2}\n\ndata: [DONE]\n\n";
        let got = frames(body);
        assert_eq!(
            got,
            vec![
                data("{\"a\":1}"),
                SseFrame {
                    event: Some("error".into()),
                    data: "{\"b\":2}".into()
                },
                data("[DONE]"),
            ]
        );
    }

    #[test]
    fn pieces_may_split_lines_and_characters() {
        let body = "data: {\"t\":\"héllo\"}\r\n\r\ndata: x\n\n".as_bytes();
        let mut p = SseParser::default();
        let mut got = Vec::new();
        for piece in body.chunks(3) {
            got.extend(p.push(piece));
        }
        assert_eq!(got, vec![data("{\"t\":\"héllo\"}"), data("x")]);
        assert_eq!(p.finish(), None);
    }

    #[test]
    fn multi_line_data_is_joined_and_an_unterminated_last_frame_counts() {
        assert_eq!(
            frames("data:one\ndata: two\n\ndata: last"),
            vec![data("one\ntwo"), data("last")]
        );
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
        let typed = SseFrame {
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
        let text = SseFrame {
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
