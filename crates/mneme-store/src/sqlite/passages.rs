//! `PassageStore` on SQLite: archival memory, searched by text until embeddings arrive.

use async_trait::async_trait;
use mneme_types::{AgentId, PassageId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::SqliteStore;
use super::agents::{Where, ensure_agent};
use super::rows::{self, micros, placeholders, to_json, to_json_opt};
use crate::{Passage, PassageList, PassageSearch, PassageStore, Result, StoreError};

#[async_trait]
impl PassageStore for SqliteStore {
    async fn insert_passages(&self, passages: Vec<Passage>) -> Result<()> {
        self.write(move |tx| {
            for p in &passages {
                ensure_agent(tx, p.agent_id)?;
                insert_passage(tx, p)?;
            }
            Ok(())
        })
        .await
    }

    async fn list_passages(&self, agent: AgentId, q: &PassageList) -> Result<Vec<Passage>> {
        let q = q.clone();
        self.read(move |conn| {
            ensure_agent(conn, agent)?;
            let mut w = Where::default();
            w.push("agent_id = ?", [SqlValue::Text(agent.to_string())]);
            if let Some(text) = q.search.as_ref().filter(|t| !t.is_empty()) {
                w.push(
                    "instr(lower(text), lower(?)) > 0",
                    [SqlValue::Text(text.clone())],
                );
            }
            // Cursors move along the listing direction, like every generic Letta list.
            for (cursor, after) in [(q.after, true), (q.before, false)] {
                let Some(cursor) = cursor else { continue };
                let seq: i64 = conn
                    .query_row(
                        "SELECT seq FROM passages WHERE id = ?1",
                        [cursor.to_string()],
                        |r| r.get(0),
                    )
                    .optional()?
                    .ok_or_else(|| StoreError::not_found("Passage", cursor))?;
                let op = if after == q.ascending { ">" } else { "<" };
                w.push(format!("seq {op} ?"), [SqlValue::Integer(seq)]);
            }
            let dir = if q.ascending { "ASC" } else { "DESC" };
            let sql = format!(
                "SELECT id, agent_id, text, tags, metadata, created_at, updated_at FROM passages {}
                 ORDER BY seq {dir} LIMIT {}",
                w.where_clause(),
                q.limit
            );
            query_passages(conn, &sql, w.params)
        })
        .await
    }

    async fn delete_passage(&self, agent: AgentId, id: PassageId) -> Result<()> {
        self.write(move |tx| {
            let n = tx.execute(
                "DELETE FROM passages WHERE id = ?1 AND agent_id = ?2",
                [id.to_string(), agent.to_string()],
            )?;
            if n == 0 {
                return Err(StoreError::not_found("Passage", id));
            }
            Ok(())
        })
        .await
    }

    async fn search_passages(&self, agent: AgentId, s: &PassageSearch) -> Result<Vec<Passage>> {
        let s = s.clone();
        self.read(move |conn| {
            let mut w = Where::default();
            w.push("agent_id = ?", [SqlValue::Text(agent.to_string())]);
            if let Some(q) = s.query.as_ref().filter(|q| !q.trim().is_empty()) {
                w.push(
                    "instr(lower(text), lower(?)) > 0",
                    [SqlValue::Text(q.clone())],
                );
            }
            if !s.tags.is_empty() {
                let list = placeholders(s.tags.len());
                let tags = s.tags.iter().map(|t| SqlValue::Text(t.clone()));
                let matching = format!(
                    "SELECT COUNT(DISTINCT value) FROM json_each(tags) WHERE value IN ({list})"
                );
                let need = if s.match_all_tags {
                    distinct(&s.tags)
                } else {
                    1
                };
                w.push(format!("({matching}) >= {need}"), tags);
            }
            if let Some(start) = s.start {
                w.push("created_at >= ?", [SqlValue::Integer(micros(&start))]);
            }
            if let Some(end) = s.end {
                w.push("created_at <= ?", [SqlValue::Integer(micros(&end))]);
            }
            let sql = format!(
                "SELECT id, agent_id, text, tags, metadata, created_at, updated_at FROM passages {}
                 ORDER BY seq DESC LIMIT {}",
                w.where_clause(),
                s.limit
            );
            query_passages(conn, &sql, w.params)
        })
        .await
    }
}

fn query_passages(conn: &Connection, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Passage>> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(Passage {
            id: rows::parse(&r.get::<_, String>(0)?)?,
            agent_id: rows::parse(&r.get::<_, String>(1)?)?,
            text: r.get(2)?,
            tags: rows::json(&r.get::<_, String>(3)?)?,
            metadata: rows::json_opt(r.get(4)?)?,
            created_at: rows::time(r.get(5)?),
            updated_at: rows::time(r.get(6)?),
        });
    }
    Ok(out)
}

fn distinct(tags: &[String]) -> usize {
    let mut t = tags.to_vec();
    t.sort();
    t.dedup();
    t.len()
}

pub(super) fn insert_passage(conn: &Connection, p: &Passage) -> Result<()> {
    conn.execute(
        "INSERT INTO passages (id, agent_id, text, tags, metadata, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            p.id.to_string(),
            p.agent_id.to_string(),
            p.text,
            to_json(&p.tags)?,
            to_json_opt(&p.metadata)?,
            micros(&p.created_at),
            micros(&p.updated_at),
        ],
    )?;
    Ok(())
}
