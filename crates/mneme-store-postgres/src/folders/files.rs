//! The `files` rows of `FolderStore`.

use mneme_store::codec::{micros, parse, time};
use mneme_store::{CreatedFile, FileEdit, NewFile, Page, StoreError, UnfinishedFile};
use mneme_types::{
    ArchiveId, DuplicateFileHandling, FileId, FileMetadata, FileProcessingStatus, FolderId, JobId,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::jobs;
use crate::query::{Arg, Where, fetch, order_limit, paginate};
use crate::rows::count;
use crate::{Error, Result};

/// Every column but `content`, which is selected (or `NULL`) last.
const COLUMNS: &str = "id, folder_id, file_name, original_file_name, file_path, file_type, \
                       file_size, file_creation_date, file_last_modified_date, processing_status, \
                       error_message, total_chunks, chunks_embedded, created_at, updated_at";

fn select(content: bool) -> String {
    let content = if content { "content" } else { "NULL::TEXT" };
    format!("SELECT {COLUMNS}, {content}, job_id FROM files")
}

pub(super) async fn create(conn: &mut PgConnection, new: NewFile) -> Result<CreatedFile> {
    let NewFile {
        mut file,
        job,
        duplicate,
    } = new;
    // The folder row is locked so that concurrent uploads of one name settle one by one.
    let folder = super::load_with(conn, file.source_id, " FOR UPDATE").await?;
    let original = file.original_file_name.clone().unwrap_or_default();
    let mut replaced = None;
    let same = same_original(conn, file.source_id, &original).await?;
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
                let file = load_in(conn, file.source_id, *existing, false).await?;
                return Ok(CreatedFile::Skipped(file));
            }
            DuplicateFileHandling::Replace => {
                for id in &same {
                    delete(conn, folder.archive_id, *id).await?;
                }
                replaced = Some(*existing);
                count = 0;
            }
            DuplicateFileHandling::Suffix => {}
        }
    }
    file.file_name = Some(unique_name(&folder.folder.name, &original, count));
    if let Some(job) = &job {
        jobs::insert(conn, job, Some(file.source_id)).await?;
    }
    insert(conn, &file, job.as_ref().map(|j| j.id.to_string())).await?;
    let file = load_in(conn, file.source_id, file.id, false).await?;
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
async fn same_original(
    conn: &mut PgConnection,
    folder: FolderId,
    original: &str,
) -> Result<Vec<FileId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM files WHERE folder_id = $1 AND original_file_name = $2
         ORDER BY created_at, id",
    )
    .bind(folder.to_string())
    .bind(original)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.iter().map(|id| parse(id)).collect::<Result<_, _>>()?)
}

