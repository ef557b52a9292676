//! The script a fake LLM follows: queued replies, rules, latency, and the requests it recorded.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::errors;

/// Which API a request came through: error bodies and shapes follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    OpenAi,
    Anthropic,
}

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
    /// Sent as the message's `reasoning_content`, as vLLM and DeepSeek do; on the Anthropic
    /// route, as a `thinking` block signed with `signature` (or a generated one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Anthropic route: a `redacted_thinking` block with this data, after the thinking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redacted_reasoning: Option<String>,
    /// Usage: input tokens read from the prompt cache (Anthropic `cache_read_input_tokens`,
    /// OpenAI `prompt_tokens_details.cached_tokens`, Gemini `cachedContentTokenCount`; inside
    /// the prompt tokens for OpenAI and Gemini).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_tokens: Option<u64>,
    /// Usage: input tokens written to the prompt cache (Anthropic only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallReply>,
    /// When set, the request fails with this error and the rest of the reply is ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReply>,
    /// Overrides the computed `finish_reason` ("stop", or "tool_calls" when there are calls).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
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
    /// `/v1/chat/completions`, `/v1/messages`, `/v1/embeddings`,
    /// `/v1beta/models/{model}:generateContent`, `/api/chat`...
    pub path: String,
    /// The credential the request carried: its `Authorization` header, else Gemini's
    /// `x-goog-api-key` as `x-goog-api-key <key>`.
    pub authorization: Option<String>,
    /// Anthropic's `x-api-key`, `anthropic-version` and `anthropic-beta` headers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anthropic_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anthropic_beta: Option<String>,
    /// The JSON body, or the raw text as a JSON string when it was not JSON.
    pub body: Value,
}

impl ToolCallReply {
    /// The arguments as JSON text, as OpenAI sends them; a string goes verbatim (so tests can
    /// send malformed arguments).
    pub(crate) fn arguments_text(&self) -> String {
        match &self.arguments {
            Value::String(raw) => raw.clone(),
            Value::Null => "{}".to_owned(),
            other => other.to_string(),
        }
    }

    /// The arguments as the object Anthropic, Gemini and Ollama send; a string that is not a
    /// JSON object becomes `{"raw": ...}`.
    pub(crate) fn arguments_object(&self) -> Value {
        match &self.arguments {
            Value::Object(_) => self.arguments.clone(),
            Value::String(raw) => match serde_json::from_str::<Value>(raw) {
                Ok(object @ Value::Object(_)) => object,
                _ => json!({ "raw": raw }),
            },
            Value::Null => json!({}),
            other => json!({ "raw": other }),
        }
    }
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

    /// Reports `tokens` of the prompt as read from the provider's cache.
    pub fn with_cache_read_tokens(mut self, tokens: u64) -> Reply {
        self.cache_read_tokens = Some(tokens);
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

    /// The scripted body, else the provider's own body for the kind or status.
    pub(crate) fn body(&self, protocol: Protocol) -> Value {
        if let Some(body) = &self.body {
            return body.clone();
        }
        match (self.kind, protocol) {
            (Some(ErrorKind::ContextLengthExceeded), Protocol::OpenAi) => {
                errors::openai_context_length()
            }
            (Some(ErrorKind::ContextLengthExceeded), Protocol::Anthropic) => {
                errors::anthropic_context_length()
            }
            (None, Protocol::OpenAi) => errors::openai_body(self.status()),
            (None, Protocol::Anthropic) => errors::anthropic_body(self.status()),
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
        self.bodies_where(|p| p == path)
    }

    /// Recorded bodies sent to the paths `wanted` accepts, in order.
    pub(crate) fn bodies_where(&self, wanted: impl Fn(&str) -> bool) -> Vec<Value> {
        let matching = self.recorded.iter().filter(|r| wanted(&r.path));
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
    // Anthropic sends tool results as user turns without text: those are not the user.
    let text = |message: &Value| match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p["type"].as_str().is_none_or(|t| t == "text"))
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    messages
        .unwrap_or_default()
        .iter()
        .rev()
        .filter(|m| m["role"] == "user")
        .map(text)
        .find(|text| !text.is_empty())
        .unwrap_or_default()
}

/// Echoes the user: through `send_message` when the request offers it (Letta's agents answer
/// through that tool), else as plain text.
fn default_reply(request: &Value, last_user: &str) -> Reply {
    let echo = format!("echo: {last_user}");
    let offers_send_message = request["tools"].as_array().is_some_and(|tools| {
        // OpenAI nests the name under `function`; Anthropic does not.
        tools
            .iter()
            .any(|t| t["function"]["name"] == "send_message" || t["name"] == "send_message")
    });
    if offers_send_message {
        Reply::tool_call("send_message", json!({ "message": echo }))
    } else {
        Reply::text(echo)
    }
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
        assert_eq!(
            error.body(Protocol::OpenAi)["error"]["code"],
            "context_length_exceeded"
        );
        let anthropic = error.body(Protocol::Anthropic);
        assert_eq!(anthropic["type"], "error");
        assert!(
            anthropic["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("prompt is too long")
        );
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
