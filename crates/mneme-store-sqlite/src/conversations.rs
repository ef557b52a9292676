//! `ConversationStore` on SQLite: a conversation row holds its context as the agent row holds
//! the default conversation's; isolated blocks are ordinary blocks paired with it in
//! `conversation_blocks`; a fork lists its source's messages through `conversation_messages`.

use crate::Cached;
use async_trait::async_trait;
use mneme_types::{AgentId, Block, BlockId, ConversationId, ConversationOrderBy, MessageId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use crate::agents::{Where, blocks_of, ensure_agent, frame_of};
use crate::messages::{MESSAGE_COLUMNS, insert_message, query_messages, seq_of, thread_where};
use crate::rows::{self, micros, placeholders, to_json, to_json_opt};
use crate::{Error, Result, SqliteStore, StoreResult, blocks};
use mneme_store::{
    AgentFrame, ConversationEdit, ConversationFilter, ConversationRecord, ConversationStore,
    Message, NewConversation, Order, Page, StoreError,
};

const COLUMNS: &str = "id, agent_id, summary, model, model_settings, message_ids, \
    message_ids_version, last_message_at, created_at, updated_at";

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn create_conversation(&self, new: NewConversation) -> StoreResult<ConversationRecord> {
        self.write(move |tx| create(tx, &new)).await
    }

    async fn get_conversation(&self, id: ConversationId) -> StoreResult<ConversationRecord> {
        self.read(move |conn| load(conn, id)).await
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        page: &Page,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| list(conn, &filter, &page)).await
    }

    async fn update_conversation(
        &self,
        id: ConversationId,
        edit: ConversationEdit,
    ) -> StoreResult<ConversationRecord> {
        self.write(move |tx| {
            let mut c = load(tx, id)?;
            let before = c.clone();
            edit(&mut c)?;
            // What is not written must not be answered either.
            c.id = before.id;
            c.agent_id = before.agent_id;
            c.message_ids = before.message_ids;
            c.message_ids_version = before.message_ids_version;
            c.isolated_block_ids = before.isolated_block_ids;
            c.created_at = before.created_at;
            c.updated_at = mneme_types::time::now();
            save(tx, &c)?;
            Ok(c)
        })
        .await
    }

    async fn delete_conversation(&self, id: ConversationId) -> StoreResult<()> {
        self.write(move |tx| delete(tx, id)).await
    }

    async fn conversation_frame(&self, id: ConversationId) -> StoreResult<AgentFrame> {
        self.read(move |conn| conversation_frame(conn, id)).await
    }

    async fn thread_messages(
        &self,
        agent: AgentId,
        conversation: Option<ConversationId>,
        page: &Page,
    ) -> StoreResult<Vec<Message>> {
        let page = page.clone();
        self.read(move |conn| thread_messages(conn, agent, conversation, &page))
            .await
    }
}

pub(crate) fn ensure_conversation(conn: &Connection, id: ConversationId) -> Result<()> {
    let found = conn
        .query_row_cached(
            "SELECT 1 FROM conversations WHERE id = ?1",
            [id.to_string()],
            |_| Ok(()),
        )
        .optional()?;
    found.ok_or_else(|| Error::not_found("Conversation", id))
}

fn create(tx: &Connection, new: &NewConversation) -> Result<ConversationRecord> {
    let c = &new.conversation;
    ensure_agent(tx, c.agent_id)?;
    tx.execute_cached(
        &format!(
            "INSERT INTO conversations ({COLUMNS}) VALUES ({})",
            placeholders(10)
        ),
        rusqlite::params![
            c.id.to_string(),
            c.agent_id.to_string(),
            c.summary,
            c.model,
            to_json_opt(&c.model_settings)?,
            to_json(&c.message_ids)?,
            c.message_ids_version as i64,
            c.last_message_at.as_ref().map(micros),
            micros(&c.created_at),
            micros(&c.updated_at),
        ],
    )?;
    insert_message(tx, &new.system, Some(c.id))?;
    add_isolated_blocks(tx, c, &new.isolated_blocks)?;
    inherit(tx, c, &new.inherited)?;
    load(tx, c.id)
}

