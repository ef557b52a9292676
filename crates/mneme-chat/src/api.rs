//! The Letta routes the chat calls, over HTTP, and the shapes it reads from them.
//!
//! Agents and the context overview are read into small views of the fields shown, not into
//! `AgentState` and `ContextWindowOverview`: a Letta server of another version may add an agent
//! type or a message part those strict types refuse, and a chat client should not fail to list
//! agents over a field it never shows. Blocks and stream chunks use mneme-types as they are.

use std::time::Duration;

use mneme_types::{AgentId, Block};
use reqwest::{Method, RequestBuilder, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::ChatError;

/// Requests other than the message stream give up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Agents a listing asks for at most (Letta pages by 50 unless told).
const LIST_LIMIT: u32 = 200;

/// An agent as the chat shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct AgentSummary {
    pub(crate) id: AgentId,
    pub(crate) name: String,
    /// The model handle (`openai/gpt-4o-mini`), which newer servers send.
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    llm_config: Option<LlmView>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct LlmView {
    #[serde(default)]
    handle: Option<String>,
    #[serde(default)]
    model: Option<String>,
}

impl AgentSummary {
    /// The agent's model: its handle, else the provider's model name.
    pub(crate) fn model(&self) -> &str {
        let llm = self.llm_config.as_ref();
        self.model
            .as_deref()
            .or_else(|| llm.and_then(|l| l.handle.as_deref()))
            .or_else(|| llm.and_then(|l| l.model.as_deref()))
            .unwrap_or("?")
    }
}

/// The token counts of `GET /v1/agents/{id}/context`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct ContextCounts {
    pub(crate) context_window_size_max: u64,
    pub(crate) context_window_size_current: u64,
    pub(crate) num_messages: u64,
    pub(crate) num_tokens_system: u64,
    pub(crate) num_tokens_core_memory: u64,
    pub(crate) num_tokens_external_memory_summary: u64,
    pub(crate) num_tokens_summary_memory: u64,
    pub(crate) num_tokens_functions_definitions: u64,
    pub(crate) num_tokens_tool_usage_rules: u64,
    pub(crate) num_tokens_memory_filesystem: u64,
    pub(crate) num_tokens_directories: u64,
    pub(crate) num_tokens_messages: u64,
}

/// A Letta server at a base URL, with an optional API key.
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
}

