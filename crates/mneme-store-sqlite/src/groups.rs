//! `GroupStore` on SQLite: a group row with its manager's settings as one JSON object, its
//! members in turn order in `group_agents`, its shared blocks in `group_blocks`.

use async_trait::async_trait;
use mneme_types::{AgentId, BlockId, Group, GroupId, ManagerType, MessageId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};
use serde::{Deserialize, Serialize};

use crate::agents::{Where, attach, create_agent, delete_agent, ensure_agent, order_limit};
use crate::rows::{micros, parse, placeholders};
use crate::{Cached, Error, Result, SqliteStore, StoreResult};
use mneme_store::{
    GroupEdit, GroupFilter, GroupStore, Message, MessageQuery, NewAgent, Page, StoreError,
};

const COLUMNS: &str = "id, manager_type, description, project_id, template_id, \
    base_template_id, deployment_id, manager_agent_id, config, hidden";

/// The manager's settings no query filters on.
#[derive(Default, Serialize, Deserialize)]
struct Config {
    termination_token: Option<String>,
    max_turns: Option<u32>,
    sleeptime_agent_frequency: Option<u32>,
    turns_counter: Option<i64>,
    last_processed_message_id: Option<MessageId>,
    max_message_buffer_length: Option<u32>,
    min_message_buffer_length: Option<u32>,
}

impl Config {
    fn of(g: &Group) -> Config {
        Config {
            termination_token: g.termination_token.clone(),
            max_turns: g.max_turns,
            sleeptime_agent_frequency: g.sleeptime_agent_frequency,
            turns_counter: g.turns_counter,
            last_processed_message_id: g.last_processed_message_id,
            max_message_buffer_length: g.max_message_buffer_length,
            min_message_buffer_length: g.min_message_buffer_length,
        }
    }
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn create_group(&self, group: Group, new_agents: Vec<NewAgent>) -> StoreResult<Group> {
        self.write(move |tx| {
            for new in &new_agents {
                create_agent(tx, new)?;
            }
            insert(tx, &group)?;
            load(tx, group.id)
        })
        .await
    }

    async fn get_group(&self, id: GroupId) -> StoreResult<Group> {
        self.read(move |conn| load(conn, id)).await
    }

