//! `MessageStore` on SQLite.

use crate::Cached;
use std::sync::LazyLock;

use async_trait::async_trait;
use mneme_types::{AgentId, ConversationId, MessageId, RunId, StepId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use crate::SqliteStore;
use crate::agents::{Where, ensure_agent, load_agent};
use crate::rows::{self, micros, placeholders, to_json};
use crate::{Error, Result, StoreResult};
use mneme_store::{
    Agent, CompactionCommit, HistoryAppend, Message, MessageEdit, MessageQuery, MessageStore,
    Order, Page, ReasoningRecord, Role, StoreError,
};

pub(crate) const MESSAGE_COLUMNS: &str = "id, agent_id, role, text, content, reasoning, tool_calls, \
    tool_call_id, tool_returns, name, otid, sender_id, group_id, step_id, run_id, is_err, \
    created_at, updated_at, reasoning_blocks, model";

/// How many columns `MESSAGE_COLUMNS` names: queries that select more read them after these.
pub(crate) const MESSAGE_COLUMN_COUNT: usize = 20;

#[async_trait]
impl MessageStore for SqliteStore {
    async fn get_message(&self, id: MessageId) -> StoreResult<Message> {
        self.read(move |conn| load_message(conn, id)).await
    }

    async fn set_message_text(&self, id: MessageId, text: String) -> StoreResult<()> {
        self.write(move |tx| {
            let n = set_text(tx, id, &text, &mneme_types::time::now())?;
            if n == 0 {
                return Err(Error::not_found("Message", id));
            }
            bump_messages_edited(tx, id)
        })
        .await
    }

    async fn messages_by_ids(&self, ids: &[MessageId]) -> StoreResult<Vec<Message>> {
        let ids = ids.to_vec();
        self.read(move |conn| load_messages(conn, &ids)).await
    }

    async fn update_message(&self, id: MessageId, edit: MessageEdit) -> StoreResult<Message> {
        self.write(move |tx| {
            let mut m = load_message(tx, id)?;
            let (agent, created_at) = (m.agent_id, m.created_at);
            edit(&mut m)?;
            // What is not written must not be answered either.
            (m.id, m.agent_id, m.created_at) = (id, agent, created_at);
            m.updated_at = mneme_types::time::now();
            save_message(tx, &m)?;
            bump_messages_edited(tx, id)?;
            Ok(m)
        })
        .await
    }

    async fn list_messages(&self, agent: AgentId, q: &MessageQuery) -> StoreResult<Vec<Message>> {
        let q = q.clone();
        self.read(move |conn| {
            ensure_agent(conn, agent)?;
            page_messages(conn, thread_where(agent, q.conversation), &q)
        })
        .await
    }

    async fn all_messages(&self, q: &MessageQuery) -> StoreResult<Vec<Message>> {
        let q = q.clone();
        self.read(move |conn| {
            let w = match q.conversation {
                Some(c) => conversation_where(c),
                None => Where::default(),
            };
            page_messages(conn, w, &q)
        })
        .await
    }

    async fn run_messages(&self, run: RunId, page: &Page) -> StoreResult<Vec<Message>> {
        let page = page.clone();
        self.read(move |conn| owned_messages(conn, "run_id", run.to_string(), &page))
            .await
    }

    async fn step_messages(&self, step: StepId, page: &Page) -> StoreResult<Vec<Message>> {
        let page = page.clone();
        self.read(move |conn| owned_messages(conn, "step_id", step.to_string(), &page))
            .await
    }

    async fn reset_messages(&self, agent: AgentId, initial: Vec<Message>) -> StoreResult<Agent> {
        self.write(move |tx| {
            let mut a = load_agent(tx, agent)?;
            let system = *a.message_ids.first().ok_or_else(|| {
                StoreError::Corrupt(format!("agent {agent} has no system message"))
            })?;
            // What forks took over stays for them, but leaves the default thread.
            crate::conversations::hand_over(tx, agent, None, Some(system))?;
            tx.execute_cached(
                "DELETE FROM messages WHERE agent_id = ?1 AND id <> ?2 AND conversation_id IS NULL",
                [agent.to_string(), system.to_string()],
            )?;
            a.message_ids = vec![system];
            for m in &initial {
                insert_message(tx, m, None)?;
                a.message_ids.push(m.id);
            }
            a.updated_at = mneme_types::time::now();
            a.message_ids_version += 1;
            tx.execute_cached(
                "UPDATE agents SET message_ids = ?2, updated_at = ?3,
                    message_ids_version = message_ids_version + 1
                 WHERE id = ?1",
                rusqlite::params![
                    agent.to_string(),
                    to_json(&a.message_ids)?,
                    micros(&a.updated_at)
                ],
            )?;
            Ok(a)
        })
        .await
    }

    async fn compact_context(&self, c: CompactionCommit) -> StoreResult<()> {
        self.write(move |tx| {
            // The context goes first, so that a stale one costs no other write.
            let (ids, version) = (&c.message_ids, c.message_ids_version);
            let thread = crate::runs::Thread {
                agent: c.agent_id,
                conversation: c.conversation_id,
            };
            crate::runs::set_context(tx, thread, ids, version, &c.created_at)?;
            insert_message(tx, &c.summary, c.conversation_id)?;
            if let Some((id, text)) = &c.system_text {
                set_text(tx, *id, text, &c.created_at)?;
            }
            Ok(())
        })
        .await
    }

    async fn append_history(&self, a: HistoryAppend) -> StoreResult<()> {
        self.write(move |tx| crate::runs::append_history(tx, &a))
            .await
    }
}

/// Rewrites a message's text (a recompiled system message); the number of rows changed.
pub(crate) fn set_text(
    tx: &Connection,
    id: MessageId,
    text: &str,
    at: &chrono::DateTime<chrono::Utc>,
) -> Result<usize> {
    Ok(tx.execute_cached(
        "UPDATE messages SET text = ?2, updated_at = ?3 WHERE id = ?1",
        rusqlite::params![id.to_string(), text, micros(at)],
    )?)
}

/// The messages of a thread: a conversation's own and those it inherited when forked, or the
/// agent's default conversation's.
pub(crate) fn thread_where(agent: AgentId, conversation: Option<ConversationId>) -> Where {
    if let Some(c) = conversation {
        return conversation_where(c);
    }
    let mut w = Where::default();
    w.push(
        "agent_id = ? AND conversation_id IS NULL",
        [SqlValue::Text(agent.to_string())],
    );
    w
}

/// A conversation's messages, those it took over from its source when forked included.
fn conversation_where(c: ConversationId) -> Where {
    let mut w = Where::default();
    w.push(
        "(conversation_id = ? OR id IN
            (SELECT message_id FROM conversation_messages WHERE conversation_id = ?))",
        [SqlValue::Text(c.to_string()), SqlValue::Text(c.to_string())],
    );
    w
}

