//! The `jobs` rows of `FolderStore`: each a wire `Job` as a JSON document.

use mneme_store::{JobEdit, JobFilter, Page};
use mneme_types::{FileProcessingStatus, FolderId, Job, JobId, JobStatus};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use crate::Cached;
use crate::agents::{Where, order_limit, paginate};
use crate::rows::{self, micros, to_json};
use crate::{Error, Result};

pub(super) fn insert(conn: &Connection, job: &Job, folder: Option<FolderId>) -> Result<()> {
    conn.execute_cached(
        "INSERT INTO jobs (id, folder_id, status, document, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            job.id.to_string(),
            folder.map(|f| f.to_string()),
            job.status.as_str(),
            to_json(job)?,
            micros(&job.created_at),
        ],
    )?;
    Ok(())
}

pub(super) fn load(conn: &Connection, id: JobId) -> Result<Job> {
    rows::document_in(conn, "jobs", "document", "Job", id)
}

pub(super) fn list(conn: &Connection, filter: &JobFilter, page: &Page) -> Result<Vec<Job>> {
    let mut q = Where::default();
    if let Some(folder) = filter.folder {
        q.push("folder_id = ?", [SqlValue::Text(folder.to_string())]);
    }
    if filter.active {
        q.push("status IN ('created', 'pending', 'running')", []);
    }
    paginate(conn, &mut q, "jobs", "created_at", page, true)?;
    let sql = format!(
        "SELECT document FROM jobs {} {}",
        q.where_clause(),
        order_limit("created_at", page)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(q.params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(rows::json(&r.get::<_, String>(0)?)?);
    }
    Ok(out)
}

pub(super) fn update(tx: &Connection, id: JobId, edit: JobEdit) -> Result<Job> {
    let mut job = load(tx, id)?;
    edit(&mut job)?;
    job.id = id;
    job.updated_at = Some(mneme_types::time::now());
    save(tx, &job)?;
    Ok(job)
}

fn save(conn: &Connection, job: &Job) -> Result<()> {
    conn.execute_cached(
        "UPDATE jobs SET status = ?2, document = ?3 WHERE id = ?1",
        rusqlite::params![job.id.to_string(), job.status.as_str(), to_json(job)?],
    )?;
    Ok(())
}

/// Moves the job of a file along with the file's status. A job deleted meanwhile (it is
/// history the user may drop) is not an error; a cancelled one stays cancelled.
pub(super) fn follow_file(
    tx: &Connection,
    id: JobId,
    status: FileProcessingStatus,
    error: Option<&str>,
) -> Result<()> {
    let mut job = match load(tx, id) {
        Ok(job) => job,
        Err(Error::Store(mneme_store::StoreError::NotFound { .. })) => return Ok(()),
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
    save(tx, &job)
}
