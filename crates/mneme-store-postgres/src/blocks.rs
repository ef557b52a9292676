//! `BlockStore` on PostgreSQL: memory blocks, their listings, and edits under a row lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mneme_store::codec::{micros, parse, to_json_opt};
use mneme_store::{Agent, BlockEdit, BlockFilter, BlockStore, Page, StoreError};
use mneme_types::{AgentId, Block, BlockId};
use sqlx::PgConnection;

use crate::agents::agent_queries::{IdentityLinks, agents_joined};
use crate::query::{Arg, Where, ensure_agent, fetch, order_limit, paginate, placeholders};
use crate::rows::{self, BLOCK_COLUMNS, to_flag};
use crate::{Error, PgStore, Result, StoreResult};

#[async_trait]
impl BlockStore for PgStore {
    async fn create_block(&self, block: Block) -> StoreResult<Block> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        insert_block(&mut tx, &block, &mneme_types::time::now()).await?;
        let block = load_block(&mut tx, block.id).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(block)
    }

    async fn get_block(&self, id: BlockId) -> StoreResult<Block> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_block(&mut conn, id).await?)
    }

    async fn get_blocks(&self, ids: &[BlockId]) -> StoreResult<Vec<Block>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load_many(&mut conn, ids).await?)
    }

    async fn list_blocks(&self, filter: &BlockFilter, page: &Page) -> StoreResult<Vec<Block>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(list(&mut conn, filter, page).await?)
    }

    async fn count_blocks(&self, filter: &BlockFilter) -> StoreResult<u64> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        let q = filter_sql(filter);
        let sql = format!("SELECT COUNT(*) FROM blocks b {}", q.where_clause());
        let n = fetch(&mut conn, &sql, q.params, |r| {
            Ok(sqlx::Row::try_get::<i64, _>(r, 0)?)
        })
        .await?;
        Ok(rows::count(n.first().copied().unwrap_or(0)))
    }

    async fn update_block(&self, id: BlockId, edit: BlockEdit) -> StoreResult<Block> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let block = edit_block(&mut tx, id, edit, None).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(block)
    }

    async fn update_agent_block(
        &self,
        agent: AgentId,
        label: &str,
        edit: BlockEdit,
    ) -> StoreResult<Block> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let id = agent_block(&mut tx, agent, label).await?;
        let block = edit_block(&mut tx, id, edit, Some((agent, label))).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(block)
    }

    async fn delete_block(&self, id: BlockId) -> StoreResult<()> {
        Ok(crate::query::delete_by_id(&self.pool, "blocks", "Block", id).await?)
    }

    async fn agents_of_block(&self, id: BlockId, page: &Page) -> StoreResult<Vec<Agent>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        load_block(&mut conn, id).await?;
        let (join, column) = ("agent_blocks", "block_id");
        Ok(agents_joined(&mut conn, join, column, id.to_string(), page).await?)
    }

    async fn agent_ids_of_block(&self, id: BlockId) -> StoreResult<Vec<AgentId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT agent_id FROM agent_blocks WHERE block_id = $1 ORDER BY agent_id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(Error::from)?;
        Ok(ids
            .iter()
            .map(|s| parse(s))
            .collect::<std::result::Result<_, _>>()?)
    }
}

/// The block the agent holds under `label`, locked (as `edit_block` locks it: the block row
/// first, in the order every block edit takes its locks).
async fn agent_block(conn: &mut PgConnection, agent: AgentId, label: &str) -> Result<BlockId> {
    ensure_agent(conn, agent).await?;
    let id: Option<String> = sqlx::query_scalar(
        "SELECT ab.block_id FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id
         WHERE ab.agent_id = $1 AND ab.label = $2 FOR UPDATE OF b",
    )
    .bind(agent.to_string())
    .bind(label)
    .fetch_optional(&mut *conn)
    .await?;
    let id = id.ok_or_else(|| label_not_found(agent, label))?;
    Ok(parse(&id)?)
}

fn label_not_found(agent: AgentId, label: &str) -> Error {
    Error::Store(StoreError::NotFound {
        kind: "Block",
        id: format!("with label '{label}' for agent {agent}"),
    })
}

/// Applies `edit` to block `id` and saves it. The block row is locked from the read to the
/// write, so that a concurrent edit is applied after this one, not over it. With `label`, the
/// block must still carry it once locked (a concurrent relabel may have won the lock first).
async fn edit_block(
    conn: &mut PgConnection,
    id: BlockId,
    edit: BlockEdit,
    label: Option<(AgentId, &str)>,
) -> Result<Block> {
    let mut block = load(conn, id, true).await?;
    if let Some((agent, label)) = label
        && block.label.as_deref().unwrap_or_default() != label
    {
        return Err(label_not_found(agent, label));
    }
    let old_label = block.label.clone();
    edit(&mut block)?;
    block.id = id;
    save_block(conn, &block, old_label.as_deref()).await?;
    Ok(block)
}

