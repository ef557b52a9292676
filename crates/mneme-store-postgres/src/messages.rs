//! `MessageStore` on PostgreSQL: messages in storage order (`seq`), written in batches.

use std::collections::HashMap;

use async_trait::async_trait;
use mneme_store::codec::{json_opt, micros, parse, time, to_json, to_json_opt};
use mneme_store::{
    Agent, CompactionCommit, HistoryAppend, Message, MessageEdit, MessageQuery, MessageStore,
    Order, Page, ReasoningRecord, Role, StoreError,
};
use mneme_types::{AgentId, ConversationId, MessageId, RunId, StepId};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::query::{Arg, Where, ensure_agent, fetch};
use crate::rows::{flag, to_flag};
use crate::runs::{Thread, set_context};
use crate::{Error, PgStore, Result, StoreResult};

pub(crate) const MESSAGE_COLUMNS: &str = "id, agent_id, role, text, content, reasoning, \
    tool_calls, tool_call_id, tool_returns, name, otid, sender_id, group_id, step_id, run_id, \
    is_err, created_at, updated_at, reasoning_blocks, model";

/// How many messages one INSERT writes: an import writes 100,000, a step a handful.
const BATCH: usize = 1000;

#[async_trait]
impl MessageStore for PgStore {
    async fn get_message(&self, id: MessageId) -> StoreResult<Message> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_message(&mut conn, id, false).await?)
    }

    async fn messages_by_ids(&self, ids: &[MessageId]) -> StoreResult<Vec<Message>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_messages(&mut conn, ids).await?)
    }

    async fn set_message_text(&self, id: MessageId, text: String) -> StoreResult<()> {
        Ok(set_message_text(&self.pool, id, text).await?)
    }

    async fn update_message(&self, id: MessageId, edit: MessageEdit) -> StoreResult<Message> {
        Ok(update_message(&self.pool, id, edit).await?)
    }

    async fn list_messages(&self, agent: AgentId, q: &MessageQuery) -> StoreResult<Vec<Message>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        ensure_agent(&mut conn, agent).await?;
        Ok(page_messages(&mut conn, thread_where(agent, q.conversation), q).await?)
    }

    async fn all_messages(&self, q: &MessageQuery) -> StoreResult<Vec<Message>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let w = match q.conversation {
            Some(c) => conversation_where(c),
            None => Where::default(),
        };
        Ok(page_messages(&mut conn, w, q).await?)
    }

    async fn run_messages(&self, run: RunId, page: &Page) -> StoreResult<Vec<Message>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(owned_messages(&mut conn, "run_id", run.to_string(), page).await?)
    }

    async fn step_messages(&self, step: StepId, page: &Page) -> StoreResult<Vec<Message>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(owned_messages(&mut conn, "step_id", step.to_string(), page).await?)
    }

    async fn reset_messages(&self, agent: AgentId, initial: Vec<Message>) -> StoreResult<Agent> {
        Ok(reset_messages(&self.pool, agent, &initial).await?)
    }

    async fn compact_context(&self, c: CompactionCommit) -> StoreResult<()> {
        Ok(compact_context(&self.pool, &c).await?)
    }

    async fn append_history(&self, a: HistoryAppend) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        crate::runs::append_history(&mut tx, &a).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }
}

async fn set_message_text(pool: &PgPool, id: MessageId, text: String) -> Result<()> {
    let mut tx = pool.begin().await?;
    let n = sqlx::query("UPDATE messages SET text = $2, updated_at = $3 WHERE id = $1")
        .bind(id.to_string())
        .bind(text)
        .bind(micros(&mneme_types::time::now()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::not_found("Message", id));
    }
    bump_messages_edited(&mut tx, id).await?;
    tx.commit().await?;
    Ok(())
}

