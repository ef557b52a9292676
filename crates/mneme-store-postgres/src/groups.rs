//! `GroupStore` on PostgreSQL: a group row with its manager's settings as one JSON object, its
//! members in turn order in `group_agents`, its shared blocks in `group_blocks`.

use async_trait::async_trait;
use mneme_store::codec::{json, micros, parse, to_json};
use mneme_store::{
    GroupEdit, GroupFilter, GroupStore, Message, MessageQuery, NewAgent, Page, StoreError,
};
use mneme_types::{AgentId, BlockId, Group, GroupId, ManagerType, MessageId};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::query::{Arg, Where, ensure_agent, fetch, order_limit, paginate};
use crate::rows::{flag, to_flag};
use crate::{Error, PgStore, Result, StoreResult};

#[path = "group_messages.rs"]
mod group_messages;

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
impl GroupStore for PgStore {
    async fn create_group(&self, group: Group, new_agents: Vec<NewAgent>) -> StoreResult<Group> {
        Ok(create(&self.pool, group, new_agents).await?)
    }

    async fn get_group(&self, id: GroupId) -> StoreResult<Group> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let g = load(&mut tx, id, false).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(g)
    }

    async fn list_groups(&self, filter: &GroupFilter, page: &Page) -> StoreResult<Vec<Group>> {
        Ok(list(&self.pool, filter, page).await?)
    }

    async fn count_groups(&self, filter: &GroupFilter) -> StoreResult<u64> {
        let q = filter_sql(filter);
        let sql = format!("SELECT COUNT(*) FROM groups {}", q.where_clause());
        let row = crate::query::query(&sql, q.params)
            .fetch_one(&self.pool)
            .await
            .map_err(Error::from)?;
        let n: i64 = row.try_get(0).map_err(Error::from)?;
        Ok(crate::rows::count(n))
    }

    async fn update_group(&self, id: GroupId, edit: GroupEdit) -> StoreResult<Group> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let g = update(&mut tx, id, edit).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(g)
    }

    async fn delete_group(&self, id: GroupId, with_members: bool) -> StoreResult<()> {
        Ok(delete(&self.pool, id, with_members).await?)
    }

    async fn groups_of_agent(
        &self,
        agent: AgentId,
        manager_type: Option<ManagerType>,
    ) -> StoreResult<Vec<Group>> {
        let mut q = Where::default();
        q.push(
            "id IN (SELECT group_id FROM group_agents WHERE agent_id = ?)",
            [Arg::Text(agent.to_string())],
        );
        if let Some(t) = manager_type {
            q.push("manager_type = ?", [Arg::from(t.as_str())]);
        }
        Ok(select_in_tx(&self.pool, q, "ORDER BY created_at, id").await?)
    }

    async fn managed_groups(&self, agent: AgentId) -> StoreResult<Vec<Group>> {
        let mut q = Where::default();
        q.push("manager_agent_id = ?", [Arg::Text(agent.to_string())]);
        Ok(select_in_tx(&self.pool, q, "ORDER BY created_at, id").await?)
    }

    async fn attach_group_block(&self, group: GroupId, block: BlockId) -> StoreResult<()> {
        Ok(attach_block(&self.pool, group, block).await?)
    }

    async fn detach_group_block(&self, group: GroupId, block: BlockId) -> StoreResult<()> {
        Ok(detach_block(&self.pool, group, block).await?)
    }

    async fn group_messages(
        &self,
        group: GroupId,
        query: &MessageQuery,
    ) -> StoreResult<Vec<Message>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let out = group_messages::list(&mut tx, group, query).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    async fn deliver_group_messages(
        &self,
        group: GroupId,
        messages: Vec<Message>,
        into_context: &[AgentId],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        group_messages::deliver(&mut tx, group, messages, into_context).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn reset_group_messages(&self, group: GroupId) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let n = group_messages::reset(&mut tx, group).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(n)
    }
}

async fn create(pool: &PgPool, group: Group, new_agents: Vec<NewAgent>) -> Result<Group> {
    let mut tx = pool.begin().await?;
    for new in &new_agents {
        crate::agents::write_new_agent(&mut tx, new).await?;
    }
    insert(&mut tx, &group).await?;
    let g = load(&mut tx, group.id, false).await?;
    tx.commit().await?;
    Ok(g)
}