/// The blocks of `ids` in that order; any unknown one is `NotFound`.
async fn load_many(conn: &mut PgConnection, ids: &[BlockId]) -> Result<Vec<Block>> {
    let wanted: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let sql = format!("SELECT {BLOCK_COLUMNS} FROM blocks b WHERE b.id = ANY(?)");
    let found = fetch(conn, &sql, vec![Arg::Texts(wanted)], |r| rows::block(r, 0)).await?;
    ids.iter()
        .map(|id| match found.iter().position(|b| b.id == *id) {
            // A repeated id is answered each time it is asked.
            Some(at) => Ok(found[at].clone()),
            None => Err(Error::not_found("Block", id)),
        })
        .collect()
}

/// The block, locked for the rest of the transaction when `lock`.
async fn load(conn: &mut PgConnection, id: BlockId, lock: bool) -> Result<Block> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {BLOCK_COLUMNS} FROM blocks b WHERE b.id = ?{lock}");
    fetch(conn, &sql, vec![Arg::from(id.to_string())], |r| {
        rows::block(r, 0)
    })
    .await?
    .pop()
    .ok_or_else(|| Error::not_found("Block", id))
}

/// A label change must not give any agent holding this block two blocks with one label.
async fn check_label_free(conn: &mut PgConnection, id: BlockId, label: &str) -> Result<()> {
    let clash: Option<String> = sqlx::query_scalar(
        "SELECT other.agent_id FROM agent_blocks ab
         JOIN agent_blocks other ON other.agent_id = ab.agent_id AND other.block_id <> ab.block_id
         WHERE ab.block_id = $1 AND other.label = $2 LIMIT 1",
    )
    .bind(id.to_string())
    .bind(label)
    .fetch_optional(&mut *conn)
    .await?;
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

fn filter_sql(f: &BlockFilter) -> Where {
    let mut q = Where::default();
    if let Some(label) = &f.label {
        q.push("b.label = ?", [Arg::from(label)]);
    }
    if f.templates_only {
        q.push("b.is_template = 1", []);
    }
    if let Some(name) = &f.template_name {
        q.push("b.template_name = ?", [Arg::from(name)]);
    }
    if let Some(p) = &f.project_id {
        q.push("b.project_id = ?", [Arg::from(p)]);
    }
    for (col, needle) in [
        ("b.label", &f.label_search),
        ("b.description", &f.description_search),
        ("b.value", &f.value_search),
    ] {
        if let Some(n) = needle {
            q.push(
                format!("strpos(lower(COALESCE({col}, '')), lower(?)) > 0"),
                [Arg::from(n)],
            );
        }
    }
    tag_terms(&mut q, f);
    let links = IdentityLinks {
        id_column: "b.id",
        table: "identities_blocks",
        column: "block_id",
    };
    links.terms(&mut q, f.identity_id, &f.identifier_keys);
    count_terms(&mut q, f);
    q
}

/// Blocks with all (`match_all_tags`) or any of the filter's tags (a JSON list in `tags`).
fn tag_terms(q: &mut Where, f: &BlockFilter) {
    if f.tags.is_empty() {
        return;
    }
    let elements = "jsonb_array_elements_text(COALESCE(b.tags, '[]')::jsonb) AS t(tag)";
    let tags = Arg::Texts(f.tags.clone());
    if f.match_all_tags {
        let mut distinct = f.tags.clone();
        distinct.sort();
        distinct.dedup();
        q.push(
            format!(
                "(SELECT COUNT(DISTINCT t.tag) FROM {elements} WHERE t.tag = ANY(?)) = {}",
                distinct.len()
            ),
            [tags],
        );
    } else {
        q.push(
            format!("EXISTS (SELECT 1 FROM {elements} WHERE t.tag = ANY(?))"),
            [tags],
        );
    }
}

/// Blocks by how many agents hold them.
fn count_terms(q: &mut Where, f: &BlockFilter) {
    let count = "(SELECT COUNT(*) FROM agent_blocks ab WHERE ab.block_id = b.id)";
    let n = |v: u64| Arg::Int(i64::try_from(v).unwrap_or(i64::MAX));
    if let Some(v) = f.agents_count_gt {
        q.push(format!("{count} > ?"), [n(v)]);
    }
    if let Some(v) = f.agents_count_lt {
        q.push(format!("{count} < ?"), [n(v)]);
    }
    if !f.agents_count_eq.is_empty() {
        q.push(
            format!("{count} IN ({})", placeholders(f.agents_count_eq.len())),
            f.agents_count_eq.iter().map(|v| n(*v)),
        );
    }
}

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).

