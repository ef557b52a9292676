//! Memory blocks: `BlockResponse`, `CreateBlock`, `BlockUpdate`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::BlockId;

/// Letta's default `limit` for a block value, in characters.
pub const DEFAULT_BLOCK_LIMIT: usize = 100_000;

/// A block as the API returns it (`BlockResponse`). Every declared field is present; unset
/// optionals are `null`, as Letta emits them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Block {
    pub id: BlockId,
    pub label: Option<String>,
    pub value: String,
    pub limit: usize,
    pub description: Option<String>,
    pub read_only: bool,
    pub metadata: Option<Map<String, Value>>,
    pub tags: Option<Vec<String>>,
    pub hidden: Option<bool>,
    pub is_template: bool,
    pub template_name: Option<String>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
    pub deployment_id: Option<String>,
    pub entity_id: Option<String>,
    pub project_id: Option<String>,
    pub preserve_on_migration: Option<bool>,
    pub created_by_id: Option<String>,
    pub last_updated_by_id: Option<String>,
}

/// `CreateBlock`: `label` and `value` are required. Unknown keys are ignored (newer SDKs add
/// fields; Letta's 422 for them helps nobody).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateBlock {
    pub label: String,
    pub value: String,
    pub limit: Option<usize>,
    pub description: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    pub metadata: Option<Map<String, Value>>,
    pub tags: Option<Vec<String>>,
    pub hidden: Option<bool>,
    #[serde(default)]
    pub is_template: bool,
    pub template_name: Option<String>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
    pub deployment_id: Option<String>,
    pub entity_id: Option<String>,
    pub project_id: Option<String>,
    pub preserve_on_migration: Option<bool>,
}

/// `BlockUpdate`: only keys that are present and non-null change anything. The spec's
/// defaults (`read_only: false`, `metadata: {}`) must not be applied to absent keys, so every
/// field is an `Option` and `null` reads as "unchanged", as in Letta.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct BlockUpdate {
    pub label: Option<String>,
    pub value: Option<String>,
    pub limit: Option<usize>,
    pub description: Option<String>,
    pub read_only: Option<bool>,
    pub metadata: Option<Map<String, Value>>,
    pub tags: Option<Vec<String>>,
    pub hidden: Option<bool>,
    pub is_template: Option<bool>,
    pub template_name: Option<String>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
    pub deployment_id: Option<String>,
    pub entity_id: Option<String>,
    pub project_id: Option<String>,
    pub preserve_on_migration: Option<bool>,
}
