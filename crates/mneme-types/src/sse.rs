//! A server-sent-events parser fed with network reads: events may be split across reads, lines
//! may end in `\n`, `\r\n` or `\r`, comments (`: keep-alive`) are skipped, and the `data:`
//! lines of one event are joined with `\n`, as the SSE specification says. Pure bytes in,
//! events out (no IO): the model clients read providers' streams with it, the terminal chat
//! reads Letta's message stream.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default "message".
    pub event: Option<String>,
    pub data: String,
}

/// Incremental parser state: bytes of an unfinished line and fields of an unfinished event
/// (`data` holds each `data:` line followed by `\n`).
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// Feeds one network read and returns the events it completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.pending[start..]
            .iter()
            .position(|b| *b == b'\n' || *b == b'\r')
        {
            let end = start + offset;
            // A `\r` at the very end may be the first half of a `\r\n` split across reads.
            if self.pending[end] == b'\r' && end + 1 == self.pending.len() {
                break;
            }
            let line = String::from_utf8_lossy(&self.pending[start..end]).into_owned();
            let crlf = self.pending[end] == b'\r' && self.pending.get(end + 1) == Some(&b'\n');
            start = end + if crlf { 2 } else { 1 };
            events.extend(self.line(&line));
        }
        self.pending.drain(..start);
        events
    }

    /// The end of the body: a last event without its blank line is still dispatched, since
    /// some servers close the connection right after the final `data:` line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let rest = std::mem::take(&mut self.pending);
        let rest = String::from_utf8_lossy(&rest);
        let rest = rest.trim_end_matches(['\r', '\n']);
        if !rest.is_empty() {
            // Any event this line completes is returned by dispatch below.
            let _ = self.line(rest);
        }
        self.dispatch()
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                let data = self.data.get_or_insert_with(String::new);
                data.push_str(value);
                data.push('\n');
            }
            "event" => self.event = Some(value.to_owned()),
            // `id` and `retry` matter for reconnecting, which neither reader does.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let mut data = self.data.take()?;
        data.pop(); // the `\n` the last `data:` line added
        Some(SseEvent { event, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &str, piece: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut events: Vec<SseEvent> = input
            .as_bytes()
            .chunks(piece)
            .flat_map(|chunk| parser.push(chunk))
            .collect();
        events.extend(parser.finish());
        events
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn splits_events_on_blank_lines() {
        let events = parse_in_pieces("data: {\"a\":1}\n\ndata: [DONE]\n\n", 1000);
        assert_eq!(data(&events), ["{\"a\":1}", "[DONE]"]);
    }

    #[test]
    fn any_split_of_the_body_gives_the_same_events() {
        let body = "data: {\"a\":\"é\"}\r\n\r\n: keep-alive\r\n\r\ndata: one\r\ndata: two\r\n\r\ndata:[DONE]\r\n\r\n";
        for piece in 1..body.len() {
            let events = parse_in_pieces(body, piece);
            assert_eq!(
                data(&events),
                ["{\"a\":\"é\"}", "one\ntwo", "[DONE]"],
                "piece {piece}"
            );
        }
    }

    #[test]
    fn lone_carriage_returns_end_lines() {
        let events = parse_in_pieces("data: x\r\rdata: y\r\r", 3);
        assert_eq!(data(&events), ["x", "y"]);
    }

    #[test]
    fn comments_and_other_fields_are_skipped() {
        let body = ": ping\n\nid: 7\nretry: 100\nevent: error\ndata: {\"error\":{}}\n\n";
        let events = parse_in_pieces(body, 5);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event.as_deref(), Some("error"));
        assert_eq!(events[0].data, "{\"error\":{}}");
    }

    #[test]
    fn a_last_event_without_blank_line_is_dispatched() {
        assert_eq!(data(&parse_in_pieces("data: a\n\ndata: b", 4)), ["a", "b"]);
        assert_eq!(data(&parse_in_pieces("data: b\n", 4)), ["b"]);
        assert!(parse_in_pieces("", 4).is_empty());
    }
}
