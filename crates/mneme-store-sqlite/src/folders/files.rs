//! The `files` rows of `FolderStore`.

use mneme_store::{CreatedFile, FileEdit, NewFile, Page, StoreError};
use mneme_types::{
    ArchiveId, DuplicateFileHandling, FileId, FileMetadata, FileProcessingStatus, FolderId,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use super::jobs;
use crate::Cached;
use crate::agents::{Where, order_limit, paginate};
use crate::rows::{self, micros};
use crate::{Error, Result};

/// Every column but `content`, which is selected (or `NULL`) last.
const COLUMNS: &str = "id, folder_id, file_name, original_file_name, file_path, file_type, \
                       file_size, file_creation_date, file_last_modified_date, processing_status, \
                       error_message, total_chunks, chunks_embedded, created_at, updated_at";

fn select(content: bool) -> String {
    let content = if content { "content" } else { "NULL" };
    format!("SELECT {COLUMNS}, {content}, job_id FROM files")
}

pub(super) fn create(tx: &Connection, new: NewFile) -> Result<CreatedFile> {
    let NewFile {
        mut file,
        job,
        duplicate,
    } = new;
    let folder = super::load(tx, file.source_id)?;
    let original = file.original_file_name.clone().unwrap_or_default();
    let mut replaced = None;
    let same = same_original(tx, file.source_id, &original)?;
    let mut count = same.len();
    if let Some(existing) = same.first() {
        match duplicate {
            DuplicateFileHandling::Error => {
                return Err(StoreError::Conflict(format!(
                    "File '{original}' already exists in folder '{}'",
                    folder.folder.name
                ))
                .into());
            }
            DuplicateFileHandling::Skip => {
                return Ok(CreatedFile::Skipped(load_in(
                    tx,
                    file.source_id,
                    *existing,
                    false,
                )?));
            }
            DuplicateFileHandling::Replace => {
                for id in &same {
                    delete(tx, folder.archive_id, *id)?;
                }
                replaced = Some(*existing);
                count = 0;
            }
            DuplicateFileHandling::Suffix => {}
        }
    }
    file.file_name = Some(unique_name(&folder.folder.name, &original, count));
    if let Some(job) = &job {
        jobs::insert(tx, job, Some(file.source_id))?;
    }
    insert(tx, &file, job.as_ref().map(|j| j.id.to_string()))?;
    let file = load_in(tx, file.source_id, file.id, false)?;
    Ok(CreatedFile::Created { file, replaced })
}

/// `<folder>/<name>`, or `<folder>/<stem>_(n).<ext>` when `n` files have that name already.
fn unique_name(folder: &str, original: &str, count: usize) -> String {
    if count == 0 {
        return format!("{folder}/{original}");
    }
    match original.rfind('.').filter(|&i| i > 0) {
        Some(dot) => format!(
            "{folder}/{}_({count}){}",
            &original[..dot],
            &original[dot..]
        ),
        None => format!("{folder}/{original}_({count})"),
    }
}

/// Files of the folder uploaded under `original`, oldest first.
fn same_original(conn: &Connection, folder: FolderId, original: &str) -> Result<Vec<FileId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM files WHERE folder_id = ?1 AND original_file_name = ?2
         ORDER BY created_at, id",
    )?;
    let mut rows = stmt.query([folder.to_string(), original.to_owned()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(rows::parse(&r.get::<_, String>(0)?)?);
    }
    Ok(out)
}

pub(super) fn insert(conn: &Connection, f: &FileMetadata, job: Option<String>) -> Result<()> {
    conn.execute_cached(
        "INSERT INTO files (id, folder_id, file_name, original_file_name, file_path, file_type,
            file_size, file_creation_date, file_last_modified_date, processing_status,
            error_message, total_chunks, chunks_embedded, content, job_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        rusqlite::params![
            f.id.to_string(),
            f.source_id.to_string(),
            f.file_name,
            f.original_file_name,
            f.file_path,
            f.file_type,
            f.file_size.map(|n| n as i64),
            f.file_creation_date,
            f.file_last_modified_date,
            f.processing_status.as_str(),
            f.error_message,
            f.total_chunks.map(|n| n as i64),
            f.chunks_embedded.map(|n| n as i64),
            f.content,
            job,
            micros(&f.created_at),
            micros(&f.updated_at),
        ],
    )?;
    Ok(())
}

