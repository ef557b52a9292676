//! `AgentStore::import_agents` on SQLite: a whole Agent File import in one write transaction,
//! through the row writers of the single-record methods. The count and search-outbox triggers
//! see every row, so imported messages and passages are counted and indexed like any others.

use mneme_store::{AgentImport, ImportedAgent, is_builtin_tool_type};
use mneme_types::{AgentId, Tool, ToolId};
use rusqlite::{Connection, OptionalExtension};

use crate::rows;
use crate::{Cached, Error, Result};
use crate::{agents, blocks, messages, passages, tools};

/// Writes `import`; any `Err` leaves the transaction to be rolled back whole.
pub(crate) fn import(tx: &Connection, import: &AgentImport) -> Result<Vec<AgentId>> {
    import.check()?;
    for server in &import.mcp_servers {
        crate::mcp::insert_server(tx, server)?;
    }
    write_tools(tx, &import.tools, import.replace_tools)?;
    for folder in &import.folders {
        crate::folders::insert_imported(tx, folder)?;
    }
    let now = mneme_types::time::now();
    for block in &import.blocks {
        blocks::insert_block(tx, block, &now)?;
    }
    let ids = import
        .agents
        .iter()
        .map(|a| write_agent(tx, a))
        .collect::<Result<Vec<_>>>()?;
    for group in &import.groups {
        crate::groups::insert(tx, group)?;
    }
    Ok(ids)
}

/// The file's tools by name: new names created with the record's id, stored ones replaced
/// (keeping their id) only when asked and never when built in.
fn write_tools(tx: &Connection, file_tools: &[Tool], replace: bool) -> Result<()> {
    for tool in file_tools {
        let stored: Option<(String, String)> = tx
            .query_row_cached(
                "SELECT id, tool_type FROM tools WHERE name = ?1",
                [&tool.name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match stored {
            // A plain insert: a record id another tool holds is a conflict, not an overwrite.
            None => tools::insert_tool(tx, tool)?,
            Some((id, tool_type)) if replace && !is_builtin_tool_type(&tool_type) => {
                let mut copy = tool.clone();
                copy.id = rows::parse(&id)?;
                tools::save_tool(tx, &copy)?;
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn write_agent(tx: &Connection, a: &ImportedAgent) -> Result<AgentId> {
    let id = a.agent.id;
    agents::insert_agent(tx, &a.agent)?;
    for block in &a.blocks {
        agents::attach(tx, id, *block)?;
    }
    attach_tools(tx, id, &a.tools)?;
    messages::insert_messages(tx, &a.messages, None)?;
    for folder in &a.folders {
        crate::folders::attach(tx, id, *folder)?;
    }
    crate::folders::agent_files::save(tx, id, &a.files)?;
    if let Some(archive) = &a.archive {
        passages::create_owned_archive(tx, archive, id)?;
        for p in &a.passages {
            passages::insert_passage(tx, p)?;
        }
    }
    Ok(id)
}

/// Attaches the tools named, in order; a name no stored tool has is `NotFound`.
fn attach_tools(tx: &Connection, agent: AgentId, names: &[String]) -> Result<()> {
    for (position, name) in names.iter().enumerate() {
        let tool: Option<String> = tx
            .query_row_cached("SELECT id FROM tools WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        let tool: ToolId = match tool {
            Some(id) => rows::parse(&id)?,
            None => return Err(Error::not_found("Tool", format!("named '{name}'"))),
        };
        tx.execute_cached(
            "INSERT OR IGNORE INTO agent_tools (agent_id, tool_id, position) VALUES (?1, ?2, ?3)",
            rusqlite::params![agent.to_string(), tool.to_string(), position as i64],
        )?;
    }
    Ok(())
}
