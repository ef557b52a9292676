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
impl RunStore for PgStore {
    async fn create_run(&self, run: RunRecord) -> Result<RunRecord> {
        unimplemented!("PgStore::create_run")
    }
    async fn get_run(&self, id: RunId) -> Result<RunRecord> {
        unimplemented!("PgStore::get_run")
    }
    async fn list_runs(&self, filter: &RunFilter, page: &Page) -> Result<Vec<RunRecord>> {
        unimplemented!("PgStore::list_runs")
    }
    async fn update_run(&self, id: RunId, edit: RunEdit) -> Result<RunRecord> {
        unimplemented!("PgStore::update_run")
    }
    async fn finish_run(&self, id: RunId, edit: RunEdit) -> Result<RunRecord> {
        unimplemented!("PgStore::finish_run")
    }
    async fn get_step(&self, id: StepId) -> Result<Step> {
        unimplemented!("PgStore::get_step")
    }
    async fn list_steps(&self, filter: &StepFilter, page: &Page) -> Result<Vec<Step>> {
        unimplemented!("PgStore::list_steps")
    }
    async fn update_step(&self, id: StepId, edit: StepEdit) -> Result<Step> {
        unimplemented!("PgStore::update_step")
    }
    async fn delete_run(&self, id: RunId) -> Result<()> {
        unimplemented!("PgStore::delete_run")
    }
    async fn commit_step(&self, commit: StepCommit) -> Result<()> {
        unimplemented!("PgStore::commit_step")
    }
    async fn map_otids(&self, run: RunId, otids: Vec<String>) -> Result<()> {
        unimplemented!("PgStore::map_otids")
    }
    async fn run_of_otid(&self, otid: &str) -> Result<Option<RunId>> {
        unimplemented!("PgStore::run_of_otid")
    }
    async fn append_chunks(&self, run: RunId, chunks: Vec<RunChunk>) -> Result<()> {
        unimplemented!("PgStore::append_chunks")
    }
    async fn read_chunks(&self, run: RunId, after: u64, limit: u32) -> Result<Vec<RunChunk>> {
        unimplemented!("PgStore::read_chunks")
    }
    async fn prune_chunks(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64> {
        unimplemented!("PgStore::prune_chunks")
    }
}