pub(super) fn load_in(
    conn: &Connection,
    folder: FolderId,
    id: FileId,
    content: bool,
) -> Result<FileMetadata> {
    let sql = format!("{} WHERE id = ?1 AND folder_id = ?2", select(content));
    conn.query_row_cached(&sql, [id.to_string(), folder.to_string()], |r| {
        Ok(record(r))
    })
    .optional()?
    .ok_or_else(|| Error::not_found("File", id))?
    .map(|(file, _)| file)
}

pub(super) fn list(
    conn: &Connection,
    folder: FolderId,
    page: &Page,
    content: bool,
) -> Result<Vec<FileMetadata>> {
    let mut q = Where::default();
    q.push("folder_id = ?", [SqlValue::Text(folder.to_string())]);
    paginate(conn, &mut q, "files", "created_at", page, true)?;
    let sql = format!(
        "{} {} {}",
        select(content),
        q.where_clause(),
        order_limit("created_at", page)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(q.params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(record(r)?.0);
    }
    Ok(out)
}

pub(super) fn update(tx: &Connection, id: FileId, edit: FileEdit) -> Result<FileMetadata> {
    let sql = format!("{} WHERE id = ?1", select(true));
    let (mut file, job) = tx
        .query_row_cached(&sql, [id.to_string()], |r| Ok(record(r)))
        .optional()?
        .ok_or_else(|| Error::not_found("File", id))??;
    edit(&mut file)?;
    file.id = id;
    file.updated_at = mneme_types::time::now();
    save(tx, &file)?;
    if let Some(job) = job {
        jobs::follow_file(
            tx,
            job,
            file.processing_status,
            file.error_message.as_deref(),
        )?;
    }
    Ok(file)
}

fn save(conn: &Connection, f: &FileMetadata) -> Result<()> {
    conn.execute_cached(
        "UPDATE files SET file_name = ?2, file_path = ?3, file_type = ?4, file_size = ?5,
            processing_status = ?6, error_message = ?7, total_chunks = ?8, chunks_embedded = ?9,
            content = ?10, updated_at = ?11 WHERE id = ?1",
        rusqlite::params![
            f.id.to_string(),
            f.file_name,
            f.file_path,
            f.file_type,
            f.file_size.map(|n| n as i64),
            f.processing_status.as_str(),
            f.error_message,
            f.total_chunks.map(|n| n as i64),
            f.chunks_embedded.map(|n| n as i64),
            f.content,
            micros(&f.updated_at),
        ],
    )?;
    Ok(())
}

/// Deletes the file row and the passages of `archive` cut from it.
pub(super) fn delete(tx: &Connection, archive: ArchiveId, id: FileId) -> Result<()> {
    tx.execute_cached(
        "DELETE FROM passages WHERE archive_id = ?1
            AND json_extract(metadata, '$.file_id') = ?2",
        [archive.to_string(), id.to_string()],
    )?;
    tx.execute_cached("DELETE FROM files WHERE id = ?1", [id.to_string()])?;
    Ok(())
}

/// An unfinished file as `restart_unfinished` and `fail_unfinished` find it: id, folder, job,
/// whether it has its text, the folder's archive.
type Unfinished = (String, String, Option<String>, bool, String);

/// The unfinished files, oldest first. With `live_since`, only those whose owner is not a
/// replica that heart-beat since then (a file without owner has none), never `me`'s own.
fn unfinished(tx: &Connection, me: &str, live_since: Option<i64>) -> Result<Vec<Unfinished>> {
    let mut stmt = tx.prepare_cached(
        "SELECT f.id, f.folder_id, f.job_id, f.content IS NOT NULL, d.archive_id
         FROM files f JOIN folders d ON d.id = f.folder_id
         WHERE f.processing_status IN ('pending', 'parsing', 'embedding')
           AND (?2 IS NULL OR f.owner IS NULL OR (f.owner <> ?1 AND f.owner NOT IN
               (SELECT id FROM replicas WHERE heartbeat_at >= ?2)))
         ORDER BY f.created_at, f.id",
    )?;
    let rows = stmt
        .query_map((me, live_since), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<Vec<Unfinished>>>()?;
    Ok(rows)
}

/// Puts the unfinished files (see `unfinished`) back to `pending` without their passages, as
/// `me`'s: the replica that restarts a file is the one whose disk has its bytes.
pub(crate) fn restart_unfinished(
    tx: &Connection,
    me: &str,
    live_since: Option<i64>,
) -> Result<Vec<mneme_store::UnfinishedFile>> {
    let mut out = Vec::new();
    for (id, folder, job, has_text, archive) in unfinished(tx, me, live_since)? {
        tx.execute_cached(
            "DELETE FROM passages WHERE archive_id = ?1
                AND json_extract(metadata, '$.file_id') = ?2",
            [&archive, &id],
        )?;
        let file: FileId = rows::parse(&id)?;
        update(
            tx,
            file,
            Box::new(|f| {
                f.processing_status = FileProcessingStatus::Pending;
                f.total_chunks = None;
                f.chunks_embedded = None;
                Ok(())
            }),
        )?;
        set_owner(tx, file, me)?;
        out.push(mneme_store::UnfinishedFile {
            folder: rows::parse(&folder)?,
            file,
            job: job.as_deref().map(rows::parse).transpose()?,
            has_text,
        });
    }
    Ok(out)
}

/// Fails the unfinished files of dead replicas (see `unfinished`) with `message`, their jobs
/// with them; answers them.
pub(crate) fn fail_unfinished(
    tx: &Connection,
    me: &str,
    live_since: i64,
    message: &str,
) -> Result<Vec<FileId>> {
    let mut out = Vec::new();
    for (id, ..) in unfinished(tx, me, Some(live_since))? {
        let file: FileId = rows::parse(&id)?;
        let message = message.to_owned();
        let edit: FileEdit = Box::new(move |f| {
            f.processing_status = FileProcessingStatus::Error;
            f.error_message = Some(message);
            Ok(())
        });
        update(tx, file, edit)?;
        out.push(file);
    }
    Ok(out)
}

/// Records `owner` as the replica processing the file (SQLite has no per-connection default).
pub(crate) fn set_owner(tx: &Connection, file: FileId, owner: &str) -> Result<()> {
    tx.execute_cached(
        "UPDATE files SET owner = ?1 WHERE id = ?2",
        (owner, file.to_string()),
    )?;
    Ok(())
}

/// A row of `select`: the file and its job's id.
fn record(r: &Row<'_>) -> Result<(FileMetadata, Option<mneme_types::JobId>)> {
    let status: String = r.get(9)?;
    let count = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(|n| n.max(0) as u64))
    };
    let file = FileMetadata {
        id: rows::parse(&r.get::<_, String>(0)?)?,
        source_id: rows::parse(&r.get::<_, String>(1)?)?,
        file_name: r.get(2)?,
        original_file_name: r.get(3)?,
        file_path: r.get(4)?,
        file_type: r.get(5)?,
        file_size: count(6)?,
        file_creation_date: r.get(7)?,
        file_last_modified_date: r.get(8)?,
        processing_status: FileProcessingStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("file status {status}")))?,
        error_message: r.get(10)?,
        total_chunks: count(11)?,
        chunks_embedded: count(12)?,
        organization_id: None,
        created_at: rows::time(r.get(13)?),
        updated_at: rows::time(r.get(14)?),
        content: r.get(15)?,
    };
    let job = r
        .get::<_, Option<String>>(16)?
        .map(|j| rows::parse(&j))
        .transpose()?;
    Ok((file, job))
}
