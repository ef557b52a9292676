//! Tools: `Tool` as the API returns it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ToolId;

/// `Tool`. Built-in tools have `tool_type` values such as `letta_core` and no source code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
