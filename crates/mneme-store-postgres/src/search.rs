//! `SearchStore` on PostgreSQL: the search outbox the schema's triggers fill, and the row
//! lookups by search key (`seq`) that ranking results are hydrated from.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mneme_store::codec::{bytes_vector, micros, parse, vector_bytes};
use mneme_store::{
    Message, MessageFilter, Passage, PassageFilter, SearchChange, SearchKind, SearchStore,
    StoreError,
};
use mneme_types::{AgentId, ArchiveId, ConversationId, MessageId};
use sqlx::{PgConnection, Row};

use crate::passages::{PASSAGE_COLUMNS, in_archives, keyed_passage};
use crate::query::{Arg, Where, query};
use crate::rows::count;
use crate::{Error, PgStore, Result, StoreResult};

#[async_trait]
impl SearchStore for PgStore {
    async fn search_changes(&self, after: u64, limit: u32) -> StoreResult<Vec<SearchChange>> {
        // Under READ COMMITTED this sees only committed rows; a row of a transaction still
        // open shows up later below a higher seq, which the reader's gap rule covers.
        let rows: Vec<(i64, String, i64, String, String)> = sqlx::query_as(
            "SELECT seq, kind, key, owner, op FROM search_outbox WHERE seq > $1
             ORDER BY seq LIMIT $2",
        )
        .bind(key(after))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(Error::from)?;
        rows.into_iter()
            .map(|(seq, kind, key, owner, op)| {
                Ok(SearchChange {
                    seq: count(seq),
                    kind: match kind.as_str() {
                        "passage" => SearchKind::Passage,
                        "message" => SearchKind::Message,
                        other => return Err(StoreError::Corrupt(format!("outbox kind {other}"))),
                    },
                    key: count(key),
                    owner,
                    removed: op == "remove",
                })
            })
            .collect()
    }

