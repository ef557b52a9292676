//! The messages of a group on PostgreSQL: listed by `messages.group_id`, delivered into
//! members' contexts, and reset with every context that names them. Each context written is
//! read under a row lock, so a concurrent writer of the same agent waits its turn.

use std::collections::HashSet;

use mneme_store::codec::{json, parse};
use mneme_store::{Message, MessageQuery, Order};
use mneme_types::{AgentId, GroupId, MessageId};
use sqlx::{AssertSqlSafe, PgConnection, Row};

use crate::query::{Arg, Where, ensure_agent, fetch};
use crate::runs::{Thread, set_context};
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
    let now = mneme_types::time::now();
    for agent in agents.iter().filter(|a| into_context.contains(a)) {
        let thread = Thread {
            agent: *agent,
            conversation: None,
        };
        let (mut ids, version) = context(conn, &thread).await?;
        ids.extend(
            messages
                .iter()
                .filter(|m| m.agent_id == *agent)
                .map(|m| m.id),
        );
        set_context(conn, thread, &ids, version, &now).await?;
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
        let conversations: Vec<String> =
            sqlx::query_scalar("SELECT id FROM conversations WHERE agent_id = $1 ORDER BY id")
                .bind(&agent)
                .fetch_all(&mut *conn)
                .await?;
        let agent: AgentId = parse(&agent)?;
        forget(
            conn,
            Thread {
                agent,
                conversation: None,
            },
            &doomed,
        )
        .await?;
        for c in conversations {
            let conversation = Some(parse(&c)?);
            forget(
                conn,
                Thread {
                    agent,
                    conversation,
                },
                &doomed,
            )
            .await?;
        }
    }
    let n = sqlx::query("DELETE FROM messages WHERE group_id = $1")
        .bind(&key)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n)
}

/// Takes the doomed messages out of the thread's context, if it names any.
async fn forget(
    conn: &mut PgConnection,
    thread: Thread,
    doomed: &HashSet<MessageId>,
) -> Result<()> {
    let (ids, version) = context(conn, &thread).await?;
    if let Some(ids) = without(&ids, doomed) {
        set_context(conn, thread, &ids, version, &mneme_types::time::now()).await?;
    }
    Ok(())
}

/// The thread's in-context ids and their version, its row locked for update.
async fn context(conn: &mut PgConnection, thread: &Thread) -> Result<(Vec<MessageId>, u64)> {
    let (table, kind, key) = match thread.conversation {
        None => ("agents", "Agent", thread.agent.to_string()),
        Some(c) => ("conversations", "Conversation", c.to_string()),
    };
    let sql =
        format!("SELECT message_ids, message_ids_version FROM {table} WHERE id = $1 FOR UPDATE");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(&key)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found(kind, key))?;
    let ids = json(&row.try_get::<String, _>(0)?)?;
    Ok((ids, crate::rows::count(row.try_get(1)?)))
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
