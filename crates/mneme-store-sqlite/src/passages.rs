//! `ArchiveStore` and `PassageStore` on SQLite: archives, their attachment to agents, and
//! passages with their embeddings. Search runs over the derived indices (see `search.rs`).

use crate::Cached;
use async_trait::async_trait;
use mneme_types::{AgentId, ArchiveId, PassageId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use crate::SqliteStore;
use crate::agents::{Where, agents_joined, ensure_agent, order_limit, paginate};
use crate::rows::{self, blob_vector, micros, placeholders, to_json, to_json_opt, vector_blob};
use crate::{Error, Result, StoreResult};
use mneme_store::{
    Agent, Archive, ArchiveEdit, ArchiveFilter, ArchiveStore, Page, Passage, PassageEdit,
    PassageList, PassageStore, StoreError,
};

const ARCHIVE_COLUMNS: &str =
    "id, name, description, embedding_config, metadata, created_at, updated_at";
pub(crate) const PASSAGE_COLUMNS: &str = "seq, id, archive_id, text, tags, metadata, embedding, \
     embedding_config, created_at, updated_at";

#[async_trait]
impl ArchiveStore for SqliteStore {
    async fn create_archive(
        &self,
        archive: Archive,
        owner: Option<AgentId>,
    ) -> StoreResult<Archive> {
        self.write(move |tx| {
            if let Some(agent) = owner {
                ensure_agent(tx, agent)?;
            }
            insert_archive(tx, &archive, owner)?;
            if let Some(agent) = owner {
                attach(tx, agent, archive.id)?;
            }
            Ok(archive)
        })
        .await
    }

    async fn get_archive(&self, id: ArchiveId) -> StoreResult<Archive> {
        self.read(move |conn| load_archive(conn, id)).await
    }

    async fn list_archives(
        &self,
        filter: &ArchiveFilter,
        page: &Page,
    ) -> StoreResult<Vec<Archive>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| {
            let mut w = Where::default();
            // A folder's archive is the folder's, listed as a folder only.
            w.push("id NOT IN (SELECT archive_id FROM folders)", []);
            if let Some(name) = &filter.name {
                w.push("name = ?", [SqlValue::Text(name.clone())]);
            }
            if let Some(agent) = filter.agent {
                w.push(
                    "id IN (SELECT archive_id FROM agent_archives WHERE agent_id = ?)",
                    [SqlValue::Text(agent.to_string())],
                );
            }
            paginate(conn, &mut w, "archives", "created_at", &page, true)?;
            let sql = format!(
                "SELECT {ARCHIVE_COLUMNS} FROM archives {} {}",
                w.where_clause(),
                order_limit("created_at", &page)
            );
            query_archives(conn, &sql, w.params)
        })
        .await
    }

    async fn update_archive(&self, id: ArchiveId, edit: ArchiveEdit) -> StoreResult<Archive> {
        self.write(move |tx| {
            let mut a = load_archive(tx, id)?;
            edit(&mut a)?;
            a.id = id;
            a.updated_at = mneme_types::time::now();
            tx.execute_cached(
                "UPDATE archives SET name = ?2, description = ?3, embedding_config = ?4,
                    metadata = ?5, updated_at = ?6 WHERE id = ?1",
                rusqlite::params![
                    id.to_string(),
                    a.name,
                    a.description,
                    to_json_opt(&a.embedding_config)?,
                    to_json_opt(&a.metadata)?,
                    micros(&a.updated_at),
                ],
            )?;
            Ok(a)
        })
        .await
    }

    async fn delete_archive(&self, id: ArchiveId) -> StoreResult<()> {
        self.write(move |tx| {
            let n = tx.execute_cached("DELETE FROM archives WHERE id = ?1", [id.to_string()])?;
            if n == 0 {
                return Err(Error::not_found("Archive", id));
            }
            Ok(())
        })
        .await
    }

    async fn attach_archive(&self, agent: AgentId, archive: ArchiveId) -> StoreResult<()> {
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            load_archive(tx, archive)?;
            attach(tx, agent, archive)
        })
        .await
    }

    async fn detach_archive(&self, agent: AgentId, archive: ArchiveId) -> StoreResult<()> {
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            load_archive(tx, archive)?;
            tx.execute_cached(
                "DELETE FROM agent_archives WHERE agent_id = ?1 AND archive_id = ?2",
                [agent.to_string(), archive.to_string()],
            )?;
            Ok(())
        })
        .await
    }

    async fn agent_archives(&self, agent: AgentId) -> StoreResult<Vec<Archive>> {
        self.read(move |conn| {
            ensure_agent(conn, agent)?;
            archives_of(conn, agent)
        })
        .await
    }

    async fn default_archive(&self, agent: AgentId, make: Archive) -> StoreResult<Archive> {
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            if let Some(first) = archives_of(tx, agent)?.into_iter().next() {
                return Ok(first);
            }
            insert_archive(tx, &make, Some(agent))?;
            attach(tx, agent, make.id)?;
            Ok(make)
        })
        .await
    }

    async fn agents_of_archive(&self, archive: ArchiveId, page: &Page) -> StoreResult<Vec<Agent>> {
        let page = page.clone();
        self.read(move |conn| {
            load_archive(conn, archive)?;
            agents_joined(
                conn,
                "agent_archives",
                "archive_id",
                archive.to_string(),
                &page,
            )
        })
        .await
    }
}

