//! Shapes of the routes other SDK generations call: `POST /v1/auth`, cross-agent message search
//! (`POST /v1/agents/messages/search`), agent search (`POST /v1/agents/search` and its count)
//! and template memory variables.

use serde::{Deserialize, Serialize};

use crate::{AgentState, InternalMessage};

/// `AuthRequest`: the password the server was started with, or an API key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuthRequest {
    #[serde(default)]
    pub password: Option<String>,
}

/// `AuthResponse`: the user the password names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuthResponse {
    pub uuid: uuid::Uuid,
    pub is_admin: Option<bool>,
}

/// `MessageSearchRequest` of `POST /v1/agents/messages/search`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageSearchRequest {
    #[serde(default)]
    pub query: Option<String>,
    /// `vector`, `fts` or `hybrid` (the default).
    #[serde(default)]
    pub search_mode: Option<String>,
    /// Roles to keep (only user and assistant messages are searchable).
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub agent_id: Option<crate::AgentId>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub start_date: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub end_date: Option<chrono::DateTime<chrono::Utc>>,
}

/// `MessageSearchResult`: the message as stored, with the text that was indexed and its ranks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageSearchResult {
    pub embedded_text: String,
    pub message: InternalMessage,
    pub fts_rank: Option<u64>,
    pub vector_rank: Option<u64>,
    pub rrf_score: f64,
}

/// `POST /v1/agents/search`'s body (Letta Cloud's deployed-agent search).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentSearch {
    #[serde(default)]
    pub search: Vec<AgentSearchTerm>,
    #[serde(default)]
    pub project_id: Option<String>,
    /// Only `AND`: every term must hold.
    #[serde(default)]
    pub combinator: Option<Combinator>,
    #[serde(default)]
    pub limit: Option<f64>,
    /// The last agent id of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default, rename = "sortBy")]
    pub sort_by: Option<AgentSortBy>,
    #[serde(default)]
    pub ascending: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Combinator {
    #[serde(rename = "AND")]
    And,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentSortBy {
    CreatedAt,
    LastRunCompletion,
    UpdatedAt,
}

/// One search term; `field` says which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "field")]
pub enum AgentSearchTerm {
    /// A template version: agents not made from a template have none.
    #[serde(rename = "version")]
    Version { value: String },
    #[serde(rename = "name")]
    Name {
        operator: NameOperator,
        value: String,
    },
    /// Agents holding every one of these tags.
    #[serde(rename = "tags")]
    Tags {
        operator: ContainsOperator,
        value: Vec<String>,
    },
    /// Agents linked to this identity (its id, or its identifier key).
    #[serde(rename = "identity")]
    Identity { operator: EqOperator, value: String },
    #[serde(rename = "templateName")]
    TemplateName { operator: EqOperator, value: String },
    #[serde(rename = "agentId")]
    AgentId { operator: EqOperator, value: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NameOperator {
    Eq,
    Contains,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContainsOperator {
    Contains,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EqOperator {
    Eq,
}

/// `POST /v1/agents/search`'s answer.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AgentSearchResponse {
    pub agents: Vec<AgentState>,
    /// The id to pass as `after` for the next page; `null` on the last one.
    #[serde(rename = "nextCursor")]
    pub next_cursor: Option<String>,
}

/// `GET /v1/agents/search/count`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentSearchCount {
    pub count: u64,
}

/// `GET /v1/agents/{id}/core-memory/variables`: a template's variables.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemoryVariables {
    pub variables: std::collections::BTreeMap<String, String>,
}
