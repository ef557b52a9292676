//! `FolderStore` on SQLite (migration 0013): `folders` with their own archive, `files` with
//! their extracted content, `agent_folders`, and `jobs` as JSON documents.

use async_trait::async_trait;
use mneme_types::{
    AgentId, ArchiveId, FileId, FileStats, Folder, FolderId, Job, JobId, SourceStats,
    VectorDbProvider,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params_from_iter};

use crate::Cached;
use crate::agents::{Where, ensure_agent, order_limit, paginate};
use crate::rows::{self, micros, to_json, to_json_opt};
use crate::{Error, Result, SqliteStore, StoreResult};
use mneme_store::{
    Archive, CreatedFile, FileEdit, FolderEdit, FolderFilter, FolderRecord, FolderStore, JobEdit,
    JobFilter, NewFile, Page,
};

pub(crate) mod agent_files;
mod files;
pub(crate) use files::{fail_unfinished, restart_unfinished};
mod jobs;

const COLUMNS: &str = "id, name, description, instructions, metadata, embedding_config, \
                       archive_id, created_at, updated_at";

#[async_trait]
impl FolderStore for SqliteStore {
    async fn create_folder(&self, folder: Folder, archive: Archive) -> StoreResult<FolderRecord> {
        self.write(move |tx| {
            crate::passages::insert_archive(tx, &archive, None)?;
            insert(tx, &folder, archive.id)?;
            load(tx, folder.id)
        })
        .await
    }

    async fn get_folder(&self, id: FolderId) -> StoreResult<FolderRecord> {
        self.read(move |conn| load(conn, id)).await
    }

