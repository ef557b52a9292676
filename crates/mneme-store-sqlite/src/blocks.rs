//! `BlockStore` on SQLite.

use crate::Cached;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mneme_types::{AgentId, Block, BlockId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::SqliteStore;
use crate::agents::{Where, agents_joined, ensure_agent, identity_terms, order_limit, paginate};
use crate::rows::{self, BLOCK_COLUMNS, micros, placeholders, to_json_opt};
use crate::{Error, Result, StoreResult};
use mneme_store::{Agent, BlockEdit, BlockFilter, BlockStore, Page, StoreError};

#[async_trait]
impl BlockStore for SqliteStore {
    async fn create_block(&self, block: Block) -> StoreResult<Block> {
        self.write(move |tx| {
            insert_block(tx, &block, &mneme_types::time::now())?;
            load_block(tx, block.id)
        })
        .await
    }

    async fn get_block(&self, id: BlockId) -> StoreResult<Block> {
        self.read(move |conn| load_block(conn, id)).await
    }

    async fn get_blocks(&self, ids: &[BlockId]) -> StoreResult<Vec<Block>> {
        let ids = ids.to_vec();
        self.read(move |conn| ids.iter().map(|id| load_block(conn, *id)).collect())
            .await
    }

    async fn list_blocks(&self, filter: &BlockFilter, page: &Page) -> StoreResult<Vec<Block>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| list(conn, &filter, &page)).await
    }

    async fn count_blocks(&self, filter: &BlockFilter) -> StoreResult<u64> {
        let filter = filter.clone();
        self.read(move |conn| {
            let q = filter_sql(&filter);
            let sql = format!("SELECT COUNT(*) FROM blocks b {}", q.where_clause());
            let n: i64 = conn.query_row_cached(&sql, params_from_iter(q.params), |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn update_block(&self, id: BlockId, edit: BlockEdit) -> StoreResult<Block> {
        self.write(move |tx| edit_block(tx, id, edit)).await
    }

    async fn update_agent_block(
        &self,
        agent: AgentId,
        label: &str,
        edit: BlockEdit,
    ) -> StoreResult<Block> {
        let label = label.to_owned();
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            let id: Option<String> = tx
                .query_row(
                    "SELECT block_id FROM agent_blocks WHERE agent_id = ?1 AND label = ?2",
                    [agent.to_string(), label.clone()],
                    |r| r.get(0),
                )
                .optional()?;
            let id = id.ok_or_else(|| StoreError::NotFound {
                kind: "Block",
                id: format!("with label '{label}' for agent {agent}"),
            })?;
            edit_block(tx, rows::parse(&id)?, edit)
        })
        .await
    }

    async fn delete_block(&self, id: BlockId) -> StoreResult<()> {
        self.write(move |tx| {
            let n = tx.execute_cached("DELETE FROM blocks WHERE id = ?1", [id.to_string()])?;
            if n == 0 {
                return Err(Error::not_found("Block", id));
            }
            Ok(())
        })
        .await
    }

    async fn agents_of_block(&self, id: BlockId, page: &Page) -> StoreResult<Vec<Agent>> {
        let page = page.clone();
        self.read(move |conn| {
            load_block(conn, id)?;
            agents_joined(conn, "agent_blocks", "block_id", id.to_string(), &page)
        })
        .await
    }

    async fn agent_ids_of_block(&self, id: BlockId) -> StoreResult<Vec<AgentId>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT agent_id FROM agent_blocks WHERE block_id = ?1 ORDER BY agent_id",
            )?;
            let ids = stmt
                .query_map([id.to_string()], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            ids.iter().map(|s| rows::parse(s)).collect()
        })
        .await
    }
}