pub(crate) fn seq_of(conn: &Connection, id: MessageId) -> Result<i64> {
    conn.query_row_cached(
        "SELECT seq FROM messages WHERE id = ?1",
        [id.to_string()],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| Error::not_found("Message", id))
}

/// Stores a message in a thread: `conversation` names the conversation it is written in,
/// `None` the agent's default one.
/// The INSERT of a message, its text built once: every write of messages binds it.
static INSERT_MESSAGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO messages ({MESSAGE_COLUMNS}, conversation_id) VALUES ({})",
        placeholders(MESSAGE_COLUMN_COUNT + 1)
    )
});

pub(crate) fn insert_message(
    conn: &Connection,
    m: &Message,
    conversation: Option<ConversationId>,
) -> Result<()> {
    insert_messages(conn, std::slice::from_ref(m), conversation)
}

/// Inserts `messages` in order through one prepared statement (an import writes 100,000).
pub(crate) fn insert_messages(
    conn: &Connection,
    messages: &[Message],
    conversation: Option<ConversationId>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(&INSERT_MESSAGE)?;
    let conversation = conversation.map(|c| c.to_string());
    for m in messages {
        bind_message(&mut stmt, m, conversation.as_deref())?;
    }
    Ok(())
}

fn bind_message(
    stmt: &mut rusqlite::CachedStatement<'_>,
    m: &Message,
    conversation: Option<&str>,
) -> Result<()> {
    stmt.execute(rusqlite::params![
        m.id.to_string(),
        m.agent_id.to_string(),
        m.role.as_str(),
        m.text,
        rows::to_json_opt(&m.content)?,
        m.reasoning_text(),
        json_list(&m.tool_calls)?,
        m.tool_call_id,
        json_list(&m.tool_returns)?,
        m.name,
        m.otid,
        m.sender_id,
        m.group_id,
        m.step_id.map(|s| s.to_string()),
        m.run_id.map(|r| r.to_string()),
        m.is_err,
        micros(&m.created_at),
        micros(&m.updated_at),
        json_list(&m.reasoning)?,
        m.model,
        conversation,
    ])?;
    Ok(())
}

