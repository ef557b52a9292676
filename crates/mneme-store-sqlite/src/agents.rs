//! `AgentStore` on SQLite.

use crate::Cached;
use async_trait::async_trait;
use mneme_types::{AgentId, Block, BlockId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::rows::{self, AGENT_COLUMNS, BLOCK_COLUMNS, micros, placeholders, to_json, to_json_opt};
use crate::{Error, Result, StoreResult};
use crate::{SqliteStore, blocks, identities, imports, messages, tools};
use mneme_store::StoreError;
use mneme_store::{
    Agent, AgentContext, AgentEdit, AgentFilter, AgentFrame, AgentImport, AgentStore, NewAgent,
    Order, Page, TagQuery,
};

#[async_trait]
impl AgentStore for SqliteStore {
    async fn create_agent(&self, new: NewAgent) -> StoreResult<Agent> {
        self.write(move |tx| create_agent(tx, &new)).await
    }

    async fn import_agents(&self, import: AgentImport) -> StoreResult<Vec<AgentId>> {
        self.write(move |tx| imports::import(tx, &import)).await
    }

    async fn get_agent(&self, id: AgentId) -> StoreResult<Agent> {
        self.read(move |conn| load_agent(conn, id)).await
    }

    async fn list_agents(&self, filter: &AgentFilter, page: &Page) -> StoreResult<Vec<Agent>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| {
            let mut q = filter_sql(&filter);
            let column = order_column(page.order_by.as_deref());
            paginate(conn, &mut q, "agents", column, &page, false)?;
            let sql = format!(
                "SELECT {AGENT_COLUMNS} FROM agents {} {}",
                q.where_clause(),
                order_limit(column, &page)
            );
            let mut agents = query_agents(conn, &sql, q.params)?;
            fill_tags(conn, &mut agents)?;
            identities::fill_agent_identities(conn, &mut agents)?;
            Ok(agents)
        })
        .await
    }

    async fn count_agents(&self, filter: &AgentFilter) -> StoreResult<u64> {
        let filter = filter.clone();
        self.read(move |conn| {
            let q = filter_sql(&filter);
            let sql = format!("SELECT COUNT(*) FROM agents {}", q.where_clause());
            let n: i64 = conn.query_row_cached(&sql, params_from_iter(q.params), |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn update_agent(
        &self,
        id: AgentId,
        edit: AgentEdit,
        blocks: Option<Vec<BlockId>>,
    ) -> StoreResult<Agent> {
        self.write(move |tx| {
            let mut agent = load_agent(tx, id)?;
            let (ids, version) = (agent.message_ids.clone(), agent.message_ids_version);
            let linked = agent.identity_ids.clone();
            edit(&mut agent)?;
            agent.id = id;
            // The version counts writes of the ids; the edit cannot move it otherwise.
            agent.message_ids_version = version + u64::from(agent.message_ids != ids);
            save_agent(tx, &agent)?;
            if agent.identity_ids != linked {
                identities::set_agent_identities(tx, id, &agent.identity_ids)?;
            }
            if let Some(blocks) = blocks {
                tx.execute_cached(
                    "DELETE FROM agent_blocks WHERE agent_id = ?1",
                    [id.to_string()],
                )?;
                for block in blocks {
                    attach(tx, id, block)?;
                }
            }
            Ok(agent)
        })
        .await
    }

    async fn list_tags(&self, query: &TagQuery) -> StoreResult<Vec<String>> {
        let query = query.clone();
        self.read(move |conn| crate::tags::list_tags(conn, &query))
            .await
    }

    async fn delete_agent(&self, id: AgentId) -> StoreResult<()> {
        self.write(move |tx| delete_agent(tx, id)).await
    }

    async fn attach_block(&self, agent: AgentId, block: BlockId) -> StoreResult<()> {
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            attach(tx, agent, block)
        })
        .await
    }

    async fn detach_block(&self, agent: AgentId, block: BlockId) -> StoreResult<()> {
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            let n = tx.execute_cached(
                "DELETE FROM agent_blocks WHERE agent_id = ?1 AND block_id = ?2",
                [agent.to_string(), block.to_string()],
            )?;
            if n == 0 {
                return Err(Error::Store(StoreError::NotFound {
                    kind: "Block",
                    id: format!("{block} attached to agent {agent}"),
                }));
            }
            Ok(())
        })
        .await
    }

    async fn agent_blocks(&self, agent: AgentId) -> StoreResult<Vec<Block>> {
        self.read(move |conn| {
            ensure_agent(conn, agent)?;
            blocks_of(conn, agent)
        })
        .await
    }

    async fn blocks_of_agents(
        &self,
        agents: &[AgentId],
    ) -> StoreResult<Vec<(AgentId, Vec<Block>)>> {
        let agents = agents.to_vec();
        self.read(move |conn| blocks_of_many(conn, &agents)).await
    }

    async fn agent_context(&self, id: AgentId) -> StoreResult<AgentContext> {
        self.read(move |conn| {
            let frame = frame_of(conn, id)?;
            let messages = messages::load_messages(conn, &frame.agent.message_ids)?;
            Ok(frame.with_messages(messages))
        })
        .await
    }

    async fn agent_frame(&self, id: AgentId) -> StoreResult<AgentFrame> {
        self.read(move |conn| frame_of(conn, id)).await
    }
}