    async fn list_groups(&self, filter: &GroupFilter, page: &Page) -> StoreResult<Vec<Group>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| list(conn, &filter, &page)).await
    }

    async fn count_groups(&self, filter: &GroupFilter) -> StoreResult<u64> {
        let filter = filter.clone();
        self.read(move |conn| {
            let q = filter_sql(&filter);
            let sql = format!("SELECT COUNT(*) FROM groups {}", q.where_clause());
            let n: i64 = conn.query_row_cached(&sql, params_from_iter(q.params), |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn update_group(&self, id: GroupId, edit: GroupEdit) -> StoreResult<Group> {
        self.write(move |tx| update(tx, id, edit)).await
    }

    async fn delete_group(&self, id: GroupId, with_members: bool) -> StoreResult<()> {
        self.write(move |tx| {
            let group = load(tx, id)?;
            tx.execute_cached("DELETE FROM groups WHERE id = ?1", [id.to_string()])?;
            if with_members {
                for agent in group.agent_ids {
                    if Some(agent) != group.manager_agent_id {
                        delete_agent(tx, agent)?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn groups_of_agent(
        &self,
        agent: AgentId,
        manager_type: Option<ManagerType>,
    ) -> StoreResult<Vec<Group>> {
        self.read(move |conn| {
            let mut q = Where::default();
            q.push(
                "id IN (SELECT group_id FROM group_agents WHERE agent_id = ?)",
                [SqlValue::Text(agent.to_string())],
            );
            if let Some(t) = manager_type {
                q.push("manager_type = ?", [SqlValue::Text(t.as_str().into())]);
            }
            select(conn, q, "ORDER BY created_at, id")
        })
        .await
    }

    async fn managed_groups(&self, agent: AgentId) -> StoreResult<Vec<Group>> {
        self.read(move |conn| {
            let mut q = Where::default();
            q.push("manager_agent_id = ?", [SqlValue::Text(agent.to_string())]);
            select(conn, q, "ORDER BY created_at, id")
        })
        .await
    }

    async fn attach_group_block(&self, group: GroupId, block: BlockId) -> StoreResult<()> {
        self.write(move |tx| {
            let mut g = load(tx, group)?;
            if !g.shared_block_ids.contains(&block) {
                g.shared_block_ids.push(block);
                write_blocks(tx, &g)?;
            }
            share(tx, &g, &[block])
        })
        .await
    }

    async fn detach_group_block(&self, group: GroupId, block: BlockId) -> StoreResult<()> {
        self.write(move |tx| {
            ensure_group(tx, group)?;
            let n = tx.execute_cached(
                "DELETE FROM group_blocks WHERE group_id = ?1 AND block_id = ?2",
                [group.to_string(), block.to_string()],
            )?;
            if n == 0 {
                return Err(Error::Store(StoreError::NotFound {
                    kind: "Block",
                    id: format!("{block} shared in group {group}"),
                }));
            }
            Ok(())
        })
        .await
    }

    async fn group_messages(
        &self,
        group: GroupId,
        query: &MessageQuery,
    ) -> StoreResult<Vec<Message>> {
        let query = query.clone();
        self.read(move |conn| crate::group_messages::list(conn, group, &query))
            .await
    }

    async fn deliver_group_messages(
        &self,
        group: GroupId,
        messages: Vec<Message>,
        into_context: &[AgentId],
    ) -> StoreResult<()> {
        let into_context = into_context.to_vec();
        self.write(move |tx| crate::group_messages::deliver(tx, group, messages, &into_context))
            .await
    }

    async fn reset_group_messages(&self, group: GroupId) -> StoreResult<u64> {
        self.write(move |tx| crate::group_messages::reset(tx, group))
            .await
    }
}

pub(crate) fn ensure_group(conn: &Connection, id: GroupId) -> Result<()> {
    let found = conn
        .query_row_cached(
            "SELECT 1 FROM groups WHERE id = ?1",
            [id.to_string()],
            |_| Ok(()),
        )
        .optional()?;
    found.ok_or_else(|| Error::not_found("Group", id))
}

pub(crate) fn insert(tx: &Connection, g: &Group) -> Result<()> {
    if let Some(manager) = g.manager_agent_id {
        ensure_agent(tx, manager)?;
    }
    let now = micros(&mneme_types::time::now());
    tx.execute_cached(
        &format!(
            "INSERT INTO groups ({COLUMNS}, created_at, updated_at) VALUES ({})",
            placeholders(12)
        ),
        rusqlite::params![
            g.id.to_string(),
            g.manager_type.as_str(),
            g.description,
            g.project_id,
            g.template_id,
            g.base_template_id,
            g.deployment_id,
            g.manager_agent_id.map(|a| a.to_string()),
            crate::rows::to_json(&Config::of(g))?,
            g.hidden,
            now,
            now,
        ],
    )?;
    write_members(tx, g)?;
    write_blocks(tx, g)?;
    share(tx, g, &g.shared_block_ids)
}

fn update(tx: &Connection, id: GroupId, edit: GroupEdit) -> Result<Group> {
    let mut g = load(tx, id)?;
    let before = g.clone();
    edit(&mut g)?;
    g.id = before.id;
    g.manager_type = before.manager_type;
    if let Some(manager) = g
        .manager_agent_id
        .filter(|m| Some(*m) != before.manager_agent_id)
    {
        ensure_agent(tx, manager)?;
    }
    tx.execute_cached(
        "UPDATE groups SET description = ?2, project_id = ?3, template_id = ?4,
            base_template_id = ?5, deployment_id = ?6, manager_agent_id = ?7, config = ?8,
            hidden = ?9, updated_at = ?10
         WHERE id = ?1",
        rusqlite::params![
            id.to_string(),
            g.description,
            g.project_id,
            g.template_id,
            g.base_template_id,
            g.deployment_id,
            g.manager_agent_id.map(|a| a.to_string()),
            crate::rows::to_json(&Config::of(&g))?,
            g.hidden,
            micros(&mneme_types::time::now()),
        ],
    )?;
    if g.agent_ids != before.agent_ids {
        write_members(tx, &g)?;
    }
    if g.shared_block_ids != before.shared_block_ids {
        write_blocks(tx, &g)?;
        let added: Vec<BlockId> = g
            .shared_block_ids
            .iter()
            .filter(|b| !before.shared_block_ids.contains(b))
            .copied()
            .collect();
        share(tx, &g, &added)?;
    }
    load(tx, id)
}

/// Replaces the group's members with `g.agent_ids`, in that order; each must exist.
fn write_members(tx: &Connection, g: &Group) -> Result<()> {
    tx.execute_cached(
        "DELETE FROM group_agents WHERE group_id = ?1",
        [g.id.to_string()],
    )?;
    for (position, agent) in g.agent_ids.iter().enumerate() {
        ensure_agent(tx, *agent)?;
        tx.execute_cached(
            "INSERT OR IGNORE INTO group_agents (group_id, agent_id, position) VALUES (?1, ?2, ?3)",
            rusqlite::params![g.id.to_string(), agent.to_string(), position as i64],
        )?;
    }
    Ok(())
}

/// Replaces the group's shared blocks with `g.shared_block_ids`; each must exist.
fn write_blocks(tx: &Connection, g: &Group) -> Result<()> {
    tx.execute_cached(
        "DELETE FROM group_blocks WHERE group_id = ?1",
        [g.id.to_string()],
    )?;
    for (position, block) in g.shared_block_ids.iter().enumerate() {
        crate::blocks::load_block(tx, *block)?;
        tx.execute_cached(
            "INSERT OR IGNORE INTO group_blocks (group_id, block_id, position) VALUES (?1, ?2, ?3)",
            rusqlite::params![g.id.to_string(), block.to_string(), position as i64],
        )?;
    }
    Ok(())
}

/// Attaches `blocks` to every member and to the manager.
fn share(tx: &Connection, g: &Group, blocks: &[BlockId]) -> Result<()> {
    let agents = g.agent_ids.iter().chain(g.manager_agent_id.iter());
    for agent in agents {
        for block in blocks {
            attach(tx, *agent, *block)?;
        }
    }
    Ok(())
}

pub(crate) fn load(conn: &Connection, id: GroupId) -> Result<Group> {
    let mut q = Where::default();
    q.push("id = ?", [SqlValue::Text(id.to_string())]);
    select(conn, q, "")?
        .pop()
        .ok_or_else(|| Error::not_found("Group", id))
}

fn filter_sql(f: &GroupFilter) -> Where {
    let mut q = Where::default();
    if let Some(t) = f.manager_type {
        q.push("manager_type = ?", [SqlValue::Text(t.as_str().into())]);
    }
    if let Some(p) = &f.project_id {
        q.push("project_id = ?", [SqlValue::Text(p.clone())]);
    }
    if !f.show_hidden {
        q.push("COALESCE(hidden, 0) = 0", []);
    }
    q
}

fn list(conn: &Connection, filter: &GroupFilter, page: &Page) -> Result<Vec<Group>> {
    let mut q = filter_sql(filter);
    let forward = page.order == mneme_store::Order::Asc;
    for (cursor, after) in [(&page.after, true), (&page.before, false)] {
        let Some(cursor) = cursor else { continue };
        let key: Option<i64> = conn
            .query_row_cached(
                "SELECT created_at FROM groups WHERE id = ?1",
                [cursor],
                |r| r.get(0),
            )
            .optional()?;
        let key = key.ok_or_else(|| Error::not_found("Group", cursor))?;
        let op = if after == forward { ">" } else { "<" };
        q.push(
            format!("(created_at, id) {op} (?, ?)"),
            [SqlValue::Integer(key), SqlValue::Text(cursor.clone())],
        );
    }
    select(conn, q, &order_limit("created_at", page))
}

/// The groups `q` selects, in `order`, with their members and shared blocks.
fn select(conn: &Connection, q: Where, order: &str) -> Result<Vec<Group>> {
    let sql = format!("SELECT {COLUMNS} FROM groups {} {order}", q.where_clause());
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(q.params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(group(row)?);
    }
    for g in &mut out {
        g.agent_ids = ids_of(
            conn,
            "SELECT agent_id FROM group_agents WHERE group_id = ?1 ORDER BY position",
            g.id,
        )?;
        g.shared_block_ids = ids_of(
            conn,
            "SELECT block_id FROM group_blocks WHERE group_id = ?1 ORDER BY position",
            g.id,
        )?;
    }
    Ok(out)
}

fn ids_of<T: std::str::FromStr>(conn: &Connection, sql: &str, group: GroupId) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([group.to_string()])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(parse(&row.get::<_, String>(0)?)?);
    }
    Ok(out)
}

fn group(row: &Row<'_>) -> Result<Group> {
    let manager_type: String = row.get(1)?;
    let config: Config = crate::rows::json(&row.get::<_, String>(8)?)?;
    let manager: Option<String> = row.get(7)?;
    Ok(Group {
        id: parse(&row.get::<_, String>(0)?)?,
        manager_type: manager_type
            .parse()
            .map_err(|e: String| StoreError::Corrupt(e))?,
        agent_ids: Vec::new(),
        description: row.get(2)?,
        project_id: row.get(3)?,
        template_id: row.get(4)?,
        base_template_id: row.get(5)?,
        deployment_id: row.get(6)?,
        shared_block_ids: Vec::new(),
        manager_agent_id: manager.as_deref().map(parse).transpose()?,
        termination_token: config.termination_token,
        max_turns: config.max_turns,
        sleeptime_agent_frequency: config.sleeptime_agent_frequency,
        turns_counter: config.turns_counter,
        last_processed_message_id: config.last_processed_message_id,
        max_message_buffer_length: config.max_message_buffer_length,
        min_message_buffer_length: config.min_message_buffer_length,
        hidden: row.get(9)?,
    })
}