/// Writes every column of an existing message but its id, agent and position.
pub(crate) fn save_message(conn: &Connection, m: &Message) -> Result<()> {
    conn.execute_cached(
        "UPDATE messages SET role = ?2, text = ?3, content = ?4, reasoning = ?5, tool_calls = ?6,
            tool_call_id = ?7, tool_returns = ?8, name = ?9, otid = ?10, sender_id = ?11,
            group_id = ?12, step_id = ?13, run_id = ?14, is_err = ?15, updated_at = ?16,
            reasoning_blocks = ?17, model = ?18
         WHERE id = ?1",
        rusqlite::params![
            m.id.to_string(),
            m.role.as_str(),
            m.text,
            rows::to_json_opt(&m.content)?,
            m.reasoning_text(),
            json_list(&m.tool_calls)?,
            m.tool_call_id,
            json_list(&m.tool_returns)?,
            m.name,
            m.otid,
            m.sender_id,
            m.group_id,
            m.step_id.map(|s| s.to_string()),
            m.run_id.map(|r| r.to_string()),
            m.is_err,
            micros(&m.updated_at),
            json_list(&m.reasoning)?,
            m.model,
        ],
    )?;
    Ok(())
}

/// The reasoning blocks, or for a row written before they were kept, its readable text as one
/// unsigned block.
fn reasoning(text: Option<String>, blocks: Option<String>) -> Result<Vec<ReasoningRecord>> {
    match (blocks, text) {
        (Some(blocks), _) => Ok(rows::json_opt(Some(blocks))?.unwrap_or_default()),
        (None, Some(text)) if !text.is_empty() => Ok(vec![ReasoningRecord::Reasoning {
            text,
            signature: None,
        }]),
        (None, _) => Ok(Vec::new()),
    }
}

fn json_list<T: serde::Serialize>(items: &[T]) -> Result<Option<String>> {
    if items.is_empty() {
        Ok(None)
    } else {
        rows::to_json(&items).map(Some)
    }
}

pub(crate) fn load_message(conn: &Connection, id: MessageId) -> Result<Message> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1");
    let mut found = query_messages(conn, &sql, vec![SqlValue::Text(id.to_string())])?;
    found.pop().ok_or_else(|| Error::not_found("Message", id))
}

/// Messages by id, in the order asked; ids that do not resolve are skipped.
/// Tells caches of the agent's in-context messages that one of its messages changed.
fn bump_messages_edited(tx: &Connection, message: MessageId) -> Result<()> {
    tx.execute_cached(
        "UPDATE agents SET messages_edited = messages_edited + 1
          WHERE id = (SELECT agent_id FROM messages WHERE id = ?1)",
        [message.to_string()],
    )?;
    Ok(())
}

pub(crate) fn load_messages(conn: &Connection, ids: &[MessageId]) -> Result<Vec<Message>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(ids.len());
    // Chunks keep the parameter count far below SQLite's limit.
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN ({})",
            placeholders(chunk.len())
        );
        let params = chunk
            .iter()
            .map(|id| SqlValue::Text(id.to_string()))
            .collect();
        out.extend(query_messages(conn, &sql, params)?);
    }
    // Back into the order asked, in linear time: contexts hold thousands of messages.
    let mut by_id: std::collections::HashMap<MessageId, Message> =
        out.into_iter().map(|m| (m.id, m)).collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

pub(crate) fn query_messages(
    conn: &Connection,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(message(row)?);
    }
    Ok(out)
}