async fn update_message(pool: &PgPool, id: MessageId, edit: MessageEdit) -> Result<Message> {
    let mut tx = pool.begin().await?;
    // Locked: the edit reads the message and writes it back whole.
    let mut m = load_message(&mut tx, id, true).await?;
    let (agent, created_at) = (m.agent_id, m.created_at);
    edit(&mut m)?;
    // What is not written must not be answered either.
    (m.id, m.agent_id, m.created_at) = (id, agent, created_at);
    m.updated_at = mneme_types::time::now();
    save_message(&mut tx, &m).await?;
    bump_messages_edited(&mut tx, id).await?;
    tx.commit().await?;
    Ok(m)
}

/// Empties the default thread down to its system message and `initial`, bumping the version;
/// the agent as it is then.
async fn reset_messages(pool: &PgPool, agent: AgentId, initial: &[Message]) -> Result<Agent> {
    let mut tx = pool.begin().await?;
    // The agent row is locked: the context is read, then rewritten.
    let ids: Option<String> =
        sqlx::query_scalar("SELECT message_ids FROM agents WHERE id = $1 FOR UPDATE")
            .bind(agent.to_string())
            .fetch_optional(&mut *tx)
            .await?;
    let ids: Vec<MessageId> =
        mneme_store::codec::json(&ids.ok_or_else(|| Error::not_found("Agent", agent))?)?;
    let system = *ids
        .first()
        .ok_or_else(|| StoreError::Corrupt(format!("agent {agent} has no system message")))?;
    // What forks took over stays for them, but leaves the default thread.
    crate::conversations::hand_over(&mut tx, agent, None, Some(system)).await?;
    sqlx::query(
        "DELETE FROM messages WHERE agent_id = $1 AND id <> $2 AND conversation_id IS NULL",
    )
    .bind(agent.to_string())
    .bind(system.to_string())
    .execute(&mut *tx)
    .await?;
    insert_messages(&mut tx, initial, None).await?;
    let mut context = vec![system];
    context.extend(initial.iter().map(|m| m.id));
    sqlx::query(
        "UPDATE agents SET message_ids = $2, updated_at = $3,
            message_ids_version = message_ids_version + 1
         WHERE id = $1",
    )
    .bind(agent.to_string())
    .bind(to_json(&context)?)
    .bind(micros(&mneme_types::time::now()))
    .execute(&mut *tx)
    .await?;
    let reset = crate::agents::agent_queries::load_agent(&mut tx, agent, false).await?;
    tx.commit().await?;
    Ok(reset)
}

async fn compact_context(pool: &PgPool, c: &CompactionCommit) -> Result<()> {
    let mut tx = pool.begin().await?;
    // The context goes first, so that a stale one costs no other write.
    let thread = Thread {
        agent: c.agent_id,
        conversation: c.conversation_id,
    };
    set_context(
        &mut tx,
        thread,
        &c.message_ids,
        c.message_ids_version,
        &c.created_at,
    )
    .await?;
    insert_message(&mut tx, &c.summary, c.conversation_id).await?;
    if let Some((id, text)) = &c.system_text {
        set_text(&mut tx, *id, text, &c.created_at).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rewrites a message's text (a recompiled system message).
pub(crate) async fn set_text(
    conn: &mut PgConnection,
    id: MessageId,
    text: &str,
    at: &chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    sqlx::query("UPDATE messages SET text = $2, updated_at = $3 WHERE id = $1")
        .bind(id.to_string())
        .bind(text)
        .bind(micros(at))
        .execute(&mut *conn)
        .await?;
    Ok(())
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
        [Arg::Text(agent.to_string())],
    );
    w
}

/// A conversation's messages, those it took over from its source when forked included.
fn conversation_where(c: ConversationId) -> Where {
    let mut w = Where::default();
    w.push(
        "(conversation_id = ? OR id IN
            (SELECT message_id FROM conversation_messages WHERE conversation_id = ?))",
        [Arg::Text(c.to_string()), Arg::Text(c.to_string())],
    );
    w
}

/// The storage position of a message, `NotFound` for an unknown one.
pub(crate) async fn seq_of(conn: &mut PgConnection, id: MessageId) -> Result<i64> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM messages WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    seq.ok_or_else(|| Error::not_found("Message", id))
}

