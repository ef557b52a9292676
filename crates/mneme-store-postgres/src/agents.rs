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
impl AgentStore for PgStore {
    async fn create_agent(&self, new: NewAgent) -> Result<Agent> {
        unimplemented!("PgStore::create_agent")
    }
    async fn import_agents(&self, import: AgentImport) -> Result<Vec<AgentId>> {
        unimplemented!("PgStore::import_agents")
    }
    async fn get_agent(&self, id: AgentId) -> Result<Agent> {
        unimplemented!("PgStore::get_agent")
    }
    async fn list_agents(&self, filter: &AgentFilter, page: &Page) -> Result<Vec<Agent>> {
        unimplemented!("PgStore::list_agents")
    }
    async fn count_agents(&self, filter: &AgentFilter) -> Result<u64> {
        unimplemented!("PgStore::count_agents")
    }
    async fn update_agent(
        &self,
        id: AgentId,
        edit: AgentEdit,
        blocks: Option<Vec<BlockId>>,
    ) -> Result<Agent> {
        unimplemented!("PgStore::update_agent")
    }
    async fn delete_agent(&self, id: AgentId) -> Result<()> {
        unimplemented!("PgStore::delete_agent")
    }
    async fn attach_block(&self, agent: AgentId, block: BlockId) -> Result<()> {
        unimplemented!("PgStore::attach_block")
    }
    async fn detach_block(&self, agent: AgentId, block: BlockId) -> Result<()> {
        unimplemented!("PgStore::detach_block")
    }
    async fn agent_blocks(&self, agent: AgentId) -> Result<Vec<Block>> {
        unimplemented!("PgStore::agent_blocks")
    }
    async fn blocks_of_agents(&self, agents: &[AgentId]) -> Result<Vec<(AgentId, Vec<Block>)>> {
        unimplemented!("PgStore::blocks_of_agents")
    }
    async fn agent_context(&self, agent: AgentId) -> Result<AgentContext> {
        unimplemented!("PgStore::agent_context")
    }
    async fn agent_frame(&self, agent: AgentId) -> Result<AgentFrame> {
        unimplemented!("PgStore::agent_frame")
    }
    async fn list_tags(&self, query: &TagQuery) -> Result<Vec<String>> {
        unimplemented!("PgStore::list_tags")
    }
}

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).
pub(crate) async fn insert_agent(conn: &mut sqlx::PgConnection, a: &Agent) -> crate::Result<()> {
    unimplemented!("agents::insert_agent")
}
pub(crate) async fn attach(
    conn: &mut sqlx::PgConnection,
    agent: AgentId,
    block: BlockId,
) -> crate::Result<()> {
    unimplemented!("agents::attach")
}
