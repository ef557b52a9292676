//! The single-agent layout Letta wrote before 0.8 (`pydantic_agent_schema.AgentSchema`):
//! `core_memory` blocks, inline `tools`, top-level `messages` without ids, and the context as
//! `in_context_message_indices`. Letta 0.16.7 refuses it; we upgrade it to the current layout,
//! giving objects the file-local ids Letta's exporter would (`agent-0`, `block-0`, ...).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use crate::{AgentType, EmbeddingConfig, LlmConfig, ToolRule};

use super::agent::AgentSchema;
use super::message::{MessageSchema, RawMessage, link_function_results};
use super::schema::{BlockSchema, ToolSchema};
use super::{AgentFile, AgentFileError, AgentFileWarning, timestamp};

/// The legacy document. Required keys as the spec lists them, read leniently.
#[derive(Deserialize)]
pub(crate) struct LegacyAgent {
    agent_type: AgentType,
    core_memory: Vec<LegacyBlock>,
    #[serde(default, deserialize_with = "timestamp::opt::deserialize")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    description: Option<String>,
    embedding_config: Option<EmbeddingConfig>,
    llm_config: Option<LlmConfig>,
    #[serde(default)]
    message_buffer_autoclear: bool,
    /// Positions in `messages`, in context order (not sorted: the system message may come
    /// last in the list but first in the context).
    in_context_message_indices: Vec<usize>,
    #[serde(default)]
    messages: Vec<RawMessage>,
    #[serde(default)]
    metadata_: Option<Map<String, Value>>,
    #[serde(default)]
    multi_agent_group: Option<IgnoredAny>,
    name: String,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    tags: Vec<LegacyTag>,
    #[serde(default)]
    tool_exec_environment_variables: Vec<LegacyEnvVar>,
    #[serde(default)]
    tool_rules: Vec<ToolRule>,
    #[serde(default)]
    tools: Vec<LegacyTool>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct LegacyBlock {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    is_template: bool,
    label: String,
    #[serde(default = "default_limit")]
    limit: usize,
    #[serde(default)]
    metadata_: Option<Map<String, Value>>,
    #[serde(default)]
    template_name: Option<String>,
    value: String,
}

#[derive(Deserialize)]
struct LegacyTag {
    tag: String,
}

#[derive(Deserialize)]
struct LegacyEnvVar {
    key: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct LegacyTool {
    #[serde(default)]
    args_json_schema: Option<Map<String, Value>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    json_schema: Option<Map<String, Value>>,
    name: String,
    #[serde(default)]
    return_char_limit: Option<u32>,
    #[serde(default)]
    source_code: Option<String>,
    #[serde(default)]
    source_type: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    tool_type: Option<String>,
    #[serde(default)]
    metadata_: Option<Map<String, Value>>,
}

fn default_limit() -> usize {
    crate::DEFAULT_BLOCK_LIMIT
}

/// The agent's file-local id, as Letta's exporter numbers the first agent.
const AGENT_ID: &str = "agent-0";

impl LegacyAgent {
    /// The Letta version that wrote the file.
    pub(crate) fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The current layout holding this one agent.
    pub(crate) fn upgrade(
        mut self,
        warnings: &mut Vec<AgentFileWarning>,
    ) -> Result<AgentFile, AgentFileError> {
        if self.multi_agent_group.is_some() {
            warnings.push(AgentFileWarning::LegacyGroupDropped);
        }
        let blocks: Vec<BlockSchema> = self
            .core_memory
            .into_iter()
            .enumerate()
            .map(block)
            .collect();
        let tools: Vec<ToolSchema> = self.tools.into_iter().enumerate().map(tool).collect();
        let messages = upgrade_messages(std::mem::take(&mut self.messages))?;
        let in_context = in_context_ids(&self.in_context_message_indices, messages.len())?;
        let mut agent = AgentSchema::new(AGENT_ID);
        agent.name = Some(self.name);
        agent.memory_blocks = Some(Vec::new());
        agent.tools = Some(Vec::new());
        agent.tool_ids = Some(tools.iter().map(|t| t.id.clone()).collect());
        agent.source_ids = Some(Vec::new());
        agent.block_ids = Some(blocks.iter().map(|b| b.id.clone()).collect());
        agent.tool_rules = Some(self.tool_rules);
        agent.tags = Some(self.tags.into_iter().map(|t| t.tag).collect());
        agent.system = self.system;
        agent.agent_type = self.agent_type;
        agent.include_base_tools = false;
        agent.include_base_tool_rules = Some(false);
        agent.description = self.description;
        agent.metadata = self.metadata_;
        agent.llm_config = self.llm_config;
        agent.embedding_config = self.embedding_config;
        agent.embedding_chunk_size = None;
        agent.tool_exec_environment_variables =
            Some(env_vars(self.tool_exec_environment_variables));
        agent.message_buffer_autoclear = self.message_buffer_autoclear;
        agent.in_context_message_ids = in_context;
        agent.messages = messages;
        let mut metadata = BTreeMap::new();
        if let Some(v) = self.version {
            // Where the file came from; Letta's own exports keep `revision_id` here.
            metadata.insert("legacy_version".to_owned(), v);
        }
        Ok(AgentFile {
            agents: vec![agent],
            groups: Vec::new(),
            blocks,
            files: Vec::new(),
            sources: Vec::new(),
            tools,
            mcp_servers: Vec::new(),
            skills: Vec::new(),
            metadata,
            created_at: self.created_at,
        })
    }
}

/// The messages in the current shape, numbered `message-0`, ... in order, each function
/// result linked to its call.
fn upgrade_messages(raw: Vec<RawMessage>) -> Result<Vec<MessageSchema>, AgentFileError> {
    let mut messages = Vec::with_capacity(raw.len());
    for (i, m) in raw.into_iter().enumerate() {
        let mut m =
            m.upgrade(Some(format!("message-{i}")))
                .map_err(|message| AgentFileError::Invalid {
                    path: format!("messages[{i}]"),
                    message,
                })?;
        m.agent_id.get_or_insert_with(|| AGENT_ID.to_owned());
        messages.push(m);
    }
    link_function_results(&mut messages);
    Ok(messages)
}

/// The in-context ids in the order of `indices`; an index past the messages is an error.
fn in_context_ids(indices: &[usize], len: usize) -> Result<Vec<String>, AgentFileError> {
    indices
        .iter()
        .enumerate()
        .map(|(pos, &i)| {
            if i < len {
                Ok(format!("message-{i}"))
            } else {
                Err(AgentFileError::Invalid {
                    path: format!("in_context_message_indices[{pos}]"),
                    message: format!("index {i} is past the {len} messages of the file"),
                })
            }
        })
        .collect()
}

fn block((i, b): (usize, LegacyBlock)) -> BlockSchema {
    BlockSchema {
        value: b.value,
        limit: b.limit,
        project_id: None,
        template_name: b.template_name,
        is_template: b.is_template,
        template_id: None,
        base_template_id: None,
        deployment_id: None,
        entity_id: None,
        preserve_on_migration: Some(false),
        label: b.label,
        read_only: false,
        description: b.description,
        metadata: Some(b.metadata_.unwrap_or_default()),
        hidden: None,
        tags: None,
        id: format!("block-{i}"),
    }
}

fn tool((i, t): (usize, LegacyTool)) -> ToolSchema {
    ToolSchema {
        id: format!("tool-{i}"),
        tool_type: t.tool_type.unwrap_or_else(|| "custom".to_owned()),
        description: t.description,
        source_type: t.source_type,
        name: Some(t.name),
        tags: t.tags,
        source_code: t.source_code,
        json_schema: t.json_schema,
        args_json_schema: t.args_json_schema,
        return_char_limit: t.return_char_limit.unwrap_or(50_000),
        pip_requirements: None,
        npm_requirements: None,
        default_requires_approval: None,
        enable_parallel_execution: Some(false),
        created_by_id: None,
        last_updated_by_id: None,
        metadata_: t.metadata_,
        project_id: None,
    }
}

fn env_vars(vars: Vec<LegacyEnvVar>) -> BTreeMap<String, String> {
    vars.into_iter()
        .map(|v| (v.key, v.value.unwrap_or_default()))
        .collect()
}
