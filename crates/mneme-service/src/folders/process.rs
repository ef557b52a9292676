//! Processing uploaded files in the background: text extracted (off the async runtime),
//! stored as the file's content, cut into chunks, embedded in batches with the folder's model
//! and stored as passages of the folder's archive, each naming its file. The file's status
//! (and its job) moves `pending` → `parsing` → `embedding` → `completed`, or to `error` with
//! the reason. A file imported with its text (from an Agent File) skips the parsing: it is
//! only chunked and embedded. Files wait in a bounded queue and are processed a few at a
//! time, so a large upload never holds up requests; a file that finds the queue full fails at
//! once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use mneme_documents::{ChunkOptions, DocumentKind};
use mneme_store::{FileEdit, Passage};
use mneme_types::{
    FileId, FileMetadata, FileProcessingStatus, FolderId, JobId, JobStatus, PassageId, time,
};
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use crate::{Service, ServiceError};

/// Files waiting or in processing before new ones are refused.
const CAPACITY: usize = 256;
/// Files processed at once.
const CONCURRENT: usize = 2;
/// Chunks embedded (and stored) per batch: progress shows per batch.
const BATCH: usize = 32;

/// What start-up writes on files a stopped server left unfinished (the dead-replica check of
/// the scheduler writes the same).
pub(crate) const INTERRUPTED: &str = mneme_scheduler::FILE_INTERRUPTED;

pub(crate) struct FileQueue {
    permits: Semaphore,
    queued: AtomicUsize,
}

impl Default for FileQueue {
    fn default() -> FileQueue {
        FileQueue {
            permits: Semaphore::new(CONCURRENT),
            queued: AtomicUsize::new(0),
        }
    }
}

impl Service {
    /// Queues the file's processing; a full queue fails the file at once. With `path`, the
    /// bytes received there are parsed first; without, the file has its text already (an
    /// imported one) and is only chunked and embedded.
    pub(crate) fn process_later(&self, work: Work, path: Option<PathBuf>) {
        let service = self.clone();
        let queue = self.files.clone();
        // Counted before the task starts, so `files_processed` never misses a queued file.
        let admitted = queue.queued.fetch_add(1, Ordering::SeqCst) < CAPACITY;
        tokio::spawn(async move {
            if !admitted {
                let busy = "the server is busy processing other files".to_owned();
                service.fail_file(work.file, busy).await;
            } else if let Ok(_permit) = queue.permits.acquire().await {
                service.process(work, path.as_deref()).await;
            }
            queue.queued.fetch_sub(1, Ordering::SeqCst);
            service.forget_upload(path.as_deref()).await;
        });
    }

