//! Archival memory requests.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// `CreateArchivalMemory`: `text` is required.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateArchivalMemory {
    pub text: String,
    pub tags: Option<Vec<String>>,
    pub created_at: Option<DateTime<Utc>>,
}

/// `ArchiveCreateRequest`: an embedding handle (`embedding`) or a full `embedding_config`.
#[derive(Debug, Clone, Deserialize)]
pub struct ArchiveCreate {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub embedding: Option<String>,
    #[serde(default)]
    pub embedding_config: Option<crate::EmbeddingConfig>,
}

/// `ArchiveUpdateRequest`: absent or null fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ArchiveUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `PassageCreateRequest` (`/v1/archives/{id}/passages`).
#[derive(Debug, Clone, Deserialize)]
pub struct PassageCreate {
    pub text: String,
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

/// `PassageBatchCreateRequest`.
#[derive(Debug, Clone, Deserialize)]
pub struct PassageBatchCreate {
    pub passages: Vec<PassageCreate>,
}

/// `PassageSearchRequest` (`POST /v1/passages/search`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PassageSearchRequest {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub agent_id: Option<crate::AgentId>,
    #[serde(default)]
    pub archive_id: Option<crate::ArchiveId>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub tag_match_mode: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub start_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_date: Option<DateTime<Utc>>,
}
