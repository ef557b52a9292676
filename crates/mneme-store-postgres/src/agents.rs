//! `AgentStore` on PostgreSQL: agents with their tags, their block attachments, and the
//! context a step reads.

#[path = "agent_queries.rs"]
pub(crate) mod agent_queries;
#[path = "tags.rs"]
mod tags;

use async_trait::async_trait;
use mneme_store::codec::{micros, to_json, to_json_opt};
use mneme_store::{
    Agent, AgentContext, AgentEdit, AgentFilter, AgentFrame, AgentImport, AgentStore, NewAgent,
    Page, StoreError, TagQuery,
};
use mneme_types::{AgentId, Block, BlockId};
use sqlx::{PgConnection, Row};

use crate::query::ensure_agent;
use crate::rows::{self, BLOCK_COLUMNS};
use crate::{Error, PgStore, Result, StoreResult};
use crate::{blocks, folders, identities, imports, messages, tools};
use agent_queries::{load_agent, select};

/// The isolation of the reads of a step's context: one snapshot, so that the agent's
/// `message_ids`, blocks and counts agree with each other.
pub(crate) const SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

#[async_trait]
impl AgentStore for PgStore {
    async fn create_agent(&self, new: NewAgent) -> StoreResult<Agent> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        write_new_agent(&mut tx, &new).await?;
        let agent = load_agent(&mut tx, new.agent.id, false).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(agent)
    }

    async fn import_agents(&self, import: AgentImport) -> StoreResult<Vec<AgentId>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let ids = imports::import(&mut tx, &import).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(ids)
    }

    async fn get_agent(&self, id: AgentId) -> StoreResult<Agent> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_agent(&mut conn, id, false).await?)
    }

    async fn list_agents(&self, filter: &AgentFilter, page: &Page) -> StoreResult<Vec<Agent>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(agent_queries::list(&mut conn, filter, page).await?)
    }

    async fn count_agents(&self, filter: &AgentFilter) -> StoreResult<u64> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(agent_queries::count(&mut conn, filter).await?)
    }

    async fn update_agent(
        &self,
        id: AgentId,
        edit: AgentEdit,
        blocks: Option<Vec<BlockId>>,
    ) -> StoreResult<Agent> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let agent = update_agent(&mut tx, id, edit, blocks).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(agent)
    }

    async fn delete_agent(&self, id: AgentId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        delete_agent(&mut tx, id).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn attach_block(&self, agent: AgentId, block: BlockId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        attach(&mut tx, agent, block).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn detach_block(&self, agent: AgentId, block: BlockId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        detach(&mut tx, agent, block).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn agent_blocks(&self, agent: AgentId) -> StoreResult<Vec<Block>> {
        let mut tx = self.pool.begin_with(SNAPSHOT).await.map_err(Error::from)?;
        ensure_agent(&mut tx, agent).await?;
        let blocks = blocks_of(&mut tx, agent).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(blocks)
    }

    async fn blocks_of_agents(
        &self,
        agents: &[AgentId],
    ) -> StoreResult<Vec<(AgentId, Vec<Block>)>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(blocks_of_many(&mut conn, agents).await?)
    }

    async fn agent_context(&self, id: AgentId) -> StoreResult<AgentContext> {
        let mut tx = self.pool.begin_with(SNAPSHOT).await.map_err(Error::from)?;
        let frame = frame_of(&mut tx, id).await?;
        let messages = messages::load_messages(&mut tx, &frame.agent.message_ids).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(frame.with_messages(messages))
    }

    async fn agent_frame(&self, id: AgentId) -> StoreResult<AgentFrame> {
        let mut tx = self.pool.begin_with(SNAPSHOT).await.map_err(Error::from)?;
        let frame = frame_of(&mut tx, id).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(frame)
    }

    async fn list_tags(&self, query: &TagQuery) -> StoreResult<Vec<String>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(tags::list_tags(&mut conn, query).await?)
    }
}

