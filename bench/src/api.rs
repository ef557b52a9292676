//! The few Letta V1 REST calls the benchmark makes, against any Letta-compatible server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// A client for one server (or one of several replicas), with the agent settings every created
/// agent gets.
#[derive(Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    /// Where requests go: one of `replicas`.
    base: String,
    /// Every replica's base URL (one for a single server).
    replicas: Arc<[String]>,
    model: String,
    embedding: Option<String>,
    agent_type: String,
    /// Makes agent names unique across runs against the same server.
    run_tag: String,
}

/// What one streamed request looked like from the client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamTiming {
    /// Until the first byte of the response body (usually the ping).
    pub(crate) first_byte: Duration,
    /// Until the first data event that is not a ping.
    pub(crate) first_message: Duration,
    /// Until the connection closed after `[DONE]`.
    pub(crate) total: Duration,
}

impl Api {
    /// A client of the first of `bases` (replicas of one server), which `on_replica` switches.
    pub(crate) fn new(
        bases: &[String],
        model: &str,
        embedding: Option<&str>,
        agent_type: &str,
    ) -> Result<Api> {
        let http = client(true)?;
        let now = chrono::Utc::now().format("%H%M%S");
        let replicas: Arc<[String]> = bases
            .iter()
            .map(|b| b.trim_end_matches('/').to_owned())
            .collect();
        let base = replicas.first().context("no server to measure")?.clone();
        Ok(Api {
            http,
            base,
            replicas,
            model: model.to_owned(),
            embedding: embedding.map(str::to_owned),
            agent_type: agent_type.to_owned(),
            run_tag: format!("{now}-{}", std::process::id()),
        })
    }

    /// The same API over a new connection per request (no keep-alive).
    pub(crate) fn without_keep_alive(&self) -> Result<Api> {
        Ok(Api {
            http: client(false)?,
            ..self.clone()
        })
    }

    /// The same API on replica `i` (modulo their number): one server answers requests of
    /// client or request `i`, so that load spreads round-robin over the replicas.
    pub(crate) fn on_replica(&self, i: usize) -> Api {
        let base = self.replicas[i % self.replicas.len()].clone();
        Api {
            base,
            ..self.clone()
        }
    }

    /// `GET /v1/health/` on every replica; Ok only when each answers a 2xx.
    pub(crate) async fn health_all(&self) -> Result<()> {
        for base in self.replicas.iter() {
            let url = format!("{base}/v1/health/");
            let res = self.http.get(&url).send().await.context(url.clone())?;
            check(res).await.context(url)?;
        }
        Ok(())
    }

    /// Creates an agent and returns its id.
    pub(crate) async fn create_agent(&self, name: &str) -> Result<String> {
        self.create_agent_with(name, json!({})).await
    }

    /// `create_agent` with `extra` fields in the request (e.g. `context_window_limit`).
    pub(crate) async fn create_agent_with(&self, name: &str, extra: Value) -> Result<String> {
        let mut body = json!({
            "name": format!("bench-{name}-{}", self.run_tag),
            "agent_type": self.agent_type,
            "model": self.model,
            "memory_blocks": [
                {"label": "human", "value": "Name: Bench. Sends many short messages."},
                {"label": "persona", "value": "I am a benchmark agent. I answer briefly."},
            ],
        });
        if let Some(embedding) = &self.embedding {
            body["embedding"] = json!(embedding);
        }
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        let res = self.http.post(self.url("/v1/agents/")).json(&body).send();
        let agent = check(res.await?).await?;
        agent["id"]
            .as_str()
            .map(str::to_owned)
            .context("agent without id")
    }

    /// `POST /v1/agents/{id}/messages` (blocking); returns the response body.
    pub(crate) async fn send(&self, agent: &str, text: &str) -> Result<Value> {
        let url = self.url(&format!("/v1/agents/{agent}/messages"));
        let res = self.http.post(url).json(&user_message(text)).send();
        check(res.await?).await
    }

    /// `POST /v1/agents/{id}/messages/stream`, read to the end.
    pub(crate) async fn stream(
        &self,
        agent: &str,
        text: &str,
        tokens: bool,
    ) -> Result<StreamTiming> {
        let url = self.url(&format!("/v1/agents/{agent}/messages/stream"));
        let mut body = user_message(text);
        body["stream_tokens"] = json!(tokens);
        let start = Instant::now();
        let mut res = self.http.post(url).json(&body).send().await?;
        if !res.status().is_success() {
            return Err(failure(res).await);
        }
        let mut first_byte = None;
        let mut first_message = None;
        let mut done = false;
        let mut buf = String::new();
        while let Some(bytes) = res.chunk().await? {
            first_byte.get_or_insert_with(|| start.elapsed());
            buf.push_str(&String::from_utf8_lossy(&bytes));
            while let Some(end) = buf.find("\n\n") {
                let frame: String = buf.drain(..end + 2).collect();
                match classify(&frame) {
                    Frame::Message => {
                        first_message.get_or_insert_with(|| start.elapsed());
                    }
                    Frame::Done => done = true,
                    Frame::Error => bail!("error event in stream: {}", frame.trim()),
                    Frame::Other => {}
                }
            }
        }
        let total = start.elapsed();
        if !done {
            bail!("stream ended without [DONE]");
        }
        Ok(StreamTiming {
            first_byte: first_byte.unwrap_or(total),
            first_message: first_message.context("stream without a message")?,
            total,
        })
    }

