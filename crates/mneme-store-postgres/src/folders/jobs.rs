//! The `jobs` rows of `FolderStore`: each a wire `Job` as a JSON document.

use mneme_store::codec::{json, micros, to_json};
use mneme_store::{JobEdit, JobFilter, Page, StoreError};
use mneme_types::{FileProcessingStatus, FolderId, Job, JobId, JobStatus};
use sqlx::{PgConnection, Row};

use crate::query::{Arg, Where, fetch, order_limit, paginate};
use crate::{Error, Result};

pub(super) async fn insert(
    conn: &mut PgConnection,
    job: &Job,
    folder: Option<FolderId>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (id, folder_id, status, document, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(job.id.to_string())
    .bind(folder.map(|f| f.to_string()))
    .bind(job.status.as_str())
    .bind(to_json(job)?)
    .bind(micros(&job.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn load(conn: &mut PgConnection, id: JobId) -> Result<Job> {
    crate::rows::document_in(conn, ("jobs", "document"), "Job", id, false).await
}

pub(super) async fn list(
    conn: &mut PgConnection,
    filter: &JobFilter,
    page: &Page,
) -> Result<Vec<Job>> {
    let mut q = Where::default();
    if let Some(folder) = filter.folder {
        q.push("folder_id = ?", [Arg::Text(folder.to_string())]);
    }
    if filter.active {
        q.push("status IN ('created', 'pending', 'running')", []);
    }
    paginate(conn, &mut q, "jobs", "created_at", page, true).await?;
    let sql = format!(
        "SELECT document FROM jobs {} {}",
        q.where_clause(),
        order_limit("created_at", page)
    );
    fetch(conn, &sql, q.params, |r| {
        Ok(json(&r.try_get::<String, _>(0)?)?)
    })
    .await
}

pub(super) async fn update(conn: &mut PgConnection, id: JobId, edit: JobEdit) -> Result<Job> {
    // Locked, so that a concurrent edit of the document is not lost.
    let mut job = crate::rows::document_in(conn, ("jobs", "document"), "Job", id, true).await?;
    edit(&mut job)?;
    job.id = id;
    job.updated_at = Some(mneme_types::time::now());
    save(conn, &job).await?;
    Ok(job)
}

async fn save(conn: &mut PgConnection, job: &Job) -> Result<()> {
    sqlx::query("UPDATE jobs SET status = $2, document = $3 WHERE id = $1")
        .bind(job.id.to_string())
        .bind(job.status.as_str())
        .bind(to_json(job)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Moves the job of a file along with the file's status. A job deleted meanwhile (it is
/// history the user may drop) is not an error; a cancelled one stays cancelled.
pub(super) async fn follow_file(
    conn: &mut PgConnection,
    id: JobId,
    status: FileProcessingStatus,
    error: Option<&str>,
) -> Result<()> {
    let mut job: Job =
        match crate::rows::document_in(conn, ("jobs", "document"), "Job", id, true).await {
            Ok(job) => job,
            Err(Error::Store(StoreError::NotFound { .. })) => return Ok(()),
            Err(e) => return Err(e),
        };
    if job.status == JobStatus::Cancelled {
        return Ok(());
    }
    let now = mneme_types::time::now();
    job.status = match status {
        FileProcessingStatus::Pending => JobStatus::Pending,
        FileProcessingStatus::Parsing | FileProcessingStatus::Embedding => JobStatus::Running,
        FileProcessingStatus::Completed => JobStatus::Completed,
        FileProcessingStatus::Error => JobStatus::Failed,
    };
    if status.is_terminal() {
        job.completed_at = Some(now);
    }
    if let (Some(error), Some(metadata)) = (error, job.metadata.as_mut()) {
        metadata.insert("error".into(), error.into());
    }
    job.updated_at = Some(now);
    save(conn, &job).await
}
