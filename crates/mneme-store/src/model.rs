//! The records the store reads and writes. Blocks are stored as the wire `Block` (the shapes are
//! the same); agents have their own record because relationships are loaded separately.

use chrono::{DateTime, Utc};
use mneme_types::{AgentId, AgentType, Block, BlockId, EmbeddingConfig, LlmConfig, MessageId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::StoreError;

/// An agent as stored, without its blocks.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    pub agent_type: AgentType,
    /// The base system prompt (`AgentState.system`); the compiled one is the system message.
    pub system: String,
    pub description: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub llm_config: LlmConfig,
    pub embedding_config: Option<EmbeddingConfig>,
    pub tool_rules: Option<Vec<Value>>,
    /// In-context messages; index 0 is the system message.
    pub message_ids: Vec<MessageId>,
    pub tags: Vec<String>,
    pub project_id: Option<String>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
    pub last_run_completion: Option<DateTime<Utc>>,
    pub last_run_duration_ms: Option<i64>,
    pub last_stop_reason: Option<String>,
    pub settings: AgentSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Agent fields nothing filters on, stored together as one JSON document so that adding one
/// needs no migration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentSettings {
    pub model_settings: Option<Value>,
    pub compaction_settings: Option<Value>,
    pub response_format: Option<Value>,
    pub timezone: Option<String>,
    pub message_buffer_autoclear: bool,
    pub enable_sleeptime: Option<bool>,
    pub max_files_open: Option<u32>,
    pub per_file_view_window_char_limit: Option<u32>,
    pub hidden: Option<bool>,
    pub deployment_id: Option<String>,
    pub entity_id: Option<String>,
    pub secrets: Option<Map<String, Value>>,
    pub tool_exec_environment_variables: Option<Map<String, Value>>,
}

/// A stored message. The foundation writes only system messages; the step loop adds the rest.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: MessageId,
    pub agent_id: AgentId,
    pub role: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything created with a new agent, in one transaction.
#[derive(Debug, Clone)]
pub struct NewAgent {
    /// `message_ids` must list `messages` in order.
    pub agent: Agent,
    /// Blocks created for this agent (`memory_blocks`), attached first, in this order.
    pub new_blocks: Vec<Block>,
    /// Existing blocks to attach after the new ones (`block_ids`).
    pub existing_blocks: Vec<BlockId>,
    pub messages: Vec<Message>,
}

/// What the system prompt is compiled from.
#[derive(Debug, Clone)]
pub struct AgentContext {
    pub agent: Agent,
    pub blocks: Vec<Block>,
    pub system_message: Option<Message>,
    /// Every stored message of the agent, in context or not.
    pub message_count: u64,
    /// Archival passages of the agent (none until archival memory exists).
    pub passage_count: u64,
}

/// Filters of `GET /v1/agents/` and `/count`.
#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub match_all_tags: bool,
    /// Case-insensitive substring of the name.
    pub query_text: Option<String>,
    pub project_id: Option<String>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
    pub last_stop_reason: Option<String>,
}

/// Filters of `GET /v1/blocks/` and `/count`.
#[derive(Debug, Clone, Default)]
pub struct BlockFilter {
    pub label: Option<String>,
    pub templates_only: bool,
    pub template_name: Option<String>,
    pub project_id: Option<String>,
    pub tags: Vec<String>,
    pub match_all_tags: bool,
    pub label_search: Option<String>,
    pub description_search: Option<String>,
    pub value_search: Option<String>,
    pub agents_count_gt: Option<u64>,
    pub agents_count_lt: Option<u64>,
    pub agents_count_eq: Vec<u64>,
}

/// A change to a stored agent, applied inside the write transaction.
pub type AgentEdit = Box<dyn FnOnce(&mut Agent) -> Result<(), StoreError> + Send>;

/// A change to a stored block, applied inside the write transaction; `Err` aborts it.
pub type BlockEdit = Box<dyn FnOnce(&mut Block) -> Result<(), StoreError> + Send>;