/// Stores the conversation's copies of agent blocks; each must stand in for a block of the
/// agent with its label.
fn add_isolated_blocks(tx: &Connection, c: &ConversationRecord, copies: &[Block]) -> Result<()> {
    if copies.is_empty() {
        return Ok(());
    }
    let agent_blocks = blocks_of(tx, c.agent_id)?;
    for block in copies {
        let label = block.label.clone().unwrap_or_default();
        if !agent_blocks
            .iter()
            .any(|b| b.label.as_deref() == Some(&label))
        {
            return Err(invalid(format!(
                "Block with label '{label}' not found on agent '{}'",
                c.agent_id
            )));
        }
        blocks::insert_block(tx, block, &c.created_at)?;
        tx.execute_cached(
            "INSERT INTO conversation_blocks (conversation_id, block_id, label) VALUES (?1, ?2, ?3)",
            rusqlite::params![c.id.to_string(), block.id.to_string(), label],
        )
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                invalid(format!("Block label '{label}' is isolated twice"))
            }
            e => Error::from(e),
        })?;
    }
    Ok(())
}

/// Lists another thread's messages in the new conversation's history (a fork).
fn inherit(tx: &Connection, c: &ConversationRecord, ids: &[MessageId]) -> Result<()> {
    for id in ids {
        let owner: Option<String> = tx
            .query_row_cached(
                "SELECT agent_id FROM messages WHERE id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        if owner.as_deref() != Some(&c.agent_id.to_string()) {
            return Err(invalid(format!(
                "Message {id} is not a message of agent {}",
                c.agent_id
            )));
        }
        tx.execute_cached(
            "INSERT OR IGNORE INTO conversation_messages (conversation_id, message_id)
             VALUES (?1, ?2)",
            [c.id.to_string(), id.to_string()],
        )?;
    }
    Ok(())
}

fn invalid(message: String) -> Error {
    Error::Store(StoreError::Invalid(message))
}

fn save(tx: &Connection, c: &ConversationRecord) -> Result<()> {
    tx.execute_cached(
        "UPDATE conversations SET summary = ?2, model = ?3, model_settings = ?4,
            last_message_at = ?5, updated_at = ?6
         WHERE id = ?1",
        rusqlite::params![
            c.id.to_string(),
            c.summary,
            c.model,
            to_json_opt(&c.model_settings)?,
            c.last_message_at.as_ref().map(micros),
            micros(&c.updated_at),
        ],
    )?;
    Ok(())
}

/// The conversation, its runs, its isolated blocks and its own messages but those a fork
/// lists, which stay for the fork.
fn delete(tx: &Connection, id: ConversationId) -> Result<()> {
    let agent = load(tx, id)?.agent_id;
    let key = id.to_string();
    tx.execute_cached("DELETE FROM runs WHERE conversation_id = ?1", [&key])?;
    hand_over(tx, agent, Some(id), None)?;
    tx.execute_cached("DELETE FROM messages WHERE conversation_id = ?1", [&key])?;
    tx.execute_cached(
        "DELETE FROM blocks WHERE id IN
           (SELECT block_id FROM conversation_blocks WHERE conversation_id = ?1)",
        [&key],
    )?;
    tx.execute_cached("DELETE FROM conversations WHERE id = ?1", [&key])?;
    Ok(())
}

