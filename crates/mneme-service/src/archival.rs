//! Archival memory over the API: `/v1/agents/{id}/archival-memory`. Search is by text until the
//! embeddings issue makes it hybrid.

use chrono::{DateTime, Utc};
use mneme_store::{Passage, PassageList, PassageSearch};
use mneme_types::{AgentId, CreateArchivalMemory, PassageId, time};
use serde_json::{Value, json};

use crate::{Result, Service, ServiceError};

/// The query of `GET /v1/agents/{id}/archival-memory/search`.
#[derive(Debug, Clone, Default)]
pub struct ArchivalSearch {
    pub query: String,
    pub tags: Vec<String>,
    pub match_all: bool,
    pub top_k: Option<u32>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl Service {
    pub async fn list_passages(&self, agent: AgentId, q: &PassageList) -> Result<Vec<Value>> {
        let a = self.store.get_agent(agent).await?;
        let found = self.store.list_passages(agent, q).await?;
        Ok(found
            .iter()
            .map(|p| passage(p, &a.embedding_config))
            .collect())
    }

    /// Stores one passage (Letta answers a list, since long texts may be chunked) and
    /// recompiles the system message, whose memory metadata counts passages.
    pub async fn insert_passage(
        &self,
        agent: AgentId,
        req: CreateArchivalMemory,
    ) -> Result<Vec<Value>> {
        if req.text.trim().is_empty() {
            return Err(ServiceError::Unprocessable("text must not be empty".into()));
        }
        let a = self.store.get_agent(agent).await?;
        let at = req
            .created_at
            .map(|t| time_micros(&t))
            .unwrap_or_else(time::now);
        let p = Passage {
            id: PassageId::new(),
            agent_id: agent,
            text: req.text,
            tags: req.tags.unwrap_or_default(),
            metadata: None,
            created_at: at,
            updated_at: at,
        };
        self.store.insert_passages(vec![p.clone()]).await?;
        self.recompile(agent).await?;
        Ok(vec![passage(&p, &a.embedding_config)])
    }

    pub async fn search_passages(&self, agent: AgentId, s: ArchivalSearch) -> Result<Value> {
        self.store.get_agent(agent).await?;
        let search = PassageSearch {
            query: Some(s.query),
            tags: s.tags,
            match_all_tags: s.match_all,
            start: s.start,
            end: s.end,
            limit: s.top_k.unwrap_or(5).clamp(1, 1000),
        };
        let found = self.store.search_passages(agent, &search).await?;
        let results: Vec<Value> = found
            .iter()
            .map(|p| {
                json!({
                    "id": p.id.to_string(), "timestamp": time::resource(&p.created_at),
                    "content": p.text, "tags": p.tags,
                })
            })
            .collect();
        Ok(json!({ "count": results.len(), "results": results }))
    }

    pub async fn delete_passage(&self, agent: AgentId, id: PassageId) -> Result<Value> {
        self.store.delete_passage(agent, id).await?;
        self.recompile(agent).await?;
        Ok(json!({ "message": format!("Memory id={id} successfully deleted") }))
    }
}

fn time_micros(t: &DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(*t)
}

/// `Passage` as the API returns it.
fn passage(p: &Passage, embedding_config: &Option<mneme_types::EmbeddingConfig>) -> Value {
    json!({
        "id": p.id.to_string(),
        "text": p.text,
        "tags": p.tags,
        "metadata": p.metadata.clone().unwrap_or_default(),
        "embedding": null,
        "embedding_config": embedding_config,
        "archive_id": null,
        "source_id": null,
        "file_id": null,
        "file_name": null,
        "organization_id": null,
        "is_deleted": false,
        "created_by_id": null,
        "last_updated_by_id": null,
        "created_at": time::resource(&p.created_at),
        "updated_at": time::resource(&p.updated_at),
    })
}
