//! The parts of an Agent File other than agents and messages: blocks, tools, groups, files,
//! sources, MCP servers, skills. Fields are declared in the order of Letta's pydantic models
//! (the spec's property order), which is the order an export writes them in. Ids are the
//! file-local ones (`block-0`, `tool-3`), plain strings until an importer maps them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{DEFAULT_BLOCK_LIMIT, EmbeddingConfig};

use super::timestamp;

/// `BlockSchema`: a memory block. `label` and `value` are required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BlockSchema {
    pub value: String,
    #[serde(default = "default_block_limit")]
    pub limit: usize,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub template_name: Option<String>,
    #[serde(default)]
    pub is_template: bool,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub base_template_id: Option<String>,
    #[serde(default)]
    pub deployment_id: Option<String>,
    #[serde(default)]
    pub entity_id: Option<String>,
    #[serde(default = "some_false")]
    pub preserve_on_migration: Option<bool>,
    pub label: String,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "empty_metadata")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub hidden: Option<bool>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    pub id: String,
}

/// `ToolSchema`: a tool with its source and JSON schema. Built-in tools (`tool_type` other
/// than `custom`) carry no source code; the importer resolves them by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolSchema {
    pub id: String,
    #[serde(default = "default_tool_type")]
    pub tool_type: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub source_code: Option<String>,
    #[serde(default)]
    pub json_schema: Option<Map<String, Value>>,
    #[serde(default)]
    pub args_json_schema: Option<Map<String, Value>>,
    #[serde(default = "default_return_char_limit")]
    pub return_char_limit: u32,
    #[serde(default)]
    pub pip_requirements: Option<Vec<PackageRequirement>>,
    #[serde(default)]
    pub npm_requirements: Option<Vec<PackageRequirement>>,
    #[serde(default)]
    pub default_requires_approval: Option<bool>,
    #[serde(default = "some_false")]
    pub enable_parallel_execution: Option<bool>,
    #[serde(default)]
    pub created_by_id: Option<String>,
    #[serde(default)]
    pub last_updated_by_id: Option<String>,
    #[serde(default)]
    pub metadata_: Option<Map<String, Value>>,
    #[serde(default)]
    pub project_id: Option<String>,
}

/// `PipRequirement` / `NpmRequirement`: a package and an optional version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackageRequirement {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
}

/// `GroupSchema`: a multi-agent group over agents of the same file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupSchema {
    pub agent_ids: Vec<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub manager_config: ManagerConfig,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub shared_block_ids: Vec<String>,
    #[serde(default)]
    pub hidden: Option<bool>,
    pub id: String,
    /// A sleep-time group's state: the turns counted towards its next run and the last
    /// message it has seen. Not in Letta's files; a migration reads it from the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns_counter: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_processed_message_id: Option<String>,
}

/// The group's manager, by `manager_type`; manager ids are file-local agent ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "manager_type", rename_all = "snake_case")]
pub enum ManagerConfig {
    RoundRobin {
        #[serde(default)]
        max_turns: Option<u32>,
    },
    Supervisor {
        manager_agent_id: String,
    },
    Dynamic {
        manager_agent_id: String,
        #[serde(default = "default_termination_token")]
        termination_token: Option<String>,
        #[serde(default)]
        max_turns: Option<u32>,
    },
    Sleeptime {
        manager_agent_id: String,
        #[serde(default)]
        sleeptime_agent_frequency: Option<u32>,
    },
    VoiceSleeptime {
        manager_agent_id: String,
        #[serde(default)]
        max_message_buffer_length: Option<u32>,
        #[serde(default)]
        min_message_buffer_length: Option<u32>,
    },
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig::RoundRobin { max_turns: None }
    }
}

impl ManagerConfig {
    /// The managing agent, for every type but round robin.
    pub fn manager_agent_id(&self) -> Option<&str> {
        match self {
            ManagerConfig::RoundRobin { .. } => None,
            ManagerConfig::Supervisor { manager_agent_id }
            | ManagerConfig::Dynamic {
                manager_agent_id, ..
            }
            | ManagerConfig::Sleeptime {
                manager_agent_id, ..
            }
            | ManagerConfig::VoiceSleeptime {
                manager_agent_id, ..
            } => Some(manager_agent_id),
        }
    }
}

/// `FileSchema`: a file's metadata and, where exported, its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileSchema {
    pub source_id: String,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub original_file_name: Option<String>,
    #[serde(default)]
    pub file_path: Option<String>,
    #[serde(default)]
    pub file_type: Option<String>,
    #[serde(default)]
    pub file_size: Option<i64>,
    #[serde(default)]
    pub file_creation_date: Option<String>,
    #[serde(default)]
    pub file_last_modified_date: Option<String>,
    #[serde(default)]
    pub processing_status: FileProcessingStatus,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub total_chunks: Option<i64>,
    #[serde(default)]
    pub chunks_embedded: Option<i64>,
    #[serde(default)]
    pub content: Option<String>,
    pub id: String,
}

/// `FileProcessingStatus`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FileProcessingStatus {
    #[default]
    Pending,
    Parsing,
    Embedding,
    Completed,
    Error,
}

/// `SourceSchema`: a folder (source) of files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourceSchema {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub embedding: Option<String>,
    #[serde(default)]
    pub embedding_chunk_size: Option<u32>,
    #[serde(default)]
    pub embedding_config: Option<EmbeddingConfig>,
    pub id: String,
}

/// `FileAgentSchema`: a file attached to an agent, open or closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileAgentSchema {
    pub agent_id: String,
    pub file_id: String,
    pub source_id: String,
    pub file_name: String,
    #[serde(default = "default_true")]
    pub is_open: bool,
    #[serde(default)]
    pub visible_content: Option<String>,
    #[serde(default, with = "timestamp::opt")]
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub last_accessed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub start_line: Option<i64>,
    #[serde(default)]
    pub end_line: Option<i64>,
    pub id: String,
}

/// `MCPServerSchema`: an MCP server's config without its secrets (no token, headers or env).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct McpServerSchema {
    pub id: String,
    pub server_type: String,
    pub server_name: String,
    #[serde(default)]
    pub server_url: Option<String>,
    #[serde(default)]
    pub stdio_config: Option<Map<String, Value>>,
    #[serde(default)]
    pub metadata_: Option<Map<String, Value>>,
}

/// `SkillSchema`: inline skill files (path -> content, with `SKILL.md`) and/or a source URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SkillSchema {
    pub name: String,
    #[serde(default)]
    pub files: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub source_url: Option<String>,
}

fn default_block_limit() -> usize {
    DEFAULT_BLOCK_LIMIT
}

fn default_tool_type() -> String {
    "custom".to_owned()
}

fn default_return_char_limit() -> u32 {
    50_000
}

fn default_termination_token() -> Option<String> {
    Some("DONE!".to_owned())
}

fn empty_metadata() -> Option<Map<String, Value>> {
    Some(Map::new())
}

fn some_false() -> Option<bool> {
    Some(false)
}

pub(crate) fn default_true() -> bool {
    true
}
