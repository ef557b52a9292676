//! Tools: `Tool` as the API returns it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ToolId;

/// `Tool`. Built-in tools have `tool_type` values such as `letta_core` and no source code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tool {
    pub id: ToolId,
    pub tool_type: String,
    pub name: String,
    pub description: Option<String>,
    pub source_type: Option<String>,
    pub source_code: Option<String>,
    pub json_schema: Option<Value>,
    pub args_json_schema: Option<Value>,
    pub tags: Vec<String>,
    pub return_char_limit: u32,
    pub pip_requirements: Option<Vec<Value>>,
    pub npm_requirements: Option<Vec<Value>>,
    pub default_requires_approval: Option<bool>,
    pub enable_parallel_execution: Option<bool>,
    pub created_by_id: Option<String>,
    pub last_updated_by_id: Option<String>,
    pub metadata_: Option<Map<String, Value>>,
    pub project_id: Option<String>,
}

/// The longest a tool's own timeout may be: a tool may outlast the server's default, not hold
/// its agent indefinitely.
pub const MAX_TOOL_TIMEOUT_SECS: f64 = 900.0;

impl Tool {
    /// The tool's own wall-clock limit in seconds, `metadata_.timeout_seconds` (Letta's Tool has
    /// no timeout field; its metadata is free-form and round-trips through the SDKs). `None`:
    /// unset, so the server's `--tool-timeout` applies; `Err`: not a number of seconds in
    /// (0, 900].
    pub fn timeout_seconds(&self) -> Result<Option<f64>, String> {
        timeout_seconds(self.metadata_.as_ref())
    }

    /// The MCP server an `external_mcp` tool was registered from (`metadata_.mcp.server_id`,
    /// where Letta keeps it).
    pub fn mcp_server_id(&self) -> Option<crate::McpServerId> {
        self.metadata_
            .as_ref()?
            .get("mcp")?
            .get("server_id")?
            .as_str()?
            .parse()
            .ok()
    }
}

/// `metadata_.timeout_seconds` checked: a positive number of seconds, at most
/// `MAX_TOOL_TIMEOUT_SECS`.
pub fn timeout_seconds(metadata: Option<&Map<String, Value>>) -> Result<Option<f64>, String> {
    let Some(value) = metadata.and_then(|m| m.get("timeout_seconds")) else {
        return Ok(None);
    };
    match value.as_f64() {
        _ if value.is_null() => Ok(None),
        Some(secs) if secs > 0.0 && secs <= MAX_TOOL_TIMEOUT_SECS => Ok(Some(secs)),
        _ => Err(format!(
            "metadata_.timeout_seconds must be a number of seconds above 0 and at most \
             {MAX_TOOL_TIMEOUT_SECS}, got {value}"
        )),
    }
}

/// `ToolCreate` (POST and PUT `/v1/tools/`): `source_code` is required.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct ToolCreate {
    pub source_code: String,
    pub source_type: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Overrides the schema generated from the source.
    pub json_schema: Option<Value>,
    pub args_json_schema: Option<Value>,
    pub return_char_limit: Option<u32>,
    pub pip_requirements: Option<Vec<Value>>,
    pub npm_requirements: Option<Vec<Value>>,
    pub default_requires_approval: Option<bool>,
    pub enable_parallel_execution: Option<bool>,
}

/// `ToolUpdate` (PATCH): present, non-null fields change.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct ToolUpdate {
    pub source_code: Option<String>,
    pub source_type: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub json_schema: Option<Value>,
    pub args_json_schema: Option<Value>,
    pub return_char_limit: Option<u32>,
    pub pip_requirements: Option<Vec<Value>>,
    pub npm_requirements: Option<Vec<Value>>,
    pub metadata_: Option<Map<String, Value>>,
    pub default_requires_approval: Option<bool>,
    pub enable_parallel_execution: Option<bool>,
}

/// `ToolRunFromSource` (`POST /v1/tools/run`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct ToolRunFromSource {
    pub source_code: String,
    pub args: Map<String, Value>,
    pub env_vars: Option<Map<String, Value>>,
    pub name: Option<String>,
    pub json_schema: Option<Value>,
}

/// `ToolExecutionResult`: what running one tool outside a turn gave. `func_return` is whatever
/// the tool returned; `agent_state` is never sent back by this server (always `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolExecutionResult {
    pub status: ToolExecutionStatus,
    pub func_return: Value,
    pub agent_state: Option<Value>,
    pub stdout: Option<Vec<String>>,
    pub stderr: Option<Vec<String>>,
    pub sandbox_config_fingerprint: Option<String>,
}

/// Whether the tool succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolExecutionStatus {
    Success,
    Error,
}

/// `ToolSearchRequest` (`POST /v1/tools/search`). Unknown fields are refused, as Letta's
/// model forbids extras.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolSearchRequest {
    pub query: Option<String>,
    #[serde(default = "default_search_mode")]
    pub search_mode: String,
    pub tool_types: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    #[serde(default = "default_search_limit")]
    pub limit: u32,
}

fn default_search_mode() -> String {
    "hybrid".into()
}

fn default_search_limit() -> u32 {
    50
}

/// `ToolSearchResult`: a tool and how it ranked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolSearchResult {
    pub tool: Tool,
    pub embedded_text: Option<String>,
    pub fts_rank: Option<u32>,
    pub vector_rank: Option<u32>,
    pub combined_score: f64,
}

/// `CodeInput` (`POST /v1/tools/generate-schema`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct CodeInput {
    pub code: String,
    pub source_type: Option<String>,
}

/// `GenerateToolInput` (`POST /v1/tools/generate-tool`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct GenerateToolInput {
    pub tool_name: String,
    pub prompt: String,
    pub handle: Option<String>,
    pub starter_code: Option<String>,
    pub validation_errors: Vec<String>,
}

/// `GenerateToolOutput`: the written tool (not stored), arguments to try it with, and what the
/// model said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GenerateToolOutput {
    pub tool: Tool,
    pub sample_args: Map<String, Value>,
    pub response: String,
}
