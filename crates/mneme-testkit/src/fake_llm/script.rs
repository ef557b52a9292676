//! The script a fake LLM follows: queued replies, rules, latency, and the requests it recorded.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One scripted answer to one chat request.
///
/// JSON forms: `{"text": "hi"}`, `{"tool_calls": [{"name": "f", "arguments": {...}}]}` (with an
/// optional `"text"` beside), `{"error": {"status": 429, "body": {...}}}`,
/// `{"error": {"kind": "context_length_exceeded"}}`; any of them with `"delay_ms"`.
/// Unknown keys are refused so that a typo in a test script fails loudly.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Reply {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Sent as the message's `reasoning_content`, as vLLM and DeepSeek do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallReply>,
    /// When set, the request fails with this error and the rest of the reply is ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReply>,
    /// Overrides the computed `finish_reason` ("stop", or "tool_calls" when there are calls).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Reported as `usage.prompt_tokens_details.cached_tokens` (prompt-cache reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Reported as `usage.completion_tokens_details.reasoning_tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Extra delay for this reply, on top of the global latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

/// A tool call to answer with. `arguments` is sent as its JSON text, or verbatim when it is a
/// string (so tests can send malformed arguments).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCallReply {
    pub name: String,
    #[serde(default)]
    pub arguments: Value,
    /// The call id; generated (`call_…`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// An HTTP error answer. `status` and `body` default from `kind`, else 500 and an OpenAI-style
/// error body for the status.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorReply {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ErrorKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// Well-known provider errors, with OpenAI's exact bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// 400 `context_length_exceeded`.
    ContextLengthExceeded,
}

/// When the queue is empty, the first rule whose text occurs in the last user message answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub when_last_user_contains: String,
    pub reply: Reply,
}

/// A request the fake received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// `/v1/chat/completions` or `/v1/embeddings`.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body, or the raw text as a JSON string when it was not JSON.
    pub body: Value,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: Some(text.into()),
            ..Reply::default()
        }
    }

    /// One tool call; `arguments` is usually a JSON object.
    pub fn tool_call(name: impl Into<String>, arguments: Value) -> Reply {
        Reply {
            tool_calls: vec![ToolCallReply {
                name: name.into(),
                arguments,
                id: None,
            }],
            ..Reply::default()
        }
    }

    /// An error with this status and body.
    pub fn error(status: u16, body: Value) -> Reply {
        Reply::from_error(ErrorReply {
            status: Some(status),
            body: Some(body),
            ..ErrorReply::default()
        })
    }

    /// OpenAI's 400 for a prompt over the context window.
    pub fn context_length_exceeded() -> Reply {
        Reply::from_error(ErrorReply {
            kind: Some(ErrorKind::ContextLengthExceeded),
            ..ErrorReply::default()
        })
    }

    /// A 429 with OpenAI's body and, when given, a `retry-after-ms` header.
    pub fn rate_limited(retry_after: Option<Duration>) -> Reply {
        let mut error = ErrorReply {
            status: Some(429),
            ..ErrorReply::default()
        };
        if let Some(after) = retry_after {
            let ms = after.as_millis().to_string();
            error.headers.insert("retry-after-ms".to_owned(), ms);
        }
        Reply::from_error(error)
    }

    pub fn from_error(error: ErrorReply) -> Reply {
        Reply {
            error: Some(error),
            ..Reply::default()
        }
    }

    /// Adds text beside the tool calls (or replaces the text).
    pub fn with_text(mut self, text: impl Into<String>) -> Reply {
        self.text = Some(text.into());
        self
    }

    pub fn with_reasoning(mut self, reasoning: impl Into<String>) -> Reply {
        self.reasoning = Some(reasoning.into());
        self
    }

    /// Adds another tool call (parallel calls).
    pub fn with_tool_call(mut self, name: impl Into<String>, arguments: Value) -> Reply {
        self.tool_calls.push(ToolCallReply {
            name: name.into(),
            arguments,
            id: None,
        });
        self
    }

    pub fn with_delay(mut self, delay: Duration) -> Reply {
        self.delay_ms = Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
        self
    }
}

impl ErrorReply {
    pub(crate) fn status(&self) -> u16 {
        match (self.status, self.kind) {
            (Some(status), _) => status,
            (None, Some(ErrorKind::ContextLengthExceeded)) => 400,
            (None, None) => 500,
        }
    }

    pub(crate) fn body(&self) -> Value {
        if let Some(body) = &self.body {
            return body.clone();
        }
        match self.kind {
            Some(ErrorKind::ContextLengthExceeded) => context_length_body(),
            None => default_error_body(self.status()),
        }
    }
}

/// Everything a fake LLM server shares between its handlers and its Rust handle.
#[derive(Debug, Default)]
pub(crate) struct Script {
    queue: VecDeque<Reply>,
    rules: Vec<Rule>,
    pub(crate) latency: Duration,
    pub(crate) recorded: Vec<RecordedRequest>,
    next_id: u64,
}