    /// Returns once no file is queued or in processing (`mneme import` waits for the files it
    /// brought before the process ends; a later start would fail them as interrupted).
    pub async fn files_processed(&self) {
        while self.files.queued.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    async fn forget_upload(&self, path: Option<&Path>) {
        if let Some(path) = path {
            self.forget_bytes(path).await;
        }
    }

    async fn process(&self, work: Work, path: Option<&Path>) {
        let file = work.file;
        let done = match path {
            Some(path) => self.process_steps(work, path).await,
            None => self.embed_stored_text(work).await,
        };
        if let Err(e) = done {
            match e {
                Step::Gone => tracing::debug!(%file, "file deleted while it was processed"),
                Step::Failed(message) => self.fail_file(file, message).await,
                Step::Cancelled => self.fail_file(file, CANCELLED.into()).await,
            }
        }
    }

    async fn process_steps(&self, work: Work, path: &Path) -> Result<(), Step> {
        let (folder, id) = (work.folder, work.file);
        self.check_cancelled(work.job).await?;
        let record = self.store.get_folder(folder).await.map_err(gone)?;
        let file = self
            .set_file(
                id,
                Box::new(|f| {
                    f.processing_status = FileProcessingStatus::Parsing;
                    Ok(())
                }),
            )
            .await?;
        let (kind, text) = read_text(&file, path).await?;
        self.check_cancelled(work.job).await?;
        let texts = self.start_embedding(&record, id, kind, text, true).await?;
        // Agents read the file while it is embedded, as in Letta.
        let file = self.store.get_file(folder, id, true).await.map_err(gone)?;
        if let Err(e) = self.open_in_agents(&file).await {
            tracing::warn!(%id, error = %e, "a processed file was not opened in its agents");
        }
        self.embed_chunks(&record, &file, texts, work.job).await?;
        self.finish_file(id).await
    }

    /// A file that came with its text (from an Agent File): chunked and embedded; the agents
    /// that hold it keep their views of it.
    async fn embed_stored_text(&self, work: Work) -> Result<(), Step> {
        let (folder, id) = (work.folder, work.file);
        let record = self.store.get_folder(folder).await.map_err(gone)?;
        let file = self.store.get_file(folder, id, true).await.map_err(gone)?;
        let text = super::agent_files::text_of(&file);
        let texts = self
            .start_embedding(&record, id, text.kind, text.text, false)
            .await?;
        self.embed_chunks(&record, &file, texts, work.job).await?;
        self.finish_file(id).await
    }

    /// Cuts the text into chunks and marks the file `embedding` with their count (storing
    /// the text as its content when `store_text`); the chunks' texts.
    async fn start_embedding(
        &self,
        record: &mneme_store::FolderRecord,
        id: FileId,
        kind: DocumentKind,
        text: String,
        store_text: bool,
    ) -> Result<Vec<String>, Step> {
        let size = record.folder.embedding_config.embedding_chunk_size;
        let chunks = mneme_documents::chunk(kind, &text, &chunk_options(size));
        let total = chunks.len() as u64;
        self.set_file(
            id,
            Box::new(move |f| {
                if store_text {
                    f.content = Some(text);
                }
                f.processing_status = FileProcessingStatus::Embedding;
                f.total_chunks = Some(total);
                f.chunks_embedded = Some(0);
                Ok(())
            }),
        )
        .await?;
        Ok(chunks.into_iter().map(|c| c.text).collect())
    }

    async fn finish_file(&self, id: FileId) -> Result<(), Step> {
        self.set_file(
            id,
            Box::new(|f| {
                f.processing_status = FileProcessingStatus::Completed;
                Ok(())
            }),
        )
        .await?;
        Ok(())
    }

    /// Embeds the chunks in batches and stores each batch as passages of the folder's
    /// archive, counting `chunks_embedded` up as they land.
    async fn embed_chunks(
        &self,
        record: &mneme_store::FolderRecord,
        file: &FileMetadata,
        texts: Vec<String>,
        job: Option<JobId>,
    ) -> Result<(), Step> {
        let mut stored = Vec::new();
        let result = self
            .embed_batches(record, file, texts, job, &mut stored)
            .await;
        if matches!(result, Err(Step::Cancelled)) {
            // A cancelled file leaves no half of itself to be found by search.
            for id in stored {
                if let Err(e) = self.store.delete_passage(&[record.archive_id], id).await {
                    tracing::warn!(%id, error = %e, "a cancelled file's passage was not removed");
                }
            }
            self.searcher.changed();
        }
        result
    }

    async fn embed_batches(
        &self,
        record: &mneme_store::FolderRecord,
        file: &FileMetadata,
        texts: Vec<String>,
        job: Option<JobId>,
        stored: &mut Vec<PassageId>,
    ) -> Result<(), Step> {
        let origin = origin(file);
        let config = &record.folder.embedding_config;
        let mut done = 0u64;
        for batch in texts.chunks(BATCH) {
            self.check_cancelled(job).await?;
            let vectors = self
                .searcher
                .embed_for_storage(Some(config), batch)
                .await
                .map_err(|e| Step::Failed(format!("embedding failed: {e}")))?;
            let mut vectors = vectors.map(Vec::into_iter);
            let now = time::now();
            let passages = batch
                .iter()
                .map(|text| Passage {
                    id: PassageId::new(),
                    archive_id: record.archive_id,
                    text: text.clone(),
                    tags: Vec::new(),
                    metadata: Some(origin.clone()),
                    embedding: vectors.as_mut().and_then(Iterator::next),
                    embedding_config: Some(config.clone()),
                    created_at: now,
                    updated_at: now,
                })
                .collect::<Vec<Passage>>();
            self.check_passage_quota(passages.len())
                .await
                .map_err(|e| Step::Failed(e.to_string()))?;
            stored.extend(passages.iter().map(|p| p.id));
            self.store.insert_passages(passages).await.map_err(gone)?;
            self.searcher.changed();
            done += batch.len() as u64;
            self.set_file(
                file.id,
                Box::new(move |f| {
                    f.chunks_embedded = Some(done);
                    Ok(())
                }),
            )
            .await?;
        }
        Ok(())
    }

    /// Stops processing once the file's job was cancelled (`PATCH /v1/jobs/{id}/cancel`), read
    /// from the store so that a cancel reaches the process doing the work.
    async fn check_cancelled(&self, job: Option<JobId>) -> Result<(), Step> {
        let Some(job) = job else {
            return Ok(());
        };
        match self.store.get_job(job).await {
            Ok(j) if j.status == JobStatus::Cancelled => Err(Step::Cancelled),
            // A deleted job only stops reporting; the file goes on.
            Ok(_) | Err(mneme_store::StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(Step::Failed(ServiceError::from(e).to_string())),
        }
    }

    async fn set_file(&self, id: FileId, edit: FileEdit) -> Result<FileMetadata, Step> {
        self.store.update_file(id, edit).await.map_err(gone)
    }

    async fn fail_file(&self, id: FileId, message: String) {
        tracing::info!(%id, %message, "a file could not be processed");
        let edit: FileEdit = Box::new(move |f| {
            f.processing_status = FileProcessingStatus::Error;
            f.error_message = Some(message);
            Ok(())
        });
        if let Err(e) = self.store.update_file(id, edit).await {
            tracing::warn!(%id, error = %e, "a file's failure was not recorded");
        }
    }

    /// Start-up: files a stopped server left unfinished start again (their partial passages
    /// gone): from their stored text, else from the bytes still on disk; a file with neither
    /// fails. Anything else in the files directory (an upload cut off midway) is removed.
    /// Shared, only the files of replicas that are not alive: the others' are in progress
    /// there, with their bytes on their disks.
    pub(crate) async fn resume_interrupted_files(&self) -> crate::Result<()> {
        let unfinished = match self.config.coordination.shared() {
            Some(shared) => self.store.restart_orphaned_files(shared.dead_after).await?,
            None => self.store.restart_unfinished_files().await?,
        };
        let mut kept = std::collections::HashSet::new();
        let (mut resumed, mut failed) = (0, 0);
        for f in unfinished {
            let work = Work {
                folder: f.folder,
                file: f.file,
                job: f.job,
            };
            let path = self.bytes_path(f.file);
            if f.has_text {
                self.process_later(work, None);
            } else if self.config.files_dir.is_some()
                && tokio::fs::try_exists(&path).await.unwrap_or(false)
            {
                kept.insert(path.clone());
                self.process_later(work, Some(path));
            } else {
                self.fail_file(f.file, INTERRUPTED.into()).await;
                failed += 1;
                continue;
            }
            resumed += 1;
        }
        if resumed + failed > 0 {
            tracing::warn!(resumed, failed, "files left unfinished by the last run");
        }
        self.remove_stray_uploads(&kept).await;
        Ok(())
    }

    async fn remove_stray_uploads(&self, kept: &std::collections::HashSet<PathBuf>) {
        let Some(dir) = &self.config.files_dir else {
            return;
        };
        let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
            return;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            if !kept.contains(&entry.path()) {
                self.forget_bytes(&entry.path()).await;
            }
        }
    }
}

/// Why processing stopped early.
enum Step {
    /// The file or its folder was deleted meanwhile: nothing to report.
    Gone,
    Failed(String),
    /// Its job was cancelled: the file ends in error, its passages removed.
    Cancelled,
}

/// What the file's error says after its job was cancelled.
const CANCELLED: &str = "processing was cancelled";

/// One file to process, with the job that reports it.
/// A file to process: its folder, and the job that reports it (an imported file has none).
pub(crate) struct Work {
    pub(crate) folder: FolderId,
    pub(crate) file: FileId,
    pub(crate) job: Option<JobId>,
}

fn gone(e: mneme_store::StoreError) -> Step {
    match e {
        mneme_store::StoreError::NotFound { .. } => Step::Gone,
        e => Step::Failed(ServiceError::from(e).to_string()),
    }
}

/// The file's text, read and extracted on the blocking pool.
async fn read_text(file: &FileMetadata, path: &Path) -> Result<(DocumentKind, String), Step> {
    let name = file.original_file_name.clone().unwrap_or_default();
    let kind = DocumentKind::detect(&name, file.file_type.as_deref())
        .ok_or_else(|| Step::Failed(format!("unsupported file type: {name}")))?;
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| Step::Failed(format!("the uploaded file could not be read: {e}")))?;
    let extracted = tokio::task::spawn_blocking(move || mneme_documents::extract(kind, &bytes))
        .await
        .map_err(|e| Step::Failed(format!("text extraction stopped: {e}")))?
        .map_err(|e| Step::Failed(e.to_string()))?;
    Ok((kind, extracted.text))
}

/// Chunks about as long as the folder's `embedding_chunk_size` tokens (four characters a
/// token), overlapping by a sixth.
fn chunk_options(tokens: Option<u32>) -> ChunkOptions {
    match tokens {
        Some(t) if t > 0 => {
            let size = t as usize * 4;
            ChunkOptions {
                size,
                overlap: size / 6,
            }
        }
        _ => ChunkOptions::default(),
    }
}

/// The metadata every passage of the file carries, so it can be found and deleted by file.
fn origin(file: &FileMetadata) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("file_id".into(), Value::from(file.id.to_string()));
    m.insert("source_id".into(), Value::from(file.source_id.to_string()));
    if let Some(name) = &file.file_name {
        m.insert("file_name".into(), Value::from(name.clone()));
    }
    m
}