/// Writes a new block, created and updated `now`.
pub(crate) async fn insert_block(
    conn: &mut PgConnection,
    b: &Block,
    now: &DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO blocks (id, label, value, value_limit, description, read_only, metadata, tags,
            hidden, is_template, template_name, template_id, base_template_id, deployment_id,
            entity_id, project_id, preserve_on_migration, created_by_id, last_updated_by_id,
            created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20, $20)",
    )
    .bind(b.id.to_string())
    .bind(&b.label)
    .bind(&b.value)
    .bind(limit_sql(b.limit))
    .bind(&b.description)
    .bind(to_flag(b.read_only))
    .bind(to_json_opt(&b.metadata)?)
    .bind(to_json_opt(&b.tags)?)
    .bind(b.hidden.map(to_flag))
    .bind(to_flag(b.is_template))
    .bind(&b.template_name)
    .bind(&b.template_id)
    .bind(&b.base_template_id)
    .bind(&b.deployment_id)
    .bind(&b.entity_id)
    .bind(&b.project_id)
    .bind(b.preserve_on_migration.map(to_flag))
    .bind(&b.created_by_id)
    .bind(&b.last_updated_by_id)
    .bind(micros(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The block; unknown is `NotFound`.
pub(crate) async fn load_block(conn: &mut PgConnection, id: BlockId) -> Result<Block> {
    load(conn, id, false).await
}

/// Writes every field of an existing block; a new label is checked against every agent the
/// block is attached to.
pub(crate) async fn save_block(
    conn: &mut PgConnection,
    block: &Block,
    old_label: Option<&str>,
) -> Result<()> {
    let id = block.id;
    if block.label.as_deref() != old_label {
        let label = block.label.clone().unwrap_or_default();
        check_label_free(conn, id, &label).await?;
        sqlx::query("UPDATE agent_blocks SET label = $2 WHERE block_id = $1")
            .bind(id.to_string())
            .bind(label)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(
        "UPDATE blocks SET label = $2, value = $3, value_limit = $4, description = $5,
            read_only = $6, metadata = $7, tags = $8, hidden = $9, is_template = $10,
            template_name = $11, template_id = $12, base_template_id = $13, deployment_id = $14,
            entity_id = $15, project_id = $16, preserve_on_migration = $17,
            last_updated_by_id = $18, updated_at = $19
         WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(&block.label)
    .bind(&block.value)
    .bind(limit_sql(block.limit))
    .bind(&block.description)
    .bind(to_flag(block.read_only))
    .bind(to_json_opt(&block.metadata)?)
    .bind(to_json_opt(&block.tags)?)
    .bind(block.hidden.map(to_flag))
    .bind(to_flag(block.is_template))
    .bind(&block.template_name)
    .bind(&block.template_id)
    .bind(&block.base_template_id)
    .bind(&block.deployment_id)
    .bind(&block.entity_id)
    .bind(&block.project_id)
    .bind(block.preserve_on_migration.map(to_flag))
    .bind(&block.last_updated_by_id)
    .bind(micros(&mneme_types::time::now()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Blocks that pass `filter`, by creation time in `page.order`; unknown cursors are `NotFound`.
pub(crate) async fn list(
    conn: &mut PgConnection,
    filter: &BlockFilter,
    page: &Page,
) -> Result<Vec<Block>> {
    let mut q = filter_sql(filter);
    paginate(conn, &mut q, "blocks", "created_at", page, true).await?;
    let sql = format!(
        "SELECT {BLOCK_COLUMNS} FROM blocks b {} {}",
        q.where_clause(),
        order_limit("created_at", page)
    );
    fetch(conn, &sql, q.params, |r| rows::block(r, 0)).await
}

#[cfg(all(test, feature = "scratch"))]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::scratch::ScratchDb;

    /// A block with a label and a value, every other field empty.
    pub(crate) fn block(label: &str, value: &str) -> Block {
        serde_json::from_value(serde_json::json!({
            "id": BlockId::new(), "label": label, "value": value, "limit": 100,
            "description": null, "read_only": false, "metadata": {}, "tags": [], "hidden": null,
            "is_template": false, "template_name": null, "template_id": null,
            "base_template_id": null, "deployment_id": null, "entity_id": null,
            "project_id": null, "preserve_on_migration": false, "created_by_id": null,
            "last_updated_by_id": null
        }))
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_edits_of_a_block_lose_none() {
        let db = ScratchDb::create().await;
        let store = db.store().await;
        let id = store.create_block(block("b", "")).await.unwrap().id;
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let edit: BlockEdit = Box::new(|b| {
                    b.value.push('x');
                    Ok(())
                });
                store.update_block(id, edit).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(store.get_block(id).await.unwrap().value, "xxxxxxxx");
    }
}
