//! `McpServerStore` on SQLite: servers as config documents beside their unique names, and the
//! tools registered from them found through their metadata.

use crate::Cached;
use async_trait::async_trait;
use mneme_types::{McpServer, McpServerConfig, McpServerId, Tool};
use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::json;

use crate::SqliteStore;
use crate::rows::{self, micros, to_json};
use crate::tools::save_tool;
use crate::{Error, Result, StoreResult};
use mneme_store::{McpServerEdit, McpServerStore, McpToolSync, StoreError};

const COLUMNS: &str = "id, name, config";

/// Tools of a server, by name (`?1` is the server id); the partial index covers this filter.
const SERVER_TOOLS: &str = "SELECT data FROM tools WHERE tool_type = 'external_mcp'
     AND json_extract(data, '$.metadata_.mcp.server_id') = ?1 ORDER BY name";

#[async_trait]
impl McpServerStore for SqliteStore {
    async fn create_mcp_server(&self, server: McpServer) -> StoreResult<McpServer> {
        self.write(move |tx| {
            insert_server(tx, &server)?;
            Ok(server)
        })
        .await
    }

    async fn get_mcp_server(&self, id: McpServerId) -> StoreResult<McpServer> {
        self.read(move |conn| load(conn, id)).await
    }

    async fn mcp_server_by_name(&self, name: &str) -> StoreResult<McpServer> {
        let name = name.to_owned();
        self.read(move |conn| {
            conn.query_row_cached(
                &format!("SELECT {COLUMNS} FROM mcp_servers WHERE name = ?1"),
                [&name],
                server,
            )
            .optional()?
            .transpose()?
            .ok_or_else(|| Error::not_found("MCP server", name))
        })
        .await
    }

    async fn list_mcp_servers(&self) -> StoreResult<Vec<McpServer>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM mcp_servers ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([], server)?;
            rows.map(|r| r?).collect()
        })
        .await
    }

    async fn update_mcp_server(
        &self,
        id: McpServerId,
        edit: McpServerEdit,
    ) -> StoreResult<McpServer> {
        self.write(move |tx| {
            let mut server = load(tx, id)?;
            let old_name = server.server_name.clone();
            edit(&mut server)?;
            server.id = id;
            ensure_name_free(tx, &server.server_name, Some(id))?;
            tx.execute_cached(
                "UPDATE mcp_servers SET name = ?2, server_type = ?3, config = ?4, updated_at = ?5
                 WHERE id = ?1",
                rusqlite::params![
                    id.to_string(),
                    server.server_name,
                    server.config.server_type().as_str(),
                    to_json(&server.config)?,
                    micros(&mneme_types::time::now())
                ],
            )?;
            if server.server_name != old_name {
                for mut tool in server_tools(tx, id)? {
                    label_mcp_tool(&mut tool, &server);
                    save_tool(tx, &tool)?;
                }
            }
            Ok(server)
        })
        .await
    }

    async fn delete_mcp_server(&self, id: McpServerId) -> StoreResult<()> {
        self.write(move |tx| {
            load(tx, id)?;
            for tool in server_tools(tx, id)? {
                tx.execute_cached("DELETE FROM tools WHERE id = ?1", [tool.id.to_string()])?;
            }
            tx.execute_cached("DELETE FROM mcp_servers WHERE id = ?1", [id.to_string()])?;
            Ok(())
        })
        .await
    }

    async fn mcp_server_tools(&self, id: McpServerId) -> StoreResult<Vec<Tool>> {
        self.read(move |conn| {
            load(conn, id)?;
            server_tools(conn, id)
        })
        .await
    }

    async fn sync_mcp_tools(
        &self,
        id: McpServerId,
        tools: Vec<Tool>,
        prune: bool,
    ) -> StoreResult<McpToolSync> {
        self.write(move |tx| {
            let server = load(tx, id)?;
            let mut out = McpToolSync::default();
            let registered = server_tools(tx, id)?;
            if prune {
                for old in registered
                    .iter()
                    .filter(|o| tools.iter().all(|t| t.name != o.name))
                {
                    tx.execute_cached("DELETE FROM tools WHERE id = ?1", [old.id.to_string()])?;
                    out.deleted.push(old.name.clone());
                }
            }
            for mut tool in tools {
                label_mcp_tool(&mut tool, &server);
                let holder: Option<Tool> = tx
                    .query_row(
                        "SELECT data FROM tools WHERE name = ?1",
                        [&tool.name],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()?
                    .map(|d| rows::json(&d))
                    .transpose()?;
                match holder {
                    None => {
                        save_tool(tx, &tool)?;
                        out.added.push(tool.name);
                    }
                    Some(held) if held.tool_type != "external_mcp" => out.skipped.push(tool.name),
                    Some(held) => {
                        tool.id = held.id;
                        // What the user set on the registered tool stays theirs.
                        tool.return_char_limit = held.return_char_limit;
                        tool.default_requires_approval = held.default_requires_approval;
                        if held != tool {
                            save_tool(tx, &tool)?;
                            out.updated.push(tool.name);
                        }
                    }
                }
            }
            Ok(out)
        })
        .await
    }
}

