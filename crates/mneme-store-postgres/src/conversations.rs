//! `ConversationStore` on PostgreSQL: a conversation row holds its context as the agent row
//! holds the default conversation's; isolated blocks are ordinary blocks paired with it in
//! `conversation_blocks`; a fork lists its source's messages through `conversation_messages`.

use async_trait::async_trait;
use mneme_store::codec::{json, json_opt, micros, parse, time, to_json, to_json_opt};
use mneme_store::{
    AgentFrame, ConversationEdit, ConversationFilter, ConversationRecord, ConversationStore,
    Message, NewConversation, Order, Page, StoreError,
};
use mneme_types::{AgentId, Block, BlockId, ConversationId, ConversationOrderBy, MessageId};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::messages::{MESSAGE_COLUMNS, insert_message, message, seq_of, thread_where};
use crate::query::{Arg, Where, ensure_agent, fetch};
use crate::rows::count;
use crate::{Error, PgStore, Result, StoreResult, agents, blocks};

const COLUMNS: &str = "id, agent_id, summary, model, model_settings, message_ids, \
    message_ids_version, last_message_at, created_at, updated_at";

#[async_trait]
impl ConversationStore for PgStore {
    async fn create_conversation(&self, new: NewConversation) -> StoreResult<ConversationRecord> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let c = create(&mut tx, &new).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(c)
    }

    async fn get_conversation(&self, id: ConversationId) -> StoreResult<ConversationRecord> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load(&mut conn, id).await?)
    }

    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
        page: &Page,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(list(&mut conn, filter, page).await?)
    }

    async fn update_conversation(
        &self,
        id: ConversationId,
        edit: ConversationEdit,
    ) -> StoreResult<ConversationRecord> {
        Ok(update(&self.pool, id, edit).await?)
    }

    async fn delete_conversation(&self, id: ConversationId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        delete(&mut tx, id).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn conversation_frame(&self, id: ConversationId) -> StoreResult<AgentFrame> {
        // One snapshot, as the agent's frame: the conversation's context, the agent's frame and
        // the isolated blocks that stand in for its blocks agree with each other.
        let mut tx = self
            .pool
            .begin_with(agents::SNAPSHOT)
            .await
            .map_err(Error::from)?;
        let c = load(&mut tx, id).await?;
        let mut frame = agents::frame_of(&mut tx, c.agent_id).await?;
        frame.agent.message_ids = c.message_ids;
        frame.agent.message_ids_version = c.message_ids_version;
        for block_id in &c.isolated_block_ids {
            let copy = blocks::load_block(&mut tx, *block_id).await?;
            // A copy whose agent block was detached has nothing to stand in for.
            if let Some(slot) = frame.blocks.iter_mut().find(|b| b.label == copy.label) {
                *slot = copy;
            }
        }
        tx.commit().await.map_err(Error::from)?;
        frame.conversation = Some(id);
        Ok(frame)
    }

    async fn thread_messages(
        &self,
        agent: AgentId,
        conversation: Option<ConversationId>,
        page: &Page,
    ) -> StoreResult<Vec<Message>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(thread_messages(&mut conn, agent, conversation, page).await?)
    }
}

/// Not found unless the conversation exists.
pub(crate) async fn ensure_conversation(conn: &mut PgConnection, id: ConversationId) -> Result<()> {
    crate::query::ensure_row(conn, "conversations", "Conversation", id, false).await
}