pub(crate) fn message(row: &Row<'_>) -> Result<Message> {
    let role: String = row.get(2)?;
    Ok(Message {
        id: rows::parse(&row.get::<_, String>(0)?)?,
        agent_id: rows::parse(&row.get::<_, String>(1)?)?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        text: row.get(3)?,
        content: rows::json_opt(row.get(4)?)?,
        reasoning: reasoning(row.get(5)?, row.get(18)?)?,
        model: row.get(19)?,
        tool_calls: rows::json_opt(row.get(6)?)?.unwrap_or_default(),
        tool_call_id: row.get(7)?,
        tool_returns: rows::json_opt(row.get(8)?)?.unwrap_or_default(),
        name: row.get(9)?,
        otid: row.get(10)?,
        sender_id: row.get(11)?,
        group_id: row.get(12)?,
        step_id: row
            .get::<_, Option<String>>(13)?
            .map(|s| rows::parse(&s))
            .transpose()?,
        run_id: row
            .get::<_, Option<String>>(14)?
            .map(|s| rows::parse(&s))
            .transpose()?,
        is_err: row.get(15)?,
        created_at: rows::time(row.get(16)?),
        updated_at: rows::time(row.get(17)?),
    })
}

/// A page of the messages `w` selects, by `q`'s run, cursors, order and limit, oldest first
/// whichever end it was taken from (as Letta lists them).
pub(crate) fn page_messages(
    conn: &Connection,
    mut w: Where,
    q: &MessageQuery,
) -> Result<Vec<Message>> {
    if let Some(run) = q.run_id {
        w.push("run_id = ?", [SqlValue::Text(run.to_string())]);
    }
    for (cursor, op) in [(q.after, ">"), (q.before, "<")] {
        if let Some(cursor) = cursor {
            let seq = seq_of(conn, cursor)?;
            w.push(format!("seq {op} ?"), [SqlValue::Integer(seq)]);
        }
    }
    let dir = if q.order == Order::Asc { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages {} ORDER BY seq {dir} LIMIT {}",
        w.where_clause(),
        q.limit
    );
    let mut out = query_messages(conn, &sql, w.params)?;
    if q.order == Order::Desc {
        out.reverse();
    }
    Ok(out)
}

/// The messages whose `column` (`run_id`, `step_id`) is `owner`, by storage sequence, paged by
/// message-id cursors along `page.order`.
fn owned_messages(
    conn: &Connection,
    column: &str,
    owner: String,
    page: &Page,
) -> Result<Vec<Message>> {
    let mut w = Where::default();
    w.push(format!("{column} = ?"), [SqlValue::Text(owner)]);
    paged_messages(conn, w, page)
}

/// The messages `w` selects, by storage sequence in `page.order`, cursors being message ids
/// moving along it.
pub(crate) fn paged_messages(conn: &Connection, mut w: Where, page: &Page) -> Result<Vec<Message>> {
    for (cursor, after) in [(&page.after, true), (&page.before, false)] {
        if let Some(cursor) = cursor {
            let seq = seq_of(conn, rows::parse(cursor)?)?;
            let forward = page.order == Order::Asc;
            let op = if after == forward { ">" } else { "<" };
            w.push(format!("seq {op} ?"), [SqlValue::Integer(seq)]);
        }
    }
    let dir = if page.order == Order::Asc {
        "ASC"
    } else {
        "DESC"
    };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages {} ORDER BY seq {dir} LIMIT {}",
        w.where_clause(),
        page.limit
    );
    query_messages(conn, &sql, w.params)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn rows_from_before_reasoning_blocks_read_as_one_unsigned_block() {
        let old = reasoning(Some("because".into()), None).unwrap();
        assert_eq!(
            old,
            [ReasoningRecord::Reasoning {
                text: "because".into(),
                signature: None
            }]
        );
        assert!(reasoning(None, None).unwrap().is_empty());
        assert!(reasoning(Some(String::new()), None).unwrap().is_empty());
        let blocks =
            r#"[{"type":"reasoning","text":"t","signature":"s"},{"type":"redacted","data":"d"}]"#;
        let new = reasoning(Some("t".into()), Some(blocks.into())).unwrap();
        assert_eq!(new[1], ReasoningRecord::Redacted { data: "d".into() });
    }
}
