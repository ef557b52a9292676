//! Folders, their files and the jobs that track a file's processing: `FolderStore` and its
//! records.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mneme_types::{
    AgentId, ArchiveId, DuplicateFileHandling, FileAgentId, FileId, FileMetadata, Folder, FolderId,
    Job, JobId, SourceStats,
};

use crate::{Archive, Page, Result, StoreError};

/// A folder as stored: the wire `Folder` and the archive that holds its files' passages (each
/// passage's metadata names its `file_id`), so the passage store and search index serve it.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderRecord {
    pub folder: Folder,
    pub archive_id: ArchiveId,
}

/// A file to store in a folder, with the job that reports its processing, and what to do when
/// the folder has a file of that name already.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub file: FileMetadata,
    pub job: Option<Job>,
    pub duplicate: DuplicateFileHandling,
}

/// What `create_file` did.
#[derive(Debug, Clone, PartialEq)]
pub enum CreatedFile {
    /// Stored (under a suffixed name for `Suffix`; `replaced` names the file it took the place
    /// of for `Replace`).
    Created {
        file: FileMetadata,
        replaced: Option<FileId>,
    },
    /// `Skip` found a file of that name: it is answered and nothing is written.
    Skipped(FileMetadata),
}

/// A file of an attached folder as the agent holds it (Letta's `files_agents` row): open with
/// a view of some of its lines, or closed.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentFile {
    pub id: FileAgentId,
    pub file_id: FileId,
    pub folder_id: FolderId,
    /// The file's unique name (`folder/name.ext`): the label the agent opens it by.
    pub file_name: String,
    pub is_open: bool,
    /// The line-numbered view the agent sees while the file is open.
    pub visible_content: Option<String>,
    /// 1-based first line of the open range; `None` for the whole file.
    pub start_line: Option<u32>,
    /// Last line shown, 1-based (the 0-based end, exclusive, as Letta stores it); `None` to the
    /// end.
    pub end_line: Option<u32>,
    /// When the agent last opened or searched the file: the least recent open file is the
    /// one closed when too many are open.
    pub last_accessed_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// An attached folder as the agent's context names it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentDirectory {
    pub id: FolderId,
    pub name: String,
    pub description: Option<String>,
    pub instructions: Option<String>,
}

/// The agent's attached folders (in attachment order) and their files (by creation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentFiles {
    pub directories: Vec<AgentDirectory>,
    pub files: Vec<AgentFile>,
}

/// A file whose processing a stopped server left unfinished.
#[derive(Debug, Clone, PartialEq)]
pub struct UnfinishedFile {
    pub folder: FolderId,
    pub file: FileId,
    pub job: Option<JobId>,
    /// Its text was read (and stored) already: only chunking and embedding are left.
    pub has_text: bool,
}

/// Which folders a listing returns; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct FolderFilter {
    /// Exact name.
    pub name: Option<String>,
}

/// Which jobs a listing returns.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only jobs whose metadata names this folder.
    pub folder: Option<FolderId>,
    /// Only created, pending or running jobs.
    pub active: bool,
}

/// A change to a stored folder, applied inside the write transaction; `Err` aborts it.
pub type FolderEdit = Box<dyn FnOnce(&mut Folder) -> Result<(), StoreError> + Send>;
/// A change to a stored file (its `content` included), applied inside the write transaction.
pub type FileEdit = Box<dyn FnOnce(&mut FileMetadata) -> Result<(), StoreError> + Send>;
/// A change to a stored job, applied inside the write transaction.
pub type JobEdit = Box<dyn FnOnce(&mut Job) -> Result<(), StoreError> + Send>;

/// Folders, their files, their attachments to agents, and jobs. A folder's name is unique;
/// so is a file's name within its folder.
#[async_trait]
pub trait FolderStore: Send + Sync {
    /// Creates the folder and `archive` as its passage store; a taken name is a `Conflict`.
    async fn create_folder(&self, folder: Folder, archive: Archive) -> Result<FolderRecord>;
    async fn get_folder(&self, id: FolderId) -> Result<FolderRecord>;
    async fn folder_by_name(&self, name: &str) -> Result<FolderRecord>;
    /// By creation time in `page.order`, ties by id; unknown cursors are `NotFound`.
    async fn list_folders(&self, filter: &FolderFilter, page: &Page) -> Result<Vec<FolderRecord>>;
    async fn count_folders(&self) -> Result<u64>;
    /// Applies `edit` inside one write transaction; an `Err` from it writes nothing. The id and
    /// `created_at` stay, `updated_at` becomes now, and a taken name is a `Conflict`.
    async fn update_folder(&self, id: FolderId, edit: FolderEdit) -> Result<FolderRecord>;
    /// Deletes the folder with its files, their passages (its archive), its jobs and its
    /// attachments to agents.
    async fn delete_folder(&self, id: FolderId) -> Result<()>;
    /// Every folder oldest first, with its files (oldest first) and their sizes.
    async fn folder_stats(&self) -> Result<Vec<SourceStats>>;

