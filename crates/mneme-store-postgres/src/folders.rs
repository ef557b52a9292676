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
impl FolderStore for PgStore {
    async fn create_folder(&self, folder: Folder, archive: Archive) -> Result<FolderRecord> {
        unimplemented!("PgStore::create_folder")
    }
    async fn get_folder(&self, id: FolderId) -> Result<FolderRecord> {
        unimplemented!("PgStore::get_folder")
    }
    async fn folder_by_name(&self, name: &str) -> Result<FolderRecord> {
        unimplemented!("PgStore::folder_by_name")
    }
    async fn list_folders(&self, filter: &FolderFilter, page: &Page) -> Result<Vec<FolderRecord>> {
        unimplemented!("PgStore::list_folders")
    }
    async fn count_folders(&self) -> Result<u64> {
        unimplemented!("PgStore::count_folders")
    }
    async fn update_folder(&self, id: FolderId, edit: FolderEdit) -> Result<FolderRecord> {
        unimplemented!("PgStore::update_folder")
    }
    async fn delete_folder(&self, id: FolderId) -> Result<()> {
        unimplemented!("PgStore::delete_folder")
    }
    async fn folder_stats(&self) -> Result<Vec<SourceStats>> {
        unimplemented!("PgStore::folder_stats")
    }
    async fn create_file(&self, new: NewFile) -> Result<CreatedFile> {
        unimplemented!("PgStore::create_file")
    }
    async fn get_file(&self, folder: FolderId, id: FileId, content: bool) -> Result<FileMetadata> {
        unimplemented!("PgStore::get_file")
    }
    async fn list_files(
        &self,
        folder: FolderId,
        page: &Page,
        content: bool,
    ) -> Result<Vec<FileMetadata>> {
        unimplemented!("PgStore::list_files")
    }
    async fn update_file(&self, id: FileId, edit: FileEdit) -> Result<FileMetadata> {
        unimplemented!("PgStore::update_file")
    }
    async fn delete_file(&self, folder: FolderId, id: FileId) -> Result<()> {
        unimplemented!("PgStore::delete_file")
    }
    async fn restart_unfinished_files(&self) -> Result<Vec<UnfinishedFile>> {
        unimplemented!("PgStore::restart_unfinished_files")
    }
    async fn attach_folder(&self, agent: AgentId, folder: FolderId) -> Result<()> {
        unimplemented!("PgStore::attach_folder")
    }
    async fn set_agent_folders(&self, agent: AgentId, folders: Vec<FolderId>) -> Result<()> {
        unimplemented!("PgStore::set_agent_folders")
    }
    async fn detach_folder(&self, agent: AgentId, folder: FolderId) -> Result<()> {
        unimplemented!("PgStore::detach_folder")
    }
    async fn agent_files(&self, agent: AgentId) -> Result<AgentFiles> {
        unimplemented!("PgStore::agent_files")
    }
    async fn save_agent_files(&self, agent: AgentId, files: Vec<AgentFile>) -> Result<()> {
        unimplemented!("PgStore::save_agent_files")
    }
    async fn agent_folders(&self, agent: AgentId) -> Result<Vec<FolderRecord>> {
        unimplemented!("PgStore::agent_folders")
    }
    async fn agents_of_folder(&self, folder: FolderId) -> Result<Vec<AgentId>> {
        unimplemented!("PgStore::agents_of_folder")
    }
    async fn get_job(&self, id: JobId) -> Result<Job> {
        unimplemented!("PgStore::get_job")
    }
    async fn list_jobs(&self, filter: &JobFilter, page: &Page) -> Result<Vec<Job>> {
        unimplemented!("PgStore::list_jobs")
    }
    async fn update_job(&self, id: JobId, edit: JobEdit) -> Result<Job> {
        unimplemented!("PgStore::update_job")
    }
    async fn delete_job(&self, id: JobId) -> Result<()> {
        unimplemented!("PgStore::delete_job")
    }
}

pub(crate) mod agent_files;

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).
pub(crate) async fn attach(
    conn: &mut sqlx::PgConnection,
    agent: AgentId,
    folder: FolderId,
) -> crate::Result<()> {
    unimplemented!("folders::attach")
}
pub(crate) async fn insert_imported(
    conn: &mut sqlx::PgConnection,
    f: &ImportedFolder,
) -> crate::Result<()> {
    unimplemented!("folders::insert_imported")
}