/// Blocks that pass `filter`, by creation time in `page.order`; unknown cursors are `NotFound`.
pub(crate) fn list(conn: &Connection, filter: &BlockFilter, page: &Page) -> Result<Vec<Block>> {
    let mut q = filter_sql(filter);
    paginate(conn, &mut q, "blocks", "created_at", page, true)?;
    let sql = format!(
        "SELECT {BLOCK_COLUMNS} FROM blocks b {} {}",
        q.where_clause(),
        order_limit("created_at", page)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(q.params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(rows::block(row, 0)?);
    }
    Ok(out)
}

pub(crate) fn load_block(conn: &Connection, id: BlockId) -> Result<Block> {
    let sql = format!("SELECT {BLOCK_COLUMNS} FROM blocks b WHERE b.id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.to_string()])?;
    match rows.next()? {
        Some(row) => rows::block(row, 0),
        None => Err(Error::not_found("Block", id)),
    }
}

pub(crate) fn insert_block(conn: &Connection, b: &Block, now: &DateTime<Utc>) -> Result<()> {
    conn.execute_cached(
        "INSERT INTO blocks (id, label, value, value_limit, description, read_only, metadata, tags,
            hidden, is_template, template_name, template_id, base_template_id, deployment_id,
            entity_id, project_id, preserve_on_migration, created_by_id, last_updated_by_id,
            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20, ?20)",
        rusqlite::params![
            b.id.to_string(),
            b.label,
            b.value,
            limit_sql(b.limit),
            b.description,
            b.read_only,
            to_json_opt(&b.metadata)?,
            to_json_opt(&b.tags)?,
            b.hidden,
            b.is_template,
            b.template_name,
            b.template_id,
            b.base_template_id,
            b.deployment_id,
            b.entity_id,
            b.project_id,
            b.preserve_on_migration,
            b.created_by_id,
            b.last_updated_by_id,
            micros(now),
        ],
    )?;
    Ok(())
}

/// Applies `edit` to block `id` and saves it.
fn edit_block(conn: &Connection, id: BlockId, edit: BlockEdit) -> Result<Block> {
    let mut block = load_block(conn, id)?;
    let old_label = block.label.clone();
    edit(&mut block)?;
    block.id = id;
    save_block(conn, &block, old_label.as_deref())?;
    Ok(block)
}

/// Writes every field of an existing block; a new label is checked against every agent the
/// block is attached to.
pub(crate) fn save_block(conn: &Connection, block: &Block, old_label: Option<&str>) -> Result<()> {
    let id = block.id;
    if block.label.as_deref() != old_label {
        let label = block.label.clone().unwrap_or_default();
        check_label_free(conn, id, &label)?;
        conn.execute_cached(
            "UPDATE agent_blocks SET label = ?2 WHERE block_id = ?1",
            [id.to_string(), label],
        )?;
    }
    conn.execute_cached(
        "UPDATE blocks SET label = ?2, value = ?3, value_limit = ?4, description = ?5,
            read_only = ?6, metadata = ?7, tags = ?8, hidden = ?9, is_template = ?10,
            template_name = ?11, template_id = ?12, base_template_id = ?13, deployment_id = ?14,
            entity_id = ?15, project_id = ?16, preserve_on_migration = ?17,
            last_updated_by_id = ?18, updated_at = ?19
         WHERE id = ?1",
        rusqlite::params![
            id.to_string(),
            block.label,
            block.value,
            limit_sql(block.limit),
            block.description,
            block.read_only,
            to_json_opt(&block.metadata)?,
            to_json_opt(&block.tags)?,
            block.hidden,
            block.is_template,
            block.template_name,
            block.template_id,
            block.base_template_id,
            block.deployment_id,
            block.entity_id,
            block.project_id,
            block.preserve_on_migration,
            block.last_updated_by_id,
            micros(&mneme_types::time::now()),
        ],
    )?;
    Ok(())
}

/// A label change must not give any agent holding this block two blocks with one label.
fn check_label_free(conn: &Connection, id: BlockId, label: &str) -> Result<()> {
    let clash = conn
        .query_row(
            "SELECT other.agent_id FROM agent_blocks ab
             JOIN agent_blocks other ON other.agent_id = ab.agent_id AND other.block_id <> ab.block_id
             WHERE ab.block_id = ?1 AND other.label = ?2 LIMIT 1",
            [id.to_string(), label.to_owned()],
            |r| r.get::<_, String>(0),
        )
        .optional()?;
    match clash {
        Some(agent) => Err(Error::Store(StoreError::Conflict(format!(
            "Agent {agent} already has a block with label '{label}'"
        )))),
        None => Ok(()),
    }
}

fn limit_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn like(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}

fn filter_sql(f: &BlockFilter) -> Where {
    let mut q = Where::default();
    if let Some(label) = &f.label {
        q.push("b.label = ?", [like(label)]);
    }
    if f.templates_only {
        q.push("b.is_template = 1", []);
    }
    if let Some(name) = &f.template_name {
        q.push("b.template_name = ?", [like(name)]);
    }
    if let Some(p) = &f.project_id {
        q.push("b.project_id = ?", [like(p)]);
    }
    for (col, needle) in [
        ("b.label", &f.label_search),
        ("b.description", &f.description_search),
        ("b.value", &f.value_search),
    ] {
        if let Some(n) = needle {
            q.push(
                format!("instr(lower(COALESCE({col}, '')), lower(?)) > 0"),
                [like(n)],
            );
        }
    }
    tag_terms(&mut q, f);
    let (identity, keys) = (f.identity_id, &f.identifier_keys);
    identity_terms(
        &mut q,
        "b.id",
        "identities_blocks",
        "block_id",
        identity,
        keys,
    );
    count_terms(&mut q, f);
    q
}

/// Blocks with all (`match_all_tags`) or any of the filter's tags.
fn tag_terms(q: &mut Where, f: &BlockFilter) {
    if !f.tags.is_empty() {
        let list = placeholders(f.tags.len());
        let tags = f.tags.iter().map(|t| like(t));
        if f.match_all_tags {
            let mut distinct = f.tags.clone();
            distinct.sort();
            distinct.dedup();
            q.push(
                format!(
                    "(SELECT COUNT(DISTINCT value) FROM json_each(COALESCE(b.tags, '[]'))
                      WHERE value IN ({list})) = {}",
                    distinct.len()
                ),
                tags,
            );
        } else {
            q.push(
                format!("EXISTS (SELECT 1 FROM json_each(COALESCE(b.tags, '[]')) WHERE value IN ({list}))"),
                tags,
            );
        }
    }
}

/// Blocks by how many agents hold them.
fn count_terms(q: &mut Where, f: &BlockFilter) {
    let count = "(SELECT COUNT(*) FROM agent_blocks ab WHERE ab.block_id = b.id)";
    if let Some(n) = f.agents_count_gt {
        q.push(format!("{count} > ?"), [SqlValue::Integer(n as i64)]);
    }
    if let Some(n) = f.agents_count_lt {
        q.push(format!("{count} < ?"), [SqlValue::Integer(n as i64)]);
    }
    if !f.agents_count_eq.is_empty() {
        q.push(
            format!("{count} IN ({})", placeholders(f.agents_count_eq.len())),
            f.agents_count_eq
                .iter()
                .map(|n| SqlValue::Integer(*n as i64)),
        );
    }
}