    /// Stores the file (and its job) in its folder (`file.source_id`, `NotFound` if unknown),
    /// settling a name taken in that folder as `new.duplicate` says: `Error` is a `Conflict`;
    /// `Suffix` stores it as `stem_(n).ext` with the lowest free `n`; `Replace` deletes the
    /// other file and its passages first; `Skip` writes nothing.
    async fn create_file(&self, new: NewFile) -> Result<CreatedFile>;
    /// The file if it is in the folder (`NotFound` otherwise), its `content` only if asked.
    async fn get_file(&self, folder: FolderId, id: FileId, content: bool) -> Result<FileMetadata>;
    /// The folder's files by creation time in `page.order`; unknown cursors are `NotFound`.
    async fn list_files(
        &self,
        folder: FolderId,
        page: &Page,
        content: bool,
    ) -> Result<Vec<FileMetadata>>;
    /// Applies `edit` to the file (read with its content); `updated_at` becomes now. The
    /// file's job follows its status in the same transaction: `parsing` and `embedding` make it
    /// `running`, `completed` `completed`, `error` `failed` (with `completed_at` set).
    async fn update_file(&self, id: FileId, edit: FileEdit) -> Result<FileMetadata>;
    /// Deletes the file in the folder (`NotFound` otherwise) and its passages.
    async fn delete_file(&self, folder: FolderId, id: FileId) -> Result<()>;
    /// Start-up after a crash: every file still `pending`, `parsing` or `embedding` goes back
    /// to `pending` (its job too, unless cancelled) without the passages it had stored, in one
    /// transaction, so that processing can start it again; returns them, oldest first. They
    /// become this replica's (`ReplicaStore`; a new file is its creator's).
    async fn restart_unfinished_files(&self) -> Result<Vec<UnfinishedFile>>;

    /// Attaching an attached folder changes nothing.
    async fn attach_folder(&self, agent: AgentId, folder: FolderId) -> Result<()>;
    /// Replaces the agent's folders with these, in this order; an unknown one is `NotFound` and
    /// changes nothing.
    async fn set_agent_folders(&self, agent: AgentId, folders: Vec<FolderId>) -> Result<()>;
    /// Detaching a folder that is not attached changes nothing; the agent's files of that
    /// folder go with it.
    async fn detach_folder(&self, agent: AgentId, folder: FolderId) -> Result<()>;
    /// The agent's folders and files (`NotFound` for an unknown agent).
    async fn agent_files(&self, agent: AgentId) -> Result<AgentFiles>;
    /// Writes these rows of the agent's files: a row whose file is already the agent's is
    /// updated in place (keeping its id and `created_at`), a new one inserted. Rows of files
    /// or folders no longer attached are skipped, so a write racing a detach or a delete
    /// brings nothing back.
    async fn save_agent_files(&self, agent: AgentId, files: Vec<AgentFile>) -> Result<()>;
    /// The agent's folders in attachment order.
    async fn agent_folders(&self, agent: AgentId) -> Result<Vec<FolderRecord>>;
    /// Ids of the agents the folder is attached to, in attachment order.
    async fn agents_of_folder(&self, folder: FolderId) -> Result<Vec<AgentId>>;

    async fn get_job(&self, id: JobId) -> Result<Job>;
    /// By creation time in `page.order`, ties by id; unknown cursors are `NotFound`.
    async fn list_jobs(&self, filter: &JobFilter, page: &Page) -> Result<Vec<Job>>;
    /// Applies `edit` inside one write transaction; `updated_at` becomes now.
    async fn update_job(&self, id: JobId, edit: JobEdit) -> Result<Job>;
    async fn delete_job(&self, id: JobId) -> Result<()>;
}