/// Gives the messages of a thread (`from`, or the agent's default one) that forks took over
/// to one of those forks, before the thread lets go of its messages: they leave its listing,
/// stay in the forks' and go with the last fork that lists them. `keep` stays where it is.
pub(crate) fn hand_over(
    tx: &Connection,
    agent: AgentId,
    from: Option<ConversationId>,
    keep: Option<MessageId>,
) -> Result<()> {
    let owner = match from {
        None => "agent_id = ?1 AND conversation_id IS NULL",
        Some(_) => "conversation_id = ?2",
    };
    tx.execute_cached(
        &format!(
            "UPDATE messages SET conversation_id =
                (SELECT MIN(cm.conversation_id) FROM conversation_messages cm
                 WHERE cm.message_id = messages.id AND cm.conversation_id IS NOT ?2)
             WHERE {owner} AND id IS NOT ?3 AND id IN
                (SELECT message_id FROM conversation_messages WHERE conversation_id IS NOT ?2)"
        ),
        rusqlite::params![
            agent.to_string(),
            from.map(|c| c.to_string()),
            keep.map(|m| m.to_string()),
        ],
    )?;
    Ok(())
}

pub(crate) fn load(conn: &Connection, id: ConversationId) -> Result<ConversationRecord> {
    let sql = format!("SELECT {COLUMNS} FROM conversations WHERE id = ?1");
    let mut found = query(conn, &sql, vec![SqlValue::Text(id.to_string())])?;
    found
        .pop()
        .ok_or_else(|| Error::not_found("Conversation", id))
}

fn query(conn: &Connection, sql: &str, params: Vec<SqlValue>) -> Result<Vec<ConversationRecord>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(record(row)?);
    }
    drop(rows);
    for c in &mut out {
        c.isolated_block_ids = isolated_ids(conn, c.id)?;
    }
    Ok(out)
}

fn record(row: &Row<'_>) -> Result<ConversationRecord> {
    Ok(ConversationRecord {
        id: rows::parse(&row.get::<_, String>(0)?)?,
        agent_id: rows::parse(&row.get::<_, String>(1)?)?,
        summary: row.get(2)?,
        model: row.get(3)?,
        model_settings: rows::json_opt(row.get(4)?)?,
        message_ids: rows::json(&row.get::<_, String>(5)?)?,
        message_ids_version: row.get::<_, i64>(6)?.max(0) as u64,
        isolated_block_ids: Vec::new(),
        last_message_at: row.get::<_, Option<i64>>(7)?.map(rows::time),
        created_at: rows::time(row.get(8)?),
        updated_at: rows::time(row.get(9)?),
    })
}

fn isolated_ids(conn: &Connection, id: ConversationId) -> Result<Vec<BlockId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT block_id FROM conversation_blocks WHERE conversation_id = ?1 ORDER BY rowid",
    )?;
    let mut rows = stmt.query([id.to_string()])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(rows::parse(&row.get::<_, String>(0)?)?);
    }
    Ok(out)
}

/// The sort key of a listing: conversations without a value sort last in both orders.
fn sort_key(by: ConversationOrderBy, order: Order) -> String {
    let missing = match order {
        Order::Asc => i64::MAX,
        Order::Desc => i64::MIN,
    };
    match by {
        ConversationOrderBy::CreatedAt => "created_at".into(),
        ConversationOrderBy::LastMessageAt => format!("COALESCE(last_message_at, {missing})"),
        ConversationOrderBy::LastRunCompletion => format!(
            "COALESCE((SELECT MAX(r.completed_at) FROM runs r
                       WHERE r.conversation_id = conversations.id), {missing})"
        ),
    }
}

