//! `SearchStore` on SQLite: the search outbox the triggers of migration 0002 fill, and the
//! row lookups by search key (`seq`) that ranking results are hydrated from.

use crate::Cached;
use async_trait::async_trait;
use mneme_types::{AgentId, ArchiveId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, params_from_iter};

use crate::SqliteStore;
use crate::agents::Where;
use crate::messages::{MESSAGE_COLUMN_COUNT, MESSAGE_COLUMNS, message};
use crate::passages::{PASSAGE_COLUMNS, in_archives, query_passages};
use crate::rows::{blob_vector, micros, placeholders, vector_blob};
use crate::{Error, Result, StoreResult};
use mneme_store::{
    Message, MessageFilter, Passage, PassageFilter, SearchChange, SearchKind, SearchStore,
    StoreError,
};

/// SQLite's default limit on bound parameters is 32766; stay well under it per query.
const KEYS_PER_QUERY: usize = 500;

#[async_trait]
impl SearchStore for SqliteStore {
    async fn search_changes(&self, after: u64, limit: u32) -> StoreResult<Vec<SearchChange>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, kind, key, owner, op FROM search_outbox WHERE seq > ?1
                 ORDER BY seq LIMIT ?2",
            )?;
            let mut rows = stmt.query((after as i64, limit))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let kind: String = r.get(1)?;
                let op: String = r.get(4)?;
                out.push(SearchChange {
                    seq: r.get::<_, i64>(0)? as u64,
                    kind: match kind.as_str() {
                        "passage" => SearchKind::Passage,
                        "message" => SearchKind::Message,
                        other => {
                            return Err(Error::Store(StoreError::Corrupt(format!(
                                "outbox kind {other}"
                            ))));
                        }
                    },
                    key: r.get::<_, i64>(2)? as u64,
                    owner: r.get(3)?,
                    removed: op == "remove",
                });
            }
            Ok(out)
        })
        .await
    }

    async fn prune_search_changes(&self, upto: u64) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute_cached("DELETE FROM search_outbox WHERE seq <= ?1", [upto as i64])?;
            Ok(())
        })
        .await
    }

    async fn reindex_search(&self) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute_batch(
                "INSERT INTO search_outbox (kind, key, owner, op)
                   SELECT 'passage', seq, archive_id, 'upsert' FROM passages ORDER BY seq;
                 INSERT INTO search_outbox (kind, key, owner, op)
                   SELECT 'message', seq, agent_id, 'upsert' FROM messages
                   WHERE role <> 'system' ORDER BY seq;",
            )?;
            Ok(())
        })
        .await
    }

    async fn passages_by_keys(&self, keys: &[u64]) -> StoreResult<Vec<(u64, Passage)>> {
        let keys = keys.to_vec();
        self.read(move |conn| {
            let mut out = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(KEYS_PER_QUERY) {
                let sql = format!(
                    "SELECT {PASSAGE_COLUMNS} FROM passages WHERE seq IN ({})",
                    placeholders(chunk.len())
                );
                out.extend(query_passages(conn, &sql, ints(chunk))?);
            }
            Ok(out)
        })
        .await
    }

    async fn messages_by_keys(
        &self,
        keys: &[u64],
    ) -> StoreResult<Vec<(u64, Message, Option<Vec<f32>>)>> {
        let keys = keys.to_vec();
        self.read(move |conn| {
            let columns = MESSAGE_COLUMNS
                .split(", ")
                .map(|c| format!("m.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut out = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(KEYS_PER_QUERY) {
                let sql = format!(
                    "SELECT {columns}, m.seq, e.embedding FROM messages m
                     LEFT JOIN message_embeddings e ON e.message_seq = m.seq
                     WHERE m.seq IN ({})",
                    placeholders(chunk.len())
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(params_from_iter(ints(chunk)))?;
                while let Some(r) = rows.next()? {
                    let key = r.get::<_, i64>(MESSAGE_COLUMN_COUNT)? as u64;
                    let vector = r
                        .get::<_, Option<Vec<u8>>>(MESSAGE_COLUMN_COUNT + 1)?
                        .map(|b| blob_vector(&b))
                        .transpose()?;
                    out.push((key, message(r)?, vector));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn passage_keys(
        &self,
        archives: &[ArchiveId],
        filter: &PassageFilter,
    ) -> StoreResult<Vec<u64>> {
        let (archives, f) = (archives.to_vec(), filter.clone());
        self.read(move |conn| {
            if archives.is_empty() {
                return Ok(Vec::new());
            }
            let mut w = in_archives(&archives);
            if !f.tags.is_empty() {
                let list = placeholders(f.tags.len());
                let matching = format!(
                    "SELECT COUNT(DISTINCT value) FROM json_each(tags) WHERE value IN ({list})"
                );
                let need = if f.match_all_tags {
                    distinct(&f.tags)
                } else {
                    1
                };
                w.push(
                    format!("({matching}) >= {need}"),
                    f.tags.iter().map(|t| SqlValue::Text(t.clone())),
                );
            }
            push_dates(&mut w, f.start, f.end);
            keys(
                conn,
                &format!("SELECT seq FROM passages {}", w.where_clause()),
                w,
            )
        })
        .await
    }

    async fn message_keys(&self, agent: AgentId, filter: &MessageFilter) -> StoreResult<Vec<u64>> {
        let f = filter.clone();
        self.read(move |conn| {
            let mut w = match f.thread {
                Some(conversation) => crate::messages::thread_where(agent, conversation),
                None => {
                    let mut w = Where::default();
                    w.push("agent_id = ?", [SqlValue::Text(agent.to_string())]);
                    w
                }
            };
            if !f.roles.is_empty() {
                w.push(
                    format!("role IN ({})", placeholders(f.roles.len())),
                    f.roles.iter().map(|r| SqlValue::Text(r.as_str().into())),
                );
            }
            push_dates(&mut w, f.start, f.end);
            if let Some(text) = f.contains.as_ref().filter(|t| !t.is_empty()) {
                w.push(
                    "instr(lower(text || ' ' || COALESCE(tool_calls, '')), lower(?)) > 0",
                    [SqlValue::Text(text.clone())],
                );
            }
            let order = match f.newest {
                Some(n) => format!("ORDER BY seq DESC LIMIT {n}"),
                None => String::new(),
            };
            keys(
                conn,
                &format!("SELECT seq FROM messages {} {order}", w.where_clause()),
                w,
            )
        })
        .await
    }

    async fn passage_vectors(&self, archive: ArchiveId) -> StoreResult<Vec<(u64, Vec<f32>)>> {
        self.read(move |conn| {
            vectors(
                conn,
                "SELECT seq, embedding FROM passages
                 WHERE archive_id = ?1 AND embedding IS NOT NULL ORDER BY seq",
                archive.to_string(),
            )
        })
        .await
    }

    async fn message_vectors(&self, agent: AgentId) -> StoreResult<Vec<(u64, Vec<f32>)>> {
        self.read(move |conn| {
            vectors(
                conn,
                "SELECT message_seq, embedding FROM message_embeddings
                 WHERE agent_id = ?1 ORDER BY message_seq",
                agent.to_string(),
            )
        })
        .await
    }

    async fn messages_after(&self, after: u64, limit: u32) -> StoreResult<Vec<(u64, Message)>> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS}, seq FROM messages
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query((after as i64, limit))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push((r.get::<_, i64>(MESSAGE_COLUMN_COUNT)? as u64, message(r)?));
            }
            Ok(out)
        })
        .await
    }

    async fn store_message_vectors(
        &self,
        vectors: Vec<(u64, AgentId, Vec<f32>)>,
        cursor: (&'static str, u64),
    ) -> StoreResult<()> {
        self.write(move |tx| {
            {
                // A message deleted meanwhile has no row to attach to: skip it.
                let mut stmt = tx.prepare_cached(
                    "INSERT OR REPLACE INTO message_embeddings (message_seq, agent_id, embedding)
                     SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM messages WHERE seq = ?1)",
                )?;
                for (key, agent, v) in &vectors {
                    stmt.execute((*key as i64, agent.to_string(), vector_blob(v)))?;
                }
            }
            tx.execute_cached(
                "INSERT INTO search_state (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (cursor.0, cursor.1 as i64),
            )?;
            Ok(())
        })
        .await
    }

    async fn search_cursor(&self, name: &'static str) -> StoreResult<u64> {
        self.read(move |conn| {
            let v: Option<i64> = conn
                .query_row(
                    "SELECT value FROM search_state WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(v.unwrap_or(0).max(0) as u64)
        })
        .await
    }
}

fn ints(keys: &[u64]) -> Vec<SqlValue> {
    keys.iter().map(|k| SqlValue::Integer(*k as i64)).collect()
}

fn push_dates(
    w: &mut Where,
    start: Option<chrono::DateTime<chrono::Utc>>,
    end: Option<chrono::DateTime<chrono::Utc>>,
) {
    if let Some(start) = start {
        w.push("created_at >= ?", [SqlValue::Integer(micros(&start))]);
    }
    if let Some(end) = end {
        w.push("created_at <= ?", [SqlValue::Integer(micros(&end))]);
    }
}

fn keys(conn: &rusqlite::Connection, sql: &str, w: Where) -> Result<Vec<u64>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let keys = stmt
        .query_map(params_from_iter(w.params), |r| r.get::<_, i64>(0))?
        .map(|k| k.map(|k| k as u64))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(keys)
}

fn vectors(conn: &rusqlite::Connection, sql: &str, owner: String) -> Result<Vec<(u64, Vec<f32>)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([owner])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let blob: Vec<u8> = r.get(1)?;
        out.push((r.get::<_, i64>(0)? as u64, blob_vector(&blob)?));
    }
    Ok(out)
}

fn distinct(tags: &[String]) -> usize {
    let mut t = tags.to_vec();
    t.sort();
    t.dedup();
    t.len()
}
