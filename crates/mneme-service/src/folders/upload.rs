//! Receiving a file into a folder: its kind checked before its bytes are read, its record and
//! job stored (duplicate names settled in the same transaction), then its processing queued.

use std::path::PathBuf;

use mneme_documents::DocumentKind;
use mneme_store::{CreatedFile, NewFile, StoreError};
use mneme_types::{
    DuplicateFileHandling, FileId, FileMetadata, FileProcessingStatus, FolderId, Job, JobId,
    JobStatus, JobType, time,
};
use serde_json::{Map, Value};

use super::files::shown;
use super::process::Work;
use crate::{Result, Service, ServiceError};

/// A file received into `path`, to store in `folder` under `name`.
#[derive(Debug, Clone)]
pub struct Upload {
    pub folder: FolderId,
    pub name: String,
    pub mime: Option<String>,
    pub path: PathBuf,
    pub size: u64,
    pub duplicate: DuplicateFileHandling,
}

/// What an upload did: stored the file (its processing queued), or, for
/// `duplicate_handling=skip`, found one of that name and stored nothing.
#[derive(Debug, Clone)]
pub enum Uploaded {
    Stored(FileMetadata),
    Skipped(FileMetadata),
}

impl Service {
    /// The largest upload accepted, in bytes.
    pub fn max_upload_bytes(&self) -> u64 {
        self.config.max_upload_bytes
    }

    /// Refuses (400, as Letta does) a file whose kind this server cannot read, before its
    /// bytes are received.
    pub fn check_upload(&self, name: &str, mime: Option<&str>) -> Result<()> {
        match DocumentKind::detect(name, mime) {
            Some(_) => Ok(()),
            None => Err(ServiceError::bad(format!(
                "Unsupported file type: {} (filename: {name}). Supported types: PDF, text \
                 files (.txt, .md), JSON, CSV, HTML and code files (.py, .js, .java, etc.).",
                mime.unwrap_or("unknown")
            ))),
        }
    }

    /// A new file's id and the path its bytes are written to while it is processed.
    pub async fn upload_target(&self) -> Result<(FileId, PathBuf)> {
        let dir = self
            .config
            .files_dir
            .clone()
            .ok_or_else(|| ServiceError::bad("this server does not accept uploads"))?;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| ServiceError::Internal(format!("creating {}: {e}", dir.display())))?;
        let id = FileId::new();
        let path = dir.join(id.to_string());
        Ok((id, path))
    }

    /// Stores the received file and queues its processing. The bytes at `up.path` are the
    /// service's from here on: removed when nothing is stored, or once processed.
    pub async fn upload_file(&self, id: FileId, up: Upload) -> Result<Uploaded> {
        let job = new_job(id, &up);
        let job_id = job.id;
        let new = NewFile {
            file: new_file(id, &up),
            job: Some(job),
            duplicate: up.duplicate,
        };
        let created = self.store.create_file(new).await;
        match created {
            Ok(CreatedFile::Created { file, replaced }) => {
                if let Some(old) = replaced {
                    self.searcher.changed();
                    self.forget_bytes(&self.bytes_path(old)).await;
                }
                let work = Work {
                    folder: file.source_id,
                    file: file.id,
                    job: Some(job_id),
                };
                self.process_later(work, Some(up.path));
                Ok(Uploaded::Stored(shown(file)))
            }
            Ok(CreatedFile::Skipped(file)) => {
                self.forget_bytes(&up.path).await;
                Ok(Uploaded::Skipped(shown(file)))
            }
            Err(e) => {
                self.forget_bytes(&up.path).await;
                // A taken name with `duplicate_handling=error` is Letta's 400.
                Err(match e {
                    StoreError::Conflict(m) => ServiceError::BadRequest(m),
                    e => e.into(),
                })
            }
        }
    }

    pub(crate) fn bytes_path(&self, id: FileId) -> PathBuf {
        let dir = self.config.files_dir.clone().unwrap_or_default();
        dir.join(id.to_string())
    }

    /// Removes a file's received bytes; one already gone is fine.
    pub(crate) async fn forget_bytes(&self, path: &std::path::Path) {
        if let Err(e) = tokio::fs::remove_file(path).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, path = %path.display(), "an uploaded file was not removed");
        }
    }
}

fn new_file(id: FileId, up: &Upload) -> FileMetadata {
    let now = time::now();
    FileMetadata {
        source_id: up.folder,
        file_name: None,
        original_file_name: Some(up.name.clone()),
        file_path: None,
        file_type: Some(up.mime.clone().unwrap_or_else(|| "unknown".into())),
        file_size: Some(up.size),
        file_creation_date: None,
        file_last_modified_date: None,
        processing_status: FileProcessingStatus::Pending,
        error_message: None,
        total_chunks: None,
        chunks_embedded: None,
        content: None,
        id,
        organization_id: None,
        created_at: now,
        updated_at: now,
    }
}

/// The job older SDKs poll for the file: its metadata names the file and the folder.
fn new_job(file: FileId, up: &Upload) -> Job {
    let mut metadata = Map::new();
    metadata.insert("type".into(), Value::from("embedding"));
    metadata.insert("filename".into(), Value::from(up.name.clone()));
    metadata.insert("file_id".into(), Value::from(file.to_string()));
    metadata.insert("source_id".into(), Value::from(up.folder.to_string()));
    Job {
        created_by_id: None,
        last_updated_by_id: None,
        created_at: time::now(),
        updated_at: None,
        status: JobStatus::Pending,
        completed_at: None,
        stop_reason: None,
        metadata: Some(metadata),
        job_type: JobType::Job,
        background: None,
        agent_id: None,
        callback_url: None,
        callback_sent_at: None,
        callback_status_code: None,
        callback_error: None,
        ttft_ns: None,
        total_duration_ns: None,
        id: JobId::new(),
        user_id: None,
    }
}
