//! `ArchiveStore` and `PassageStore` on PostgreSQL: archives, their attachment to agents, and
//! passages with their embeddings. Search runs over the derived indices (see `search.rs`).

use async_trait::async_trait;
use mneme_store::codec::{
    bytes_vector, json, json_opt, micros, parse, time, to_json, to_json_opt, vector_bytes,
};
use mneme_store::{
    Agent, Archive, ArchiveEdit, ArchiveFilter, ArchiveStore, Page, Passage, PassageEdit,
    PassageList, PassageStore,
};
use mneme_types::{AgentId, ArchiveId, PassageId};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::query::{Arg, Where, ensure_agent, fetch, lock_agent, order_limit, paginate};
use crate::{Error, PgStore, Result, StoreResult};

const ARCHIVE_COLUMNS: &str =
    "id, name, description, embedding_config, metadata, created_at, updated_at";
pub(crate) const PASSAGE_COLUMNS: &str = "seq, id, archive_id, text, tags, metadata, embedding, \
     embedding_config, created_at, updated_at";

#[async_trait]
impl ArchiveStore for PgStore {
    async fn create_archive(
        &self,
        archive: Archive,
        owner: Option<AgentId>,
    ) -> StoreResult<Archive> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        if let Some(agent) = owner {
            ensure_agent(&mut tx, agent).await?;
        }
        insert_archive(&mut tx, &archive, owner).await?;
        if let Some(agent) = owner {
            attach(&mut tx, agent, archive.id).await?;
        }
        tx.commit().await.map_err(Error::from)?;
        Ok(archive)
    }

    async fn get_archive(&self, id: ArchiveId) -> StoreResult<Archive> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_archive(&mut conn, id).await?)
    }

    async fn list_archives(
        &self,
        filter: &ArchiveFilter,
        page: &Page,
    ) -> StoreResult<Vec<Archive>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let mut w = Where::default();
        // A folder's archive is the folder's, listed as a folder only.
        w.push("id NOT IN (SELECT archive_id FROM folders)", []);
        if let Some(name) = &filter.name {
            w.push("name = ?", [Arg::from(name)]);
        }
        if let Some(agent) = filter.agent {
            w.push(
                "id IN (SELECT archive_id FROM agent_archives WHERE agent_id = ?)",
                [Arg::Text(agent.to_string())],
            );
        }
        paginate(&mut conn, &mut w, "archives", "created_at", page, true).await?;
        let sql = format!(
            "SELECT {ARCHIVE_COLUMNS} FROM archives {} {}",
            w.where_clause(),
            order_limit("created_at", page)
        );
        Ok(fetch(&mut conn, &sql, w.params, archive).await?)
    }

    async fn update_archive(&self, id: ArchiveId, edit: ArchiveEdit) -> StoreResult<Archive> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        // Locked, so that a concurrent edit does not overwrite this one's fields.
        let mut a = load_archive_with(&mut tx, id, " FOR UPDATE").await?;
        edit(&mut a)?;
        a.id = id;
        a.updated_at = mneme_types::time::now();
        sqlx::query(
            "UPDATE archives SET name = $2, description = $3, embedding_config = $4,
                metadata = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(&a.name)
        .bind(&a.description)
        .bind(to_json_opt(&a.embedding_config)?)
        .bind(to_json_opt(&a.metadata)?)
        .bind(micros(&a.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok(a)
    }

    async fn delete_archive(&self, id: ArchiveId) -> StoreResult<()> {
        Ok(crate::query::delete_by_id(&self.pool, "archives", "Archive", id).await?)
    }

    async fn attach_archive(&self, agent: AgentId, archive: ArchiveId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        ensure_agent(&mut tx, agent).await?;
        load_archive(&mut tx, archive).await?;
        attach(&mut tx, agent, archive).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn detach_archive(&self, agent: AgentId, archive: ArchiveId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        ensure_agent(&mut tx, agent).await?;
        load_archive(&mut tx, archive).await?;
        sqlx::query("DELETE FROM agent_archives WHERE agent_id = $1 AND archive_id = $2")
            .bind(agent.to_string())
            .bind(archive.to_string())
            .execute(&mut *tx)
            .await
            .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn agent_archives(&self, agent: AgentId) -> StoreResult<Vec<Archive>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        ensure_agent(&mut tx, agent).await?;
        let out = archives_of(&mut tx, agent).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    async fn default_archive(&self, agent: AgentId, make: Archive) -> StoreResult<Archive> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        // The agent row is locked so that two concurrent first calls agree on one archive.
        lock_agent(&mut tx, agent).await?;
        if let Some(first) = archives_of(&mut tx, agent).await?.into_iter().next() {
            tx.commit().await.map_err(Error::from)?;
            return Ok(first);
        }
        create_owned_archive(&mut tx, &make, agent).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(make)
    }

    async fn agents_of_archive(&self, archive: ArchiveId, page: &Page) -> StoreResult<Vec<Agent>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        load_archive(&mut tx, archive).await?;
        let agents = crate::agents::agent_queries::agents_joined(
            &mut tx,
            "agent_archives",
            "archive_id",
            archive.to_string(),
            page,
        )
        .await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(agents)
    }
}

#[async_trait]
impl PassageStore for PgStore {
    async fn count_passages(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passages")
            .fetch_one(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(n.max(0) as u64)
    }

    async fn insert_passages(&self, passages: Vec<Passage>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        for p in &passages {
            load_archive(&mut tx, p.archive_id).await?;
            insert_passage(&mut tx, p).await?;
        }
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn list_passages(
        &self,
        archives: &[ArchiveId],
        q: &PassageList,
    ) -> StoreResult<Vec<Passage>> {
        if archives.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let mut w = in_archives(archives);
        if let Some(text) = q.search.as_ref().filter(|t| !t.is_empty()) {
            w.push("strpos(lower(text), lower(?)) > 0", [Arg::from(text)]);
        }
        passage_cursors(&mut conn, &mut w, q).await?;
        let dir = if q.ascending { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT {PASSAGE_COLUMNS} FROM passages {} ORDER BY created_at {dir}, seq {dir} LIMIT {}",
            w.where_clause(),
            q.limit
        );
        let rows = fetch(&mut conn, &sql, w.params, keyed_passage).await?;
        Ok(rows.into_iter().map(|(_, p)| p).collect())
    }

    async fn update_passage(
        &self,
        archives: &[ArchiveId],
        id: PassageId,
        edit: PassageEdit,
    ) -> StoreResult<Passage> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let mut w = in_archives(archives);
        w.push("id = ?", [Arg::Text(id.to_string())]);
        // Locked, so that a concurrent edit does not overwrite this one's fields.
        let sql = format!(
            "SELECT {PASSAGE_COLUMNS} FROM passages {} FOR UPDATE",
            w.where_clause()
        );
        let found = fetch(&mut tx, &sql, w.params, keyed_passage).await?;
        let Some((_, before)) = found.into_iter().next() else {
            return Err(Error::not_found("Passage", id).into());
        };
        let mut p = before.clone();
        edit(&mut p)?;
        (p.id, p.archive_id, p.created_at) = (before.id, before.archive_id, before.created_at);
        p.updated_at = mneme_types::time::now();
        write_passage_content(&mut tx, &p).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(p)
    }

    async fn delete_passage(&self, archives: &[ArchiveId], id: PassageId) -> StoreResult<()> {
        let n = if archives.is_empty() {
            0
        } else {
            sqlx::query("DELETE FROM passages WHERE id = $1 AND archive_id = ANY($2)")
                .bind(id.to_string())
                .bind(ids(archives))
                .execute(&self.pool)
                .await
                .map_err(Error::from)?
                .rows_affected()
        };
        if n == 0 {
            return Err(Error::not_found("Passage", id).into());
        }
        Ok(())
    }
}

/// Cursors move along the listing direction, like every generic Letta list; the order is
/// creation time (a passage may be stored with an earlier `created_at`).
async fn passage_cursors(conn: &mut PgConnection, w: &mut Where, q: &PassageList) -> Result<()> {
    for (cursor, after) in [(q.after, true), (q.before, false)] {
        let Some(cursor) = cursor else { continue };
        let (at, seq): (i64, i64) =
            sqlx::query_as("SELECT created_at, seq FROM passages WHERE id = $1")
                .bind(cursor.to_string())
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| Error::not_found("Passage", cursor))?;
        let op = if after == q.ascending { ">" } else { "<" };
        w.push(
            format!("(created_at, seq) {op} (?, ?)"),
            [Arg::Int(at), Arg::Int(seq)],
        );
    }
    Ok(())
}

/// Creates `archive` owned by and attached to `agent` (its default archive).
pub(crate) async fn create_owned_archive(
    conn: &mut PgConnection,
    archive: &Archive,
    agent: AgentId,
) -> Result<()> {
    insert_archive(conn, archive, Some(agent)).await?;
    attach(conn, agent, archive.id).await
}

pub(crate) async fn insert_archive(
    conn: &mut PgConnection,
    a: &Archive,
    owner: Option<AgentId>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO archives (id, name, description, embedding_config, metadata, owner_agent_id,
            created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(a.id.to_string())
    .bind(&a.name)
    .bind(&a.description)
    .bind(to_json_opt(&a.embedding_config)?)
    .bind(to_json_opt(&a.metadata)?)
    .bind(owner.map(|o| o.to_string()))
    .bind(micros(&a.created_at))
    .bind(micros(&a.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn attach(conn: &mut PgConnection, agent: AgentId, archive: ArchiveId) -> Result<()> {
    sqlx::query(
        "INSERT INTO agent_archives (agent_id, archive_id) VALUES ($1, $2)
         ON CONFLICT (agent_id, archive_id) DO NOTHING",
    )
    .bind(agent.to_string())
    .bind(archive.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn archives_of(conn: &mut PgConnection, agent: AgentId) -> Result<Vec<Archive>> {
    let sql = format!(
        "SELECT {} FROM archives a JOIN agent_archives aa ON aa.archive_id = a.id
         WHERE aa.agent_id = ? ORDER BY aa.seq",
        prefixed(ARCHIVE_COLUMNS, "a")
    );
    fetch(conn, &sql, vec![Arg::Text(agent.to_string())], archive).await
}

async fn load_archive(conn: &mut PgConnection, id: ArchiveId) -> Result<Archive> {
    load_archive_with(conn, id, "").await
}

/// The archive, with `lock` (empty or ` FOR UPDATE`) appended to its SELECT.
async fn load_archive_with(conn: &mut PgConnection, id: ArchiveId, lock: &str) -> Result<Archive> {
    let sql = format!("SELECT {ARCHIVE_COLUMNS} FROM archives WHERE id = ?{lock}");
    fetch(conn, &sql, vec![Arg::Text(id.to_string())], archive)
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("Archive", id))
}

fn archive(r: &PgRow) -> Result<Archive> {
    Ok(Archive {
        id: parse(&r.try_get::<String, _>(0)?)?,
        name: r.try_get(1)?,
        description: r.try_get(2)?,
        embedding_config: json_opt(r.try_get(3)?)?,
        metadata: json_opt(r.try_get(4)?)?,
        created_at: time(r.try_get(5)?),
        updated_at: time(r.try_get(6)?),
    })
}

/// A passage with its search key, from a row selecting `PASSAGE_COLUMNS`.
pub(crate) fn keyed_passage(r: &PgRow) -> Result<(u64, Passage)> {
    let key = crate::rows::count(r.try_get(0)?);
    let passage = Passage {
        id: parse(&r.try_get::<String, _>(1)?)?,
        archive_id: parse(&r.try_get::<String, _>(2)?)?,
        text: r.try_get(3)?,
        tags: json(&r.try_get::<String, _>(4)?)?,
        metadata: json_opt(r.try_get(5)?)?,
        embedding: r
            .try_get::<Option<Vec<u8>>, _>(6)?
            .map(|b| bytes_vector(&b))
            .transpose()?,
        embedding_config: json_opt(r.try_get(7)?)?,
        created_at: time(r.try_get(8)?),
        updated_at: time(r.try_get(9)?),
    };
    Ok((key, passage))
}

pub(crate) async fn insert_passage(conn: &mut PgConnection, p: &Passage) -> Result<()> {
    sqlx::query(
        "INSERT INTO passages (id, archive_id, text, tags, metadata, embedding, embedding_config,
            created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(p.id.to_string())
    .bind(p.archive_id.to_string())
    .bind(&p.text)
    .bind(to_json(&p.tags)?)
    .bind(to_json_opt(&p.metadata)?)
    .bind(p.embedding.as_deref().map(vector_bytes))
    .bind(to_json_opt(&p.embedding_config)?)
    .bind(micros(&p.created_at))
    .bind(micros(&p.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes a passage's content columns (`update_passage`).
async fn write_passage_content(conn: &mut PgConnection, p: &Passage) -> Result<()> {
    sqlx::query(
        "UPDATE passages SET text = $2, tags = $3, metadata = $4, embedding = $5,
            embedding_config = $6, updated_at = $7 WHERE id = $1",
    )
    .bind(p.id.to_string())
    .bind(&p.text)
    .bind(to_json(&p.tags)?)
    .bind(to_json_opt(&p.metadata)?)
    .bind(p.embedding.as_deref().map(vector_bytes))
    .bind(to_json_opt(&p.embedding_config)?)
    .bind(micros(&p.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A condition on `archive_id` being one of `archives`.
pub(crate) fn in_archives(archives: &[ArchiveId]) -> Where {
    let mut w = Where::default();
    w.push("archive_id = ANY(?)", [Arg::Texts(ids(archives))]);
    w
}

fn ids(archives: &[ArchiveId]) -> Vec<String> {
    archives.iter().map(|a| a.to_string()).collect()
}

/// `columns` (comma separated) each qualified by `table`.
fn prefixed(columns: &str, table: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{table}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
