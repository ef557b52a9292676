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
impl IdentityStore for PgStore {
    async fn create_identity(&self, new: NewIdentity) -> Result<IdentityRecord> {
        unimplemented!("PgStore::create_identity")
    }
    async fn upsert_identity(
        &self,
        new: NewIdentity,
        edit: IdentityEdit,
        links: IdentityLinks,
    ) -> Result<IdentityRecord> {
        unimplemented!("PgStore::upsert_identity")
    }
    async fn get_identity(&self, id: IdentityId) -> Result<IdentityRecord> {
        unimplemented!("PgStore::get_identity")
    }
    async fn get_identities(&self, ids: &[IdentityId]) -> Result<Vec<IdentityRecord>> {
        unimplemented!("PgStore::get_identities")
    }
    async fn list_identities(
        &self,
        filter: &IdentityFilter,
        page: &Page,
    ) -> Result<Vec<IdentityRecord>> {
        unimplemented!("PgStore::list_identities")
    }
    async fn count_identities(&self) -> Result<u64> {
        unimplemented!("PgStore::count_identities")
    }
    async fn update_identity(
        &self,
        id: IdentityId,
        edit: IdentityEdit,
        links: IdentityLinks,
    ) -> Result<IdentityRecord> {
        unimplemented!("PgStore::update_identity")
    }
    async fn delete_identity(&self, id: IdentityId) -> Result<()> {
        unimplemented!("PgStore::delete_identity")
    }
    async fn agents_of_identity(&self, id: IdentityId, page: &Page) -> Result<Vec<Agent>> {
        unimplemented!("PgStore::agents_of_identity")
    }
    async fn blocks_of_identity(&self, id: IdentityId, page: &Page) -> Result<Vec<Block>> {
        unimplemented!("PgStore::blocks_of_identity")
    }
}
