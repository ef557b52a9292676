//! `ToolStore` on PostgreSQL. A tool is stored as its JSON document beside its unique name.

use async_trait::async_trait;
use mneme_store::codec::{json, micros, parse, to_json};
use mneme_store::{Page, StoreError, ToolEdit, ToolFilter, ToolStore};
use mneme_types::{AgentId, Tool, ToolId};
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row};

use crate::query::{
    Arg, Where, ensure_agent, ensure_row, fetch, lock_agent, order_limit, paginate,
};
use crate::rows::document;
use crate::{Error, PgStore, Result, StoreResult};

#[async_trait]
impl ToolStore for PgStore {
    async fn upsert_tools(&self, tools: Vec<Tool>) -> StoreResult<Vec<Tool>> {
        Ok(upsert_tools(&self.pool, tools).await?)
    }

    async fn tools_by_name(&self, names: &[String]) -> StoreResult<Vec<Tool>> {
        Ok(tools_by_name(&self.pool, names).await?)
    }

    async fn get_tool(&self, id: ToolId) -> StoreResult<Tool> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(document(&mut conn, "tools", "Tool", id, false).await?)
    }

    async fn agent_tools(&self, agent: AgentId) -> StoreResult<Vec<Tool>> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(tools_of(&mut conn, agent).await?)
    }

    async fn tools_of_agents(&self, agents: &[AgentId]) -> StoreResult<Vec<(AgentId, Vec<Tool>)>> {
        Ok(tools_of_agents(&self.pool, agents).await?)
    }

    async fn list_tools(&self, filter: &ToolFilter, page: &Page) -> StoreResult<Vec<Tool>> {
        Ok(list_tools(&self.pool, filter, page).await?)
    }

    async fn count_tools(&self, filter: &ToolFilter) -> StoreResult<u64> {
        let w = filter_sql(filter);
        let sql = format!("SELECT COUNT(*) FROM tools {}", w.where_clause());
        let row = crate::query::query(&sql, w.params)
            .fetch_one(&self.pool)
            .await
            .map_err(Error::from)?;
        let n: i64 = row.try_get(0).map_err(Error::from)?;
        Ok(crate::rows::count(n))
    }

    async fn update_tool(&self, id: ToolId, edit: ToolEdit) -> StoreResult<Tool> {
        Ok(update_tool(&self.pool, id, edit).await?)
    }

    async fn delete_tool(&self, id: ToolId) -> StoreResult<()> {
        Ok(crate::query::delete_by_id(&self.pool, "tools", "Tool", id).await?)
    }

    async fn attach_tool(&self, agent: AgentId, tool: ToolId) -> StoreResult<()> {
        Ok(attach_tool(&self.pool, agent, tool).await?)
    }

    async fn detach_tool(&self, agent: AgentId, tool: ToolId) -> StoreResult<()> {
        Ok(detach_tool(&self.pool, agent, tool).await?)
    }
}

async fn upsert_tools(pool: &PgPool, tools: Vec<Tool>) -> Result<Vec<Tool>> {
    let mut tx = pool.begin().await?;
    let mut out = Vec::with_capacity(tools.len());
    for mut tool in tools {
        // The row of that name, locked, keeps its id; a name new to both this and a
        // concurrent upsert lets the unique name decide (the loser is a conflict).
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM tools WHERE name = $1 FOR UPDATE")
                .bind(&tool.name)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(id) = existing {
            tool.id = parse(&id)?;
        }
        save_tool(&mut tx, &tool).await?;
        out.push(tool);
    }
    tx.commit().await?;
    Ok(out)
}

async fn tools_by_name(pool: &PgPool, names: &[String]) -> Result<Vec<Tool>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let data: Vec<String> = sqlx::query_scalar("SELECT data FROM tools WHERE name = ANY($1)")
        .bind(names.to_vec())
        .fetch_all(pool)
        .await?;
    let tools = data
        .iter()
        .map(|d| json::<Tool>(d))
        .collect::<Result<Vec<_>, _>>()?;
    // In the order asked.
    Ok(names
        .iter()
        .filter_map(|n| tools.iter().find(|t| &t.name == n).cloned())
        .collect())
}

async fn tools_of_agents(pool: &PgPool, agents: &[AgentId]) -> Result<Vec<(AgentId, Vec<Tool>)>> {
    // One transaction, so that the agents' lists agree with each other.
    let mut tx = pool.begin().await?;
    let mut out = Vec::with_capacity(agents.len());
    for agent in agents {
        out.push((*agent, tools_of(&mut tx, *agent).await?));
    }
    tx.commit().await?;
    Ok(out)
}