/// Stores a message in a thread: `conversation` names the conversation it is written in,
/// `None` the agent's default one.
pub(crate) async fn insert_message(
    conn: &mut PgConnection,
    m: &Message,
    conversation: Option<ConversationId>,
) -> Result<()> {
    insert_messages(conn, std::slice::from_ref(m), conversation).await
}

/// Inserts `messages` in order, a batch per statement (one array per column, unnested in
/// order, so that `seq` follows the slice).
pub(crate) async fn insert_messages(
    conn: &mut PgConnection,
    messages: &[Message],
    conversation: Option<ConversationId>,
) -> Result<()> {
    let conversation = conversation.map(|c| c.to_string());
    for chunk in messages.chunks(BATCH) {
        Columns::of(chunk, conversation.as_deref())?
            .insert(conn)
            .await?;
    }
    Ok(())
}

/// A batch of messages as column arrays, for one `INSERT … SELECT FROM UNNEST`.
#[derive(Default)]
struct Columns {
    id: Vec<String>,
    agent_id: Vec<String>,
    role: Vec<String>,
    text: Vec<String>,
    content: Vec<Option<String>>,
    reasoning: Vec<Option<String>>,
    tool_calls: Vec<Option<String>>,
    tool_call_id: Vec<Option<String>>,
    tool_returns: Vec<Option<String>>,
    name: Vec<Option<String>>,
    otid: Vec<Option<String>>,
    sender_id: Vec<Option<String>>,
    group_id: Vec<Option<String>>,
    step_id: Vec<Option<String>>,
    run_id: Vec<Option<String>>,
    is_err: Vec<i64>,
    created_at: Vec<i64>,
    updated_at: Vec<i64>,
    reasoning_blocks: Vec<Option<String>>,
    model: Vec<Option<String>>,
    conversation_id: Vec<Option<String>>,
}

impl Columns {
    fn of(messages: &[Message], conversation: Option<&str>) -> Result<Columns> {
        let mut c = Columns::default();
        for m in messages {
            c.id.push(m.id.to_string());
            c.agent_id.push(m.agent_id.to_string());
            c.role.push(m.role.as_str().to_owned());
            c.text.push(m.text.clone());
            c.content.push(to_json_opt(&m.content)?);
            c.reasoning.push(m.reasoning_text());
            c.tool_calls.push(json_list(&m.tool_calls)?);
            c.tool_call_id.push(m.tool_call_id.clone());
            c.tool_returns.push(json_list(&m.tool_returns)?);
            c.name.push(m.name.clone());
            c.otid.push(m.otid.clone());
            c.sender_id.push(m.sender_id.clone());
            c.group_id.push(m.group_id.clone());
            c.step_id.push(m.step_id.map(|s| s.to_string()));
            c.run_id.push(m.run_id.map(|r| r.to_string()));
            c.is_err.push(to_flag(m.is_err));
            c.created_at.push(micros(&m.created_at));
            c.updated_at.push(micros(&m.updated_at));
            c.reasoning_blocks.push(json_list(&m.reasoning)?);
            c.model.push(m.model.clone());
            c.conversation_id.push(conversation.map(str::to_owned));
        }
        Ok(c)
    }