/// Writes a new agent with its blocks, attachments, tools and messages (`create_agent`).
pub(crate) fn create_agent(tx: &Connection, new: &NewAgent) -> Result<Agent> {
    insert_agent(tx, &new.agent)?;
    for block in &new.new_blocks {
        blocks::insert_block(tx, block, &new.agent.created_at)?;
        attach(tx, new.agent.id, block.id)?;
    }
    for block in &new.existing_blocks {
        attach(tx, new.agent.id, *block)?;
    }
    for (position, tool) in new.tools.iter().enumerate() {
        tx.execute_cached(
            "INSERT OR IGNORE INTO agent_tools (agent_id, tool_id, position) VALUES (?1, ?2, ?3)",
            rusqlite::params![new.agent.id.to_string(), tool.to_string(), position as i64],
        )?;
    }
    for message in &new.messages {
        messages::insert_message(tx, message, None)?;
    }
    for folder in &new.folders {
        crate::folders::attach(tx, new.agent.id, *folder)?;
    }
    load_agent(tx, new.agent.id)
}

/// Deletes an agent with what is its alone (`delete_agent`).
pub(crate) fn delete_agent(tx: &Connection, id: AgentId) -> Result<()> {
    // The agent's own archives go with it unless another agent still reads them.
    tx.execute_cached(
        "DELETE FROM archives WHERE owner_agent_id = ?1 AND NOT EXISTS
            (SELECT 1 FROM agent_archives aa
             WHERE aa.archive_id = archives.id AND aa.agent_id <> ?1)",
        [id.to_string()],
    )?;
    // Its conversations' isolated blocks are theirs alone; the cascade would only unpair
    // them from the conversations and leave them behind.
    tx.execute_cached(
        "DELETE FROM blocks WHERE id IN
            (SELECT cb.block_id FROM conversation_blocks cb
             JOIN conversations c ON c.id = cb.conversation_id WHERE c.agent_id = ?1)",
        [id.to_string()],
    )?;
    let n = tx.execute_cached("DELETE FROM agents WHERE id = ?1", [id.to_string()])?;
    if n == 0 {
        return Err(Error::not_found("Agent", id));
    }
    Ok(())
}

/// The agent with its blocks, tools and counts, without its messages.
pub(crate) fn frame_of(conn: &Connection, id: AgentId) -> Result<AgentFrame> {
    let agent = load_agent(conn, id)?;
    let blocks = blocks_of(conn, id)?;
    let tools = tools::tools_of(conn, id)?;
    let (message_count, passage_count) = counts(conn, id)?;
    let files = crate::folders::agent_files::of_agent(conn, id)?;
    Ok(AgentFrame {
        agent,
        conversation: None,
        blocks,
        tools,
        message_count,
        passage_count,
        files,
    })
}

pub(crate) fn load_agent(conn: &Connection, id: AgentId) -> Result<Agent> {
    let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1");
    let mut agents = query_agents(conn, &sql, vec![SqlValue::Text(id.to_string())])?;
    fill_tags(conn, &mut agents)?;
    identities::fill_agent_identities(conn, &mut agents)?;
    agents.pop().ok_or_else(|| Error::not_found("Agent", id))
}