    /// `GET /v1/agents/{id}/messages?{query}`; returns the listed messages.
    /// How many messages are in the agent's context (`GET /v1/agents/{id}/context`).
    pub(crate) async fn context_messages(&self, agent: &str) -> Result<u64> {
        let url = self.url(&format!("/v1/agents/{agent}/context"));
        let body = check(self.http.get(url).send().await?).await?;
        body["num_messages"].as_u64().context("no num_messages")
    }

    pub(crate) async fn list_messages(&self, agent: &str, query: &str) -> Result<Vec<Value>> {
        let url = self.url(&format!("/v1/agents/{agent}/messages?{query}"));
        let body = check(self.http.get(url).send().await?).await?;
        match body {
            Value::Array(messages) => Ok(messages),
            other => bail!(
                "messages list is not an array: {}",
                short(&other.to_string())
            ),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Connections are kept alive and reused (as the SDKs do) unless `keep_alive` is false.
pub(crate) fn client(keep_alive: bool) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        // A generic client name: the benchmark reads no agents back, so the relationship
        // defaults servers choose by client do not matter.
        .user_agent("mneme-bench")
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(600));
    if !keep_alive {
        builder = builder.pool_max_idle_per_host(0);
    }
    Ok(builder.build()?)
}

/// The request body of a one-message send, in the form every Letta version accepts.
fn user_message(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

/// The body of a 2xx response as JSON, or an error naming the status and the body's start.
pub(crate) async fn check(res: reqwest::Response) -> Result<Value> {
    if !res.status().is_success() {
        return Err(failure(res).await);
    }
    let text = res.text().await?;
    serde_json::from_str(&text).with_context(|| format!("non-JSON body: {}", short(&text)))
}

/// The error for a non-2xx response: its status and the start of its body.
async fn failure(res: reqwest::Response) -> anyhow::Error {
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    anyhow::anyhow!("HTTP {status}: {}", short(&text))
}

fn short(text: &str) -> String {
    text.chars().take(300).collect()
}

enum Frame {
    Message,
    Done,
    Error,
    /// Pings, keep-alive comments, empty frames.
    Other,
}

/// What one SSE frame (lines up to the blank line) carries.
fn classify(frame: &str) -> Frame {
    let mut data = String::new();
    for line in frame.lines() {
        if line.starts_with("event: error") {
            return Frame::Error;
        }
        if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.trim_start());
        }
    }
    if data.is_empty() {
        return Frame::Other;
    }
    if data == "[DONE]" {
        return Frame::Done;
    }
    let value: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
    match value["message_type"].as_str() {
        Some("ping") | None => Frame::Other,
        Some(_) => Frame::Message,
    }
}

impl Api {
    /// `POST /v1/agents/{id}/archival-memory` with one passage.
    pub(crate) async fn insert_passage(&self, agent: &str, text: &str) -> Result<()> {
        let url = self.url(&format!("/v1/agents/{agent}/archival-memory"));
        let res = self.http.post(url).json(&json!({ "text": text })).send();
        check(res.await?).await.map(drop)
    }

    /// `GET /v1/agents/{id}/archival-memory/search`; returns the result count.
    pub(crate) async fn search_passages(
        &self,
        agent: &str,
        query: &str,
        top_k: u32,
    ) -> Result<usize> {
        let url = self.url(&format!("/v1/agents/{agent}/archival-memory/search"));
        let top_k = top_k.to_string();
        let res = self
            .http
            .get(url)
            .query(&[("query", query), ("top_k", top_k.as_str())])
            .send();
        let body = check(res.await?).await?;
        Ok(body["results"].as_array().map_or(0, Vec::len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_classified() {
        assert!(matches!(
            classify("data: {\"message_type\":\"ping\"}\n\n"),
            Frame::Other
        ));
        assert!(matches!(
            classify("data: {\"message_type\":\"assistant_message\"}\n\n"),
            Frame::Message
        ));
        assert!(matches!(classify("data: [DONE]\n\n"), Frame::Done));
        assert!(matches!(classify(": keep-alive\n\n"), Frame::Other));
        assert!(matches!(
            classify("event: error\ndata: {}\n\n"),
            Frame::Error
        ));
    }
}
