//! Archival memory: the requests, and passages, archives and search results as the API
//! returns them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::{ArchiveId, EmbeddingConfig, PassageId, time};

/// `CreateArchivalMemory`: `text` is required.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct CreateArchivalMemory {
    pub text: String,
    pub tags: Option<Vec<String>>,
    pub created_at: Option<DateTime<Utc>>,
}

/// `PassageUpdate` (`PATCH /v1/agents/{id}/archival-memory/{memory_id}`, older SDKs): what is
/// given changes; `id` repeats the path's and is not read.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct PassageUpdate {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `ArchiveCreateRequest`: an embedding handle (`embedding`) or a full `embedding_config`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct ArchiveUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `PassageCreateRequest` (`/v1/archives/{id}/passages`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct PassageBatchCreate {
    pub passages: Vec<PassageCreate>,
}

/// `PassageSearchRequest` (`POST /v1/passages/search`).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
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

/// `Passage` as the API returns it. Fields this server has no use for (files, organizations,
/// authors) are always `null`; `metadata` is `{}` when the passage has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Passage {
    pub id: PassageId,
    pub text: String,
    pub tags: Vec<String>,
    pub metadata: Map<String, Value>,
    /// Written as `f64`s, the way a JSON tree holds an `f32`, so the digits stay what they were.
    #[serde(serialize_with = "wide_floats")]
    pub embedding: Option<Vec<f32>>,
    pub embedding_config: Option<EmbeddingConfig>,
    pub archive_id: Option<ArchiveId>,
    pub source_id: Option<String>,
    pub file_id: Option<String>,
    pub file_name: Option<String>,
    pub organization_id: Option<String>,
    pub is_deleted: bool,
    pub created_by_id: Option<String>,
    pub last_updated_by_id: Option<String>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub updated_at: DateTime<Utc>,
}

fn wide_floats<S: Serializer>(v: &Option<Vec<f32>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_seq(v.iter().map(|f| f64::from(*f))),
        None => s.serialize_none(),
    }
}

/// How a search found an item: its fused score and its rank in each leg, only the keys that
/// have a value, then the mode (`hybrid`, `vector`, `full_text` or `recent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SearchRelevance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rrf_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_rank: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fts_rank: Option<u64>,
    pub search_mode: String,
}

/// `ArchivalMemorySearchResponse` (`GET /v1/agents/{id}/archival-memory/search`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ArchivalMemorySearchResponse {
    pub count: usize,
    pub results: Vec<ArchivalMemorySearchResult>,
}

/// `ArchivalMemorySearchResult`, with how it was found (`relevance`, not in Letta's schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ArchivalMemorySearchResult {
    pub id: PassageId,
    #[serde(serialize_with = "time::serialize_resource")]
    pub timestamp: DateTime<Utc>,
    pub content: String,
    pub tags: Vec<String>,
    pub relevance: SearchRelevance,
}

/// `PassageSearchResult` (`POST /v1/passages/search`): `metadata` says how it was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PassageSearchResult {
    pub passage: Passage,
    pub score: f64,
    pub metadata: SearchRelevance,
}

/// `Archive` as the API returns it; every archive lives in the one built-in organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Archive {
    pub id: ArchiveId,
    pub name: String,
    pub description: Option<String>,
    pub vector_db_provider: VectorDbProvider,
    pub embedding_config: Option<EmbeddingConfig>,
    pub metadata: Option<Map<String, Value>>,
    pub organization_id: String,
    pub created_by_id: Option<String>,
    pub last_updated_by_id: Option<String>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub updated_at: DateTime<Utc>,
}

/// `VectorDBProvider`: where an archive's vectors live.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VectorDbProvider {
    #[default]
    Native,
    Tpuf,
    Pinecone,
}
