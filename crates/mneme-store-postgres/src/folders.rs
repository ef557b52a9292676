//! `FolderStore` on PostgreSQL: `folders` with their own archive, `files` with their extracted
//! content, `agent_folders`, and `jobs` as JSON documents.

use async_trait::async_trait;
use mneme_store::codec::{json, json_opt, micros, parse, time, to_json, to_json_opt};
use mneme_store::{
    AgentFile, AgentFiles, Archive, CreatedFile, FileEdit, FolderEdit, FolderFilter, FolderRecord,
    FolderStore, ImportedFolder, JobEdit, JobFilter, NewFile, Page, UnfinishedFile,
};
use mneme_types::{
    AgentId, ArchiveId, FileId, FileMetadata, FileStats, Folder, FolderId, Job, JobId, SourceStats,
    VectorDbProvider,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::query::{Arg, Where, ensure_agent, fetch, order_limit, paginate};
use crate::rows::count;
use crate::{Error, PgStore, Result, StoreResult};

pub(crate) mod agent_files;
mod files;
pub(crate) use files::{fail_unfinished, restart_unfinished};
mod jobs;

const COLUMNS: &str = "id, name, description, instructions, metadata, embedding_config, \
                       archive_id, created_at, updated_at";

#[async_trait]
impl FolderStore for PgStore {
    async fn create_folder(&self, folder: Folder, archive: Archive) -> StoreResult<FolderRecord> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        crate::passages::insert_archive(&mut tx, &archive, None).await?;
        insert(&mut tx, &folder, archive.id).await?;
        let record = load(&mut tx, folder.id).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(record)
    }

    async fn get_folder(&self, id: FolderId) -> StoreResult<FolderRecord> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load(&mut conn, id).await?)
    }

    async fn folder_by_name(&self, name: &str) -> StoreResult<FolderRecord> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let sql = format!("SELECT {COLUMNS} FROM folders WHERE name = ?");
        let found = fetch(&mut conn, &sql, vec![Arg::from(name)], record).await?;
        Ok(found
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("Folder", name))?)
    }

    async fn list_folders(
        &self,
        filter: &FolderFilter,
        page: &Page,
    ) -> StoreResult<Vec<FolderRecord>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let mut q = Where::default();
        if let Some(name) = &filter.name {
            q.push("name = ?", [Arg::from(name)]);
        }
        paginate(&mut conn, &mut q, "folders", "created_at", page, true).await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM folders {} {}",
            q.where_clause(),
            order_limit("created_at", page)
        );
        Ok(fetch(&mut conn, &sql, q.params, record).await?)
    }

    async fn count_folders(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM folders")
            .fetch_one(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(count(n))
    }

    async fn update_folder(&self, id: FolderId, edit: FolderEdit) -> StoreResult<FolderRecord> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        // Locked, so that a concurrent edit does not overwrite this one's fields.
        let mut record = load_with(&mut tx, id, " FOR UPDATE").await?;
        edit(&mut record.folder)?;
        record.folder.id = id;
        record.folder.updated_at = mneme_types::time::now();
        save(&mut tx, &record.folder).await?;
        let record = load(&mut tx, id).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(record)
    }

    async fn delete_folder(&self, id: FolderId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let record = load(&mut tx, id).await?;
        // Files, attachments and jobs go with the folder (ON DELETE CASCADE); the passages
        // with its archive.
        for (table, key) in [
            ("folders", id.to_string()),
            ("archives", record.archive_id.to_string()),
        ] {
            let sql = format!("DELETE FROM {table} WHERE id = $1");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(Error::from)?;
        }
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn folder_stats(&self) -> StoreResult<Vec<SourceStats>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(stats(&mut conn).await?)
    }

    async fn create_file(&self, new: NewFile) -> StoreResult<CreatedFile> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let created = files::create(&mut tx, new).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(created)
    }

    async fn get_file(
        &self,
        folder: FolderId,
        id: FileId,
        content: bool,
    ) -> StoreResult<FileMetadata> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(files::load_in(&mut conn, folder, id, content).await?)
    }

    async fn list_files(
        &self,
        folder: FolderId,
        page: &Page,
        content: bool,
    ) -> StoreResult<Vec<FileMetadata>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        load(&mut tx, folder).await?;
        let out = files::list(&mut tx, folder, page, content).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    async fn update_file(&self, id: FileId, edit: FileEdit) -> StoreResult<FileMetadata> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let file = files::update(&mut tx, id, edit).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(file)
    }

    async fn delete_file(&self, folder: FolderId, id: FileId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let archive = load(&mut tx, folder).await?.archive_id;
        files::load_in(&mut tx, folder, id, false).await?;
        files::delete(&mut tx, archive, id).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn restart_unfinished_files(&self) -> StoreResult<Vec<UnfinishedFile>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let out = files::restart_unfinished(&mut tx, &self.replica, None).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    async fn attach_folder(&self, agent: AgentId, folder: FolderId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        ensure_agent(&mut tx, agent).await?;
        attach(&mut tx, agent, folder).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn set_agent_folders(&self, agent: AgentId, folders: Vec<FolderId>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        // The agent row is locked so that two concurrent replacements do not interleave.
        crate::query::lock_agent(&mut tx, agent).await?;
        sqlx::query("DELETE FROM agent_folders WHERE agent_id = $1")
            .bind(agent.to_string())
            .execute(&mut *tx)
            .await
            .map_err(Error::from)?;
        for folder in folders {
            attach(&mut tx, agent, folder).await?;
        }
        agent_files::drop_detached(&mut tx, agent).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn detach_folder(&self, agent: AgentId, folder: FolderId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        ensure_agent(&mut tx, agent).await?;
        load(&mut tx, folder).await?;
        sqlx::query("DELETE FROM agent_folders WHERE agent_id = $1 AND folder_id = $2")
            .bind(agent.to_string())
            .bind(folder.to_string())
            .execute(&mut *tx)
            .await
            .map_err(Error::from)?;
        agent_files::drop_detached(&mut tx, agent).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn agent_files(&self, agent: AgentId) -> StoreResult<AgentFiles> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        ensure_agent(&mut tx, agent).await?;
        let out = agent_files::of_agent(&mut tx, agent).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    async fn save_agent_files(&self, agent: AgentId, files: Vec<AgentFile>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        ensure_agent(&mut tx, agent).await?;
        agent_files::save(&mut tx, agent, &files).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn agent_folders(&self, agent: AgentId) -> StoreResult<Vec<FolderRecord>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        ensure_agent(&mut tx, agent).await?;
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("f.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM folders f JOIN agent_folders af ON af.folder_id = f.id
             WHERE af.agent_id = ? ORDER BY af.seq"
        );
        let out = fetch(&mut tx, &sql, vec![Arg::Text(agent.to_string())], record).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    async fn agents_of_folder(&self, folder: FolderId) -> StoreResult<Vec<AgentId>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        load(&mut tx, folder).await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT agent_id FROM agent_folders WHERE folder_id = $1 ORDER BY seq",
        )
        .bind(folder.to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok(ids.iter().map(|id| parse(id)).collect::<Result<_, _>>()?)
    }

    async fn get_job(&self, id: JobId) -> StoreResult<Job> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(jobs::load(&mut conn, id).await?)
    }

    async fn list_jobs(&self, filter: &JobFilter, page: &Page) -> StoreResult<Vec<Job>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(jobs::list(&mut conn, filter, page).await?)
    }

    async fn update_job(&self, id: JobId, edit: JobEdit) -> StoreResult<Job> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let job = jobs::update(&mut tx, id, edit).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(job)
    }

    async fn delete_job(&self, id: JobId) -> StoreResult<()> {
        Ok(crate::query::delete_by_id(&self.pool, "jobs", "Job", id).await?)
    }
}