/// The agent's stored messages and the passages of its archives, as the count triggers keep
/// them (migration 0007): no scan of its history.
fn counts(conn: &Connection, id: AgentId) -> Result<(u64, u64)> {
    let (messages, passages): (i64, i64) = conn.query_row_cached(
        "SELECT message_count,
            (SELECT COALESCE(SUM(ar.passage_count), 0)
             FROM agent_archives aa JOIN archives ar ON ar.id = aa.archive_id
             WHERE aa.agent_id = agents.id)
         FROM agents WHERE id = ?1",
        [id.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((messages.max(0) as u64, passages.max(0) as u64))
}

pub(crate) fn ensure_agent(conn: &Connection, id: AgentId) -> Result<()> {
    let found = conn
        .query_row(
            "SELECT 1 FROM agents WHERE id = ?1",
            [id.to_string()],
            |_| Ok(()),
        )
        .optional()?;
    found.ok_or_else(|| Error::not_found("Agent", id))
}

pub(crate) fn query_agents(
    conn: &Connection,
    sql: &str,
    params: Vec<SqlValue>,
) -> Result<Vec<Agent>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(rows::agent(row)?);
    }
    Ok(out)
}

/// Loads the tags of all `agents` with one query, in insertion order.
pub(crate) fn fill_tags(conn: &Connection, agents: &mut [Agent]) -> Result<()> {
    per_agent(conn, agents, "agent_tags", "tag", |a, row| {
        a.tags.push(row.get(1)?);
        Ok(())
    })
}

/// Reads `column` of `table`'s rows of all `agents` with one query, in insertion order, and
/// gives each row (`agent_id`, `column`) to `put` with its agent.
pub(crate) fn per_agent(
    conn: &Connection,
    agents: &mut [Agent],
    table: &str,
    column: &str,
    mut put: impl FnMut(&mut Agent, &rusqlite::Row<'_>) -> Result<()>,
) -> Result<()> {
    if agents.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT agent_id, {column} FROM {table} WHERE agent_id IN ({}) ORDER BY rowid",
        placeholders(agents.len())
    );
    let ids: Vec<String> = agents.iter().map(|a| a.id.to_string()).collect();
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(ids.iter()))?;
    while let Some(row) = rows.next()? {
        let agent_id: String = row.get(0)?;
        if let Some(a) = agents.iter_mut().find(|a| a.id.to_string() == agent_id) {
            put(a, row)?;
        }
    }
    Ok(())
}

pub(crate) fn insert_agent(conn: &Connection, a: &Agent) -> Result<()> {
    conn.execute_cached(
        &format!(
            "INSERT INTO agents ({AGENT_COLUMNS}) VALUES ({})",
            placeholders(21)
        ),
        rusqlite::params![
            a.id.to_string(),
            a.name,
            a.agent_type.as_str(),
            a.system,
            a.description,
            to_json_opt(&a.metadata)?,
            to_json(&a.llm_config)?,
            to_json_opt(&a.embedding_config)?,
            to_json_opt(&a.tool_rules)?,
            to_json(&a.message_ids)?,
            to_json(&a.settings)?,
            a.project_id,
            a.template_id,
            a.base_template_id,
            a.last_run_completion.as_ref().map(micros),
            a.last_run_duration_ms,
            a.last_stop_reason,
            micros(&a.created_at),
            micros(&a.updated_at),
            // A new agent's context is at its first version, whatever the record says.
            0_i64,
            0_i64,
        ],
    )?;
    write_tags(conn, a)?;
    if !a.identity_ids.is_empty() {
        identities::set_agent_identities(conn, a.id, &a.identity_ids)?;
    }
    Ok(())
}

pub(crate) fn save_agent(conn: &Connection, a: &Agent) -> Result<()> {
    conn.execute_cached(
        "UPDATE agents SET name = ?2, agent_type = ?3, system = ?4, description = ?5,
            metadata = ?6, llm_config = ?7, embedding_config = ?8, tool_rules = ?9,
            message_ids = ?10, settings = ?11, project_id = ?12, template_id = ?13,
            base_template_id = ?14, last_run_completion = ?15, last_run_duration_ms = ?16,
            last_stop_reason = ?17, updated_at = ?18, message_ids_version = ?19
         WHERE id = ?1",
        rusqlite::params![
            a.id.to_string(),
            a.name,
            a.agent_type.as_str(),
            a.system,
            a.description,
            to_json_opt(&a.metadata)?,
            to_json(&a.llm_config)?,
            to_json_opt(&a.embedding_config)?,
            to_json_opt(&a.tool_rules)?,
            to_json(&a.message_ids)?,
            to_json(&a.settings)?,
            a.project_id,
            a.template_id,
            a.base_template_id,
            a.last_run_completion.as_ref().map(micros),
            a.last_run_duration_ms,
            a.last_stop_reason,
            micros(&a.updated_at),
            a.message_ids_version as i64,
        ],
    )?;
    conn.execute_cached(
        "DELETE FROM agent_tags WHERE agent_id = ?1",
        [a.id.to_string()],
    )?;
    write_tags(conn, a)
}

