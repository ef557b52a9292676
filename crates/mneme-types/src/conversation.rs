//! Conversations: independent message threads of one agent that share its memory.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AgentId, BlockId, ConversationId, MessageId, RunId, time};

/// `Conversation`, in Letta's field order.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Conversation {
    pub created_by_id: Option<String>,
    pub last_updated_by_id: Option<String>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub updated_at: Option<DateTime<Utc>>,
    pub id: ConversationId,
    pub agent_id: AgentId,
    pub summary: Option<String>,
    pub in_context_message_ids: Vec<MessageId>,
    pub isolated_block_ids: Vec<BlockId>,
    pub model: Option<String>,
    pub model_settings: Option<Value>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub last_message_at: Option<DateTime<Utc>>,
}

/// `CreateConversation`. Unknown keys are ignored.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct CreateConversation {
    pub summary: Option<String>,
    /// Labels of the agent's blocks this conversation gets a copy of, edited apart from the
    /// agent's.
    pub isolated_block_labels: Option<Vec<String>>,
    pub model: Option<String>,
    pub model_settings: Option<Value>,
}

/// `UpdateConversation`: absent and `null` both leave a field unchanged, as in Letta.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct UpdateConversation {
    pub summary: Option<String>,
    pub model: Option<String>,
    pub model_settings: Option<Value>,
    pub last_message_at: Option<DateTime<Utc>>,
}

/// What `GET /v1/conversations/` sorts by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationOrderBy {
    #[default]
    CreatedAt,
    LastRunCompletion,
    LastMessageAt,
}

/// `RetrieveStreamRequest` (`POST /v1/conversations/{id}/stream`, `POST /v1/runs/{id}/stream`).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct RetrieveStream {
    pub agent_id: Option<AgentId>,
    pub run_id: Option<RunId>,
    pub otid: Option<String>,
    pub starting_after: Option<u64>,
    pub include_pings: Option<bool>,
    pub poll_interval: Option<f64>,
    pub batch_size: Option<u32>,
}

/// `ClientSkillSchema`: a skill the client offers, listed in the request's system prompt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ClientSkill {
    pub name: String,
    pub description: Option<String>,
    pub location: Option<String>,
}

/// One message thread of an agent: its default conversation (`conversation: None`) or one of
/// its conversations. Turns are serialized, and contexts cached, per thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Thread {
    pub agent: AgentId,
    pub conversation: Option<ConversationId>,
}

impl Thread {
    /// The agent's default conversation.
    pub fn default_of(agent: AgentId) -> Thread {
        Thread {
            agent,
            conversation: None,
        }
    }
}

impl std::fmt::Display for Thread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.conversation {
            Some(c) => write!(f, "{c}"),
            None => write!(f, "{}", self.agent),
        }
    }
}