/// Attaches the folder (which must exist) at the end of the agent's; attached already, it
/// stays where it is.
pub(crate) async fn attach(
    conn: &mut PgConnection,
    agent: AgentId,
    folder: FolderId,
) -> Result<()> {
    load(conn, folder).await?;
    sqlx::query(
        "INSERT INTO agent_folders (agent_id, folder_id) VALUES ($1, $2)
         ON CONFLICT (agent_id, folder_id) DO NOTHING",
    )
    .bind(agent.to_string())
    .bind(folder.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An imported folder: its archive, itself and its files (with their text, without jobs).
pub(crate) async fn insert_imported(conn: &mut PgConnection, f: &ImportedFolder) -> Result<()> {
    crate::passages::insert_archive(conn, &f.archive, None).await?;
    insert(conn, &f.folder, f.archive.id).await?;
    for file in &f.files {
        files::insert(conn, file, None).await?;
    }
    Ok(())
}

async fn insert(conn: &mut PgConnection, f: &Folder, archive: ArchiveId) -> Result<()> {
    sqlx::query(
        "INSERT INTO folders (id, name, description, instructions, metadata, embedding_config,
            archive_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(f.id.to_string())
    .bind(&f.name)
    .bind(&f.description)
    .bind(&f.instructions)
    .bind(to_json_opt(&f.metadata)?)
    .bind(to_json(&f.embedding_config)?)
    .bind(archive.to_string())
    .bind(micros(&f.created_at))
    .bind(micros(&f.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn save(conn: &mut PgConnection, f: &Folder) -> Result<()> {
    sqlx::query(
        "UPDATE folders SET name = $2, description = $3, instructions = $4, metadata = $5,
            embedding_config = $6, updated_at = $7 WHERE id = $1",
    )
    .bind(f.id.to_string())
    .bind(&f.name)
    .bind(&f.description)
    .bind(&f.instructions)
    .bind(to_json_opt(&f.metadata)?)
    .bind(to_json(&f.embedding_config)?)
    .bind(micros(&f.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn load(conn: &mut PgConnection, id: FolderId) -> Result<FolderRecord> {
    load_with(conn, id, "").await
}

/// The folder, with `lock` (empty or ` FOR UPDATE`) appended to its SELECT.
async fn load_with(conn: &mut PgConnection, id: FolderId, lock: &str) -> Result<FolderRecord> {
    let sql = format!("SELECT {COLUMNS} FROM folders WHERE id = ?{lock}");
    fetch(conn, &sql, vec![Arg::Text(id.to_string())], record)
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("Folder", id))
}

/// A folder row; the organization and vector store are the service's to fill in.
fn record(r: &PgRow) -> Result<FolderRecord> {
    Ok(FolderRecord {
        folder: Folder {
            id: parse(&r.try_get::<String, _>(0)?)?,
            name: r.try_get(1)?,
            description: r.try_get(2)?,
            instructions: r.try_get(3)?,
            metadata: json_opt(r.try_get(4)?)?,
            embedding_config: json(&r.try_get::<String, _>(5)?)?,
            organization_id: None,
            vector_db_provider: VectorDbProvider::Native,
            created_by_id: None,
            last_updated_by_id: None,
            created_at: time(r.try_get(7)?),
            updated_at: time(r.try_get(8)?),
        },
        archive_id: parse(&r.try_get::<String, _>(6)?)?,
    })
}

/// A folder with one of its files, if it has any: folder id and name, file id, name and size.
type StatsRow = (String, String, Option<String>, Option<String>, Option<i64>);

async fn stats(conn: &mut PgConnection) -> Result<Vec<SourceStats>> {
    let rows: Vec<StatsRow> = sqlx::query_as(
        "SELECT f.id, f.name, x.id, x.file_name, x.file_size FROM folders f
         LEFT JOIN files x ON x.folder_id = f.id
         ORDER BY f.created_at, f.id, x.created_at, x.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<SourceStats> = Vec::new();
    for (folder, name, file, file_name, size) in rows {
        let id: FolderId = parse(&folder)?;
        if out.last().map(|s| s.source_id) != Some(id) {
            out.push(SourceStats {
                source_id: id,
                source_name: name,
                file_count: 0,
                total_size: 0,
                files: Vec::new(),
            });
        }
        let (Some(stats), Some(file)) = (out.last_mut(), file) else {
            continue;
        };
        let size = size.map(count);
        stats.file_count += 1;
        stats.total_size += size.unwrap_or(0);
        stats.files.push(FileStats {
            file_id: parse(&file)?,
            file_name: file_name.unwrap_or_default(),
            file_size: size,
        });
    }
    Ok(out)
}