fn write_tags(conn: &Connection, a: &Agent) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("INSERT OR IGNORE INTO agent_tags (agent_id, tag) VALUES (?1, ?2)")?;
    for tag in &a.tags {
        stmt.execute([a.id.to_string(), tag.clone()])?;
    }
    Ok(())
}

/// Attaches `block` at the end of the agent's block order. Re-attaching is a no-op; another
/// block with the same label is a conflict.
pub(crate) fn attach(conn: &Connection, agent: AgentId, block: BlockId) -> Result<()> {
    let label: Option<String> = conn
        .query_row(
            "SELECT COALESCE(label, '') FROM blocks WHERE id = ?1",
            [block.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    let label = label.ok_or_else(|| StoreError::not_found("Block", block))?;
    let clash: Option<String> = conn
        .query_row(
            "SELECT block_id FROM agent_blocks WHERE agent_id = ?1 AND label = ?2",
            [agent.to_string(), label.clone()],
            |r| r.get(0),
        )
        .optional()?;
    match clash {
        Some(existing) if existing == block.to_string() => return Ok(()),
        Some(_) => {
            return Err(Error::Store(StoreError::Conflict(format!(
                "Agent {agent} already has a block with label '{label}'"
            ))));
        }
        None => {}
    }
    conn.execute_cached(
        "INSERT INTO agent_blocks (agent_id, block_id, label, position)
         VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(position), -1) + 1 FROM agent_blocks WHERE agent_id = ?1))",
        [agent.to_string(), block.to_string(), label],
    )?;
    Ok(())
}

pub(crate) fn blocks_of(conn: &Connection, agent: AgentId) -> Result<Vec<Block>> {
    Ok(blocks_of_many(conn, &[agent])?
        .pop()
        .map(|(_, blocks)| blocks)
        .unwrap_or_default())
}

fn blocks_of_many(conn: &Connection, agents: &[AgentId]) -> Result<Vec<(AgentId, Vec<Block>)>> {
    let mut out: Vec<(AgentId, Vec<Block>)> = agents.iter().map(|a| (*a, Vec::new())).collect();
    if agents.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT ab.agent_id, {BLOCK_COLUMNS} FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id
         WHERE ab.agent_id IN ({}) ORDER BY ab.agent_id, ab.position",
        placeholders(agents.len())
    );
    let ids: Vec<String> = agents.iter().map(|a| a.to_string()).collect();
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(ids.iter()))?;
    while let Some(row) = rows.next()? {
        let agent_id: String = row.get(0)?;
        let block = rows::block(row, 1)?;
        if let Some((_, blocks)) = out.iter_mut().find(|(a, _)| a.to_string() == agent_id) {
            blocks.push(block);
        }
    }
    Ok(out)
}

/// A WHERE clause under construction with its positional parameters.
#[derive(Default)]
pub(crate) struct Where {
    pub(crate) terms: Vec<String>,
    pub(crate) params: Vec<SqlValue>,
}

impl Where {
    pub(crate) fn push(
        &mut self,
        term: impl Into<String>,
        params: impl IntoIterator<Item = SqlValue>,
    ) {
        self.terms.push(term.into());
        self.params.extend(params);
    }

    pub(crate) fn where_clause(&self) -> String {
        if self.terms.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.terms.join(" AND "))
        }
    }
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}

fn filter_sql(f: &AgentFilter) -> Where {
    let mut q = Where::default();
    if let Some(id) = f.id {
        q.push("id = ?", [SqlValue::Text(id.to_string())]);
    }
    if let Some(name) = &f.name {
        q.push("name = ?", [text(name)]);
    }
    if let Some(t) = &f.query_text {
        q.push("instr(lower(name), lower(?)) > 0", [text(t)]);
    }
    for (col, v) in [
        ("project_id", &f.project_id),
        ("template_id", &f.template_id),
        ("base_template_id", &f.base_template_id),
        ("last_stop_reason", &f.last_stop_reason),
    ] {
        if let Some(v) = v {
            q.push(format!("{col} = ?"), [text(v)]);
        }
    }
    identity_terms(
        &mut q,
        "id",
        "identities_agents",
        "agent_id",
        f.identity_id,
        &f.identifier_keys,
    );
    if !f.tags.is_empty() {
        let tags = f.tags.iter().map(|t| text(t));
        let list = placeholders(f.tags.len());
        if f.match_all_tags {
            let mut distinct = f.tags.clone();
            distinct.sort();
            distinct.dedup();
            q.push(
                format!(
                    "id IN (SELECT agent_id FROM agent_tags WHERE tag IN ({list})
                     GROUP BY agent_id HAVING COUNT(DISTINCT tag) = {})",
                    distinct.len()
                ),
                tags,
            );
        } else {
            q.push(
                format!("id IN (SELECT agent_id FROM agent_tags WHERE tag IN ({list}))"),
                tags,
            );
        }
    }
    q
}

