//! Agent Files (`.af`): Letta's format for moving agents between servers, as typed data.
//!
//! [`AgentFile`] is the current layout (`AgentFileSchema`): agents with their messages, and the
//! blocks, tools, groups, files, sources, MCP servers and skills they refer to by file-local
//! ids (`agent-0`, `block-3`). Serializing it writes Letta's field names in Letta's order.
//!
//! [`parse_agent_file`] reads every generation a user may hold and upgrades it to that layout:
//! - the current layout (Letta 0.8 and later), unknown keys ignored, absent optionals at
//!   Letta's defaults;
//! - the same document encoded a second time as a JSON string (files saved from the SDK's
//!   `str` return value are);
//! - the legacy single-agent layout (before 0.8), see [`legacy`];
//! - older message shapes inside either, see [`message`].
//!
//! Every reference between objects is checked ([`AgentFileError::DanglingReference`]). A tool
//! return whose `tool_call_id` answers no call of its agent is only a warning
//! ([`AgentFileWarning`]): Letta writes such files (the call may have been cut off by the
//! export's message limit), and its importer accepts them.

mod agent;
pub mod legacy;
pub mod message;
mod parse;
mod schema;
pub mod timestamp;
mod validate;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use agent::{AgentSchema, InitialContent, InitialMessage};
pub use message::{
    ContentPart, FileApproval, FuncResponse, ImageSource, MessageKind, MessageRole, MessageSchema,
    MessageToolReturn, SummaryPart,
};
pub use parse::{AgentFileError, Generation, ParsedAgentFile, parse_agent_file, read_agent_file};
pub use schema::{
    BlockSchema, FileAgentSchema, FileProcessingStatus, FileSchema, GroupSchema, ManagerConfig,
    McpServerSchema, PackageRequirement, SkillSchema, SourceSchema, ToolSchema,
};
pub use validate::AgentFileWarning;

/// `AgentFileSchema`: the whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentFile {
    pub agents: Vec<AgentSchema>,
    #[serde(default)]
    pub groups: Vec<GroupSchema>,
    #[serde(default)]
    pub blocks: Vec<BlockSchema>,
    #[serde(default)]
    pub files: Vec<FileSchema>,
    #[serde(default)]
    pub sources: Vec<SourceSchema>,
    #[serde(default)]
    pub tools: Vec<ToolSchema>,
    #[serde(default)]
    pub mcp_servers: Vec<McpServerSchema>,
    #[serde(default)]
    pub skills: Vec<SkillSchema>,
    /// `revision_id`: the database revision of the exporting server.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, with = "timestamp::opt")]
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub created_at: Option<DateTime<Utc>>,
}
