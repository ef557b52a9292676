//! TODO(pg): stub, to be replaced by the implementation.
#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mneme_store::*;
use mneme_types::{
    AgentId, ArchiveId, Block, BlockId, ConversationId, DuplicateFileHandling, FileAgentId, FileId,
    FileMetadata, Folder, FolderId, Group, GroupId, IdentityId, Job, JobId, ManagerType, McpServer,
    McpServerId, MessageId, PassageId, ProviderId, ProviderRecord, RunId, SourceStats, Step,
    StepId, Tool, ToolId,
};

use crate::{PgStore, StoreResult as Result};

#[async_trait]
impl ToolStore for PgStore {
    async fn upsert_tools(&self, tools: Vec<Tool>) -> Result<Vec<Tool>> {
        unimplemented!("PgStore::upsert_tools")
    }
    async fn tools_by_name(&self, names: &[String]) -> Result<Vec<Tool>> {
        unimplemented!("PgStore::tools_by_name")
    }
    async fn get_tool(&self, id: ToolId) -> Result<Tool> {
        unimplemented!("PgStore::get_tool")
    }
    async fn agent_tools(&self, agent: AgentId) -> Result<Vec<Tool>> {
        unimplemented!("PgStore::agent_tools")
    }
    async fn tools_of_agents(&self, agents: &[AgentId]) -> Result<Vec<(AgentId, Vec<Tool>)>> {
        unimplemented!("PgStore::tools_of_agents")
    }
    async fn list_tools(&self, filter: &ToolFilter, page: &Page) -> Result<Vec<Tool>> {
        unimplemented!("PgStore::list_tools")
    }
    async fn count_tools(&self, filter: &ToolFilter) -> Result<u64> {
        unimplemented!("PgStore::count_tools")
    }
    async fn update_tool(&self, id: ToolId, edit: ToolEdit) -> Result<Tool> {
        unimplemented!("PgStore::update_tool")
    }
    async fn delete_tool(&self, id: ToolId) -> Result<()> {
        unimplemented!("PgStore::delete_tool")
    }
    async fn attach_tool(&self, agent: AgentId, tool: ToolId) -> Result<()> {
        unimplemented!("PgStore::attach_tool")
    }
    async fn detach_tool(&self, agent: AgentId, tool: ToolId) -> Result<()> {
        unimplemented!("PgStore::detach_tool")
    }
}

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).
pub(crate) async fn tools_of(
    conn: &mut sqlx::PgConnection,
    agent: AgentId,
) -> crate::Result<Vec<Tool>> {
    unimplemented!("tools::tools_of")
}
pub(crate) async fn insert_tool(conn: &mut sqlx::PgConnection, tool: &Tool) -> crate::Result<()> {
    unimplemented!("tools::insert_tool")
}
pub(crate) async fn save_tool(conn: &mut sqlx::PgConnection, tool: &Tool) -> crate::Result<()> {
    unimplemented!("tools::save_tool")
}