impl Api {
    pub(crate) fn new(base_url: &str, api_key: Option<String>) -> Result<Api, ChatError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ChatError::Http(e.to_string()))?;
        Ok(Api {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.filter(|k| !k.is_empty()),
        })
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base
    }

    /// Agents, all of them or those named exactly `name`.
    pub(crate) async fn agents(&self, name: Option<&str>) -> Result<Vec<AgentSummary>, ChatError> {
        let mut query = vec![("limit", LIST_LIMIT.to_string())];
        if let Some(name) = name {
            query.push(("name", name.to_owned()));
        }
        let req = self.request(Method::GET, "/v1/agents/").query(&query);
        let agents: Vec<AgentSummary> = self.json(req).await?;
        Ok(match name {
            Some(name) => agents.into_iter().filter(|a| a.name == name).collect(),
            None => agents,
        })
    }

    pub(crate) async fn agent(&self, id: &AgentId) -> Result<AgentSummary, ChatError> {
        self.json(self.request(Method::GET, &format!("/v1/agents/{id}")))
            .await
    }

    /// A new agent with a human and a persona block.
    pub(crate) async fn create_agent(
        &self,
        name: &str,
        model: &str,
    ) -> Result<AgentSummary, ChatError> {
        let body = json!({
            "name": name,
            "model": model,
            "memory_blocks": [
                {"label": "human", "value": "", "limit": 5000},
                {"label": "persona", "limit": 5000,
                 "value": "I am a helpful assistant. I remember what matters to the person I talk with."},
            ],
        });
        self.json(self.request(Method::POST, "/v1/agents/").json(&body))
            .await
    }

    pub(crate) async fn blocks(&self, id: &AgentId) -> Result<Vec<Block>, ChatError> {
        let path = format!("/v1/agents/{id}/core-memory/blocks");
        self.json(self.request(Method::GET, &path)).await
    }

    pub(crate) async fn context(&self, id: &AgentId) -> Result<ContextCounts, ChatError> {
        let path = format!("/v1/agents/{id}/context");
        self.json(self.request(Method::GET, &path)).await
    }

    pub(crate) async fn reset(&self, id: &AgentId) -> Result<(), ChatError> {
        let path = format!("/v1/agents/{id}/reset-messages");
        let req = self.request(Method::PATCH, &path).json(&json!({}));
        self.send(req).await.map(drop)
    }

    /// The agent as an Agent File, the text as the server wrote it.
    pub(crate) async fn export(&self, id: &AgentId) -> Result<String, ChatError> {
        let path = format!("/v1/agents/{id}/export");
        let resp = self.send(self.request(Method::GET, &path)).await?;
        resp.text().await.map_err(read_error)
    }

    /// Asks the server to stop the agent's runs: those named, or all of its active ones.
    pub(crate) async fn cancel(&self, id: &AgentId, run_ids: &[String]) -> Result<(), ChatError> {
        let path = format!("/v1/agents/{id}/messages/cancel");
        let body = match run_ids.is_empty() {
            true => json!({}),
            false => json!({ "run_ids": run_ids }),
        };
        self.send(self.request(Method::POST, &path).json(&body))
            .await
            .map(drop)
    }

    /// Sends `text` as the user and answers the open SSE stream of the agent's reply.
    pub(crate) async fn stream(
        &self,
        id: &AgentId,
        text: &str,
        stream_tokens: bool,
    ) -> Result<Response, ChatError> {
        let body = json!({
            "messages": [{"role": "user", "content": text}],
            "stream_tokens": stream_tokens,
        });
        let path = format!("/v1/agents/{id}/messages/stream");
        let req = self
            .http
            .post(self.url(&path))
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body);
        self.send(self.authorize(req)).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let req = self
            .http
            .request(method, self.url(path))
            .timeout(REQUEST_TIMEOUT);
        self.authorize(req)
    }

    fn authorize(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.api_key {
            Some(key) => req.bearer_auth(key),
            None => req,
        }
    }

    /// Sends a request; a 4xx or 5xx answer becomes `ChatError::Api` with the body's `detail`.
    async fn send(&self, req: RequestBuilder) -> Result<Response, ChatError> {
        let resp = req.send().await.map_err(|e| self.send_error(e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        Err(ChatError::Api {
            status: status.as_u16(),
            detail: detail(&body, status.canonical_reason().unwrap_or("error")),
        })
    }

    async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, ChatError> {
        let resp = self.send(req).await?;
        let url = resp.url().path().to_owned();
        let text = resp.text().await.map_err(read_error)?;
        serde_json::from_str(&text).map_err(|e| ChatError::Decode(format!("{url}: {e}")))
    }

    fn send_error(&self, e: reqwest::Error) -> ChatError {
        match e.is_connect() || e.is_timeout() {
            true => ChatError::Unreachable {
                url: self.base.clone(),
                why: root_cause(&e),
            },
            false => ChatError::Http(root_cause(&e)),
        }
    }
}

fn read_error(e: reqwest::Error) -> ChatError {
    ChatError::Http(root_cause(&e))
}

/// The innermost cause of an error ("Connection refused (os error 111)"), which says more
/// than reqwest's "error sending request for url".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The message of an error body: Letta's `{"detail": "..."}`, a validation error's list of
/// `{"loc", "msg"}`, or the body itself (shortened), or the status's reason when it is empty.
pub(crate) fn detail(body: &str, reason: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        let text = body.trim();
        return match text.is_empty() {
            true => reason.to_owned(),
            false => crate::text::truncate(text, 300),
        };
    };
    match value.get("detail").or_else(|| value.get("message")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(validation_item)
            .collect::<Vec<_>>()
            .join("; "),
        Some(other) => other.to_string(),
        None => crate::text::truncate(body.trim(), 300),
    }
}

fn validation_item(item: &Value) -> String {
    let msg = item.get("msg").and_then(Value::as_str).unwrap_or("invalid");
    let loc = item.get("loc").and_then(Value::as_array).map(|parts| {
        parts
            .iter()
            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(".")
    });
    match loc {
        Some(loc) if !loc.is_empty() => format!("{loc}: {msg}"),
        _ => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_are_read_in_each_shape() {
        assert_eq!(
            detail(r#"{"detail":"Agent agent-1 not found"}"#, "Not Found"),
            "Agent agent-1 not found"
        );
        let validation =
            r#"{"detail":[{"loc":["body","messages",0],"msg":"field required","type":"missing"}]}"#;
        assert_eq!(
            detail(validation, "Unprocessable Entity"),
            "body.messages.0: field required"
        );
        assert_eq!(detail("", "Bad Gateway"), "Bad Gateway");
        assert_eq!(detail("upstream down", "Bad Gateway"), "upstream down");
    }

    #[test]
    fn an_agent_shows_its_handle_or_its_model() {
        let a: AgentSummary = serde_json::from_value(json!({
            "id": "agent-00000000-0000-4000-8000-000000000001", "name": "a",
            "llm_config": {"model": "gpt-4o-mini", "handle": null}, "extra": [1, 2]
        }))
        .unwrap();
        assert_eq!(a.model(), "gpt-4o-mini");
        let b: AgentSummary = serde_json::from_value(json!({
            "id": "agent-00000000-0000-4000-8000-000000000002", "name": "b",
            "model": "openai/gpt-4o-mini", "llm_config": {"model": "gpt-4o-mini"}
        }))
        .unwrap();
        assert_eq!(b.model(), "openai/gpt-4o-mini");
    }
}
