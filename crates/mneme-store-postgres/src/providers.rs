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
impl ProviderStore for PgStore {
    async fn create_provider(&self, provider: ProviderRecord) -> Result<ProviderRecord> {
        unimplemented!("PgStore::create_provider")
    }
    async fn get_provider(&self, id: ProviderId) -> Result<ProviderRecord> {
        unimplemented!("PgStore::get_provider")
    }
    async fn list_providers(
        &self,
        filter: &ProviderFilter,
        page: &Page,
    ) -> Result<Vec<ProviderRecord>> {
        unimplemented!("PgStore::list_providers")
    }
    async fn update_provider(&self, id: ProviderId, edit: ProviderEdit) -> Result<ProviderRecord> {
        unimplemented!("PgStore::update_provider")
    }
    async fn delete_provider(&self, id: ProviderId) -> Result<()> {
        unimplemented!("PgStore::delete_provider")
    }
}
