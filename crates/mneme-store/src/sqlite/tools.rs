//! `ToolStore` on SQLite. A tool is stored as its JSON document beside its unique name.

use async_trait::async_trait;
use mneme_types::{AgentId, Tool, ToolId};
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::SqliteStore;
use super::rows::{self, micros, placeholders, to_json};
use crate::{Result, StoreError, ToolStore};

#[async_trait]
impl ToolStore for SqliteStore {
    async fn upsert_tools(&self, tools: Vec<Tool>) -> Result<Vec<Tool>> {
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
                tx.execute(
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

    async fn tools_by_name(&self, names: &[String]) -> Result<Vec<Tool>> {
        let names = names.to_vec();
        self.read(move |conn| {
            if names.is_empty() {
                return Ok(Vec::new());
            }
            let sql = format!(
                "SELECT data FROM tools WHERE name IN ({})",
                placeholders(names.len())
            );
            let mut stmt = conn.prepare(&sql)?;
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

    async fn get_tool(&self, id: ToolId) -> Result<Tool> {
        self.read(move |conn| {
            let data: Option<String> = conn
                .query_row(
                    "SELECT data FROM tools WHERE id = ?1",
                    [id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            rows::json(&data.ok_or_else(|| StoreError::not_found("Tool", id))?)
        })
        .await
    }

    async fn agent_tools(&self, agent: AgentId) -> Result<Vec<Tool>> {
        self.read(move |conn| tools_of(conn, agent)).await
    }

    async fn tools_of_agents(&self, agents: &[AgentId]) -> Result<Vec<(AgentId, Vec<Tool>)>> {
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

pub(super) fn tools_of(conn: &Connection, agent: AgentId) -> Result<Vec<Tool>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.data FROM agent_tools at JOIN tools t ON t.id = at.tool_id
         WHERE at.agent_id = ?1 ORDER BY at.position",
    )?;
    let data = stmt
        .query_map([agent.to_string()], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    data.iter().map(|d| rows::json(d)).collect()
}