/// Writes a new agent with its blocks, attachments, tools and messages (`create_agent`, and
/// the agents a group is created with).
pub(crate) async fn write_new_agent(conn: &mut PgConnection, new: &NewAgent) -> Result<()> {
    let id = new.agent.id;
    insert_agent(conn, &new.agent).await?;
    for block in &new.new_blocks {
        blocks::insert_block(conn, block, &new.agent.created_at).await?;
        attach(conn, id, block.id).await?;
    }
    for block in &new.existing_blocks {
        attach(conn, id, *block).await?;
    }
    let tools: Vec<String> = new.tools.iter().map(|t| t.to_string()).collect();
    // Positions in the order given; a repeated tool keeps its first position.
    sqlx::query(
        "INSERT INTO agent_tools (agent_id, tool_id, position)
         SELECT $1, t.id, t.n - 1 FROM unnest($2::TEXT[]) WITH ORDINALITY AS t(id, n)
         ORDER BY t.n
         ON CONFLICT DO NOTHING",
    )
    .bind(id.to_string())
    .bind(tools)
    .execute(&mut *conn)
    .await?;
    messages::insert_messages(conn, &new.messages, None).await?;
    for folder in &new.folders {
        folders::attach(conn, id, *folder).await?;
    }
    Ok(())
}

/// Applies `edit` to the agent, locked while it is read and written, and replaces its blocks.
async fn update_agent(
    conn: &mut PgConnection,
    id: AgentId,
    edit: AgentEdit,
    blocks: Option<Vec<BlockId>>,
) -> Result<Agent> {
    let mut agent = load_agent(conn, id, true).await?;
    let (ids, version) = (agent.message_ids.clone(), agent.message_ids_version);
    let (tags, linked) = (agent.tags.clone(), agent.identity_ids.clone());
    edit(&mut agent)?;
    agent.id = id;
    // The version counts writes of the ids; the edit cannot move it otherwise.
    agent.message_ids_version = version + u64::from(agent.message_ids != ids);
    save_agent(conn, &agent).await?;
    if agent.tags != tags {
        write_tags(conn, &agent, true).await?;
    }
    if agent.identity_ids != linked {
        identities::set_agent_identities(conn, id, &agent.identity_ids).await?;
    }
    if let Some(blocks) = blocks {
        sqlx::query("DELETE FROM agent_blocks WHERE agent_id = $1")
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
        for block in blocks {
            attach(conn, id, block).await?;
        }
    }
    Ok(agent)
}

/// Deletes an agent with what is its alone (`delete_agent`, and a group's members deleted with
/// it).
pub(crate) async fn delete_agent(conn: &mut PgConnection, id: AgentId) -> Result<()> {
    // The agent's own archives go with it unless another agent still reads them.
    sqlx::query(
        "DELETE FROM archives WHERE owner_agent_id = $1 AND NOT EXISTS
            (SELECT 1 FROM agent_archives aa
             WHERE aa.archive_id = archives.id AND aa.agent_id <> $1)",
    )
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    // Its conversations' isolated blocks are theirs alone; the cascade would only unpair
    // them from the conversations and leave them behind.
    sqlx::query(
        "DELETE FROM blocks WHERE id IN
            (SELECT cb.block_id FROM conversation_blocks cb
             JOIN conversations c ON c.id = cb.conversation_id WHERE c.agent_id = $1)",
    )
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query("DELETE FROM agents WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("Agent", id));
    }
    Ok(())
}

/// The agent with its blocks, tools and counts, without its messages: the agent row with its
/// links and counts in one query, then its blocks, tools and files.
pub(crate) async fn frame_of(conn: &mut PgConnection, id: AgentId) -> Result<AgentFrame> {
    let sql = format!(
        "{}, message_count,
            (SELECT COALESCE(SUM(ar.passage_count), 0)::BIGINT
             FROM agent_archives aa JOIN archives ar ON ar.id = aa.archive_id
             WHERE aa.agent_id = agents.id)
         FROM agents WHERE id = $1",
        select()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found("Agent", id))?;
    let agent = agent_queries::agent(&row)?;
    let message_count = rows::count(row.try_get(23)?);
    let passage_count = rows::count(row.try_get(24)?);
    let blocks = blocks_of(conn, id).await?;
    let tools = tools::tools_of(conn, id).await?;
    let files = folders::agent_files::of_agent(conn, id).await?;
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

/// Detaches `block` from `agent`; not attached is `NotFound`.
async fn detach(conn: &mut PgConnection, agent: AgentId, block: BlockId) -> Result<()> {
    ensure_agent(conn, agent).await?;
    let done = sqlx::query("DELETE FROM agent_blocks WHERE agent_id = $1 AND block_id = $2")
        .bind(agent.to_string())
        .bind(block.to_string())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::Store(StoreError::NotFound {
            kind: "Block",
            id: format!("{block} attached to agent {agent}"),
        }));
    }
    Ok(())
}

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).

