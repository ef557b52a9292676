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
impl ArchiveStore for PgStore {
    async fn create_archive(&self, archive: Archive, owner: Option<AgentId>) -> Result<Archive> {
        unimplemented!("PgStore::create_archive")
    }
    async fn get_archive(&self, id: ArchiveId) -> Result<Archive> {
        unimplemented!("PgStore::get_archive")
    }
    async fn list_archives(&self, filter: &ArchiveFilter, page: &Page) -> Result<Vec<Archive>> {
        unimplemented!("PgStore::list_archives")
    }
    async fn update_archive(&self, id: ArchiveId, edit: ArchiveEdit) -> Result<Archive> {
        unimplemented!("PgStore::update_archive")
    }
    async fn delete_archive(&self, id: ArchiveId) -> Result<()> {
        unimplemented!("PgStore::delete_archive")
    }
    async fn attach_archive(&self, agent: AgentId, archive: ArchiveId) -> Result<()> {
        unimplemented!("PgStore::attach_archive")
    }
    async fn detach_archive(&self, agent: AgentId, archive: ArchiveId) -> Result<()> {
        unimplemented!("PgStore::detach_archive")
    }
    async fn agent_archives(&self, agent: AgentId) -> Result<Vec<Archive>> {
        unimplemented!("PgStore::agent_archives")
    }
    async fn default_archive(&self, agent: AgentId, make: Archive) -> Result<Archive> {
        unimplemented!("PgStore::default_archive")
    }
    async fn agents_of_archive(&self, archive: ArchiveId, page: &Page) -> Result<Vec<Agent>> {
        unimplemented!("PgStore::agents_of_archive")
    }
}

#[async_trait]
impl PassageStore for PgStore {
    async fn insert_passages(&self, passages: Vec<Passage>) -> Result<()> {
        unimplemented!("PgStore::insert_passages")
    }
    async fn list_passages(
        &self,
        archives: &[ArchiveId],
        query: &PassageList,
    ) -> Result<Vec<Passage>> {
        unimplemented!("PgStore::list_passages")
    }
    async fn delete_passage(&self, archives: &[ArchiveId], id: PassageId) -> Result<()> {
        unimplemented!("PgStore::delete_passage")
    }
}

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).
pub(crate) async fn insert_archive(
    conn: &mut sqlx::PgConnection,
    a: &Archive,
    owner: Option<AgentId>,
) -> crate::Result<()> {
    unimplemented!("passages::insert_archive")
}
pub(crate) async fn create_owned_archive(
    conn: &mut sqlx::PgConnection,
    archive: &Archive,
    agent: AgentId,
) -> crate::Result<()> {
    unimplemented!("passages::create_owned_archive")
}
pub(crate) async fn insert_passage(
    conn: &mut sqlx::PgConnection,
    p: &Passage,
) -> crate::Result<()> {
    unimplemented!("passages::insert_passage")
}
