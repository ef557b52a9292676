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
/// `{"error": {"kind": "context_length_exceeded"}}`; any of them with `"delay_ms"` (and
/// `"chunk_delay_ms"` between streamed chunks), and with
/// `"prompt_tokens"` / `"completion_tokens"` to report that usage instead of the estimate.
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
    /// The prompt's token count reported in the usage (every protocol), instead of the
    /// estimate from the request's size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    /// The answer's token count reported in the usage, instead of the estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    /// Extra delay for this reply, on top of the global latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Streamed answers (OpenAI route): the pause between two chunks, so that a client can
    /// be seen showing a reply while it arrives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_delay_ms: Option<u64>,
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

/// A reply chosen by what the request says. A rule with `when_system_contains` answers
/// requests whose system prompt contains that text (and whose last user message contains
/// `when_last_user_contains`) before the queue, so that a summarizer's calls, say, get their
/// own answers while the queue scripts the agent; other rules answer when the queue is empty,
/// the first whose text occurs in the last user message. `times` limits how often a rule
/// answers (then it is gone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub when_last_user_contains: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_system_contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    pub reply: Reply,
}

impl Rule {
    /// Answers with `reply` when the queue is empty and the last user message contains `text`.
    pub fn on_user(text: impl Into<String>, reply: Reply) -> Rule {
        Rule {
            when_last_user_contains: text.into(),
            when_system_contains: None,
            times: None,
            reply,
        }
    }

    /// Answers with `reply`, before the queue, requests whose system prompt contains `text`.
    pub fn on_system(text: impl Into<String>, reply: Reply) -> Rule {
        Rule {
            when_system_contains: Some(text.into()),
            ..Rule::on_user("", reply)
        }
    }

    /// Answers at most `n` times.
    pub fn times(mut self, n: u32) -> Rule {
        self.times = Some(n);
        self
    }

    fn matches(&self, system: &str, last_user: &str) -> bool {
        let system_ok = self
            .when_system_contains
            .as_deref()
            .is_none_or(|text| system.contains(text));
        system_ok && last_user.contains(&self.when_last_user_contains)
    }
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
    /// Requests with more text than this (in characters) get the protocol's context-length
    /// error, as a model with a small window answers.
    pub(crate) context_limit: Option<usize>,
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

    /// The reply for this chat request (`view` in the OpenAI chat shape the rules read, `raw`
    /// as sent): a context-length error past the limit, then the system-prompt rules, the
    /// queue, the other rules, and the default echo.
    pub(crate) fn next_reply(&mut self, view: &Value, raw: &Value) -> Reply {
        if self
            .context_limit
            .is_some_and(|limit| text_chars(raw, true) > limit)
        {
            return Reply::context_length_exceeded();
        }
        let last_user = last_user_text(view);
        let system = system_text(raw);
        if let Some(reply) = self.take_rule(true, &system, &last_user) {
            return reply;
        }
        if let Some(reply) = self.queue.pop_front() {
            return reply;
        }
        match self.take_rule(false, &system, &last_user) {
            Some(reply) => reply,
            None => default_reply(view, &last_user),
        }
    }

    /// The reply of the first matching rule of one kind (system rules or the others), used
    /// up when its `times` run out.
    fn take_rule(&mut self, on_system: bool, system: &str, last_user: &str) -> Option<Reply> {
        let i = self.rules.iter().position(|r| {
            r.when_system_contains.is_some() == on_system && r.matches(system, last_user)
        })?;
        let rule = &mut self.rules[i];
        let reply = rule.reply.clone();
        if let Some(left) = rule.times.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.rules.remove(i);
            }
        }
        Some(reply)
    }
}

/// The system prompt of a request in any protocol: Anthropic's `system`, Gemini's
/// `systemInstruction`, the Responses API's `instructions`, or the `system`/`developer`
/// messages of the others.
pub(crate) fn system_text(raw: &Value) -> String {
    let mut parts = Vec::new();
    for field in [
        &raw["system"],
        &raw["systemInstruction"],
        &raw["instructions"],
    ] {
        collect_text(field, &mut parts);
    }
    let messages = raw["messages"].as_array().into_iter().flatten();
    let items = raw["input"].as_array().into_iter().flatten();
    for m in messages.chain(items) {
        if m["role"] == "system" || m["role"] == "developer" {
            collect_text(&m["content"], &mut parts);
        }
    }
    parts.join("\n")
}