/// Rows (`id_column` of agents or blocks) linked to `identity`, and to any identity whose key
/// is in `keys`, through `links` (`identities_agents`, `identities_blocks`).
pub(crate) fn identity_terms(
    q: &mut Where,
    id_column: &str,
    links: &str,
    link_column: &str,
    identity: Option<mneme_types::IdentityId>,
    keys: &[String],
) {
    if let Some(identity) = identity {
        q.push(
            format!("{id_column} IN (SELECT {link_column} FROM {links} WHERE identity_id = ?)"),
            [SqlValue::Text(identity.to_string())],
        );
    }
    if !keys.is_empty() {
        q.push(
            format!(
                "{id_column} IN (SELECT l.{link_column} FROM {links} l
                 JOIN identities i ON i.id = l.identity_id WHERE i.identifier_key IN ({}))",
                placeholders(keys.len())
            ),
            keys.iter().map(|k| text(k)),
        );
    }
}

fn order_column(order_by: Option<&str>) -> &'static str {
    match order_by {
        Some("updated_at") => "updated_at",
        Some("last_run_completion") => "COALESCE(last_run_completion, 0)",
        _ => "created_at",
    }
}

/// Adds the cursor conditions for `page` to `q`. `strict` makes an unknown cursor `NotFound`
/// (blocks); otherwise it is ignored (agents), as Letta does.
pub(crate) fn paginate(
    conn: &Connection,
    q: &mut Where,
    table: &str,
    column: &str,
    page: &Page,
    strict: bool,
) -> Result<()> {
    let forward = page.order == Order::Asc;
    for (cursor, after) in [(&page.after, true), (&page.before, false)] {
        let Some(cursor) = cursor else { continue };
        let key: Option<i64> = conn
            .query_row(
                &format!("SELECT {column} FROM {table} WHERE id = ?1"),
                [cursor],
                |r| r.get(0),
            )
            .optional()?;
        let Some(key) = key else {
            if strict {
                let kind = match table {
                    "blocks" => "Block",
                    "archives" => "Archive",
                    "identities" => "Identity",
                    "folders" => "Folder",
                    "files" => "File",
                    "jobs" => "Job",
                    _ => "Agent",
                };
                return Err(Error::not_found(kind, cursor));
            }
            continue;
        };
        // "after" moves along the listing direction; "before" against it.
        let op = if after == forward { ">" } else { "<" };
        q.push(
            format!("({column}, id) {op} (?, ?)"),
            [SqlValue::Integer(key), text(cursor)],
        );
    }
    Ok(())
}

pub(crate) fn order_limit(column: &str, page: &Page) -> String {
    let dir = match page.order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    };
    format!("ORDER BY {column} {dir}, id {dir} LIMIT {}", page.limit)
}

/// Agents listed through a join table (`agent_blocks`, `agent_archives`): those whose
/// `agent_id` is paired with `id` in `column`, paginated like agent lists.
pub(crate) fn agents_joined(
    conn: &Connection,
    join: &str,
    column: &str,
    id: String,
    page: &Page,
) -> Result<Vec<Agent>> {
    let mut q = Where::default();
    q.push(
        format!("id IN (SELECT agent_id FROM {join} WHERE {column} = ?)"),
        [SqlValue::Text(id)],
    );
    paginate(conn, &mut q, "agents", "created_at", page, false)?;
    let sql = format!(
        "SELECT {AGENT_COLUMNS} FROM agents {} {}",
        q.where_clause(),
        order_limit("created_at", page)
    );
    let mut agents = query_agents(conn, &sql, q.params)?;
    fill_tags(conn, &mut agents)?;
    identities::fill_agent_identities(conn, &mut agents)?;
    Ok(agents)
}