async fn delete(pool: &PgPool, id: GroupId, with_members: bool) -> Result<()> {
    let mut tx = pool.begin().await?;
    let group = load(&mut tx, id, true).await?;
    sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    if with_members {
        for agent in group.agent_ids {
            if Some(agent) != group.manager_agent_id {
                crate::agents::delete_agent(&mut tx, agent).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn attach_block(pool: &PgPool, group: GroupId, block: BlockId) -> Result<()> {
    let mut tx = pool.begin().await?;
    // Locked: the shared list is read, extended and rewritten.
    let mut g = load(&mut tx, group, true).await?;
    if !g.shared_block_ids.contains(&block) {
        g.shared_block_ids.push(block);
        write_blocks(&mut tx, &g).await?;
    }
    share(&mut tx, &g, &[block]).await?;
    tx.commit().await?;
    Ok(())
}

async fn detach_block(pool: &PgPool, group: GroupId, block: BlockId) -> Result<()> {
    let mut tx = pool.begin().await?;
    ensure_group(&mut tx, group).await?;
    let n = sqlx::query("DELETE FROM group_blocks WHERE group_id = $1 AND block_id = $2")
        .bind(group.to_string())
        .bind(block.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::Store(StoreError::NotFound {
            kind: "Block",
            id: format!("{block} shared in group {group}"),
        }));
    }
    tx.commit().await?;
    Ok(())
}

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).

/// Writes a new group with its members and shared blocks, and gives those blocks to every
/// member and the manager.
pub(crate) async fn insert(conn: &mut PgConnection, g: &Group) -> Result<()> {
    if let Some(manager) = g.manager_agent_id {
        ensure_agent(conn, manager).await?;
    }
    let now = micros(&mneme_types::time::now());
    sqlx::query(
        "INSERT INTO groups (id, manager_type, description, project_id, template_id,
            base_template_id, deployment_id, manager_agent_id, config, hidden, created_at,
            updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(g.id.to_string())
    .bind(g.manager_type.as_str())
    .bind(&g.description)
    .bind(&g.project_id)
    .bind(&g.template_id)
    .bind(&g.base_template_id)
    .bind(&g.deployment_id)
    .bind(g.manager_agent_id.map(|a| a.to_string()))
    .bind(to_json(&Config::of(g))?)
    .bind(g.hidden.map(to_flag))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    write_members(conn, g).await?;
    write_blocks(conn, g).await?;
    share(conn, g, &g.shared_block_ids).await
}

pub(crate) async fn ensure_group(conn: &mut PgConnection, id: GroupId) -> Result<()> {
    crate::query::ensure_row(conn, "groups", "Group", id, false).await
}

async fn update(conn: &mut PgConnection, id: GroupId, edit: GroupEdit) -> Result<Group> {
    // Locked: the edit is applied to what is read here.
    let before = load(conn, id, true).await?;
    let mut g = before.clone();
    edit(&mut g)?;
    g.id = before.id;
    g.manager_type = before.manager_type;
    if let Some(manager) = g
        .manager_agent_id
        .filter(|m| Some(*m) != before.manager_agent_id)
    {
        ensure_agent(conn, manager).await?;
    }
    write_row(conn, &g).await?;
    if g.agent_ids != before.agent_ids {
        write_members(conn, &g).await?;
    }
    if g.shared_block_ids != before.shared_block_ids {
        write_blocks(conn, &g).await?;
        let added: Vec<BlockId> = g
            .shared_block_ids
            .iter()
            .filter(|b| !before.shared_block_ids.contains(b))
            .copied()
            .collect();
        share(conn, &g, &added).await?;
    }
    load(conn, id, false).await
}

/// Rewrites the group row's editable columns.
async fn write_row(conn: &mut PgConnection, g: &Group) -> Result<()> {
    sqlx::query(
        "UPDATE groups SET description = $2, project_id = $3, template_id = $4,
            base_template_id = $5, deployment_id = $6, manager_agent_id = $7, config = $8,
            hidden = $9, updated_at = $10
         WHERE id = $1",
    )
    .bind(g.id.to_string())
    .bind(&g.description)
    .bind(&g.project_id)
    .bind(&g.template_id)
    .bind(&g.base_template_id)
    .bind(&g.deployment_id)
    .bind(g.manager_agent_id.map(|a| a.to_string()))
    .bind(to_json(&Config::of(g))?)
    .bind(g.hidden.map(to_flag))
    .bind(micros(&mneme_types::time::now()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces the group's members with `g.agent_ids`, in that order; each must exist.
async fn write_members(conn: &mut PgConnection, g: &Group) -> Result<()> {
    sqlx::query("DELETE FROM group_agents WHERE group_id = $1")
        .bind(g.id.to_string())
        .execute(&mut *conn)
        .await?;
    for (position, agent) in g.agent_ids.iter().enumerate() {
        ensure_agent(conn, *agent).await?;
        sqlx::query(
            "INSERT INTO group_agents (group_id, agent_id, position) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(g.id.to_string())
        .bind(agent.to_string())
        .bind(position as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Replaces the group's shared blocks with `g.shared_block_ids`; each must exist.
async fn write_blocks(conn: &mut PgConnection, g: &Group) -> Result<()> {
    sqlx::query("DELETE FROM group_blocks WHERE group_id = $1")
        .bind(g.id.to_string())
        .execute(&mut *conn)
        .await?;
    for (position, block) in g.shared_block_ids.iter().enumerate() {
        crate::query::ensure_row(conn, "blocks", "Block", *block, false).await?;
        sqlx::query(
            "INSERT INTO group_blocks (group_id, block_id, position) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(g.id.to_string())
        .bind(block.to_string())
        .bind(position as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Attaches `blocks` to every member and to the manager.
async fn share(conn: &mut PgConnection, g: &Group, blocks: &[BlockId]) -> Result<()> {
    let agents = g.agent_ids.iter().chain(g.manager_agent_id.iter());
    for agent in agents {
        for block in blocks {
            crate::agents::attach(conn, *agent, *block).await?;
        }
    }
    Ok(())
}

/// The group, its row locked for update when `lock`.
async fn load(conn: &mut PgConnection, id: GroupId, lock: bool) -> Result<Group> {
    let mut q = Where::default();
    q.push("id = ?", [Arg::Text(id.to_string())]);
    let lock = if lock { "FOR UPDATE" } else { "" };
    select(conn, q, lock)
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("Group", id))
}

fn filter_sql(f: &GroupFilter) -> Where {
    let mut q = Where::default();
    if let Some(t) = f.manager_type {
        q.push("manager_type = ?", [Arg::from(t.as_str())]);
    }
    if let Some(p) = &f.project_id {
        q.push("project_id = ?", [Arg::from(p)]);
    }
    if !f.show_hidden {
        q.push("COALESCE(hidden, 0) = 0", []);
    }
    q
}

async fn list(pool: &PgPool, filter: &GroupFilter, page: &Page) -> Result<Vec<Group>> {
    let mut tx = pool.begin().await?;
    let mut q = filter_sql(filter);
    // An unknown cursor is `NotFound` for groups.
    paginate(&mut tx, &mut q, "groups", "created_at", page, true).await?;
    let out = select(&mut tx, q, &order_limit("created_at", page)).await?;
    tx.commit().await?;
    Ok(out)
}

/// `select` in a transaction of its own, so that groups and their members agree.
async fn select_in_tx(pool: &PgPool, q: Where, order: &str) -> Result<Vec<Group>> {
    let mut tx = pool.begin().await?;
    let out = select(&mut tx, q, order).await?;
    tx.commit().await?;
    Ok(out)
}

/// The groups `q` selects, in `order` (or with a locking clause), with their members and
/// shared blocks.
async fn select(conn: &mut PgConnection, q: Where, order: &str) -> Result<Vec<Group>> {
    let sql = format!("SELECT {COLUMNS} FROM groups {} {order}", q.where_clause());
    let mut out = fetch(conn, &sql, q.params, group).await?;
    for g in &mut out {
        g.agent_ids = ids_of(
            conn,
            "SELECT agent_id FROM group_agents WHERE group_id = $1 ORDER BY position",
            g.id,
        )
        .await?;
        g.shared_block_ids = ids_of(
            conn,
            "SELECT block_id FROM group_blocks WHERE group_id = $1 ORDER BY position",
            g.id,
        )
        .await?;
    }
    Ok(out)
}

async fn ids_of<T: std::str::FromStr>(
    conn: &mut PgConnection,
    sql: &'static str,
    group: GroupId,
) -> Result<Vec<T>> {
    let ids: Vec<String> = sqlx::query_scalar(sql)
        .bind(group.to_string())
        .fetch_all(&mut *conn)
        .await?;
    ids.iter().map(|s| Ok(parse(s)?)).collect()
}

fn group(row: &PgRow) -> Result<Group> {
    let manager_type: String = row.try_get(1)?;
    let config: Config = json(&row.try_get::<String, _>(8)?)?;
    let manager: Option<String> = row.try_get(7)?;
    Ok(Group {
        id: parse(&row.try_get::<String, _>(0)?)?,
        manager_type: manager_type.parse().map_err(StoreError::Corrupt)?,
        agent_ids: Vec::new(),
        description: row.try_get(2)?,
        project_id: row.try_get(3)?,
        template_id: row.try_get(4)?,
        base_template_id: row.try_get(5)?,
        deployment_id: row.try_get(6)?,
        shared_block_ids: Vec::new(),
        manager_agent_id: manager.as_deref().map(parse).transpose()?,
        termination_token: config.termination_token,
        max_turns: config.max_turns,
        sleeptime_agent_frequency: config.sleeptime_agent_frequency,
        turns_counter: config.turns_counter,
        last_processed_message_id: config.last_processed_message_id,
        max_message_buffer_length: config.max_message_buffer_length,
        min_message_buffer_length: config.min_message_buffer_length,
        hidden: row.try_get::<Option<i64>, _>(9)?.map(flag),
    })
}