async fn create(tx: &mut PgConnection, new: &NewConversation) -> Result<ConversationRecord> {
    let c = &new.conversation;
    ensure_agent(tx, c.agent_id).await?;
    sqlx::query(
        "INSERT INTO conversations (id, agent_id, summary, model, model_settings, message_ids,
            message_ids_version, last_message_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(c.id.to_string())
    .bind(c.agent_id.to_string())
    .bind(&c.summary)
    .bind(&c.model)
    .bind(to_json_opt(&c.model_settings)?)
    .bind(to_json(&c.message_ids)?)
    .bind(c.message_ids_version as i64)
    .bind(c.last_message_at.as_ref().map(micros))
    .bind(micros(&c.created_at))
    .bind(micros(&c.updated_at))
    .execute(&mut *tx)
    .await?;
    insert_message(tx, &new.system, Some(c.id)).await?;
    add_isolated_blocks(tx, c, &new.isolated_blocks).await?;
    inherit(tx, c, &new.inherited).await?;
    load(tx, c.id).await
}

/// Stores the conversation's copies of agent blocks; each must stand in for a block of the
/// agent with its label.
async fn add_isolated_blocks(
    tx: &mut PgConnection,
    c: &ConversationRecord,
    copies: &[Block],
) -> Result<()> {
    if copies.is_empty() {
        return Ok(());
    }
    let labels: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT b.label FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id
         WHERE ab.agent_id = $1",
    )
    .bind(c.agent_id.to_string())
    .fetch_all(&mut *tx)
    .await?;
    for (position, block) in copies.iter().enumerate() {
        let label = block.label.clone().unwrap_or_default();
        if !labels.iter().any(|l| l.as_deref() == Some(&label)) {
            return Err(invalid(format!(
                "Block with label '{label}' not found on agent '{}'",
                c.agent_id
            )));
        }
        if copies[..position]
            .iter()
            .any(|b| b.label.as_deref().unwrap_or_default() == label)
        {
            return Err(invalid(format!("Block label '{label}' is isolated twice")));
        }
        blocks::insert_block(tx, block, &c.created_at).await?;
        sqlx::query(
            "INSERT INTO conversation_blocks (conversation_id, block_id, label)
             VALUES ($1, $2, $3)",
        )
        .bind(c.id.to_string())
        .bind(block.id.to_string())
        .bind(&label)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Lists another thread's messages in the new conversation's history (a fork).
async fn inherit(tx: &mut PgConnection, c: &ConversationRecord, ids: &[MessageId]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let owned: Vec<String> =
        sqlx::query_scalar("SELECT id FROM messages WHERE id = ANY($1) AND agent_id = $2")
            .bind(&keys)
            .bind(c.agent_id.to_string())
            .fetch_all(&mut *tx)
            .await?;
    if let Some(stranger) = keys.iter().find(|k| !owned.contains(k)) {
        return Err(invalid(format!(
            "Message {stranger} is not a message of agent {}",
            c.agent_id
        )));
    }
    sqlx::query(
        "INSERT INTO conversation_messages (conversation_id, message_id)
         SELECT $1, m FROM UNNEST($2::text[]) AS m
         ON CONFLICT DO NOTHING",
    )
    .bind(c.id.to_string())
    .bind(&keys)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn invalid(message: String) -> Error {
    Error::Store(StoreError::Invalid(message))
}

async fn update(
    pool: &PgPool,
    id: ConversationId,
    edit: ConversationEdit,
) -> Result<ConversationRecord> {
    let mut tx = pool.begin().await?;
    // Locked: the edit reads the record and writes it back.
    let mut c = load_with(&mut tx, id, "FOR UPDATE").await?;
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
    save(&mut tx, &c).await?;
    tx.commit().await?;
    Ok(c)
}

async fn save(tx: &mut PgConnection, c: &ConversationRecord) -> Result<()> {
    sqlx::query(
        "UPDATE conversations SET summary = $2, model = $3, model_settings = $4,
            last_message_at = $5, updated_at = $6
         WHERE id = $1",
    )
    .bind(c.id.to_string())
    .bind(&c.summary)
    .bind(&c.model)
    .bind(to_json_opt(&c.model_settings)?)
    .bind(c.last_message_at.as_ref().map(micros))
    .bind(micros(&c.updated_at))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The conversation, its runs, its isolated blocks and its own messages but those a fork
/// lists, which stay for the fork.
async fn delete(tx: &mut PgConnection, id: ConversationId) -> Result<()> {
    let agent = load(tx, id).await?.agent_id;
    let key = id.to_string();
    sqlx::query("DELETE FROM runs WHERE conversation_id = $1")
        .bind(&key)
        .execute(&mut *tx)
        .await?;
    hand_over(tx, agent, Some(id), None).await?;
    sqlx::query("DELETE FROM messages WHERE conversation_id = $1")
        .bind(&key)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM blocks WHERE id IN
           (SELECT block_id FROM conversation_blocks WHERE conversation_id = $1)",
    )
    .bind(&key)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM conversations WHERE id = $1")
        .bind(&key)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Gives the messages of a thread (`from`, or the agent's default one) that forks took over
/// to one of those forks, before the thread lets go of its messages: they leave its listing,
/// stay in the forks' and go with the last fork that lists them. `keep` stays where it is.
pub(crate) async fn hand_over(
    tx: &mut PgConnection,
    agent: AgentId,
    from: Option<ConversationId>,
    keep: Option<MessageId>,
) -> Result<()> {
    let owner = match from {
        None => "agent_id = $1 AND conversation_id IS NULL",
        Some(_) => "conversation_id = $2",
    };
    // `$2::text` and `$3::text`: typed, since one of them may be bound as NULL only.
    let sql = format!(
        "UPDATE messages SET conversation_id =
            (SELECT MIN(cm.conversation_id) FROM conversation_messages cm
             WHERE cm.message_id = messages.id AND cm.conversation_id IS DISTINCT FROM $2::text)
         WHERE {owner} AND id IS DISTINCT FROM $3::text AND id IN
            (SELECT message_id FROM conversation_messages
             WHERE conversation_id IS DISTINCT FROM $2::text)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(agent.to_string())
        .bind(from.map(|c| c.to_string()))
        .bind(keep.map(|m| m.to_string()))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// One conversation with its isolated blocks.
pub(crate) async fn load(
    conn: &mut PgConnection,
    id: ConversationId,
) -> Result<ConversationRecord> {
    load_with(conn, id, "").await
}

/// One conversation, read with `lock` (`FOR UPDATE` or nothing).
async fn load_with(
    conn: &mut PgConnection,
    id: ConversationId,
    lock: &str,
) -> Result<ConversationRecord> {
    let sql = format!("SELECT {COLUMNS} FROM conversations WHERE id = ? {lock}");
    let mut found = query(conn, &sql, vec![Arg::Text(id.to_string())]).await?;
    found
        .pop()
        .ok_or_else(|| Error::not_found("Conversation", id))
}

async fn query(
    conn: &mut PgConnection,
    sql: &str,
    params: Vec<Arg>,
) -> Result<Vec<ConversationRecord>> {
    let mut out = fetch(conn, sql, params, record).await?;
    if out.is_empty() {
        return Ok(out);
    }
    let keys: Vec<String> = out.iter().map(|c| c.id.to_string()).collect();
    // In the order they were written.
    let pairs: Vec<(String, String)> = sqlx::query_as(
        "SELECT conversation_id, block_id FROM conversation_blocks
         WHERE conversation_id = ANY($1) ORDER BY seq",
    )
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;
    for c in &mut out {
        let key = c.id.to_string();
        c.isolated_block_ids = pairs
            .iter()
            .filter(|(conv, _)| *conv == key)
            .map(|(_, b)| parse::<BlockId>(b))
            .collect::<Result<Vec<_>, StoreError>>()?;
    }
    Ok(out)
}

fn record(row: &PgRow) -> Result<ConversationRecord> {
    Ok(ConversationRecord {
        id: parse(&row.try_get::<String, _>(0)?)?,
        agent_id: parse(&row.try_get::<String, _>(1)?)?,
        summary: row.try_get(2)?,
        model: row.try_get(3)?,
        model_settings: json_opt(row.try_get(4)?)?,
        message_ids: json(&row.try_get::<String, _>(5)?)?,
        message_ids_version: count(row.try_get(6)?),
        isolated_block_ids: Vec::new(),
        last_message_at: row.try_get::<Option<i64>, _>(7)?.map(time),
        created_at: time(row.try_get(8)?),
        updated_at: time(row.try_get(9)?),
    })
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

async fn list(
    conn: &mut PgConnection,
    f: &ConversationFilter,
    page: &Page,
) -> Result<Vec<ConversationRecord>> {
    let key = sort_key(f.order_by, page.order);
    let mut w = Where::default();
    if let Some(agent) = f.agent {
        w.push("agent_id = ?", [Arg::Text(agent.to_string())]);
    }
    if let Some(text) = &f.summary_search {
        w.push("strpos(summary, ?) > 0", [Arg::Text(text.clone())]);
    }
    let forward = page.order == Order::Asc;
    for (cursor, after) in [(&page.after, true), (&page.before, false)] {
        let Some(cursor) = cursor else { continue };
        let sql = format!("SELECT ({key})::BIGINT FROM conversations WHERE id = $1");
        let cursor_key: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(cursor)
            .fetch_optional(&mut *conn)
            .await?;
        let cursor_key = cursor_key.ok_or_else(|| Error::not_found("Conversation", cursor))?;
        let op = if after == forward { ">" } else { "<" };
        w.push(
            format!("({key}, id) {op} (?, ?)"),
            [Arg::Int(cursor_key), Arg::Text(cursor.clone())],
        );
    }
    let dir = if forward { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {COLUMNS} FROM conversations {} ORDER BY {key} {dir}, id {dir} LIMIT {}",
        w.where_clause(),
        page.limit
    );
    query(conn, &sql, w.params).await
}

/// Where a message stands in its thread's history: the thread's system message (the head of
/// its context, bound to the `?`) first, since a fork's is stored after the messages it took
/// over; then storage order, a `system` message a client sent included.
const POSITION: &str = "(CASE WHEN id = ? THEN 0 ELSE 1 END), seq";

/// A thread's history in listing order, cursors moving along it.
async fn thread_messages(
    conn: &mut PgConnection,
    agent: AgentId,
    conversation: Option<ConversationId>,
    page: &Page,
) -> Result<Vec<Message>> {
    let head = head_of(conn, agent, conversation).await?;
    let mut w = thread_where(agent, conversation);
    let forward = page.order == Order::Asc;
    for (cursor, after) in [(&page.after, true), (&page.before, false)] {
        if let Some(cursor) = cursor {
            let id: MessageId = parse(cursor)?;
            let rank = i64::from(id.to_string() != head);
            let op = if after == forward { ">" } else { "<" };
            let seq = seq_of(conn, id).await?;
            w.push(
                format!("({POSITION}) {op} (?, ?)"),
                [Arg::Text(head.clone()), Arg::Int(rank), Arg::Int(seq)],
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
    params.push(Arg::Text(head));
    fetch(conn, &sql, params, message).await
}

/// The id of the thread's system message, the first of its context (`NotFound` for an unknown
/// conversation or agent).
async fn head_of(
    conn: &mut PgConnection,
    agent: AgentId,
    conversation: Option<ConversationId>,
) -> Result<String> {
    let (table, kind, key) = match conversation {
        Some(c) => ("conversations", "Conversation", c.to_string()),
        None => ("agents", "Agent", agent.to_string()),
    };
    let sql = format!("SELECT (message_ids::jsonb) ->> 0 FROM {table} WHERE id = $1");
    let head: Option<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(&key)
        .fetch_optional(&mut *conn)
        .await?;
    let head = head.ok_or_else(|| Error::not_found(kind, key))?;
    Ok(head.unwrap_or_default())
}