/// The text of a string, a list of text parts, or `{parts: [...]}`.
fn collect_text(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| collect_text(i, out)),
        Value::Object(o) => {
            for key in ["text", "parts", "content"] {
                if let Some(inner) = o.get(key) {
                    collect_text(inner, out);
                }
            }
        }
        _ => {}
    }
}

/// Characters of every string in a request, its tool schemas and model name left out (what a
/// model's window holds of it, roughly).
fn text_chars(v: &Value, top: bool) -> usize {
    match v {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.iter().map(|i| text_chars(i, false)).sum(),
        Value::Object(o) => o
            .iter()
            .filter(|(k, _)| !top || !matches!(k.as_str(), "tools" | "model" | "tool_choice"))
            .map(|(_, v)| text_chars(v, false))
            .sum(),
        _ => 0,
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
        script.add_rule(Rule::on_user("hello", Reply::text("ruled")));
        assert_eq!(script.next_reply(&req, &req), Reply::text("queued"));
        assert_eq!(script.next_reply(&req, &req), Reply::text("ruled"));
        let other = json!({"messages": [{"role": "user", "content": "bye"}]});
        assert_eq!(script.next_reply(&other, &other), Reply::text("echo: bye"));
    }

    #[test]
    fn echo_goes_through_send_message_when_offered() {
        let mut script = Script::default();
        let req = json!({
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "send_message"}}],
        });
        let reply = script.next_reply(&req, &req);
        assert_eq!(reply.tool_calls[0].name, "send_message");
        assert_eq!(
            reply.tool_calls[0].arguments,
            json!({"message": "echo: hi"})
        );
    }

    #[test]
    fn system_rules_answer_before_the_queue_and_run_out() {
        let mut script = Script::default();
        script.push(Reply::text("for the agent"));
        script.add_rule(Rule::on_system("Summarise", Reply::text("a summary")).times(1));
        let summarizer = json!({"messages": [
            {"role": "system", "content": "Summarise this."},
            {"role": "user", "content": "transcript"},
        ]});
        let agent = json!({"messages": [
            {"role": "system", "content": "You are an agent."},
            {"role": "user", "content": "hi"},
        ]});
        assert_eq!(
            script.next_reply(&agent, &agent),
            Reply::text("for the agent")
        );
        assert_eq!(
            script.next_reply(&summarizer, &summarizer),
            Reply::text("a summary")
        );
        // Used up: the summarizer now gets the echo.
        let echo = script.next_reply(&summarizer, &summarizer);
        assert_eq!(echo, Reply::text("echo: transcript"));
        // Anthropic's and Gemini's system prompts count too.
        let anthropic = json!({"system": [{"type": "text", "text": "Summarise it"}]});
        assert_eq!(system_text(&anthropic), "Summarise it");
        let gemini = json!({"systemInstruction": {"parts": [{"text": "Summarise"}]}});
        assert_eq!(system_text(&gemini), "Summarise");
        let rule: Rule = serde_json::from_value(json!({
            "when_system_contains": "x", "times": 2, "reply": {"text": "y"}
        }))
        .unwrap();
        assert_eq!(rule.when_last_user_contains, "");
    }

    #[test]
    fn past_the_context_limit_every_request_overflows() {
        let mut script = Script {
            context_limit: Some(10),
            ..Script::default()
        };
        script.push(Reply::text("kept for later"));
        let short = json!({"model": "a-long-model-name", "messages": [{"role": "user", "content": "hi"}],
                           "tools": [{"function": {"description": "long long long long"}}]});
        let long = json!({"messages": [{"role": "user", "content": "hello there, world"}]});
        let error = script.next_reply(&long, &long).error.unwrap();
        assert_eq!(error.kind, Some(ErrorKind::ContextLengthExceeded));
        assert_eq!(
            script.next_reply(&short, &short),
            Reply::text("kept for later")
        );
    }

    #[test]
    fn scripted_usage_replaces_the_estimate() {
        let r: Reply = serde_json::from_value(
            json!({"text": "x", "prompt_tokens": 9000, "completion_tokens": 7}),
        )
        .unwrap();
        assert_eq!(
            (r.prompt_tokens, r.completion_tokens),
            (Some(9000), Some(7))
        );
    }
}