/// A stored count as its column holds it.
fn stored(n: Option<u64>) -> Option<i64> {
    n.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

pub(super) async fn insert(
    conn: &mut PgConnection,
    f: &FileMetadata,
    job: Option<String>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO files (id, folder_id, file_name, original_file_name, file_path, file_type,
            file_size, file_creation_date, file_last_modified_date, processing_status,
            error_message, total_chunks, chunks_embedded, content, job_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(f.id.to_string())
    .bind(f.source_id.to_string())
    .bind(&f.file_name)
    .bind(&f.original_file_name)
    .bind(&f.file_path)
    .bind(&f.file_type)
    .bind(stored(f.file_size))
    .bind(&f.file_creation_date)
    .bind(&f.file_last_modified_date)
    .bind(f.processing_status.as_str())
    .bind(&f.error_message)
    .bind(stored(f.total_chunks))
    .bind(stored(f.chunks_embedded))
    .bind(&f.content)
    .bind(job)
    .bind(micros(&f.created_at))
    .bind(micros(&f.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn load_in(
    conn: &mut PgConnection,
    folder: FolderId,
    id: FileId,
    content: bool,
) -> Result<FileMetadata> {
    let sql = format!("{} WHERE id = ? AND folder_id = ?", select(content));
    let params = vec![Arg::Text(id.to_string()), Arg::Text(folder.to_string())];
    fetch(conn, &sql, params, record)
        .await?
        .pop()
        .map(|(file, _)| file)
        .ok_or_else(|| Error::not_found("File", id))
}

pub(super) async fn list(
    conn: &mut PgConnection,
    folder: FolderId,
    page: &Page,
    content: bool,
) -> Result<Vec<FileMetadata>> {
    let mut q = Where::default();
    q.push("folder_id = ?", [Arg::Text(folder.to_string())]);
    paginate(conn, &mut q, "files", "created_at", page, true).await?;
    let sql = format!(
        "{} {} {}",
        select(content),
        q.where_clause(),
        order_limit("created_at", page)
    );
    let rows = fetch(conn, &sql, q.params, record).await?;
    Ok(rows.into_iter().map(|(file, _)| file).collect())
}

pub(super) async fn update(
    conn: &mut PgConnection,
    id: FileId,
    edit: FileEdit,
) -> Result<FileMetadata> {
    // Locked, so that a concurrent edit (the processing pipeline) is not lost.
    let sql = format!("{} WHERE id = ? FOR UPDATE", select(true));
    let (mut file, job) = fetch(conn, &sql, vec![Arg::Text(id.to_string())], record)
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("File", id))?;
    edit(&mut file)?;
    file.id = id;
    file.updated_at = mneme_types::time::now();
    save(conn, &file).await?;
    if let Some(job) = job {
        let error = file.error_message.as_deref();
        jobs::follow_file(conn, job, file.processing_status, error).await?;
    }
    Ok(file)
}

async fn save(conn: &mut PgConnection, f: &FileMetadata) -> Result<()> {
    sqlx::query(
        "UPDATE files SET file_name = $2, file_path = $3, file_type = $4, file_size = $5,
            processing_status = $6, error_message = $7, total_chunks = $8, chunks_embedded = $9,
            content = $10, updated_at = $11 WHERE id = $1",
    )
    .bind(f.id.to_string())
    .bind(&f.file_name)
    .bind(&f.file_path)
    .bind(&f.file_type)
    .bind(stored(f.file_size))
    .bind(f.processing_status.as_str())
    .bind(&f.error_message)
    .bind(stored(f.total_chunks))
    .bind(stored(f.chunks_embedded))
    .bind(&f.content)
    .bind(micros(&f.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes the passages of `archive` cut from file `id`.
async fn delete_passages(conn: &mut PgConnection, archive: &str, id: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM passages WHERE archive_id = $1
            AND (metadata::jsonb) #>> '{file_id}' = $2",
    )
    .bind(archive)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes the file row and the passages of `archive` cut from it.
pub(super) async fn delete(conn: &mut PgConnection, archive: ArchiveId, id: FileId) -> Result<()> {
    delete_passages(conn, &archive.to_string(), &id.to_string()).await?;
    sqlx::query("DELETE FROM files WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Puts every unfinished file back to `pending` without its passages (`restart_unfinished_files`).
/// An unfinished file as `restart_unfinished` and `fail_unfinished` find it: id, folder, job,
/// whether it has its text, the folder's archive.
type Unfinished = (String, String, Option<String>, bool, String);

/// The unfinished files, oldest first, locked (so that a pipeline finishing one meanwhile waits
/// or is waited for). With `live_since`, only those whose owner is not a replica that
/// heart-beat since then (a file without owner has none), never `me`'s own.
async fn unfinished(
    conn: &mut PgConnection,
    me: &str,
    live_since: Option<i64>,
) -> Result<Vec<Unfinished>> {
    Ok(sqlx::query_as(
        "SELECT f.id, f.folder_id, f.job_id, f.content IS NOT NULL, d.archive_id
         FROM files f JOIN folders d ON d.id = f.folder_id
         WHERE f.processing_status IN ('pending', 'parsing', 'embedding')
           AND ($2::BIGINT IS NULL OR f.owner IS NULL OR (f.owner <> $1 AND f.owner NOT IN
               (SELECT id FROM replicas WHERE heartbeat_at >= $2)))
         ORDER BY f.created_at, f.id FOR UPDATE OF f",
    )
    .bind(me)
    .bind(live_since)
    .fetch_all(&mut *conn)
    .await?)
}

/// Puts the unfinished files (see `unfinished`) back to `pending` without their passages, as
/// `me`'s: the replica that restarts a file is the one whose disk has its bytes.
pub(crate) async fn restart_unfinished(
    conn: &mut PgConnection,
    me: &str,
    live_since: Option<i64>,
) -> Result<Vec<UnfinishedFile>> {
    let rows = unfinished(conn, me, live_since).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, folder, job, has_text, archive) in rows {
        delete_passages(conn, &archive, &id).await?;
        let file: FileId = parse(&id)?;
        update(conn, file, Box::new(restart)).await?;
        sqlx::query("UPDATE files SET owner = $1 WHERE id = $2")
            .bind(me)
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        out.push(UnfinishedFile {
            folder: parse(&folder)?,
            file,
            job: job.as_deref().map(parse).transpose()?,
            has_text,
        });
    }
    Ok(out)
}

/// Fails the unfinished files of dead replicas (see `unfinished`) with `message`, their jobs
/// with them; answers them.
pub(crate) async fn fail_unfinished(
    conn: &mut PgConnection,
    me: &str,
    live_since: i64,
    message: &str,
) -> Result<Vec<FileId>> {
    let rows = unfinished(conn, me, Some(live_since)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, ..) in rows {
        let file: FileId = parse(&id)?;
        let message = message.to_owned();
        let edit: FileEdit = Box::new(move |f| {
            f.processing_status = FileProcessingStatus::Error;
            f.error_message = Some(message);
            Ok(())
        });
        update(conn, file, edit).await?;
        out.push(file);
    }
    Ok(out)
}

fn restart(f: &mut FileMetadata) -> Result<(), StoreError> {
    f.processing_status = FileProcessingStatus::Pending;
    f.total_chunks = None;
    f.chunks_embedded = None;
    Ok(())
}

/// A row of `select`: the file and its job's id.
fn record(r: &PgRow) -> Result<(FileMetadata, Option<JobId>)> {
    let status: String = r.try_get(9)?;
    let stored_count =
        |i: usize| -> Result<Option<u64>> { Ok(r.try_get::<Option<i64>, _>(i)?.map(count)) };
    let file = FileMetadata {
        id: parse(&r.try_get::<String, _>(0)?)?,
        source_id: parse(&r.try_get::<String, _>(1)?)?,
        file_name: r.try_get(2)?,
        original_file_name: r.try_get(3)?,
        file_path: r.try_get(4)?,
        file_type: r.try_get(5)?,
        file_size: stored_count(6)?,
        file_creation_date: r.try_get(7)?,
        file_last_modified_date: r.try_get(8)?,
        processing_status: FileProcessingStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("file status {status}")))?,
        error_message: r.try_get(10)?,
        total_chunks: stored_count(11)?,
        chunks_embedded: stored_count(12)?,
        organization_id: None,
        created_at: time(r.try_get(13)?),
        updated_at: time(r.try_get(14)?),
        content: r.try_get(15)?,
    };
    let job = r
        .try_get::<Option<String>, _>(16)?
        .map(|j| parse(&j))
        .transpose()?;
    Ok((file, job))
}
