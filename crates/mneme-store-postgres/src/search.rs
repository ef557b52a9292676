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
impl SearchStore for PgStore {
    async fn search_changes(&self, after: u64, limit: u32) -> Result<Vec<SearchChange>> {
        unimplemented!("PgStore::search_changes")
    }
    async fn prune_search_changes(&self, upto: u64) -> Result<()> {
        unimplemented!("PgStore::prune_search_changes")
    }
    async fn reindex_search(&self) -> Result<()> {
        unimplemented!("PgStore::reindex_search")
    }
    async fn passages_by_keys(&self, keys: &[u64]) -> Result<Vec<(u64, Passage)>> {
        unimplemented!("PgStore::passages_by_keys")
    }
    async fn messages_by_keys(
        &self,
        keys: &[u64],
    ) -> Result<Vec<(u64, Message, Option<Vec<f32>>)>> {
        unimplemented!("PgStore::messages_by_keys")
    }
    async fn passage_keys(
        &self,
        archives: &[ArchiveId],
        filter: &PassageFilter,
    ) -> Result<Vec<u64>> {
        unimplemented!("PgStore::passage_keys")
    }
    async fn message_keys(&self, agent: AgentId, filter: &MessageFilter) -> Result<Vec<u64>> {
        unimplemented!("PgStore::message_keys")
    }
    async fn passage_vectors(&self, archive: ArchiveId) -> Result<Vec<(u64, Vec<f32>)>> {
        unimplemented!("PgStore::passage_vectors")
    }
    async fn message_vectors(&self, agent: AgentId) -> Result<Vec<(u64, Vec<f32>)>> {
        unimplemented!("PgStore::message_vectors")
    }
    async fn messages_after(&self, after: u64, limit: u32) -> Result<Vec<(u64, Message)>> {
        unimplemented!("PgStore::messages_after")
    }
    async fn store_message_vectors(
        &self,
        vectors: Vec<(u64, AgentId, Vec<f32>)>,
        cursor: (&'static str, u64),
    ) -> Result<()> {
        unimplemented!("PgStore::store_message_vectors")
    }
    async fn search_cursor(&self, name: &'static str) -> Result<u64> {
        unimplemented!("PgStore::search_cursor")
    }
}
