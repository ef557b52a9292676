//! `ToolStore` on SQLite. A tool is stored as its JSON document beside its unique name.

use crate::Cached;
use async_trait::async_trait;
use mneme_types::{AgentId, Tool, ToolId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::SqliteStore;
use crate::agents::{Where, ensure_agent, order_limit, paginate};
use crate::rows::{self, micros, placeholders, to_json};
use crate::{Error, Result, StoreResult};
use mneme_store::{Page, StoreError, ToolEdit, ToolFilter, ToolStore};

#[async_trait]
impl ToolStore for SqliteStore {
    async fn upsert_tools(&self, tools: Vec<Tool>) -> StoreResult<Vec<Tool>> {
        self.write(move |tx| {
            let now = micros(&mneme_types::time::now());
            let mut out = Vec::with_capacity(tools.len());
            for mut tool in tools {
                let existing: Option<String> = tx
                    .query_row("SELECT id FROM tools WHERE name = ?1", [&tool.name], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if let Some(id) = existing {
                    tool.id = rows::parse(&id)?;
                }
                tx.execute_cached(
                    "INSERT INTO tools (id, name, tool_type, data, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                     ON CONFLICT (id) DO UPDATE SET tool_type = ?3, data = ?4, updated_at = ?5",
                    rusqlite::params![
                        tool.id.to_string(),
                        tool.name,
                        tool.tool_type,
                        to_json(&tool)?,
                        now
                    ],
                )?;
                out.push(tool);
            }
            Ok(out)
        })
        .await
    }

    async fn tools_by_name(&self, names: &[String]) -> StoreResult<Vec<Tool>> {
        let names = names.to_vec();
        self.read(move |conn| {
            if names.is_empty() {
                return Ok(Vec::new());
            }
            let sql = format!(
                "SELECT data FROM tools WHERE name IN ({})",
                placeholders(names.len())
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let found = stmt
                .query_map(params_from_iter(names.iter()), |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            let tools = found
                .iter()
                .map(|d| rows::json::<Tool>(d))
                .collect::<Result<Vec<_>>>()?;
            // In the order asked.
            Ok(names
                .iter()
                .filter_map(|n| tools.iter().find(|t| &t.name == n).cloned())
                .collect())
        })
        .await
    }

    async fn get_tool(&self, id: ToolId) -> StoreResult<Tool> {
        self.read(move |conn| rows::document(conn, "tools", "Tool", id))
            .await
    }

    async fn list_tools(&self, filter: &ToolFilter, page: &Page) -> StoreResult<Vec<Tool>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.read(move |conn| {
            let mut w = filter_sql(&filter);
            paginate(conn, &mut w, "tools", "created_at", &page, false)?;
            let sql = format!(
                "SELECT data FROM tools {} {}",
                w.where_clause(),
                order_limit("created_at", &page)
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let data = stmt
                .query_map(params_from_iter(w.params), |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            data.iter().map(|d| rows::json(d)).collect()
        })
        .await
    }

    async fn count_tools(&self, filter: &ToolFilter) -> StoreResult<u64> {
        let filter = filter.clone();
        self.read(move |conn| {
            let w = filter_sql(&filter);
            let sql = format!("SELECT COUNT(*) FROM tools {}", w.where_clause());
            let n: i64 = conn.query_row_cached(&sql, params_from_iter(w.params), |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn update_tool(&self, id: ToolId, edit: ToolEdit) -> StoreResult<Tool> {
        self.write(move |tx| {
            let mut tool: Tool = rows::document(tx, "tools", "Tool", id)?;
            edit(&mut tool)?;
            tool.id = id;
            let clash: bool = tx.query_row_cached(
                "SELECT EXISTS (SELECT 1 FROM tools WHERE name = ?1 AND id <> ?2)",
                [tool.name.clone(), id.to_string()],
                |r| r.get(0),
            )?;
            if clash {
                return Err(Error::Store(StoreError::Conflict(format!(
                    "A tool named '{}' already exists",
                    tool.name
                ))));
            }
            save_tool(tx, &tool)?;
            Ok(tool)
        })
        .await
    }

    async fn delete_tool(&self, id: ToolId) -> StoreResult<()> {
        self.write(move |tx| {
            let n = tx.execute_cached("DELETE FROM tools WHERE id = ?1", [id.to_string()])?;
            if n == 0 {
                return Err(Error::not_found("Tool", id));
            }
            Ok(())
        })
        .await
    }

    async fn attach_tool(&self, agent: AgentId, tool: ToolId) -> StoreResult<()> {
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            ensure_tool(tx, tool)?;
            tx.execute_cached(
                "INSERT OR IGNORE INTO agent_tools (agent_id, tool_id, position)
                 VALUES (?1, ?2, (SELECT COALESCE(MAX(position), -1) + 1 FROM agent_tools WHERE agent_id = ?1))",
                [agent.to_string(), tool.to_string()],
            )?;
            Ok(())
        })
        .await
    }

    async fn detach_tool(&self, agent: AgentId, tool: ToolId) -> StoreResult<()> {
        self.write(move |tx| {
            ensure_agent(tx, agent)?;
            ensure_tool(tx, tool)?;
            tx.execute_cached(
                "DELETE FROM agent_tools WHERE agent_id = ?1 AND tool_id = ?2",
                [agent.to_string(), tool.to_string()],
            )?;
            Ok(())
        })
        .await
    }

    async fn agent_tools(&self, agent: AgentId) -> StoreResult<Vec<Tool>> {
        self.read(move |conn| tools_of(conn, agent)).await
    }

    async fn tools_of_agents(&self, agents: &[AgentId]) -> StoreResult<Vec<(AgentId, Vec<Tool>)>> {
        let agents = agents.to_vec();
        self.read(move |conn| {
            agents
                .iter()
                .map(|a| Ok((*a, tools_of(conn, *a)?)))
                .collect()
        })
        .await
    }
}

fn ensure_tool(conn: &Connection, id: ToolId) -> Result<()> {
    let found = conn
        .query_row(
            "SELECT 1 FROM tools WHERE id = ?1",
            [id.to_string()],
            |_| Ok(()),
        )
        .optional()?;
    found.ok_or_else(|| Error::not_found("Tool", id))
}

/// Inserts a new tool row; a taken id or name is a conflict.
pub(crate) fn insert_tool(conn: &Connection, tool: &Tool) -> Result<()> {
    write_tool(conn, tool, "")
}

/// Inserts or replaces a tool row by id.
pub(crate) fn save_tool(conn: &Connection, tool: &Tool) -> Result<()> {
    write_tool(
        conn,
        tool,
        "ON CONFLICT (id) DO UPDATE SET name = ?2, tool_type = ?3, data = ?4, updated_at = ?5",
    )
}

/// Writes a tool row, `on_conflict` deciding what a taken id does.
fn write_tool(conn: &Connection, tool: &Tool, on_conflict: &str) -> Result<()> {
    let now = micros(&mneme_types::time::now());
    conn.execute_cached(
        &format!(
            "INSERT INTO tools (id, name, tool_type, data, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) {on_conflict}"
        ),
        rusqlite::params![
            tool.id.to_string(),
            tool.name,
            tool.tool_type,
            to_json(tool)?,
            now
        ],
    )?;
    Ok(())
}

fn filter_sql(f: &ToolFilter) -> Where {
    let mut w = Where::default();
    let text = |s: &String| SqlValue::Text(s.clone());
    if !f.names.is_empty() {
        w.push(
            format!("name IN ({})", placeholders(f.names.len())),
            f.names.iter().map(text),
        );
    }
    if !f.ids.is_empty() {
        w.push(
            format!("id IN ({})", placeholders(f.ids.len())),
            f.ids.iter().map(|i| SqlValue::Text(i.to_string())),
        );
    }
    if let Some(q) = f.search.as_ref().filter(|q| !q.is_empty()) {
        w.push("instr(lower(name), lower(?)) > 0", [text(q)]);
    }
    if !f.tool_types.is_empty() {
        w.push(
            format!("tool_type IN ({})", placeholders(f.tool_types.len())),
            f.tool_types.iter().map(text),
        );
    }
    if !f.exclude_tool_types.is_empty() {
        w.push(
            format!(
                "tool_type NOT IN ({})",
                placeholders(f.exclude_tool_types.len())
            ),
            f.exclude_tool_types.iter().map(text),
        );
    }
    w
}

pub(crate) fn tools_of(conn: &Connection, agent: AgentId) -> Result<Vec<Tool>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.data FROM agent_tools at JOIN tools t ON t.id = at.tool_id
         WHERE at.agent_id = ?1 ORDER BY at.position",
    )?;
    let data = stmt
        .query_map([agent.to_string()], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    data.iter().map(|d| rows::json(d)).collect()
}