/// Writes a new agent row with its tags and identity links.
pub(crate) async fn insert_agent(conn: &mut PgConnection, a: &Agent) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO agents ({}) VALUES ({})",
        rows::AGENT_COLUMNS,
        (1..=21)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
    .bind(a.id.to_string())
    .bind(&a.name)
    .bind(a.agent_type.as_str())
    .bind(&a.system)
    .bind(&a.description)
    .bind(to_json_opt(&a.metadata)?)
    .bind(to_json(&a.llm_config)?)
    .bind(to_json_opt(&a.embedding_config)?)
    .bind(to_json_opt(&a.tool_rules)?)
    .bind(to_json(&a.message_ids)?)
    .bind(to_json(&a.settings)?)
    .bind(&a.project_id)
    .bind(&a.template_id)
    .bind(&a.base_template_id)
    .bind(a.last_run_completion.as_ref().map(micros))
    .bind(a.last_run_duration_ms)
    .bind(&a.last_stop_reason)
    .bind(micros(&a.created_at))
    .bind(micros(&a.updated_at))
    // A new agent's context is at its first version, whatever the record says.
    .bind(0_i64)
    .bind(0_i64)
    .execute(&mut *conn)
    .await?;
    write_tags(conn, a, false).await?;
    if !a.identity_ids.is_empty() {
        identities::set_agent_identities(conn, a.id, &a.identity_ids).await?;
    }
    Ok(())
}

