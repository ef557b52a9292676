//! The archival-memory calls of the retrieval run, as a Letta client makes them: an agent
//! with an embedding model, passages inserted one by one and in batches into its archive,
//! searches by the agent's endpoint or `POST /v1/passages/search`.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::ValueEnum;
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{check, client};

/// The search endpoint the questions go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Endpoint {
    /// `GET /v1/agents/{id}/archival-memory/search?query=..&top_k=..`.
    Agent,
    /// `POST /v1/passages/search` with `agent_id` and `limit`.
    Passages,
}

/// One search result: the turn it was tagged with (or its text) and how it was found.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub(crate) tag: Option<String>,
    pub(crate) text: String,
    /// `hybrid`, `vector`, `full_text`: a `full_text` answer from an agent with a model
    /// means the query was not embedded.
    pub(crate) mode: Option<String>,
}

/// A passage to insert: its text, its turn id as its only tag, its session's date.
pub(crate) struct NewPassage<'a> {
    pub(crate) text: &'a str,
    pub(crate) tag: &'a str,
    pub(crate) created_at: DateTime<Utc>,
}

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    pub(crate) fn new(base: &str) -> Result<Client> {
        Ok(Client {
            http: client(true)?,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates an agent; without `embedding` it has no model and search is full text only.
    pub(crate) async fn create_agent(
        &self,
        name: &str,
        model: &str,
        embedding: Option<&str>,
    ) -> Result<String> {
        let mut body = json!({"name": name, "model": model, "memory_blocks": []});
        if let Some(e) = embedding {
            body["embedding"] = json!(e);
        }
        let res = self.http.post(self.url("/v1/agents/")).json(&body).send();
        let agent = check(res.await?).await.context("creating the agent")?;
        agent["id"]
            .as_str()
            .map(str::to_owned)
            .context("agent without id")
    }

    /// `POST /v1/agents/{id}/archival-memory`; returns whether the stored passage has an
    /// embedding.
    pub(crate) async fn insert(&self, agent: &str, p: &NewPassage<'_>) -> Result<bool> {
        let url = self.url(&format!("/v1/agents/{agent}/archival-memory"));
        let body = json!({"text": p.text, "tags": [p.tag], "created_at": p.created_at});
        let stored = check(self.http.post(url).json(&body).send().await?).await?;
        Ok(stored[0]["embedding"].is_array())
    }

    /// The agent's archive (Letta lists it with `GET /v1/archives?agent_id=`); it exists
    /// once a passage was inserted through the agent.
    pub(crate) async fn agent_archive(&self, agent: &str) -> Result<String> {
        let url = self.url("/v1/archives/");
        let res = self.http.get(url).query(&[("agent_id", agent)]).send();
        let list = check(res.await?).await?;
        list[0]["id"]
            .as_str()
            .map(str::to_owned)
            .context("the agent has no archive")
    }

    /// `POST /v1/archives/{id}/passages/batch`.
    pub(crate) async fn insert_batch(&self, archive: &str, batch: &[NewPassage<'_>]) -> Result<()> {
        let url = self.url(&format!("/v1/archives/{archive}/passages/batch"));
        let passages: Vec<Value> = (batch.iter())
            .map(|p| json!({"text": p.text, "tags": [p.tag], "created_at": p.created_at}))
            .collect();
        let body = json!({ "passages": passages });
        check(self.http.post(url).json(&body).send().await?).await?;
        Ok(())
    }

    /// The top `k` passages for `query`, best first.
    pub(crate) async fn search(
        &self,
        endpoint: Endpoint,
        agent: &str,
        query: &str,
        k: u32,
    ) -> Result<Vec<Hit>> {
        match endpoint {
            Endpoint::Agent => {
                let url = self.url(&format!("/v1/agents/{agent}/archival-memory/search"));
                let k = k.to_string();
                let res = self.http.get(url).query(&[("query", query), ("top_k", &k)]);
                let body = check(res.send().await?).await?;
                Ok(hits(&body["results"], |r| r))
            }
            Endpoint::Passages => {
                let url = self.url("/v1/passages/search");
                let body = json!({"query": query, "agent_id": agent, "limit": k});
                let found = check(self.http.post(url).json(&body).send().await?).await?;
                Ok(hits(&found, |r| &r["passage"]))
            }
        }
    }
}

/// The hits of a result array; `passage` finds the passage-like object in one result (the
/// agent endpoint returns it flat, `/v1/passages/search` under `passage`, with `metadata`).
fn hits(results: &Value, passage: impl Fn(&Value) -> &Value) -> Vec<Hit> {
    let Some(list) = results.as_array() else {
        return Vec::new();
    };
    (list.iter())
        .map(|r| {
            let p = passage(r);
            let text = p["content"].as_str().or(p["text"].as_str());
            let mode = r["relevance"]["search_mode"].as_str();
            let mode = mode.or(r["metadata"]["search_mode"].as_str());
            Hit {
                tag: p["tags"][0].as_str().map(str::to_owned),
                text: text.unwrap_or_default().to_owned(),
                mode: mode.map(str::to_owned),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_result_shapes_are_read() {
        let agent = json!([{"content": "Ann: hi", "tags": ["t1"],
                            "relevance": {"search_mode": "hybrid"}}]);
        let h = hits(&agent, |r| r);
        assert_eq!(h[0].tag.as_deref(), Some("t1"));
        assert_eq!(h[0].mode.as_deref(), Some("hybrid"));
        let passages = json!([{"passage": {"text": "Bo: yo", "tags": []},
                               "metadata": {"search_mode": "full_text"}}]);
        let h = hits(&passages, |r| &r["passage"]);
        assert_eq!(h[0].tag, None);
        assert_eq!(h[0].text, "Bo: yo");
        assert_eq!(h[0].mode.as_deref(), Some("full_text"));
    }
}