    async fn folder_by_name(&self, name: &str) -> StoreResult<FolderRecord> {
        let name = name.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {COLUMNS} FROM folders WHERE name = ?");
            query(conn, &sql, vec![SqlValue::Text(name.clone())])?
                .pop()
                .ok_or_else(|| Error::not_found("Folder", name))
        })
        .await
    }

    async fn list_folders(
        &self,
        filter: &FolderFilter,
        page: &Page,
    ) -> StoreResult<Vec<FolderRecord>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| {
            let mut q = Where::default();
            if let Some(name) = &filter.name {
                q.push("name = ?", [SqlValue::Text(name.clone())]);
            }
            paginate(conn, &mut q, "folders", "created_at", &page, true)?;
            let sql = format!(
                "SELECT {COLUMNS} FROM folders {} {}",
                q.where_clause(),
                order_limit("created_at", &page)
            );
            query(conn, &sql, q.params)
        })
        .await
    }

    async fn count_folders(&self) -> StoreResult<u64> {
        self.read(|conn| {
            let n: i64 = conn.query_row_cached("SELECT COUNT(*) FROM folders", [], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn update_folder(&self, id: FolderId, edit: FolderEdit) -> StoreResult<FolderRecord> {
        self.write(move |tx| {
            let mut record = load(tx, id)?;
            edit(&mut record.folder)?;
            record.folder.id = id;
            record.folder.updated_at = mneme_types::time::now();
            save(tx, &record.folder)?;
            load(tx, id)
        })
        .await
    }

    async fn delete_folder(&self, id: FolderId) -> StoreResult<()> {
        self.write(move |tx| {
            let record = load(tx, id)?;
            // Files, attachments and jobs go with the folder (ON DELETE CASCADE); the passages
            // with its archive.
            tx.execute_cached("DELETE FROM folders WHERE id = ?1", [id.to_string()])?;
            tx.execute_cached(
                "DELETE FROM archives WHERE id = ?1",
                [record.archive_id.to_string()],
            )?;
            Ok(())
        })
        .await
    }

    async fn folder_stats(&self) -> StoreResult<Vec<SourceStats>> {
        self.read(stats).await
    }

    async fn create_file(&self, new: NewFile) -> StoreResult<CreatedFile> {
        let me = self.db.replica.clone();
        self.write(move |tx| {
            let created = files::create(tx, new)?;
            if let CreatedFile::Created { file, .. } = &created {
                files::set_owner(tx, file.id, &me)?;
            }
            Ok(created)
        })
        .await
    }

    async fn get_file(
        &self,
        folder: FolderId,
        id: FileId,
        content: bool,
    ) -> StoreResult<mneme_types::FileMetadata> {
        self.read(move |conn| files::load_in(conn, folder, id, content))
            .await
    }

    async fn list_files(
        &self,
        folder: FolderId,
        page: &Page,
        content: bool,
    ) -> StoreResult<Vec<mneme_types::FileMetadata>> {
        let page = page.clone();
        self.read(move |conn| {
            load(conn, folder)?;
            files::list(conn, folder, &page, content)
        })
        .await
    }

    async fn update_file(
        &self,
        id: FileId,
        edit: FileEdit,
    ) -> StoreResult<mneme_types::FileMetadata> {
        self.write(move |tx| files::update(tx, id, edit)).await
    }

    async fn delete_file(&self, folder: FolderId, id: FileId) -> StoreResult<()> {
        self.write(move |tx| {
            let archive = load(tx, folder)?.archive_id;
            files::load_in(tx, folder, id, false)?;
            files::delete(tx, archive, id)
        })
        .await
    }

    async fn restart_unfinished_files(&self) -> StoreResult<Vec<mneme_store::UnfinishedFile>> {
        let me = self.db.replica.clone();
        self.write(move |tx| files::restart_unfinished(tx, &me, None))
            .await
    }

    async fn attach_folder(&self, agent: AgentId, folder: FolderId) -> StoreResult<()> {
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            attach(tx, agent, folder)
        })
        .await
    }

    async fn set_agent_folders(&self, agent: AgentId, folders: Vec<FolderId>) -> StoreResult<()> {
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            tx.execute_cached(
                "DELETE FROM agent_folders WHERE agent_id = ?1",
                [agent.to_string()],
            )?;
            for folder in folders {
                attach(tx, agent, folder)?;
            }
            agent_files::drop_detached(tx, agent)
        })
        .await
    }

    async fn detach_folder(&self, agent: AgentId, folder: FolderId) -> StoreResult<()> {
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            load(tx, folder)?;
            tx.execute_cached(
                "DELETE FROM agent_folders WHERE agent_id = ?1 AND folder_id = ?2",
                [agent.to_string(), folder.to_string()],
            )?;
            agent_files::drop_detached(tx, agent)
        })
        .await
    }

    async fn agent_files(&self, agent: AgentId) -> StoreResult<mneme_store::AgentFiles> {
        self.read(move |conn| {
            ensure_agent(conn, agent)?;
            agent_files::of_agent(conn, agent)
        })
        .await
    }

    async fn save_agent_files(
        &self,
        agent: AgentId,
        files: Vec<mneme_store::AgentFile>,
    ) -> StoreResult<()> {
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            agent_files::save(tx, agent, &files)
        })
        .await
    }

    async fn agent_folders(&self, agent: AgentId) -> StoreResult<Vec<FolderRecord>> {
        self.read(move |conn| {
            ensure_agent(conn, agent)?;
            let columns = COLUMNS
                .split(", ")
                .map(|c| format!("f.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT {columns} FROM folders f JOIN agent_folders af ON af.folder_id = f.id
                 WHERE af.agent_id = ? ORDER BY af.seq"
            );
            query(conn, &sql, vec![SqlValue::Text(agent.to_string())])
        })
        .await
    }

    async fn agents_of_folder(&self, folder: FolderId) -> StoreResult<Vec<AgentId>> {
        self.read(move |conn| {
            load(conn, folder)?;
            let mut stmt = conn.prepare_cached(
                "SELECT agent_id FROM agent_folders WHERE folder_id = ?1 ORDER BY seq",
            )?;
            let mut rows = stmt.query([folder.to_string()])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(rows::parse(&r.get::<_, String>(0)?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn get_job(&self, id: JobId) -> StoreResult<Job> {
        self.read(move |conn| jobs::load(conn, id)).await
    }

    async fn list_jobs(&self, filter: &JobFilter, page: &Page) -> StoreResult<Vec<Job>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| jobs::list(conn, &filter, &page))
            .await
    }

    async fn update_job(&self, id: JobId, edit: JobEdit) -> StoreResult<Job> {
        self.write(move |tx| jobs::update(tx, id, edit)).await
    }

    async fn delete_job(&self, id: JobId) -> StoreResult<()> {
        self.write(move |tx| {
            let n = tx.execute_cached("DELETE FROM jobs WHERE id = ?1", [id.to_string()])?;
            if n == 0 {
                return Err(Error::not_found("Job", id));
            }
            Ok(())
        })
        .await
    }
}

/// Attaches the folder (which must exist) at the end of the agent's; attached already, it
/// stays where it is.
pub(crate) fn attach(tx: &Connection, agent: AgentId, folder: FolderId) -> Result<()> {
    load(tx, folder)?;
    tx.execute_cached(
        "INSERT OR IGNORE INTO agent_folders (agent_id, folder_id) VALUES (?1, ?2)",
        [agent.to_string(), folder.to_string()],
    )?;
    Ok(())
}

/// An imported folder: its archive, itself and its files (with their text, without jobs).
pub(crate) fn insert_imported(tx: &Connection, f: &mneme_store::ImportedFolder) -> Result<()> {
    crate::passages::insert_archive(tx, &f.archive, None)?;
    insert(tx, &f.folder, f.archive.id)?;
    for file in &f.files {
        files::insert(tx, file, None)?;
    }
    Ok(())
}

fn insert(conn: &Connection, f: &Folder, archive: ArchiveId) -> Result<()> {
    conn.execute_cached(
        "INSERT INTO folders (id, name, description, instructions, metadata, embedding_config,
            archive_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![
            f.id.to_string(),
            f.name,
            f.description,
            f.instructions,
            to_json_opt(&f.metadata)?,
            to_json(&f.embedding_config)?,
            archive.to_string(),
            micros(&f.created_at),
            micros(&f.updated_at),
        ],
    )?;
    Ok(())
}

fn save(conn: &Connection, f: &Folder) -> Result<()> {
    conn.execute_cached(
        "UPDATE folders SET name = ?2, description = ?3, instructions = ?4, metadata = ?5,
            embedding_config = ?6, updated_at = ?7 WHERE id = ?1",
        rusqlite::params![
            f.id.to_string(),
            f.name,
            f.description,
            f.instructions,
            to_json_opt(&f.metadata)?,
            to_json(&f.embedding_config)?,
            micros(&f.updated_at),
        ],
    )?;
    Ok(())
}

pub(crate) fn load(conn: &Connection, id: FolderId) -> Result<FolderRecord> {
    let sql = format!("SELECT {COLUMNS} FROM folders WHERE id = ?");
    query(conn, &sql, vec![SqlValue::Text(id.to_string())])?
        .pop()
        .ok_or_else(|| Error::not_found("Folder", id))
}

fn query(conn: &Connection, sql: &str, params: Vec<SqlValue>) -> Result<Vec<FolderRecord>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(record(r)?);
    }
    Ok(out)
}

/// A folder row; the organization and vector store are the service's to fill in.
fn record(r: &Row<'_>) -> Result<FolderRecord> {
    Ok(FolderRecord {
        folder: Folder {
            id: rows::parse(&r.get::<_, String>(0)?)?,
            name: r.get(1)?,
            description: r.get(2)?,
            instructions: r.get(3)?,
            metadata: rows::json_opt(r.get(4)?)?,
            embedding_config: rows::json(&r.get::<_, String>(5)?)?,
            organization_id: None,
            vector_db_provider: VectorDbProvider::Native,
            created_by_id: None,
            last_updated_by_id: None,
            created_at: rows::time(r.get(7)?),
            updated_at: rows::time(r.get(8)?),
        },
        archive_id: rows::parse(&r.get::<_, String>(6)?)?,
    })
}

fn stats(conn: &Connection) -> Result<Vec<SourceStats>> {
    let mut out: Vec<SourceStats> = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT f.id, f.name, x.id, x.file_name, x.file_size FROM folders f
         LEFT JOIN files x ON x.folder_id = f.id
         ORDER BY f.created_at, f.id, x.created_at, x.id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: FolderId = rows::parse(&r.get::<_, String>(0)?)?;
        if out.last().map(|s| s.source_id) != Some(id) {
            out.push(SourceStats {
                source_id: id,
                source_name: r.get(1)?,
                file_count: 0,
                total_size: 0,
                files: Vec::new(),
            });
        }
        let (Some(stats), Some(file)) = (out.last_mut(), r.get::<_, Option<String>>(2)?) else {
            continue;
        };
        let size: Option<i64> = r.get(4)?;
        let size = size.map(|s| s.max(0) as u64);
        stats.file_count += 1;
        stats.total_size += size.unwrap_or(0);
        stats.files.push(FileStats {
            file_id: rows::parse(&file)?,
            file_name: r.get(3)?,
            file_size: size,
        });
    }
    Ok(out)
}
