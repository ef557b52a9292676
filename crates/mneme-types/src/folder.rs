//! Folders (Letta's older name: sources), the files uploaded to them and the jobs that track
//! a file's processing: `Folder`, `FolderCreate`, `FolderUpdate`, `FileMetadata`,
//! `FileProcessingStatus`, `DuplicateFileHandling`, `Job`, `JobStatus`, `JobType` and the
//! `metadata` route's `OrganizationSourcesStats`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    AgentId, EmbeddingConfig, FileId, FolderId, JobId, StopReason, VectorDbProvider, time,
};

/// `Folder` (and `Source`, the same object under its older route): a named set of files whose
/// chunks are embedded with `embedding_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Folder {
    pub name: String,
    pub description: Option<String>,
    pub instructions: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub id: FolderId,
    pub embedding_config: EmbeddingConfig,
    pub organization_id: Option<String>,
    pub vector_db_provider: VectorDbProvider,
    pub created_by_id: Option<String>,
    pub last_updated_by_id: Option<String>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub updated_at: DateTime<Utc>,
}

/// `SourceCreate`: an embedding handle (`embedding`) or a full `embedding_config`; neither
/// means the server's default model.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct FolderCreate {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub embedding: Option<String>,
    #[serde(default)]
    pub embedding_chunk_size: Option<u32>,
    #[serde(default)]
    pub embedding_config: Option<EmbeddingConfig>,
}

/// `SourceUpdate` (PATCH): absent and `null` both leave a field as it is.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct FolderUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub embedding_config: Option<EmbeddingConfig>,
}

/// `FileProcessingStatus`: a file moves `pending` → `parsing` → `embedding` → `completed`, or
/// to `error` from any of the first three.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum FileProcessingStatus {
    #[default]
    Pending,
    Parsing,
    Embedding,
    Completed,
    Error,
}

impl FileProcessingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileProcessingStatus::Pending => "pending",
            FileProcessingStatus::Parsing => "parsing",
            FileProcessingStatus::Embedding => "embedding",
            FileProcessingStatus::Completed => "completed",
            FileProcessingStatus::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<FileProcessingStatus> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }

    /// Completed or failed: nothing more will happen to the file.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            FileProcessingStatus::Completed | FileProcessingStatus::Error
        )
    }
}

/// `FileMetadata`. `content` is only filled when a route is asked for it
/// (`include_content`); `file_size` is in bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileMetadata {
    pub source_id: FolderId,
    pub file_name: Option<String>,
    pub original_file_name: Option<String>,
    pub file_path: Option<String>,
    pub file_type: Option<String>,
    pub file_size: Option<u64>,
    pub file_creation_date: Option<String>,
    pub file_last_modified_date: Option<String>,
    pub processing_status: FileProcessingStatus,
    pub error_message: Option<String>,
    pub total_chunks: Option<u64>,
    pub chunks_embedded: Option<u64>,
    pub content: Option<String>,
    pub id: FileId,
    pub organization_id: Option<String>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub updated_at: DateTime<Utc>,
}

/// `DuplicateFileHandling`: what an upload does when the folder has a file of that name.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DuplicateFileHandling {
    /// Answers the existing file and stores nothing.
    Skip,
    /// Refuses the upload (409).
    Error,
    /// Stores it as `name_(1).ext`, `name_(2).ext`, ...
    #[default]
    Suffix,
    /// Deletes the existing file (and its passages) and stores the new one under its name.
    Replace,
}

/// `JobStatus`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    #[default]
    Created,
    Running,
    Completed,
    Failed,
    Pending,
    Cancelled,
    Expired,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Created => "created",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Pending => "pending",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }

    /// Created, pending or running: what `/v1/jobs/active` lists and `cancel` may stop.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            JobStatus::Created | JobStatus::Pending | JobStatus::Running
        )
    }
}

/// `JobType`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum JobType {
    #[default]
    Job,
    Run,
    Batch,
}

/// `Job`: here, the processing of one uploaded file (its `metadata` names the file and the
/// folder), kept for SDKs that poll a job rather than the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Job {
    pub created_by_id: Option<String>,
    pub last_updated_by_id: Option<String>,
    #[serde(serialize_with = "time::serialize_resource")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub updated_at: Option<DateTime<Utc>>,
    pub status: JobStatus,
    #[serde(serialize_with = "time::serialize_opt")]
    pub completed_at: Option<DateTime<Utc>>,
    pub stop_reason: Option<StopReason>,
    pub metadata: Option<Map<String, Value>>,
    pub job_type: JobType,
    pub background: Option<bool>,
    pub agent_id: Option<AgentId>,
    pub callback_url: Option<String>,
    #[serde(serialize_with = "time::serialize_opt")]
    pub callback_sent_at: Option<DateTime<Utc>>,
    pub callback_status_code: Option<i64>,
    pub callback_error: Option<String>,
    pub ttft_ns: Option<i64>,
    pub total_duration_ns: Option<i64>,
    pub id: JobId,
    pub user_id: Option<String>,
}

/// `FileStats`: one file in `SourceStats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileStats {
    pub file_id: FileId,
    pub file_name: String,
    pub file_size: Option<u64>,
}

/// `SourceStats`: one folder in `OrganizationSourcesStats`; `files` only when asked for detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourceStats {
    pub source_id: FolderId,
    pub source_name: String,
    pub file_count: u64,
    pub total_size: u64,
    pub files: Vec<FileStats>,
}

/// `OrganizationSourcesStats` (`GET /v1/folders/metadata`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrganizationSourcesStats {
    pub total_sources: u64,
    pub total_files: u64,
    pub total_size: u64,
    pub sources: Vec<SourceStats>,
}