    async fn insert(self, conn: &mut PgConnection) -> Result<()> {
        let sql = format!(
            "INSERT INTO messages ({MESSAGE_COLUMNS}, conversation_id)
             SELECT {MESSAGE_COLUMNS}, conversation_id FROM UNNEST(
                $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                $13::text[], $14::text[], $15::text[], $16::int8[], $17::int8[], $18::int8[],
                $19::text[], $20::text[], $21::text[])
             WITH ORDINALITY AS m ({MESSAGE_COLUMNS}, conversation_id, ord)
             ORDER BY ord"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(self.id)
            .bind(self.agent_id)
            .bind(self.role)
            .bind(self.text)
            .bind(self.content)
            .bind(self.reasoning)
            .bind(self.tool_calls)
            .bind(self.tool_call_id)
            .bind(self.tool_returns)
            .bind(self.name)
            .bind(self.otid)
            .bind(self.sender_id)
            .bind(self.group_id)
            .bind(self.step_id)
            .bind(self.run_id)
            .bind(self.is_err)
            .bind(self.created_at)
            .bind(self.updated_at)
            .bind(self.reasoning_blocks)
            .bind(self.model)
            .bind(self.conversation_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// Writes every column of an existing message but its id, agent and position.
pub(crate) async fn save_message(conn: &mut PgConnection, m: &Message) -> Result<()> {
    sqlx::query(
        "UPDATE messages SET role = $2, text = $3, content = $4, reasoning = $5,
            tool_calls = $6, tool_call_id = $7, tool_returns = $8, name = $9, otid = $10,
            sender_id = $11, group_id = $12, step_id = $13, run_id = $14, is_err = $15,
            updated_at = $16, reasoning_blocks = $17, model = $18
         WHERE id = $1",
    )
    .bind(m.id.to_string())
    .bind(m.role.as_str())
    .bind(&m.text)
    .bind(to_json_opt(&m.content)?)
    .bind(m.reasoning_text())
    .bind(json_list(&m.tool_calls)?)
    .bind(&m.tool_call_id)
    .bind(json_list(&m.tool_returns)?)
    .bind(&m.name)
    .bind(&m.otid)
    .bind(&m.sender_id)
    .bind(&m.group_id)
    .bind(m.step_id.map(|s| s.to_string()))
    .bind(m.run_id.map(|r| r.to_string()))
    .bind(to_flag(m.is_err))
    .bind(micros(&m.updated_at))
    .bind(json_list(&m.reasoning)?)
    .bind(&m.model)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The reasoning blocks, or for a row written before they were kept, its readable text as one
/// unsigned block.
fn reasoning(text: Option<String>, blocks: Option<String>) -> Result<Vec<ReasoningRecord>> {
    match (blocks, text) {
        (Some(blocks), _) => Ok(json_opt(Some(blocks))?.unwrap_or_default()),
        (None, Some(text)) if !text.is_empty() => Ok(vec![ReasoningRecord::Reasoning {
            text,
            signature: None,
        }]),
        (None, _) => Ok(Vec::new()),
    }
}

/// A list column: empty lists are stored as NULL.
fn json_list<T: serde::Serialize>(items: &[T]) -> Result<Option<String>> {
    if items.is_empty() {
        Ok(None)
    } else {
        Ok(Some(to_json(&items)?))
    }
}

/// One message; `lock` holds its row until the transaction ends.
pub(crate) async fn load_message(
    conn: &mut PgConnection,
    id: MessageId,
    lock: bool,
) -> Result<Message> {
    let lock = if lock { "FOR UPDATE" } else { "" };
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ? {lock}");
    let mut found = fetch(conn, &sql, vec![Arg::Text(id.to_string())], message).await?;
    found.pop().ok_or_else(|| Error::not_found("Message", id))
}

/// Tells caches of the agent's in-context messages that one of its messages changed.
async fn bump_messages_edited(conn: &mut PgConnection, message: MessageId) -> Result<()> {
    sqlx::query(
        "UPDATE agents SET messages_edited = messages_edited + 1
          WHERE id = (SELECT agent_id FROM messages WHERE id = $1)",
    )
    .bind(message.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Messages by id, in the order asked; ids that do not resolve are skipped.
pub(crate) async fn load_messages(
    conn: &mut PgConnection,
    ids: &[MessageId],
) -> Result<Vec<Message>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ANY(?)");
    let found = fetch(conn, &sql, vec![Arg::Texts(keys)], message).await?;
    // Back into the order asked, in linear time: contexts hold thousands of messages.
    let mut by_id: HashMap<MessageId, Message> = found.into_iter().map(|m| (m.id, m)).collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Reads a message from a row selected with `MESSAGE_COLUMNS`.
pub(crate) fn message(row: &PgRow) -> Result<Message> {
    let role: String = row.try_get(2)?;
    let id = |i: usize| -> Result<Option<String>> { Ok(row.try_get(i)?) };
    Ok(Message {
        id: parse(&row.try_get::<String, _>(0)?)?,
        agent_id: parse(&row.try_get::<String, _>(1)?)?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        text: row.try_get(3)?,
        content: json_opt(row.try_get(4)?)?,
        reasoning: reasoning(row.try_get(5)?, row.try_get(18)?)?,
        model: row.try_get(19)?,
        tool_calls: json_opt(row.try_get(6)?)?.unwrap_or_default(),
        tool_call_id: row.try_get(7)?,
        tool_returns: json_opt(row.try_get(8)?)?.unwrap_or_default(),
        name: row.try_get(9)?,
        otid: row.try_get(10)?,
        sender_id: row.try_get(11)?,
        group_id: row.try_get(12)?,
        step_id: id(13)?.map(|s| parse(&s)).transpose()?,
        run_id: id(14)?.map(|s| parse(&s)).transpose()?,
        is_err: flag(row.try_get(15)?),
        created_at: time(row.try_get(16)?),
        updated_at: time(row.try_get(17)?),
    })
}

/// A page of the messages `w` selects, by `q`'s run, cursors, order and limit, oldest first
/// whichever end it was taken from (as Letta lists them).
pub(crate) async fn page_messages(
    conn: &mut PgConnection,
    mut w: Where,
    q: &MessageQuery,
) -> Result<Vec<Message>> {
    if let Some(run) = q.run_id {
        w.push("run_id = ?", [Arg::Text(run.to_string())]);
    }
    for (cursor, op) in [(q.after, ">"), (q.before, "<")] {
        if let Some(cursor) = cursor {
            let seq = seq_of(conn, cursor).await?;
            w.push(format!("seq {op} ?"), [Arg::Int(seq)]);
        }
    }
    let dir = if q.order == Order::Asc { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages {} ORDER BY seq {dir} LIMIT {}",
        w.where_clause(),
        q.limit
    );
    let mut out = fetch(conn, &sql, w.params, message).await?;
    if q.order == Order::Desc {
        out.reverse();
    }
    Ok(out)
}

/// The messages whose `column` (`run_id`, `step_id`) is `owner`, by storage sequence, paged by
/// message-id cursors along `page.order`.
async fn owned_messages(
    conn: &mut PgConnection,
    column: &str,
    owner: String,
    page: &Page,
) -> Result<Vec<Message>> {
    let mut w = Where::default();
    w.push(format!("{column} = ?"), [Arg::Text(owner)]);
    paged_messages(conn, w, page).await
}

/// The messages `w` selects, by storage sequence in `page.order`, cursors being message ids
/// moving along it.
pub(crate) async fn paged_messages(
    conn: &mut PgConnection,
    mut w: Where,
    page: &Page,
) -> Result<Vec<Message>> {
    let forward = page.order == Order::Asc;
    for (cursor, after) in [(&page.after, true), (&page.before, false)] {
        if let Some(cursor) = cursor {
            let seq = seq_of(conn, parse(cursor)?).await?;
            let op = if after == forward { ">" } else { "<" };
            w.push(format!("seq {op} ?"), [Arg::Int(seq)]);
        }
    }
    let dir = if forward { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages {} ORDER BY seq {dir} LIMIT {}",
        w.where_clause(),
        page.limit
    );
    fetch(conn, &sql, w.params, message).await
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
        let blocks =
            r#"[{"type":"reasoning","text":"t","signature":"s"},{"type":"redacted","data":"d"}]"#;
        let new = reasoning(Some("t".into()), Some(blocks.into())).unwrap();
        assert_eq!(new[1], ReasoningRecord::Redacted { data: "d".into() });
    }
}