fn list(conn: &Connection, f: &ConversationFilter, page: &Page) -> Result<Vec<ConversationRecord>> {
    let key = sort_key(f.order_by, page.order);
    let mut w = Where::default();
    if let Some(agent) = f.agent {
        w.push("agent_id = ?", [SqlValue::Text(agent.to_string())]);
    }
    if let Some(text) = &f.summary_search {
        w.push("instr(summary, ?) > 0", [SqlValue::Text(text.clone())]);
    }
    let dir = if page.order == Order::Asc {
        "ASC"
    } else {
        "DESC"
    };
    for (cursor, after) in [(&page.after, true), (&page.before, false)] {
        let Some(cursor) = cursor else { continue };
        let cursor_key: Option<i64> = conn
            .query_row(
                &format!("SELECT {key} FROM conversations WHERE id = ?1"),
                [cursor],
                |r| r.get(0),
            )
            .optional()?;
        let cursor_key = cursor_key.ok_or_else(|| Error::not_found("Conversation", cursor))?;
        let op = if after == (page.order == Order::Asc) {
            ">"
        } else {
            "<"
        };
        w.push(
            format!("({key}, id) {op} (?, ?)"),
            [
                SqlValue::Integer(cursor_key),
                SqlValue::Text(cursor.clone()),
            ],
        );
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM conversations {} ORDER BY {key} {dir}, id {dir} LIMIT {}",
        w.where_clause(),
        page.limit
    );
    query(conn, &sql, w.params)
}

/// The agent's frame with the conversation's context and isolated blocks in its place.
fn conversation_frame(conn: &Connection, id: ConversationId) -> Result<AgentFrame> {
    let c = load(conn, id)?;
    let mut frame = frame_of(conn, c.agent_id)?;
    frame.agent.message_ids = c.message_ids;
    frame.agent.message_ids_version = c.message_ids_version;
    for block_id in &c.isolated_block_ids {
        let copy = blocks::load_block(conn, *block_id)?;
        match frame.blocks.iter_mut().find(|b| b.label == copy.label) {
            Some(slot) => *slot = copy,
            // The agent's block of that label was detached: the copy has nothing to stand in for.
            None => continue,
        }
    }
    frame.conversation = Some(id);
    Ok(frame)
}

/// Where a message stands in its thread's history: the thread's system message (the head of
/// its context, bound to the `?`) first, since a fork's is stored after the messages it took
/// over; then storage order, a `system` message a client sent included.
const POSITION: &str = "(CASE WHEN id = ? THEN 0 ELSE 1 END), seq";

/// A thread's history in listing order, cursors moving along it.
fn thread_messages(
    conn: &Connection,
    agent: AgentId,
    conversation: Option<ConversationId>,
    page: &Page,
) -> Result<Vec<Message>> {
    let head = head_of(conn, agent, conversation)?;
    let mut w = thread_where(agent, conversation);
    let forward = page.order == Order::Asc;
    for (cursor, after) in [(&page.after, true), (&page.before, false)] {
        if let Some(cursor) = cursor {
            let id: MessageId = rows::parse(cursor)?;
            let rank = i64::from(id.to_string() != head);
            let op = if after == forward { ">" } else { "<" };
            w.push(
                format!("({POSITION}) {op} (?, ?)"),
                [
                    SqlValue::Text(head.clone()),
                    SqlValue::Integer(rank),
                    SqlValue::Integer(seq_of(conn, id)?),
                ],
            );
        }
    }
    let dir = if forward { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages {} ORDER BY {} LIMIT {}",
        w.where_clause(),
        POSITION.replace(", seq", &format!(" {dir}, seq {dir}")),
        page.limit
    );
    let mut params = w.params;
    params.push(SqlValue::Text(head));
    query_messages(conn, &sql, params)
}

/// The id of the thread's system message, the first of its context (`NotFound` for an unknown
/// conversation or agent).
fn head_of(
    conn: &Connection,
    agent: AgentId,
    conversation: Option<ConversationId>,
) -> Result<String> {
    let (table, kind, key) = match conversation {
        Some(c) => ("conversations", "Conversation", c.to_string()),
        None => ("agents", "Agent", agent.to_string()),
    };
    let head: Option<Option<String>> = conn
        .query_row_cached(
            &format!("SELECT json_extract(message_ids, '$[0]') FROM {table} WHERE id = ?1"),
            [&key],
            |r| r.get(0),
        )
        .optional()?;
    let head = head.ok_or_else(|| Error::not_found(kind, key))?;
    Ok(head.unwrap_or_default())
}
