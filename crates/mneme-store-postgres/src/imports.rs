//! `AgentStore::import_agents` on PostgreSQL: a whole Agent File import in one transaction,
//! through the row writers of the single-record methods. The count triggers see every row,
//! so imported messages and passages are counted like any others.

use mneme_store::codec::parse;
use mneme_store::{AgentImport, ImportedAgent, is_builtin_tool_type};
use mneme_types::{AgentId, Tool};
use sqlx::PgConnection;

use crate::{Error, Result};
use crate::{agents, blocks, folders, messages, passages, tools};

/// Writes `import` on `conn` (a transaction); any `Err` leaves it to be rolled back whole.
pub(crate) async fn import(conn: &mut PgConnection, import: &AgentImport) -> Result<Vec<AgentId>> {
    import.check()?;
    for server in &import.mcp_servers {
        crate::mcp::insert_server(conn, server).await?;
    }
    write_tools(conn, &import.tools, import.replace_tools).await?;
    for folder in &import.folders {
        folders::insert_imported(conn, folder).await?;
    }
    let now = mneme_types::time::now();
    for block in &import.blocks {
        blocks::insert_block(conn, block, &now).await?;
    }
    let mut ids = Vec::with_capacity(import.agents.len());
    for a in &import.agents {
        ids.push(write_agent(conn, a).await?);
    }
    for group in &import.groups {
        crate::groups::insert(conn, group).await?;
    }
    Ok(ids)
}

/// The file's tools by name: new names created with the record's id, stored ones replaced
/// (keeping their id) only when asked and never when built in.
async fn write_tools(conn: &mut PgConnection, file_tools: &[Tool], replace: bool) -> Result<()> {
    for tool in file_tools {
        // Locked, so that the stored tool replaced is the one whose type was checked.
        let stored: Option<(String, String)> =
            sqlx::query_as("SELECT id, tool_type FROM tools WHERE name = $1 FOR UPDATE")
                .bind(&tool.name)
                .fetch_optional(&mut *conn)
                .await?;
        match stored {
            // A plain insert: a record id another tool holds is a conflict, not an overwrite.
            None => tools::insert_tool(conn, tool).await?,
            Some((id, tool_type)) if replace && !is_builtin_tool_type(&tool_type) => {
                let mut copy = tool.clone();
                copy.id = parse(&id)?;
                tools::save_tool(conn, &copy).await?;
            }
            Some(_) => {}
        }
    }
    Ok(())
}

async fn write_agent(conn: &mut PgConnection, a: &ImportedAgent) -> Result<AgentId> {
    let id = a.agent.id;
    agents::insert_agent(conn, &a.agent).await?;
    for block in &a.blocks {
        agents::attach(conn, id, *block).await?;
    }
    attach_tools(conn, id, &a.tools).await?;
    messages::insert_messages(conn, &a.messages, None).await?;
    for folder in &a.folders {
        folders::attach(conn, id, *folder).await?;
    }
    folders::agent_files::save(conn, id, &a.files).await?;
    if let Some(archive) = &a.archive {
        passages::create_owned_archive(conn, archive, id).await?;
        for p in &a.passages {
            passages::insert_passage(conn, p).await?;
        }
    }
    Ok(id)
}

/// Attaches the tools named, in order; a name no stored tool has is `NotFound`.
async fn attach_tools(conn: &mut PgConnection, agent: AgentId, names: &[String]) -> Result<()> {
    for (position, name) in names.iter().enumerate() {
        let tool: Option<String> = sqlx::query_scalar("SELECT id FROM tools WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(tool) = tool else {
            return Err(Error::not_found("Tool", format!("named '{name}'")));
        };
        sqlx::query(
            "INSERT INTO agent_tools (agent_id, tool_id, position) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(agent.to_string())
        .bind(tool)
        .bind(position as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
