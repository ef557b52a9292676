//! `McpServerStore` on PostgreSQL: servers as config documents beside their unique names, and
//! the tools registered from them found through their metadata.

use async_trait::async_trait;
use mneme_store::codec::{json, micros, parse, to_json};
use mneme_store::{McpServerEdit, McpServerStore, McpToolSync, StoreError};
use mneme_types::{McpServer, McpServerConfig, McpServerId, Tool};
use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row};

use crate::tools::save_tool;
use crate::{Error, PgStore, Result, StoreResult};

const COLUMNS: &str = "id, name, config";

/// Tools of a server, by name (`$1` is the server id). The expression is the one
/// `tools_by_mcp_server` indexes, under the index's own predicate, so that the index applies.
const SERVER_TOOLS: &str = "SELECT data FROM tools WHERE tool_type = 'external_mcp'
     AND ((data::jsonb) #>> '{metadata_,mcp,server_id}') = $1 ORDER BY name";

#[async_trait]
impl McpServerStore for PgStore {
    async fn create_mcp_server(&self, server: McpServer) -> StoreResult<McpServer> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        insert_server(&mut tx, &server).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(server)
    }

    async fn get_mcp_server(&self, id: McpServerId) -> StoreResult<McpServer> {
        let mut conn = self.pool.acquire().await.map_err(Error::from)?;
        Ok(load(&mut conn, id, false).await?)
    }

    async fn mcp_server_by_name(&self, name: &str) -> StoreResult<McpServer> {
        let sql = format!("SELECT {COLUMNS} FROM mcp_servers WHERE name = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(Error::from)?;
        let row = row.ok_or_else(|| Error::not_found("MCP server", name))?;
        Ok(server(&row)?)
    }

    async fn list_mcp_servers(&self) -> StoreResult<Vec<McpServer>> {
        let sql = format!("SELECT {COLUMNS} FROM mcp_servers ORDER BY created_at, id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(rows.iter().map(server).collect::<Result<_>>()?)
    }

    async fn update_mcp_server(
        &self,
        id: McpServerId,
        edit: McpServerEdit,
    ) -> StoreResult<McpServer> {
        Ok(update(&self.pool, id, edit).await?)
    }

    async fn delete_mcp_server(&self, id: McpServerId) -> StoreResult<()> {
        Ok(delete(&self.pool, id).await?)
    }

    async fn mcp_server_tools(&self, id: McpServerId) -> StoreResult<Vec<Tool>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        load(&mut tx, id, false).await?;
        let tools = server_tools(&mut tx, id).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(tools)
    }

    async fn sync_mcp_tools(
        &self,
        id: McpServerId,
        tools: Vec<Tool>,
        prune: bool,
    ) -> StoreResult<McpToolSync> {
        Ok(sync(&self.pool, id, tools, prune).await?)
    }
}

async fn update(pool: &PgPool, id: McpServerId, edit: McpServerEdit) -> Result<McpServer> {
    let mut tx = pool.begin().await?;
    let mut server = load(&mut tx, id, true).await?;
    let old_name = server.server_name.clone();
    edit(&mut server)?;
    server.id = id;
    ensure_name_free(&mut tx, &server.server_name, Some(id)).await?;
    sqlx::query(
        "UPDATE mcp_servers SET name = $2, server_type = $3, config = $4, updated_at = $5
         WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(&server.server_name)
    .bind(server.config.server_type().as_str())
    .bind(to_json(&server.config)?)
    .bind(micros(&mneme_types::time::now()))
    .execute(&mut *tx)
    .await?;
    if server.server_name != old_name {
        for mut tool in server_tools(&mut tx, id).await? {
            label_mcp_tool(&mut tool, &server);
            save_tool(&mut tx, &tool).await?;
        }
    }
    tx.commit().await?;
    Ok(server)
}

async fn delete(pool: &PgPool, id: McpServerId) -> Result<()> {
    let mut tx = pool.begin().await?;
    load(&mut tx, id, true).await?;
    sqlx::query(
        "DELETE FROM tools WHERE tool_type = 'external_mcp'
         AND ((data::jsonb) #>> '{metadata_,mcp,server_id}') = $1",
    )
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM mcp_servers WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// `sync_mcp_tools`: the server's row locked, so that two syncs of one server take turns.
async fn sync(
    pool: &PgPool,
    id: McpServerId,
    tools: Vec<Tool>,
    prune: bool,
) -> Result<McpToolSync> {
    let mut tx = pool.begin().await?;
    let server = load(&mut tx, id, true).await?;
    let mut out = McpToolSync::default();
    if prune {
        let registered = server_tools(&mut tx, id).await?;
        for old in registered
            .iter()
            .filter(|o| tools.iter().all(|t| t.name != o.name))
        {
            sqlx::query("DELETE FROM tools WHERE id = $1")
                .bind(old.id.to_string())
                .execute(&mut *tx)
                .await?;
            out.deleted.push(old.name.clone());
        }
    }
    for mut tool in tools {
        label_mcp_tool(&mut tool, &server);
        let holder: Option<String> =
            sqlx::query_scalar("SELECT data FROM tools WHERE name = $1 FOR UPDATE")
                .bind(&tool.name)
                .fetch_optional(&mut *tx)
                .await?;
        let holder: Option<Tool> = holder.map(|d| json(&d)).transpose()?;
        match holder {
            None => {
                save_tool(&mut tx, &tool).await?;
                out.added.push(tool.name);
            }
            Some(held) if held.tool_type != "external_mcp" => out.skipped.push(tool.name),
            Some(held) => {
                tool.id = held.id;
                // What the user set on the registered tool stays theirs.
                tool.return_char_limit = held.return_char_limit;
                tool.default_requires_approval = held.default_requires_approval;
                if held != tool {
                    save_tool(&mut tx, &tool).await?;
                    out.updated.push(tool.name);
                }
            }
        }
    }
    tx.commit().await?;
    Ok(out)
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

/// The server, its row locked for update when `lock`.
async fn load(conn: &mut PgConnection, id: McpServerId, lock: bool) -> Result<McpServer> {
    let lock = if lock { "FOR UPDATE" } else { "" };
    let sql = format!("SELECT {COLUMNS} FROM mcp_servers WHERE id = $1 {lock}");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    server(&row.ok_or_else(|| Error::not_found("MCP server", id))?)
}

fn server(row: &PgRow) -> Result<McpServer> {
    Ok(McpServer {
        id: parse(&row.try_get::<String, _>(0)?)?,
        server_name: row.try_get(1)?,
        config: json::<McpServerConfig>(&row.try_get::<String, _>(2)?)?,
    })
}

async fn server_tools(conn: &mut PgConnection, id: McpServerId) -> Result<Vec<Tool>> {
    let data: Vec<String> = sqlx::query_scalar(SERVER_TOOLS)
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await?;
    data.iter().map(|d| Ok(json(d)?)).collect()
}

/// `Conflict` when another server has `name`. The unique name backs this check against a
/// concurrent writer (its violation is a conflict too).
async fn ensure_name_free(
    conn: &mut PgConnection,
    name: &str,
    except: Option<McpServerId>,
) -> Result<()> {
    let other: Option<String> = sqlx::query_scalar("SELECT id FROM mcp_servers WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    match other {
        Some(other) if except.is_none_or(|e| e.to_string() != other) => Err(Error::Store(
            StoreError::Conflict(format!("An MCP server named '{name}' already exists")),
        )),
        _ => Ok(()),
    }
}

/// Stores a new server; a name another server has is a `Conflict`.
pub(crate) async fn insert_server(conn: &mut PgConnection, server: &McpServer) -> Result<()> {
    ensure_name_free(conn, &server.server_name, None).await?;
    let now = micros(&mneme_types::time::now());
    sqlx::query(
        "INSERT INTO mcp_servers (id, name, server_type, config, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(server.id.to_string())
    .bind(&server.server_name)
    .bind(server.config.server_type().as_str())
    .bind(to_json(&server.config)?)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
