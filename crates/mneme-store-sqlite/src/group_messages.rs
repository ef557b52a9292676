//! The messages of a group on SQLite: listed by `messages.group_id` (migration 0012 indexes
//! it), delivered into members' contexts, and reset with every context that names them.

use std::collections::HashSet;

use mneme_store::{Message, MessageQuery};
use mneme_types::{AgentId, ConversationId, GroupId, MessageId};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

use crate::agents::{Where, ensure_agent, load_agent};
use crate::messages::insert_messages;
use crate::rows::parse;
use crate::runs::{Thread, set_context};
use crate::{Cached, Result};

/// `GroupStore::group_messages`.
pub(crate) fn list(conn: &Connection, group: GroupId, q: &MessageQuery) -> Result<Vec<Message>> {
    crate::groups::ensure_group(conn, group)?;
    let mut w = Where::default();
    w.push("group_id = ?", [SqlValue::Text(group.to_string())]);
    crate::messages::page_messages(conn, w, q)
}

/// `GroupStore::deliver_group_messages`.
pub(crate) fn deliver(
    tx: &Connection,
    group: GroupId,
    mut messages: Vec<Message>,
    into_context: &[AgentId],
) -> Result<()> {
    crate::groups::ensure_group(tx, group)?;
    let mut agents: Vec<AgentId> = Vec::new();
    for m in &mut messages {
        m.group_id = Some(group.to_string());
        if !agents.contains(&m.agent_id) {
            ensure_agent(tx, m.agent_id)?;
            agents.push(m.agent_id);
        }
    }
    insert_messages(tx, &messages, None)?;
    let now = mneme_types::time::now();
    for agent in agents.iter().filter(|a| into_context.contains(a)) {
        let a = load_agent(tx, *agent)?;
        let mut ids = a.message_ids.clone();
        ids.extend(
            messages
                .iter()
                .filter(|m| m.agent_id == *agent)
                .map(|m| m.id),
        );
        let thread = Thread {
            agent: *agent,
            conversation: None,
        };
        set_context(tx, thread, &ids, a.message_ids_version, &now)?;
    }
    Ok(())
}

/// `GroupStore::reset_group_messages`: the contexts first (they are found through the
/// messages), then the messages.
pub(crate) fn reset(tx: &Connection, group: GroupId) -> Result<u64> {
    crate::groups::ensure_group(tx, group)?;
    let key = group.to_string();
    let doomed: HashSet<MessageId> =
        column(tx, "SELECT id FROM messages WHERE group_id = ?1", &key)?;
    let agents: Vec<AgentId> = column(
        tx,
        "SELECT DISTINCT agent_id FROM messages WHERE group_id = ?1",
        &key,
    )?;
    let now = mneme_types::time::now();
    for agent in agents {
        let a = load_agent(tx, agent)?;
        let thread = Thread {
            agent,
            conversation: None,
        };
        if let Some(ids) = without(&a.message_ids, &doomed) {
            set_context(tx, thread, &ids, a.message_ids_version, &now)?;
        }
        let conversations: Vec<ConversationId> = column(
            tx,
            "SELECT id FROM conversations WHERE agent_id = ?1",
            &agent.to_string(),
        )?;
        for c in conversations {
            let record = crate::conversations::load(tx, c)?;
            if let Some(ids) = without(&record.message_ids, &doomed) {
                let thread = Thread {
                    conversation: Some(c),
                    ..thread
                };
                set_context(tx, thread, &ids, record.message_ids_version, &now)?;
            }
        }
    }
    let n = tx.execute_cached("DELETE FROM messages WHERE group_id = ?1", [key])?;
    Ok(n as u64)
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

/// The first column of a query taking one text parameter, parsed.
fn column<T, C>(conn: &Connection, sql: &str, param: &str) -> Result<C>
where
    T: std::str::FromStr,
    C: FromIterator<T>,
{
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([param])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(parse::<T>(&row.get::<_, String>(0)?)?);
    }
    Ok(out.into_iter().collect())
}
