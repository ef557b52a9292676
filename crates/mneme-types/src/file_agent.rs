//! Files as an agent holds them: `AgentFileAttachment` and `PaginatedAgentFiles`
//! (`GET /v1/agents/{id}/files`), and `FileBlock`, a file in `AgentState.memory.file_blocks`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Block, FileAgentId, FileId, FolderId, time};

/// `AgentFileAttachment`: one file of a folder attached to the agent, open or closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentFileAttachment {
    pub id: FileAgentId,
    pub file_id: FileId,
    pub file_name: String,
    pub folder_id: FolderId,
    pub folder_name: String,
    pub is_open: bool,
    #[serde(serialize_with = "time::serialize_opt")]
    pub last_accessed_at: Option<DateTime<Utc>>,
    /// The open part of the file as the agent sees it; `null` when closed.
    pub visible_content: Option<String>,
    /// 1-based first line of the open range; `null` for the whole file.
    pub start_line: Option<u32>,
    /// Last line shown, 1-based (Letta calls it the exclusive 0-based end); `null` to the end.
    pub end_line: Option<u32>,
}

/// `PaginatedAgentFiles`: a page of the agent's files; `next_cursor` is the last one's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PaginatedAgentFiles {
    pub files: Vec<AgentFileAttachment>,
    pub next_cursor: Option<FileAgentId>,
    pub has_more: bool,
}

/// `FileBlock`: a read-only block labelled with the file's name whose value is the open view
/// (empty when closed), cut to the agent's per-file limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileBlock {
    #[serde(flatten)]
    pub block: Block,
    pub file_id: FileId,
    pub source_id: FolderId,
    pub is_open: bool,
    #[serde(serialize_with = "time::serialize_opt")]
    pub last_accessed_at: Option<DateTime<Utc>>,
}
