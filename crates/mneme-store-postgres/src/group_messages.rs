//! The messages of a group on PostgreSQL: listed by `messages.group_id`, delivered into
//! members' contexts, and reset with every context that names them. Each context written is
//! read under a row lock, so a concurrent writer of the same agent waits its turn.

use std::collections::HashSet;

use mneme_store::codec::{json, micros, parse, to_json};
use mneme_store::{Message, MessageQuery, Order, StoreError};
use mneme_types::{AgentId, GroupId, MessageId};
use sqlx::{AssertSqlSafe, PgConnection, Row};

use crate::query::{Arg, Where, ensure_agent, fetch};
use crate::{Error, Result};

/// `GroupStore::group_messages`: the page of ids by storage sequence, then the messages.
pub(super) async fn list(
    conn: &mut PgConnection,
    group: GroupId,
    q: &MessageQuery,
) -> Result<Vec<Message>> {
    super::ensure_group(conn, group).await?;
    let mut w = Where::default();
    w.push("group_id = ?", [Arg::Text(group.to_string())]);
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
        "SELECT id FROM messages {} ORDER BY seq {dir} LIMIT {}",
        w.where_clause(),
        q.limit
    );
    let mut ids: Vec<MessageId> = fetch(conn, &sql, w.params, |r| {
        Ok(parse(&r.try_get::<String, _>(0)?)?)
    })
    .await?;
    // Oldest first either way.
    if q.order == Order::Desc {
        ids.reverse();
    }
    crate::messages::load_messages(conn, &ids).await
}

async fn seq_of(conn: &mut PgConnection, id: MessageId) -> Result<i64> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM messages WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    seq.ok_or_else(|| Error::not_found("Message", id))
}

/// `GroupStore::deliver_group_messages`.
pub(super) async fn deliver(
    conn: &mut PgConnection,
    group: GroupId,
    mut messages: Vec<Message>,
    into_context: &[AgentId],
) -> Result<()> {
    super::ensure_group(conn, group).await?;
    let mut agents: Vec<AgentId> = Vec::new();
    for m in &mut messages {
        m.group_id = Some(group.to_string());
        if !agents.contains(&m.agent_id) {
            ensure_agent(conn, m.agent_id).await?;
            agents.push(m.agent_id);
        }
    }
    crate::messages::insert_messages(conn, &messages, None).await?;
    for agent in agents.iter().filter(|a| into_context.contains(a)) {
        let key = agent.to_string();
        let (mut ids, version) = context(conn, "agents", &key).await?;
        ids.extend(
            messages
                .iter()
                .filter(|m| m.agent_id == *agent)
                .map(|m| m.id),
        );
        set_context(conn, "agents", &key, &ids, version).await?;
    }
    Ok(())
}

/// `GroupStore::reset_group_messages`: the contexts first (they are found through the
/// messages), then the messages.
pub(super) async fn reset(conn: &mut PgConnection, group: GroupId) -> Result<u64> {
    super::ensure_group(conn, group).await?;
    let key = group.to_string();
    let doomed: Vec<String> = sqlx::query_scalar("SELECT id FROM messages WHERE group_id = $1")
        .bind(&key)
        .fetch_all(&mut *conn)
        .await?;
    let doomed: HashSet<MessageId> = doomed.iter().map(|s| parse(s)).collect::<Result<_, _>>()?;
    let agents: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT agent_id FROM messages WHERE group_id = $1")
            .bind(&key)
            .fetch_all(&mut *conn)
            .await?;
    for agent in agents {
        forget(conn, "agents", &agent, &doomed).await?;
        let conversations: Vec<String> =
            sqlx::query_scalar("SELECT id FROM conversations WHERE agent_id = $1 ORDER BY id")
                .bind(&agent)
                .fetch_all(&mut *conn)
                .await?;
        for c in conversations {
            forget(conn, "conversations", &c, &doomed).await?;
        }
    }
    let n = sqlx::query("DELETE FROM messages WHERE group_id = $1")
        .bind(&key)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n)
}

/// Takes the doomed messages out of the context of row `key` of `table` (agents or
/// conversations), if it names any.
async fn forget(
    conn: &mut PgConnection,
    table: &str,
    key: &str,
    doomed: &HashSet<MessageId>,
) -> Result<()> {
    let (ids, version) = context(conn, table, key).await?;
    if let Some(ids) = without(&ids, doomed) {
        set_context(conn, table, key, &ids, version).await?;
    }
    Ok(())
}

/// The in-context ids and their version of row `key` of `table`, the row locked for update.
async fn context(conn: &mut PgConnection, table: &str, key: &str) -> Result<(Vec<MessageId>, i64)> {
    let kind = if table == "agents" {
        "Agent"
    } else {
        "Conversation"
    };
    let sql =
        format!("SELECT message_ids, message_ids_version FROM {table} WHERE id = $1 FOR UPDATE");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found(kind, key))?;
    let ids = json(&row.try_get::<String, _>(0)?)?;
    Ok((ids, row.try_get(1)?))
}

/// Writes the in-context ids of row `key` of `table` if its version is still `version`,
/// bumping it (the row is locked, so only a bug elsewhere makes this a conflict).
async fn set_context(
    conn: &mut PgConnection,
    table: &str,
    key: &str,
    ids: &[MessageId],
    version: i64,
) -> Result<()> {
    let sql = format!(
        "UPDATE {table} SET message_ids = $2, updated_at = $3,
            message_ids_version = message_ids_version + 1
         WHERE id = $1 AND message_ids_version = $4"
    );
    let n = sqlx::query(AssertSqlSafe(sql))
        .bind(key)
        .bind(to_json(&ids)?)
        .bind(micros(&mneme_types::time::now()))
        .bind(version)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::Store(StoreError::Conflict(format!(
            "The in-context messages of {key} were changed by another writer meanwhile"
        ))));
    }
    Ok(())
}

/// `ids` without the doomed ones (the first, a system message, always stays), or `None` when
/// nothing changes.
fn without(ids: &[MessageId], doomed: &HashSet<MessageId>) -> Option<Vec<MessageId>> {
    let kept: Vec<MessageId> = ids
        .iter()
        .enumerate()
        .filter(|(i, id)| *i == 0 || !doomed.contains(id))
        .map(|(_, id)| *id)
        .collect();
    (kept.len() != ids.len()).then_some(kept)
}