/// Marks `tool` as the server's: Letta's `mcp:<server name>` tag and `metadata_.mcp`.
fn label_mcp_tool(tool: &mut Tool, server: &McpServer) {
    tool.tool_type = "external_mcp".into();
    tool.tags.retain(|t| !t.starts_with("mcp:"));
    tool.tags.insert(0, format!("mcp:{}", server.server_name));
    let meta = tool.metadata_.get_or_insert_with(Default::default);
    meta.insert(
        "mcp".into(),
        json!({"server_name": server.server_name, "server_id": server.id.to_string()}),
    );
}

fn load(conn: &Connection, id: McpServerId) -> Result<McpServer> {
    conn.query_row_cached(
        &format!("SELECT {COLUMNS} FROM mcp_servers WHERE id = ?1"),
        [id.to_string()],
        server,
    )
    .optional()?
    .transpose()?
    .ok_or_else(|| Error::not_found("MCP server", id))
}

fn server(row: &Row<'_>) -> rusqlite::Result<Result<McpServer>> {
    let id: String = row.get(0)?;
    let name: String = row.get(1)?;
    let config: String = row.get(2)?;
    Ok((|| {
        Ok(McpServer {
            config: rows::json::<McpServerConfig>(&config)?,
            id: rows::parse(&id)?,
            server_name: name,
        })
    })())
}

fn server_tools(conn: &Connection, id: McpServerId) -> Result<Vec<Tool>> {
    let mut stmt = conn.prepare_cached(SERVER_TOOLS)?;
    let data = stmt
        .query_map([id.to_string()], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    data.iter().map(|d| rows::json(d)).collect()
}

fn ensure_name_free(conn: &Connection, name: &str, except: Option<McpServerId>) -> Result<()> {
    let other: Option<String> = conn
        .query_row("SELECT id FROM mcp_servers WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    match other {
        Some(other) if except.is_none_or(|e| e.to_string() != other) => Err(Error::Store(
            StoreError::Conflict(format!("An MCP server named '{name}' already exists")),
        )),
        _ => Ok(()),
    }
}

/// Stores a new server; a name another server has is a `Conflict`.
pub(crate) fn insert_server(tx: &Connection, server: &McpServer) -> Result<()> {
    ensure_name_free(tx, &server.server_name, None)?;
    let now = micros(&mneme_types::time::now());
    tx.execute_cached(
        "INSERT INTO mcp_servers (id, name, server_type, config, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        rusqlite::params![
            server.id.to_string(),
            server.server_name,
            server.config.server_type().as_str(),
            to_json(&server.config)?,
            now
        ],
    )?;
    Ok(())
}
