//! Agents: `AgentState`, `CreateAgentRequest`, `UpdateAgent`, `Memory`, `AgentType`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    AgentId, Block, BlockId, CompactionSettings, CompactionSettingsPatch, CreateBlock,
    EmbeddingConfig, Identity, IdentityId, LettaMessage, LlmConfig, MessageId, ModelSettings,
    ResponseFormat, ToolRule, time,
};

/// The agent types Letta defines. `split_thread_agent` exists in the enum but creation rejects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentType {
    MemgptAgent,
    MemgptV2Agent,
    LettaV1Agent,
    ReactAgent,
    WorkflowAgent,
    SplitThreadAgent,
    SleeptimeAgent,
    VoiceConvoAgent,
    VoiceSleeptimeAgent,
}

impl AgentType {
    pub fn as_str(&self) -> &'static str {
        match self {
            AgentType::MemgptAgent => "memgpt_agent",
            AgentType::MemgptV2Agent => "memgpt_v2_agent",
            AgentType::LettaV1Agent => "letta_v1_agent",
            AgentType::ReactAgent => "react_agent",
            AgentType::WorkflowAgent => "workflow_agent",
            AgentType::SplitThreadAgent => "split_thread_agent",
            AgentType::SleeptimeAgent => "sleeptime_agent",
            AgentType::VoiceConvoAgent => "voice_convo_agent",
            AgentType::VoiceSleeptimeAgent => "voice_sleeptime_agent",
        }
    }

    pub fn parse(s: &str) -> Option<AgentType> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// `Memory`: the agent's core memory as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Memory {
    pub agent_type: Option<AgentType>,
    pub git_enabled: bool,
    pub blocks: Vec<Block>,
    pub file_blocks: Vec<crate::FileBlock>,
    pub prompt_template: String,
}

/// `AgentState`, the agent as every agent route returns it. All declared fields are emitted;
/// relationships not loaded for this request are empty arrays (`blocks`, `tools`, ...), never
/// absent, because the SDK's models treat them as required.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AgentState {
    pub id: AgentId,
    pub name: String,
    pub agent_type: AgentType,
    pub system: String,
    pub description: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub model: Option<String>,
    pub embedding: Option<String>,
    pub llm_config: LlmConfig,
    pub embedding_config: Option<EmbeddingConfig>,
    pub model_settings: Option<ModelSettings>,
    /// Complete: Letta's defaults for what the agent was not given, the mode's default prompt
    /// shown when it has its own none (`model: null` is the agent's own model).
    pub compaction_settings: Option<CompactionSettings>,
    pub response_format: Option<ResponseFormat>,
    pub memory: Memory,
    pub blocks: Vec<Block>,
    pub tools: Vec<Value>,
    pub sources: Vec<Value>,
    pub tags: Vec<String>,
    pub tool_rules: Option<Vec<ToolRule>>,
    pub message_ids: Option<Vec<MessageId>>,
    pub tool_exec_environment_variables: Vec<Value>,
    pub secrets: Vec<Value>,
    pub identity_ids: Vec<IdentityId>,
    pub identities: Vec<Identity>,
    pub project_id: Option<String>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
    pub deployment_id: Option<String>,
    pub entity_id: Option<String>,
    /// An `approval_request_message`.
    pub pending_approval: Option<LettaMessage>,
    pub message_buffer_autoclear: bool,
    pub enable_sleeptime: Option<bool>,
    pub multi_agent_group: Option<crate::Group>,
    pub managed_group: Option<crate::Group>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub last_run_completion: Option<DateTime<Utc>>,
    pub last_run_duration_ms: Option<i64>,
    pub last_stop_reason: Option<String>,
    pub timezone: Option<String>,
    pub max_files_open: Option<u32>,
    pub per_file_view_window_char_limit: Option<u32>,
    pub hidden: Option<bool>,
    pub created_by_id: Option<String>,
    pub last_updated_by_id: Option<String>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// `CreateAgentRequest`. No field is required. Unknown keys are ignored, as Letta does for
/// agent requests.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct CreateAgent {
    pub name: Option<String>,
    pub agent_type: Option<AgentType>,
    pub system: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub tags: Option<Vec<String>>,
    pub memory_blocks: Option<Vec<CreateBlock>>,
    pub block_ids: Option<Vec<BlockId>>,
    pub model: Option<String>,
    pub embedding: Option<String>,
    pub llm_config: Option<LlmConfig>,
    pub embedding_config: Option<EmbeddingConfig>,
    pub model_settings: Option<ModelSettings>,
    pub compaction_settings: Option<CompactionSettingsPatch>,
    pub context_window_limit: Option<u32>,
    pub max_tokens: Option<u32>,
    pub max_reasoning_tokens: Option<u32>,
    pub enable_reasoner: Option<bool>,
    pub reasoning: Option<bool>,
    pub parallel_tool_calls: Option<bool>,
    pub embedding_chunk_size: Option<u32>,
    pub response_format: Option<ResponseFormat>,
    pub tools: Option<Vec<String>>,
    pub tool_ids: Option<Vec<String>>,
    pub tool_rules: Option<Vec<ToolRule>>,
    pub include_base_tools: Option<bool>,
    pub include_multi_agent_tools: Option<bool>,
    pub include_base_tool_rules: Option<bool>,
    pub source_ids: Option<Vec<String>>,
    pub folder_ids: Option<Vec<String>>,
    pub identity_ids: Option<Vec<IdentityId>>,
    pub initial_message_sequence: Option<Vec<Value>>,
    pub message_buffer_autoclear: Option<bool>,
    pub enable_sleeptime: Option<bool>,
    pub timezone: Option<String>,
    pub max_files_open: Option<u32>,
    pub per_file_view_window_char_limit: Option<u32>,
    pub hidden: Option<bool>,
    pub project_id: Option<String>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
    pub secrets: Option<Map<String, Value>>,
    pub tool_exec_environment_variables: Option<Map<String, Value>>,
}

/// `UpdateAgent` (PATCH): present, non-null keys change; `null` means unchanged, as in Letta.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct UpdateAgent {
    pub name: Option<String>,
    pub system: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub tags: Option<Vec<String>>,
    pub block_ids: Option<Vec<BlockId>>,
    pub message_ids: Option<Vec<MessageId>>,
    pub model: Option<String>,
    pub embedding: Option<String>,
    pub llm_config: Option<LlmConfig>,
    pub embedding_config: Option<EmbeddingConfig>,
    pub model_settings: Option<ModelSettings>,
    pub compaction_settings: Option<CompactionSettingsPatch>,
    pub context_window_limit: Option<u32>,
    pub max_tokens: Option<u32>,
    pub reasoning: Option<bool>,
    pub parallel_tool_calls: Option<bool>,
    pub response_format: Option<ResponseFormat>,
    pub tool_ids: Option<Vec<String>>,
    pub tool_rules: Option<Vec<ToolRule>>,
    pub source_ids: Option<Vec<String>>,
    pub folder_ids: Option<Vec<String>>,
    pub identity_ids: Option<Vec<IdentityId>>,
    pub message_buffer_autoclear: Option<bool>,
    pub enable_sleeptime: Option<bool>,
    pub timezone: Option<String>,
    pub max_files_open: Option<u32>,
    pub per_file_view_window_char_limit: Option<u32>,
    pub hidden: Option<bool>,
    pub project_id: Option<String>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
    pub last_run_completion: Option<DateTime<Utc>>,
    pub last_run_duration_ms: Option<i64>,
    pub last_stop_reason: Option<String>,
    pub secrets: Option<Map<String, Value>>,
    pub tool_exec_environment_variables: Option<Map<String, Value>>,
}