impl Script {
    pub(crate) fn push(&mut self, reply: Reply) {
        self.queue.push_back(reply);
    }

    pub(crate) fn add_rule(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    pub(crate) fn queued(&self) -> Vec<Reply> {
        self.queue.iter().cloned().collect()
    }

    pub(crate) fn reset(&mut self) {
        *self = Script::default();
    }

    /// Recorded bodies sent to one path, in order.
    pub(crate) fn bodies(&self, path: &str) -> Vec<Value> {
        let matching = self.recorded.iter().filter(|r| r.path == path);
        matching.map(|r| r.body.clone()).collect()
    }

    /// A fresh id number; ids only need to be unique per server.
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The reply for this chat request: the queue first, then the rules, then the default echo.
    pub(crate) fn next_reply(&mut self, request: &Value) -> Reply {
        if let Some(reply) = self.queue.pop_front() {
            return reply;
        }
        let last_user = last_user_text(request);
        let rule = self
            .rules
            .iter()
            .find(|r| last_user.contains(&r.when_last_user_contains));
        match rule {
            Some(rule) => rule.reply.clone(),
            None => default_reply(request, &last_user),
        }
    }
}

/// The text of the last `user` message; content may be a string or a list of text parts.
pub(crate) fn last_user_text(request: &Value) -> String {
    let messages = request["messages"].as_array().map(Vec::as_slice);
    let last = messages
        .unwrap_or_default()
        .iter()
        .rev()
        .find(|m| m["role"] == "user");
    let Some(message) = last else {
        return String::new();
    };
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Echoes the user: through `send_message` when the request offers it (Letta's agents answer
/// through that tool), else as plain text.
fn default_reply(request: &Value, last_user: &str) -> Reply {
    let echo = format!("echo: {last_user}");
    let offers_send_message = request["tools"].as_array().is_some_and(|tools| {
        tools
            .iter()
            .any(|t| t["function"]["name"] == "send_message")
    });
    if offers_send_message {
        Reply::tool_call("send_message", json!({ "message": echo }))
    } else {
        Reply::text(echo)
    }
}

fn context_length_body() -> Value {
    json!({"error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages \
                    resulted in 130000 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }})
}

/// OpenAI's error body shape for a status.
fn default_error_body(status: u16) -> Value {
    let (message, kind, code) = match status {
        429 => (
            "Rate limit reached for requests",
            "requests",
            "rate_limit_exceeded",
        ),
        401 => (
            "Incorrect API key provided",
            "invalid_request_error",
            "invalid_api_key",
        ),
        400..=499 => (
            "Invalid request",
            "invalid_request_error",
            "invalid_request",
        ),
        _ => (
            "The server had an error while processing your request",
            "server_error",
            "server_error",
        ),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_json_forms_parse() {
        let r: Reply = serde_json::from_value(json!({"text": "hi", "delay_ms": 5})).unwrap();
        assert_eq!(r.text.as_deref(), Some("hi"));
        assert_eq!(r.delay_ms, Some(5));
        let r: Reply =
            serde_json::from_value(json!({"tool_calls": [{"name": "f", "arguments": {"a": 1}}]}))
                .unwrap();
        assert_eq!(r.tool_calls[0].arguments, json!({"a": 1}));
        let r: Reply =
            serde_json::from_value(json!({"error": {"kind": "context_length_exceeded"}})).unwrap();
        let error = r.error.unwrap();
        assert_eq!(error.status(), 400);
        assert_eq!(error.body()["error"]["code"], "context_length_exceeded");
        assert!(serde_json::from_value::<Reply>(json!({"txt": "typo"})).is_err());
    }

    #[test]
    fn last_user_text_reads_strings_and_parts() {
        let req = json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "x"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "tool", "content": "y"},
        ]});
        assert_eq!(last_user_text(&req), "a\nb");
        assert_eq!(last_user_text(&json!({})), "");
    }

    #[test]
    fn queue_then_rules_then_echo() {
        let mut script = Script::default();
        let req = json!({"messages": [{"role": "user", "content": "hello there"}]});
        script.push(Reply::text("queued"));
        script.add_rule(Rule {
            when_last_user_contains: "hello".into(),
            reply: Reply::text("ruled"),
        });
        assert_eq!(script.next_reply(&req), Reply::text("queued"));
        assert_eq!(script.next_reply(&req), Reply::text("ruled"));
        let other = json!({"messages": [{"role": "user", "content": "bye"}]});
        assert_eq!(script.next_reply(&other), Reply::text("echo: bye"));
    }

    #[test]
    fn echo_goes_through_send_message_when_offered() {
        let mut script = Script::default();
        let req = json!({
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "send_message"}}],
        });
        let reply = script.next_reply(&req);
        assert_eq!(reply.tool_calls[0].name, "send_message");
        assert_eq!(
            reply.tool_calls[0].arguments,
            json!({"message": "echo: hi"})
        );
    }
}
