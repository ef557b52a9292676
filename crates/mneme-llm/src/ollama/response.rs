//! Reads `/api/chat` answers: a whole response is one object with `done: true`; a stream is
//! one such object per line (NDJSON), the last with `done: true`, the counts and
//! `done_reason`. Tool calls arrive whole, arguments as an object.

use serde_json::Value;

use crate::assemble::new_tool_call_id;
use crate::framed::{Decoder, cut_short};
use crate::{ChatDelta, ChatResponse, ChatResponseBuilder, FinishReason, LlmError, Usage};

/// A whole (non-streamed) response.
pub(crate) fn parse_response(body: &[u8]) -> Result<ChatResponse, LlmError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| LlmError::InvalidResponse(format!("not JSON: {e}")))?;
    let mut decoder = ChunkDecoder::default();
    let mut builder = ChatResponseBuilder::new();
    for delta in decoder.decode(&json)? {
        builder.push(delta);
    }
    if !builder.is_done() {
        return Err(LlmError::InvalidResponse(
            "the response is not marked done".to_owned(),
        ));
    }
    Ok(builder.finish())
}

/// One response's state across its lines.
#[derive(Debug, Default)]
pub(crate) struct ChunkDecoder {
    calls: usize,
}

impl ChunkDecoder {
    pub(crate) fn decode(&mut self, chunk: &Value) -> Result<Vec<ChatDelta>, LlmError> {
        if let Some(error) = chunk["error"].as_str() {
            return Err(LlmError::Unavailable {
                status: 500,
                message: error.chars().take(500).collect(),
            });
        }
        let message = &chunk["message"];
        let mut deltas = Vec::new();
        let text = |key: &str| {
            message[key]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        deltas.extend(text("thinking").map(ChatDelta::Reasoning));
        deltas.extend(text("content").map(ChatDelta::Content));
        for call in message["tool_calls"].as_array().into_iter().flatten() {
            let function = &call["function"];
            let id = call["id"].as_str().filter(|id| !id.is_empty());
            let arguments = match &function["arguments"] {
                Value::String(text) => text.clone(),
                Value::Null => "{}".to_owned(),
                other => other.to_string(),
            };
            deltas.push(ChatDelta::ToolCall {
                index: self.calls,
                id: Some(id.map_or_else(new_tool_call_id, str::to_owned)),
                name: function["name"].as_str().map(str::to_owned),
                arguments,
            });
            self.calls += 1;
        }
        if chunk["done"] == true {
            deltas.push(ChatDelta::Done {
                finish_reason: Some(self.finish_reason(chunk["done_reason"].as_str())),
                usage: usage(chunk),
            });
        }
        Ok(deltas)
    }

    /// Ollama says `stop` after tool calls too.
    fn finish_reason(&self, reason: Option<&str>) -> FinishReason {
        match reason {
            Some("length") => FinishReason::Length,
            Some("stop") | None if self.calls > 0 => FinishReason::ToolCalls,
            Some("stop") | None => FinishReason::Stop,
            Some(other) => FinishReason::Other(other.to_owned()),
        }
    }
}

/// `prompt_eval_count` and `eval_count`; Ollama reports no cache or reasoning counts.
fn usage(chunk: &Value) -> Usage {
    let prompt_tokens = chunk["prompt_eval_count"].as_u64().unwrap_or(0);
    let completion_tokens = chunk["eval_count"].as_u64().unwrap_or(0);
    Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens + completion_tokens,
        ..Usage::default()
    }
}

/// Splits an NDJSON body into lines as reads arrive.
#[derive(Debug, Default)]
pub(crate) struct NdjsonDecoder {
    pending: Vec<u8>,
    chunks: ChunkDecoder,
    done: bool,
}

impl NdjsonDecoder {
    fn line(&mut self, line: &[u8], out: &mut Vec<Result<ChatDelta, LlmError>>) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim();
        if line.is_empty() || self.done {
            return;
        }
        let chunk: Value = match serde_json::from_str(line) {
            Ok(chunk) => chunk,
            Err(e) => return out.push(Err(LlmError::InvalidResponse(format!("bad line: {e}")))),
        };
        match self.chunks.decode(&chunk) {
            Ok(deltas) => {
                self.done = deltas.iter().any(|d| matches!(d, ChatDelta::Done { .. }));
                out.extend(deltas.into_iter().map(Ok));
            }
            Err(error) => out.push(Err(error)),
        }
    }
}

impl Decoder for NdjsonDecoder {
    fn push(&mut self, bytes: &[u8]) -> Vec<Result<ChatDelta, LlmError>> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.line(&line, &mut out);
        }
        out
    }

    fn end(&mut self) -> Vec<Result<ChatDelta, LlmError>> {
        let rest = std::mem::take(&mut self.pending);
        let mut out = Vec::new();
        self.line(&rest, &mut out);
        if !self.done && !out.iter().any(Result::is_err) {
            out.push(Err(cut_short()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble;
    use serde_json::json;

    fn run(body: &str, piece: usize) -> Vec<Result<ChatDelta, LlmError>> {
        let mut decoder = NdjsonDecoder::default();
        let mut out: Vec<_> = body
            .as_bytes()
            .chunks(piece)
            .flat_map(|c| decoder.push(c))
            .collect();
        out.extend(decoder.end());
        out
    }

    #[test]
    fn streamed_lines_fold_into_one_response() {
        let lines = [
            json!({"message": {"role": "assistant", "content": "", "thinking": "hmm"}, "done": false}),
            json!({"message": {"role": "assistant", "content": "Hé"}, "done": false}),
            json!({"message": {"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "f", "arguments": {"a": 1}}},
                {"function": {"name": "g", "arguments": {}}}]}, "done": false}),
            json!({"message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
                   "prompt_eval_count": 20, "eval_count": 5}),
        ];
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        for piece in [1, 5, body.len()] {
            let response = assemble(run(&body, piece).into_iter().map(Result::unwrap));
            assert_eq!(response.reasoning_text().as_deref(), Some("hmm"));
            assert_eq!(response.content.as_deref(), Some("Hé"));
            let calls: Vec<_> = response
                .tool_calls
                .iter()
                .map(|c| (c.name.as_str(), c.arguments.as_str()))
                .collect();
            assert_eq!(calls, [("f", r#"{"a":1}"#), ("g", "{}")]);
            assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
            assert_eq!(response.usage.total_tokens, 25);
        }
    }

    #[test]
    fn cut_streams_and_errors_fail() {
        let out = run("{\"message\":{\"content\":\"x\"},\"done\":false}\n", 4);
        assert!(matches!(out.last(), Some(Err(LlmError::Connection(_)))));
        let out = run("{\"error\":\"model crashed\"}\n", 100);
        assert!(
            matches!(&out[0], Err(LlmError::Unavailable { message, .. }) if message == "model crashed")
        );
    }

    #[test]
    fn whole_responses_and_reasons() {
        let body = json!({"message": {"role": "assistant", "content": "hi"}, "done": true, "done_reason": "length"});
        let response = parse_response(body.to_string().as_bytes()).unwrap();
        assert_eq!(response.finish_reason, Some(FinishReason::Length));
        let undone = json!({"message": {"content": "hi"}, "done": false});
        assert!(parse_response(undone.to_string().as_bytes()).is_err());
    }
}