    async fn prune_search_changes(&self, upto: u64) -> StoreResult<()> {
        sqlx::query("DELETE FROM search_outbox WHERE seq <= $1")
            .bind(key(upto))
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    async fn reindex_search(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        sqlx::query(
            "INSERT INTO search_outbox (kind, key, owner, op)
               SELECT 'passage', seq, archive_id, 'upsert' FROM passages ORDER BY seq",
        )
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
        sqlx::query(
            "INSERT INTO search_outbox (kind, key, owner, op)
               SELECT 'message', seq, agent_id, 'upsert' FROM messages
               WHERE role <> 'system' ORDER BY seq",
        )
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn passages_by_keys(&self, keys: &[u64]) -> StoreResult<Vec<(u64, Passage)>> {
        let sql = format!("SELECT {PASSAGE_COLUMNS} FROM passages WHERE seq = ANY($1)");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ints(keys))
            .fetch_all(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(rows.iter().map(keyed_passage).collect::<Result<_>>()?)
    }

    async fn messages_by_keys(
        &self,
        keys: &[u64],
    ) -> StoreResult<Vec<(u64, Message, Option<Vec<f32>>)>> {
        // One snapshot, so that the keys and the messages they name agree.
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await
            .map_err(Error::from)?;
        let rows: Vec<(i64, String, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT m.seq, m.id, e.embedding FROM messages m
             LEFT JOIN message_embeddings e ON e.message_seq = m.seq
             WHERE m.seq = ANY($1)",
        )
        .bind(ints(keys))
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::from)?;
        let out = with_messages(&mut tx, rows).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    async fn passage_keys(
        &self,
        archives: &[ArchiveId],
        filter: &PassageFilter,
    ) -> StoreResult<Vec<u64>> {
        if archives.is_empty() {
            return Ok(Vec::new());
        }
        let mut w = in_archives(archives);
        if !filter.tags.is_empty() {
            let test = if filter.match_all_tags {
                "jsonb_exists_all"
            } else {
                "jsonb_exists_any"
            };
            w.push(
                format!("{test}(tags::jsonb, ?)"),
                [Arg::Texts(filter.tags.clone())],
            );
        }
        push_dates(&mut w, filter.start, filter.end);
        let sql = format!("SELECT seq FROM passages {}", w.where_clause());
        Ok(keys_of(&self.pool, &sql, w.params).await?)
    }

    async fn message_keys(&self, agent: AgentId, filter: &MessageFilter) -> StoreResult<Vec<u64>> {
        let mut w = match filter.thread {
            Some(conversation) => thread_where(agent, conversation),
            None => {
                let mut w = Where::default();
                w.push("agent_id = ?", [Arg::Text(agent.to_string())]);
                w
            }
        };
        if !filter.roles.is_empty() {
            let roles = filter.roles.iter().map(|r| r.as_str().to_owned()).collect();
            w.push("role = ANY(?)", [Arg::Texts(roles)]);
        }
        push_dates(&mut w, filter.start, filter.end);
        if let Some(text) = filter.contains.as_ref().filter(|t| !t.is_empty()) {
            w.push(
                "strpos(lower(text || ' ' || COALESCE(tool_calls, '')), lower(?)) > 0",
                [Arg::from(text)],
            );
        }
        let order = match filter.newest {
            Some(n) => format!("ORDER BY seq DESC LIMIT {n}"),
            None => "ORDER BY seq".to_owned(),
        };
        let sql = format!("SELECT seq FROM messages {} {order}", w.where_clause());
        Ok(keys_of(&self.pool, &sql, w.params).await?)
    }

    async fn passage_vectors(&self, archive: ArchiveId) -> StoreResult<Vec<(u64, Vec<f32>)>> {
        let rows = sqlx::query_as(
            "SELECT seq, embedding FROM passages
             WHERE archive_id = $1 AND embedding IS NOT NULL ORDER BY seq",
        )
        .bind(archive.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(Error::from)?;
        Ok(vectors(rows)?)
    }

    async fn message_vectors(&self, agent: AgentId) -> StoreResult<Vec<(u64, Vec<f32>)>> {
        let rows = sqlx::query_as(
            "SELECT message_seq, embedding FROM message_embeddings
             WHERE agent_id = $1 ORDER BY message_seq",
        )
        .bind(agent.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(Error::from)?;
        Ok(vectors(rows)?)
    }

    async fn messages_after(&self, after: u64, limit: u32) -> StoreResult<Vec<(u64, Message)>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await
            .map_err(Error::from)?;
        let rows: Vec<(i64, String, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT seq, id, NULL::BYTEA FROM messages
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(key(after))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(Error::from)?;
        let out = with_messages(&mut tx, rows).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out.into_iter().map(|(k, m, _)| (k, m)).collect())
    }

    async fn store_message_vectors(
        &self,
        vectors: Vec<(u64, AgentId, Vec<f32>)>,
        cursor: (&'static str, u64),
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        for (seq, agent, v) in &vectors {
            store_vector(&mut tx, *seq, *agent, v).await?;
        }
        sqlx::query(
            "INSERT INTO search_state (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(cursor.0)
        .bind(key(cursor.1))
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn search_cursor(&self, name: &'static str) -> StoreResult<u64> {
        let v: Option<i64> = sqlx::query_scalar("SELECT value FROM search_state WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(count(v.unwrap_or(0)))
    }
}

/// Replaces the recall vector of message `seq`. A message deleted meanwhile has no row to
/// attach to: it is skipped (its row is share-locked so that it cannot go in between).
async fn store_vector(conn: &mut PgConnection, seq: u64, agent: AgentId, v: &[f32]) -> Result<()> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM messages WHERE seq = $1 FOR KEY SHARE")
            .bind(key(seq))
            .fetch_optional(&mut *conn)
            .await?;
    if found.is_none() {
        return Ok(());
    }
    // Delete and insert, as SQLite's INSERT OR REPLACE does: the insert trigger queues the
    // change for the index (an upsert would fire no insert trigger).
    sqlx::query("DELETE FROM message_embeddings WHERE message_seq = $1")
        .bind(key(seq))
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO message_embeddings (message_seq, agent_id, embedding) VALUES ($1, $2, $3)",
    )
    .bind(key(seq))
    .bind(agent.to_string())
    .bind(vector_bytes(v))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The messages of `(key, id, vector)` rows, loaded by id, in the rows' order; a message gone
/// meanwhile is left out.
async fn with_messages(
    conn: &mut PgConnection,
    rows: Vec<(i64, String, Option<Vec<u8>>)>,
) -> Result<Vec<(u64, Message, Option<Vec<f32>>)>> {
    let ids: Vec<MessageId> = rows
        .iter()
        .map(|(_, id, _)| parse(id))
        .collect::<Result<_, _>>()?;
    let mut messages: HashMap<MessageId, Message> = crate::messages::load_messages(conn, &ids)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for ((seq, _, vector), id) in rows.into_iter().zip(ids) {
        let Some(m) = messages.remove(&id) else {
            continue;
        };
        let vector = vector.map(|b| bytes_vector(&b)).transpose()?;
        out.push((count(seq), m, vector));
    }
    Ok(out)
}

/// The messages of one thread: the agent's default conversation (`None`), or conversation `c`
/// with the messages it took over from its source when forked.
fn thread_where(agent: AgentId, conversation: Option<ConversationId>) -> Where {
    let mut w = Where::default();
    match conversation {
        Some(c) => w.push(
            "(conversation_id = ? OR id IN
                (SELECT message_id FROM conversation_messages WHERE conversation_id = ?))",
            [Arg::Text(c.to_string()), Arg::Text(c.to_string())],
        ),
        None => w.push(
            "agent_id = ? AND conversation_id IS NULL",
            [Arg::Text(agent.to_string())],
        ),
    }
    w
}

fn push_dates(w: &mut Where, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) {
    if let Some(start) = start {
        w.push("created_at >= ?", [Arg::Int(micros(&start))]);
    }
    if let Some(end) = end {
        w.push("created_at <= ?", [Arg::Int(micros(&end))]);
    }
}

async fn keys_of(pool: &sqlx::PgPool, sql: &str, params: Vec<Arg>) -> Result<Vec<u64>> {
    let rows = query(sql, params).fetch_all(pool).await?;
    rows.iter()
        .map(|r| Ok(count(r.try_get::<i64, _>(0)?)))
        .collect()
}

fn vectors(rows: Vec<(i64, Vec<u8>)>) -> Result<Vec<(u64, Vec<f32>)>> {
    rows.into_iter()
        .map(|(seq, b)| Ok((count(seq), bytes_vector(&b)?)))
        .collect()
}

/// A search key or seq as the BIGINT columns hold it.
fn key(k: u64) -> i64 {
    i64::try_from(k).unwrap_or(i64::MAX)
}

fn ints(keys: &[u64]) -> Vec<i64> {
    keys.iter().map(|&k| key(k)).collect()
}
