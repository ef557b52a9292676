//! `AgentSchema`: one agent of an Agent File, as Letta's `CreateAgent` plus the file's own
//! fields (`id`, `in_context_message_ids`, `messages`, `files_agents`, `group_ids`). Fields
//! follow the spec's property order, the order Letta writes them in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    AgentType, CompactionSettings, CreateBlock, EmbeddingConfig, LlmConfig, ModelSettings,
    ResponseFormat, ToolRule,
};

use super::message::{ContentPart, MessageKind, MessageSchema};
use super::schema::{FileAgentSchema, default_true};

/// One agent; every id in it is file-local.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentSchema {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub memory_blocks: Option<Vec<CreateBlock>>,
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    #[serde(default)]
    pub tool_ids: Option<Vec<String>>,
    #[serde(default)]
    pub source_ids: Option<Vec<String>>,
    #[serde(default)]
    pub folder_ids: Option<Vec<String>>,
    #[serde(default)]
    pub block_ids: Option<Vec<String>>,
    #[serde(default)]
    pub tool_rules: Option<Vec<ToolRule>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default = "default_agent_type")]
    pub agent_type: AgentType,
    #[serde(default)]
    pub initial_message_sequence: Option<Vec<InitialMessage>>,
    #[serde(default = "default_true")]
    pub include_base_tools: bool,
    #[serde(default)]
    pub include_multi_agent_tools: bool,
    #[serde(default)]
    pub include_base_tool_rules: Option<bool>,
    #[serde(default)]
    pub include_default_source: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub llm_config: Option<LlmConfig>,
    #[serde(default)]
    pub embedding_config: Option<EmbeddingConfig>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub embedding: Option<String>,
    #[serde(default)]
    pub model_settings: Option<ModelSettings>,
    #[serde(default)]
    pub compaction_settings: Option<CompactionSettings>,
    #[serde(default)]
    pub context_window_limit: Option<u32>,
    #[serde(default = "default_chunk_size")]
    pub embedding_chunk_size: Option<u32>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub max_reasoning_tokens: Option<u32>,
    #[serde(default = "some_true")]
    pub enable_reasoner: Option<bool>,
    #[serde(default)]
    pub reasoning: Option<bool>,
    #[serde(default)]
    pub from_template: Option<String>,
    #[serde(default)]
    pub template: bool,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub tool_exec_environment_variables: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub secrets: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub memory_variables: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub base_template_id: Option<String>,
    #[serde(default)]
    pub identity_ids: Option<Vec<String>>,
    #[serde(default)]
    pub message_buffer_autoclear: bool,
    #[serde(default)]
    pub enable_sleeptime: Option<bool>,
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub max_files_open: Option<u32>,
    #[serde(default)]
    pub per_file_view_window_char_limit: Option<u32>,
    #[serde(default)]
    pub hidden: Option<bool>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    pub id: String,
    /// The agent's context, in order; each names one of `messages`.
    #[serde(default)]
    pub in_context_message_ids: Vec<String>,
    #[serde(default)]
    pub messages: Vec<MessageSchema>,
    #[serde(default)]
    pub files_agents: Vec<FileAgentSchema>,
    #[serde(default)]
    pub group_ids: Vec<String>,
}

impl AgentSchema {
    /// An agent with only its id; every other field at Letta's default.
    pub fn new(id: impl Into<String>) -> AgentSchema {
        AgentSchema {
            name: None,
            memory_blocks: None,
            tools: None,
            tool_ids: None,
            source_ids: None,
            folder_ids: None,
            block_ids: None,
            tool_rules: None,
            tags: None,
            system: None,
            agent_type: default_agent_type(),
            initial_message_sequence: None,
            include_base_tools: true,
            include_multi_agent_tools: false,
            include_base_tool_rules: None,
            include_default_source: false,
            description: None,
            metadata: None,
            llm_config: None,
            embedding_config: None,
            model: None,
            embedding: None,
            model_settings: None,
            compaction_settings: None,
            context_window_limit: None,
            embedding_chunk_size: default_chunk_size(),
            max_tokens: None,
            max_reasoning_tokens: None,
            enable_reasoner: some_true(),
            reasoning: None,
            from_template: None,
            template: false,
            project: None,
            tool_exec_environment_variables: None,
            secrets: None,
            memory_variables: None,
            project_id: None,
            template_id: None,
            base_template_id: None,
            identity_ids: None,
            message_buffer_autoclear: false,
            enable_sleeptime: None,
            response_format: None,
            timezone: None,
            max_files_open: None,
            per_file_view_window_char_limit: None,
            hidden: None,
            parallel_tool_calls: None,
            id: id.into(),
            in_context_message_ids: Vec::new(),
            messages: Vec::new(),
            files_agents: Vec::new(),
            group_ids: Vec::new(),
        }
    }
}

/// `MessageCreate` in `initial_message_sequence` (Letta's exporter always writes `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InitialMessage {
    #[serde(default, rename = "type")]
    pub kind: Option<MessageKind>,
    #[serde(default)]
    pub otid: Option<String>,
    #[serde(default)]
    pub group_id: Option<String>,
    pub role: String,
    pub content: InitialContent,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub batch_item_id: Option<String>,
}

/// A `MessageCreate`'s content: a string or content parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum InitialContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

fn default_agent_type() -> AgentType {
    AgentType::MemgptV2Agent
}

fn default_chunk_size() -> Option<u32> {
    Some(300)
}

fn some_true() -> Option<bool> {
    Some(true)
}