async fn list_tools(pool: &PgPool, filter: &ToolFilter, page: &Page) -> Result<Vec<Tool>> {
    let mut tx = pool.begin().await?;
    let mut w = filter_sql(filter);
    paginate(&mut tx, &mut w, "tools", "created_at", page, false).await?;
    let sql = format!(
        "SELECT data FROM tools {} {}",
        w.where_clause(),
        order_limit("created_at", page)
    );
    let tools = fetch(&mut tx, &sql, w.params, |r| {
        Ok(json::<Tool>(&r.try_get::<String, _>(0)?)?)
    })
    .await?;
    tx.commit().await?;
    Ok(tools)
}

async fn update_tool(pool: &PgPool, id: ToolId, edit: ToolEdit) -> Result<Tool> {
    let mut tx = pool.begin().await?;
    let mut tool: Tool = document(&mut tx, "tools", "Tool", id, true).await?;
    edit(&mut tool)?;
    tool.id = id;
    let clash: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tools WHERE name = $1 AND id <> $2)")
            .bind(&tool.name)
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
    if clash {
        return Err(Error::Store(StoreError::Conflict(format!(
            "A tool named '{}' already exists",
            tool.name
        ))));
    }
    save_tool(&mut tx, &tool).await?;
    tx.commit().await?;
    Ok(tool)
}

async fn attach_tool(pool: &PgPool, agent: AgentId, tool: ToolId) -> Result<()> {
    let mut tx = pool.begin().await?;
    // The agent row locked: the next position is computed from what it holds.
    lock_agent(&mut tx, agent).await?;
    ensure_row(&mut tx, "tools", "Tool", tool, false).await?;
    sqlx::query(
        "INSERT INTO agent_tools (agent_id, tool_id, position)
         VALUES ($1, $2, (SELECT COALESCE(MAX(position), -1) + 1 FROM agent_tools
                          WHERE agent_id = $1))
         ON CONFLICT DO NOTHING",
    )
    .bind(agent.to_string())
    .bind(tool.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn detach_tool(pool: &PgPool, agent: AgentId, tool: ToolId) -> Result<()> {
    let mut tx = pool.begin().await?;
    ensure_agent(&mut tx, agent).await?;
    ensure_row(&mut tx, "tools", "Tool", tool, false).await?;
    sqlx::query("DELETE FROM agent_tools WHERE agent_id = $1 AND tool_id = $2")
        .bind(agent.to_string())
        .bind(tool.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

fn filter_sql(f: &ToolFilter) -> Where {
    let mut w = Where::default();
    if !f.names.is_empty() {
        w.push("name = ANY(?)", [Arg::Texts(f.names.clone())]);
    }
    if !f.ids.is_empty() {
        let ids = f.ids.iter().map(|i| i.to_string()).collect();
        w.push("id = ANY(?)", [Arg::Texts(ids)]);
    }
    if let Some(q) = f.search.as_ref().filter(|q| !q.is_empty()) {
        w.push("strpos(lower(name), lower(?)) > 0", [Arg::from(q)]);
    }
    if !f.tool_types.is_empty() {
        w.push("tool_type = ANY(?)", [Arg::Texts(f.tool_types.clone())]);
    }
    if !f.exclude_tool_types.is_empty() {
        w.push(
            "NOT (tool_type = ANY(?))",
            [Arg::Texts(f.exclude_tool_types.clone())],
        );
    }
    w
}

// Shared with other modules (contract: same meaning as the SQLite backend's function of the
// same name; `conn` may be a transaction).

/// The agent's tools in attachment order.
pub(crate) async fn tools_of(conn: &mut PgConnection, agent: AgentId) -> Result<Vec<Tool>> {
    let data: Vec<String> = sqlx::query_scalar(
        "SELECT t.data FROM agent_tools at JOIN tools t ON t.id = at.tool_id
         WHERE at.agent_id = $1 ORDER BY at.position",
    )
    .bind(agent.to_string())
    .fetch_all(&mut *conn)
    .await?;
    data.iter().map(|d| Ok(json(d)?)).collect()
}

/// Inserts a new tool row; a taken id or name is a conflict.
pub(crate) async fn insert_tool(conn: &mut PgConnection, tool: &Tool) -> Result<()> {
    write_tool(conn, tool, "").await
}

/// Inserts or replaces a tool row by id.
pub(crate) async fn save_tool(conn: &mut PgConnection, tool: &Tool) -> Result<()> {
    write_tool(
        conn,
        tool,
        "ON CONFLICT (id) DO UPDATE SET name = $2, tool_type = $3, data = $4, updated_at = $5",
    )
    .await
}

/// Writes a tool row, `on_conflict` deciding what a taken id does.
async fn write_tool(conn: &mut PgConnection, tool: &Tool, on_conflict: &str) -> Result<()> {
    let now = micros(&mneme_types::time::now());
    let sql = format!(
        "INSERT INTO tools (id, name, tool_type, data, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) {on_conflict}"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(tool.id.to_string())
        .bind(&tool.name)
        .bind(&tool.tool_type)
        .bind(to_json(tool)?)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
