//! What the migration reads of the source server's answers, typed: only the fields it uses,
//! every one optional where some Letta version leaves it out. Unknown fields are ignored.

use chrono::{DateTime, Utc};
use mneme_types::EmbeddingConfig;
use serde::Deserialize;
use serde_json::{Map, Value};

/// `AgentState`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Agent {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Its in-context messages, in order.
    #[serde(default)]
    pub(crate) message_ids: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) memory: Option<Memory>,
    /// The newer spelling of `memory.blocks`.
    #[serde(default)]
    pub(crate) blocks: Option<Vec<Named>>,
    #[serde(default)]
    pub(crate) tools: Vec<Named>,
    #[serde(default)]
    pub(crate) sources: Vec<Named>,
}

impl Agent {
    /// Its blocks, from either spelling.
    pub(crate) fn blocks(&self) -> impl Iterator<Item = &Named> {
        let memory = self.memory.iter().flat_map(|m| &m.blocks);
        memory.chain(self.blocks.iter().flatten())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Memory {
    #[serde(default)]
    pub(crate) blocks: Vec<Named>,
}

/// An object the migration knows by id and by what names it within its owner: a block by
/// label, a tool or folder by name, a file by its file name.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Named {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) label: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) file_name: Option<String>,
    #[serde(default)]
    pub(crate) original_file_name: Option<String>,
    /// A block's value.
    #[serde(default)]
    pub(crate) value: Option<String>,
}

/// `Group`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) manager_type: String,
    #[serde(default)]
    pub(crate) agent_ids: Vec<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) project_id: Option<String>,
    #[serde(default)]
    pub(crate) shared_block_ids: Vec<String>,
    #[serde(default)]
    pub(crate) manager_agent_id: Option<String>,
    #[serde(default)]
    pub(crate) termination_token: Option<String>,
    #[serde(default)]
    pub(crate) max_turns: Option<u32>,
    #[serde(default)]
    pub(crate) sleeptime_agent_frequency: Option<u32>,
    #[serde(default)]
    pub(crate) max_message_buffer_length: Option<u32>,
    #[serde(default)]
    pub(crate) min_message_buffer_length: Option<u32>,
    #[serde(default)]
    pub(crate) hidden: Option<bool>,
    #[serde(default)]
    pub(crate) turns_counter: Option<i64>,
    #[serde(default)]
    pub(crate) last_processed_message_id: Option<String>,
}

impl Group {
    /// Its members and its manager.
    pub(crate) fn agents(&self) -> impl Iterator<Item = &String> {
        self.agent_ids.iter().chain(&self.manager_agent_id)
    }
}

/// A `LettaMessage` of a history listing: one view of a stored message (a stored assistant
/// message may be listed as its reasoning, its text and its tool calls, all under its id), its
/// time to the second.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ListedMessage {
    pub(crate) id: String,
    pub(crate) date: DateTime<Utc>,
    pub(crate) message_type: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) otid: Option<String>,
    #[serde(default)]
    pub(crate) sender_id: Option<String>,
    /// A string, or a list of content parts.
    #[serde(default)]
    pub(crate) content: Option<Value>,
    #[serde(default)]
    pub(crate) reasoning: Option<String>,
    /// `non_reasoner_model`: the reasoning is the text of a model that does not reason.
    #[serde(default)]
    pub(crate) source: Option<String>,
    #[serde(default)]
    pub(crate) signature: Option<String>,
    #[serde(default)]
    pub(crate) tool_call: Option<ListedCall>,
    #[serde(default)]
    pub(crate) tool_calls: Option<Vec<ListedCall>>,
    #[serde(default)]
    pub(crate) tool_return: Option<Value>,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) tool_call_id: Option<String>,
    #[serde(default)]
    pub(crate) stdout: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) stderr: Option<Vec<String>>,
}

/// A tool call as a listing shows it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ListedCall {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) arguments: String,
    pub(crate) tool_call_id: String,
}

/// `Passage`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Passage {
    pub(crate) id: String,
    pub(crate) text: String,
    #[serde(default)]
    pub(crate) tags: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub(crate) embedding: Option<Vec<f32>>,
    #[serde(default)]
    pub(crate) embedding_config: Option<EmbeddingConfig>,
    #[serde(default)]
    pub(crate) archive_id: Option<String>,
    #[serde(default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
}

/// `Archive`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Archive {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

/// `Provider`: a BYOK entry keeps its key on the source, shown masked.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Provider {
    pub(crate) name: String,
    pub(crate) provider_type: String,
    #[serde(default)]
    pub(crate) provider_category: Option<String>,
    #[serde(default)]
    pub(crate) base_url: Option<String>,
    #[serde(default)]
    pub(crate) region: Option<String>,
    #[serde(default)]
    pub(crate) api_version: Option<String>,
}

/// `GET /v1/health/`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Health {
    #[serde(default)]
    pub(crate) version: Option<String>,
}