#[async_trait]
impl PassageStore for SqliteStore {
    async fn insert_passages(&self, passages: Vec<Passage>) -> StoreResult<()> {
        self.write(move |tx| {
            for p in &passages {
                load_archive(tx, p.archive_id)?;
                insert_passage(tx, p)?;
            }
            Ok(())
        })
        .await
    }

    async fn count_passages(&self) -> StoreResult<u64> {
        self.read(|conn| {
            let n: i64 =
                conn.query_row_cached("SELECT COUNT(*) FROM passages", [], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn list_passages(
        &self,
        archives: &[ArchiveId],
        q: &PassageList,
    ) -> StoreResult<Vec<Passage>> {
        let (archives, q) = (archives.to_vec(), q.clone());
        self.read(move |conn| {
            if archives.is_empty() {
                return Ok(Vec::new());
            }
            let mut w = in_archives(&archives);
            if let Some(text) = q.search.as_ref().filter(|t| !t.is_empty()) {
                w.push(
                    "instr(lower(text), lower(?)) > 0",
                    [SqlValue::Text(text.clone())],
                );
            }
            // Cursors move along the listing direction, like every generic Letta list; the
            // order is creation time (a passage may be stored with an earlier `created_at`).
            for (cursor, after) in [(q.after, true), (q.before, false)] {
                let Some(cursor) = cursor else { continue };
                let (at, seq): (i64, i64) = conn
                    .query_row(
                        "SELECT created_at, seq FROM passages WHERE id = ?1",
                        [cursor.to_string()],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?
                    .ok_or_else(|| StoreError::not_found("Passage", cursor))?;
                let op = if after == q.ascending { ">" } else { "<" };
                w.push(
                    format!("(created_at, seq) {op} (?, ?)"),
                    [SqlValue::Integer(at), SqlValue::Integer(seq)],
                );
            }
            let dir = if q.ascending { "ASC" } else { "DESC" };
            let sql = format!(
                "SELECT {PASSAGE_COLUMNS} FROM passages {} ORDER BY created_at {dir}, seq {dir} LIMIT {}",
                w.where_clause(),
                q.limit
            );
            Ok(query_passages(conn, &sql, w.params)?
                .into_iter()
                .map(|(_, p)| p)
                .collect())
        })
        .await
    }

    async fn update_passage(
        &self,
        archives: &[ArchiveId],
        id: PassageId,
        edit: PassageEdit,
    ) -> StoreResult<Passage> {
        let archives = archives.to_vec();
        self.write(move |tx| update_passage(tx, &archives, id, edit))
            .await
    }

    async fn delete_passage(&self, archives: &[ArchiveId], id: PassageId) -> StoreResult<()> {
        let archives = archives.to_vec();
        self.write(move |tx| {
            let mut params = vec![SqlValue::Text(id.to_string())];
            params.extend(archives.iter().map(|a| SqlValue::Text(a.to_string())));
            let sql = format!(
                "DELETE FROM passages WHERE id = ? AND archive_id IN ({})",
                placeholders(archives.len())
            );
            let n = if archives.is_empty() {
                0
            } else {
                tx.execute_cached(&sql, params_from_iter(params))?
            };
            if n == 0 {
                return Err(Error::not_found("Passage", id));
            }
            Ok(())
        })
        .await
    }
}

/// `update_passage` in the write transaction: the passage read in the archives, edited, its
/// content columns written back.
fn update_passage(
    tx: &Connection,
    archives: &[ArchiveId],
    id: PassageId,
    edit: PassageEdit,
) -> Result<Passage> {
    if archives.is_empty() {
        return Err(Error::not_found("Passage", id));
    }
    let mut w = in_archives(archives);
    w.push("id = ?", [SqlValue::Text(id.to_string())]);
    let sql = format!(
        "SELECT {PASSAGE_COLUMNS} FROM passages {}",
        w.where_clause()
    );
    let (_, before) = (query_passages(tx, &sql, w.params)?.into_iter().next())
        .ok_or_else(|| Error::not_found("Passage", id))?;
    let mut p = before.clone();
    edit(&mut p)?;
    (p.id, p.archive_id, p.created_at) = (before.id, before.archive_id, before.created_at);
    p.updated_at = mneme_types::time::now();
    tx.execute_cached(
        "UPDATE passages SET text = ?2, tags = ?3, metadata = ?4, embedding = ?5,
            embedding_config = ?6, updated_at = ?7 WHERE id = ?1",
        rusqlite::params![
            id.to_string(),
            p.text,
            to_json(&p.tags)?,
            to_json_opt(&p.metadata)?,
            p.embedding.as_deref().map(vector_blob),
            to_json_opt(&p.embedding_config)?,
            micros(&p.updated_at),
        ],
    )?;
    Ok(p)
}

/// Creates `archive` owned by and attached to `agent` (its default archive).
pub(crate) fn create_owned_archive(
    conn: &Connection,
    archive: &Archive,
    agent: AgentId,
) -> Result<()> {
    insert_archive(conn, archive, Some(agent))?;
    attach(conn, agent, archive.id)
}

pub(crate) fn insert_archive(conn: &Connection, a: &Archive, owner: Option<AgentId>) -> Result<()> {
    conn.execute_cached(
        "INSERT INTO archives (id, name, description, embedding_config, metadata, owner_agent_id,
            created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![
            a.id.to_string(),
            a.name,
            a.description,
            to_json_opt(&a.embedding_config)?,
            to_json_opt(&a.metadata)?,
            owner.map(|o| o.to_string()),
            micros(&a.created_at),
            micros(&a.updated_at),
        ],
    )?;
    Ok(())
}

fn attach(conn: &Connection, agent: AgentId, archive: ArchiveId) -> Result<()> {
    conn.execute_cached(
        "INSERT OR IGNORE INTO agent_archives (agent_id, archive_id) VALUES (?1, ?2)",
        [agent.to_string(), archive.to_string()],
    )?;
    Ok(())
}

pub(crate) fn archives_of(conn: &Connection, agent: AgentId) -> Result<Vec<Archive>> {
    let sql = format!(
        "SELECT {} FROM archives a JOIN agent_archives aa ON aa.archive_id = a.id
         WHERE aa.agent_id = ? ORDER BY aa.seq",
        ARCHIVE_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    query_archives(conn, &sql, vec![SqlValue::Text(agent.to_string())])
}

fn load_archive(conn: &Connection, id: ArchiveId) -> Result<Archive> {
    let sql = format!("SELECT {ARCHIVE_COLUMNS} FROM archives WHERE id = ?");
    query_archives(conn, &sql, vec![SqlValue::Text(id.to_string())])?
        .pop()
        .ok_or_else(|| Error::not_found("Archive", id))
}

fn query_archives(conn: &Connection, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Archive>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(Archive {
            id: rows::parse(&r.get::<_, String>(0)?)?,
            name: r.get(1)?,
            description: r.get(2)?,
            embedding_config: rows::json_opt(r.get(3)?)?,
            metadata: rows::json_opt(r.get(4)?)?,
            created_at: rows::time(r.get(5)?),
            updated_at: rows::time(r.get(6)?),
        });
    }
    Ok(out)
}

/// Passages with their search keys, from a query selecting `PASSAGE_COLUMNS`.
pub(crate) fn query_passages(
    conn: &Connection,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<Vec<(u64, Passage)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push((r.get::<_, i64>(0)? as u64, passage(r)?));
    }
    Ok(out)
}

fn passage(r: &Row<'_>) -> Result<Passage> {
    Ok(Passage {
        id: rows::parse(&r.get::<_, String>(1)?)?,
        archive_id: rows::parse(&r.get::<_, String>(2)?)?,
        text: r.get(3)?,
        tags: rows::json(&r.get::<_, String>(4)?)?,
        metadata: rows::json_opt(r.get(5)?)?,
        embedding: r
            .get::<_, Option<Vec<u8>>>(6)?
            .map(|b| blob_vector(&b))
            .transpose()?,
        embedding_config: rows::json_opt(r.get(7)?)?,
        created_at: rows::time(r.get(8)?),
        updated_at: rows::time(r.get(9)?),
    })
}

pub(crate) fn insert_passage(conn: &Connection, p: &Passage) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO passages (id, archive_id, text, tags, metadata, embedding, embedding_config,
            created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    stmt.execute(rusqlite::params![
        p.id.to_string(),
        p.archive_id.to_string(),
        p.text,
        to_json(&p.tags)?,
        to_json_opt(&p.metadata)?,
        p.embedding.as_deref().map(vector_blob),
        to_json_opt(&p.embedding_config)?,
        micros(&p.created_at),
        micros(&p.updated_at),
    ])?;
    Ok(())
}

/// A condition on `archive_id` being one of `archives` (not empty).
pub(crate) fn in_archives(archives: &[ArchiveId]) -> Where {
    let mut w = Where::default();
    w.push(
        format!("archive_id IN ({})", placeholders(archives.len())),
        archives.iter().map(|a| SqlValue::Text(a.to_string())),
    );
    w
}