/// Writes every field of an existing agent row (not its tags or links).
async fn save_agent(conn: &mut PgConnection, a: &Agent) -> Result<()> {
    sqlx::query(
        "UPDATE agents SET name = $2, agent_type = $3, system = $4, description = $5,
            metadata = $6, llm_config = $7, embedding_config = $8, tool_rules = $9,
            message_ids = $10, settings = $11, project_id = $12, template_id = $13,
            base_template_id = $14, last_run_completion = $15, last_run_duration_ms = $16,
            last_stop_reason = $17, updated_at = $18, message_ids_version = $19
         WHERE id = $1",
    )
    .bind(a.id.to_string())
    .bind(&a.name)
    .bind(a.agent_type.as_str())
    .bind(&a.system)
    .bind(&a.description)
    .bind(to_json_opt(&a.metadata)?)
    .bind(to_json(&a.llm_config)?)
    .bind(to_json_opt(&a.embedding_config)?)
    .bind(to_json_opt(&a.tool_rules)?)
    .bind(to_json(&a.message_ids)?)
    .bind(to_json(&a.settings)?)
    .bind(&a.project_id)
    .bind(&a.template_id)
    .bind(&a.base_template_id)
    .bind(a.last_run_completion.as_ref().map(micros))
    .bind(a.last_run_duration_ms)
    .bind(&a.last_stop_reason)
    .bind(micros(&a.updated_at))
    .bind(a.message_ids_version as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the agent's tags in their order, in place of its old ones when `replace`.
async fn write_tags(conn: &mut PgConnection, a: &Agent, replace: bool) -> Result<()> {
    if replace {
        sqlx::query("DELETE FROM agent_tags WHERE agent_id = $1")
            .bind(a.id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    // One row per tag, in order: `WITH ORDINALITY` keeps the list's order for the heap.
    sqlx::query(
        "INSERT INTO agent_tags (agent_id, tag)
         SELECT $1, t.tag FROM unnest($2::TEXT[]) WITH ORDINALITY AS t(tag, n) ORDER BY t.n
         ON CONFLICT DO NOTHING",
    )
    .bind(a.id.to_string())
    .bind(&a.tags)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Attaches `block` at the end of the agent's block order. Re-attaching is a no-op; another
/// block with the same label is a conflict. The agent row is locked: its block order and
/// labels are checked, then written.
pub(crate) async fn attach(conn: &mut PgConnection, agent: AgentId, block: BlockId) -> Result<()> {
    crate::query::lock_agent(conn, agent).await?;
    let label: Option<String> =
        sqlx::query_scalar("SELECT COALESCE(label, '') FROM blocks WHERE id = $1")
            .bind(block.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    let label = label.ok_or_else(|| StoreError::not_found("Block", block))?;
    let clash: Option<String> =
        sqlx::query_scalar("SELECT block_id FROM agent_blocks WHERE agent_id = $1 AND label = $2")
            .bind(agent.to_string())
            .bind(&label)
            .fetch_optional(&mut *conn)
            .await?;
    match clash {
        Some(existing) if existing == block.to_string() => return Ok(()),
        Some(_) => {
            return Err(Error::Store(StoreError::Conflict(format!(
                "Agent {agent} already has a block with label '{label}'"
            ))));
        }
        None => {}
    }
    sqlx::query(
        "INSERT INTO agent_blocks (agent_id, block_id, label, position)
         VALUES ($1, $2, $3,
            (SELECT COALESCE(MAX(position), -1) + 1 FROM agent_blocks WHERE agent_id = $1))",
    )
    .bind(agent.to_string())
    .bind(block.to_string())
    .bind(label)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The agent's blocks in their order.
async fn blocks_of(conn: &mut PgConnection, agent: AgentId) -> Result<Vec<Block>> {
    Ok(blocks_of_many(conn, &[agent])
        .await?
        .pop()
        .map(|(_, blocks)| blocks)
        .unwrap_or_default())
}

/// The blocks of each of `agents`, in their order, with one query.
async fn blocks_of_many(
    conn: &mut PgConnection,
    agents: &[AgentId],
) -> Result<Vec<(AgentId, Vec<Block>)>> {
    let mut out: Vec<(AgentId, Vec<Block>)> = agents.iter().map(|a| (*a, Vec::new())).collect();
    if agents.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT ab.agent_id, {BLOCK_COLUMNS} FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id
         WHERE ab.agent_id = ANY($1) ORDER BY ab.agent_id, ab.position"
    );
    let ids: Vec<String> = agents.iter().map(|a| a.to_string()).collect();
    let found = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    for row in &found {
        let agent_id: String = row.try_get(0)?;
        let block = rows::block(row, 1)?;
        if let Some((_, blocks)) = out.iter_mut().find(|(a, _)| a.to_string() == agent_id) {
            blocks.push(block);
        }
    }
    Ok(out)
}

#[cfg(all(test, feature = "scratch"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::blocks::tests::block;
    use crate::scratch::ScratchDb;
    use mneme_store::AgentSettings;
    use mneme_store::BlockStore;
    use mneme_types::AgentType;

    /// An agent without messages, tools or folders, so that only this module's code runs.
    async fn bare_agent(store: &PgStore) -> AgentId {
        let now = mneme_types::time::now();
        let agent = Agent {
            id: AgentId::new(),
            name: "a".into(),
            agent_type: AgentType::LettaV1Agent,
            system: "base".into(),
            description: None,
            metadata: None,
            llm_config: serde_json::from_value(serde_json::json!({
                "model": "m", "model_endpoint_type": "openai", "context_window": 1000
            }))
            .unwrap(),
            embedding_config: None,
            tool_rules: None,
            message_ids: vec![],
            message_ids_version: 0,
            messages_edited: 0,
            tags: vec![],
            identity_ids: vec![],
            project_id: None,
            template_id: None,
            base_template_id: None,
            last_run_completion: None,
            last_run_duration_ms: None,
            last_stop_reason: None,
            settings: AgentSettings::default(),
            created_at: now,
            updated_at: now,
        };
        let new = NewAgent {
            agent,
            new_blocks: vec![],
            existing_blocks: vec![],
            tools: vec![],
            messages: vec![],
            folders: vec![],
        };
        store.create_agent(new).await.unwrap().id
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_attaches_take_distinct_positions() {
        let db = ScratchDb::create().await;
        let store = db.store().await;
        let agent = bare_agent(&store).await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let b = store.create_block(block(&format!("b{i}"), "")).await?;
                store.attach_block(agent, b.id).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let positions: Vec<i64> = sqlx::query_scalar(
            "SELECT position FROM agent_blocks WHERE agent_id = $1 ORDER BY position",
        )
        .bind(agent.to_string())
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(positions, (0..8).collect::<Vec<i64>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_attaches_of_one_label_let_one_win() {
        let db = ScratchDb::create().await;
        let store = db.store().await;
        let agent = bare_agent(&store).await;
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let store = store.clone();
            let b = store.create_block(block("same", "")).await.unwrap();
            tasks.push(tokio::spawn(async move {
                store.attach_block(agent, b.id).await
            }));
        }
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => won += 1,
                Err(e) => assert!(matches!(e, StoreError::Conflict(_)), "{e:?}"),
            }
        }
        assert_eq!(won, 1);
        assert_eq!(store.agent_blocks(agent).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn tags_keep_the_order_given() {
        let db = ScratchDb::create().await;
        let store = db.store().await;
        let agent = bare_agent(&store).await;
        let tags = vec!["zeta".to_owned(), "alpha".to_owned(), "mid".to_owned()];
        let wanted = tags.clone();
        let edit: AgentEdit = Box::new(move |a| {
            a.tags = wanted;
            Ok(())
        });
        store.update_agent(agent, edit, None).await.unwrap();
        assert_eq!(store.get_agent(agent).await.unwrap().tags, tags);
    }
}
