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
impl BlockStore for PgStore {
    async fn create_block(&self, block: Block) -> Result<Block> {
        unimplemented!("PgStore::create_block")
    }
    async fn get_block(&self, id: BlockId) -> Result<Block> {
        unimplemented!("PgStore::get_block")
    }
    async fn get_blocks(&self, ids: &[BlockId]) -> Result<Vec<Block>> {
        unimplemented!("PgStore::get_blocks")
    }
    async fn list_blocks(&self, filter: &BlockFilter, page: &Page) -> Result<Vec<Block>> {
        unimplemented!("PgStore::list_blocks")
    }
    async fn count_blocks(&self, filter: &BlockFilter) -> Result<u64> {
        unimplemented!("PgStore::count_blocks")
    }
    async fn update_block(&self, id: BlockId, edit: BlockEdit) -> Result<Block> {
        unimplemented!("PgStore::update_block")
    }
    async fn update_agent_block(
        &self,
        agent: AgentId,
        label: &str,
        edit: BlockEdit,
    ) -> Result<Block> {
        unimplemented!("PgStore::update_agent_block")
    }
    async fn delete_block(&self, id: BlockId) -> Result<()> {
        unimplemented!("PgStore::delete_block")
    }
    async fn agents_of_block(&self, id: BlockId, page: &Page) -> Result<Vec<Agent>> {
        unimplemented!("PgStore::agents_of_block")
    }
    async fn agent_ids_of_block(&self, id: BlockId) -> Result<Vec<AgentId>> {
        unimplemented!("PgStore::agent_ids_of_block")
    }
}

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).
pub(crate) async fn insert_block(
    conn: &mut sqlx::PgConnection,
    b: &Block,
    now: &DateTime<Utc>,
) -> crate::Result<()> {
    unimplemented!("blocks::insert_block")
}
pub(crate) async fn load_block(conn: &mut sqlx::PgConnection, id: BlockId) -> crate::Result<Block> {
    unimplemented!("blocks::load_block")
}
pub(crate) async fn save_block(
    conn: &mut sqlx::PgConnection,
    block: &Block,
    old_label: Option<&str>,
) -> crate::Result<()> {
    unimplemented!("blocks::save_block")
}
pub(crate) async fn list(
    conn: &mut sqlx::PgConnection,
    filter: &BlockFilter,
    page: &Page,
) -> crate::Result<Vec<Block>> {
    unimplemented!("blocks::list")
}
