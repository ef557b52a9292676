//! One agent read from the database as the HTTP path's `Exported`: the Agent File Letta's
//! export would write, but with the real ids and the whole history (the rows hold every
//! message, not only the context), and its archival passages.

use std::collections::HashSet;

use mneme_service::{Archival, ArchivalPassage};
use mneme_types::agent_file::{
    AgentFile, AgentSchema, BlockSchema, FileAgentSchema, FileSchema, McpServerSchema,
    MessageSchema, SourceSchema, ToolSchema,
};
use serde_json::{Value, json};

use super::LettaDb;
use super::catalog::{Catalog, tool};
use super::rows::{Row, column, deleted, id, text, typed, vector};
use crate::agents::Exported;
use crate::{MigrateError, Result};

/// The agent `agent_id` with everything it uses. A row this version cannot read fails the
/// agent (and its unit), saying which and why.
pub(crate) async fn export(db: &LettaDb, cat: &Catalog, agent_id: &str) -> Result<Exported> {
    let fail =
        |why: String| MigrateError::Source(format!("{why}, in the rows of agent {agent_id}"));
    let row = cat
        .agents
        .get(agent_id)
        .ok_or_else(|| fail("not in the Letta database".into()))?;
    let messages = messages(db, agent_id).await?;
    let mut agent = agent_schema(cat, row, &messages).map_err(fail)?;
    agent.messages = messages;
    let (sources, files, files_agents) = folders(db, cat, agent_id).await?;
    agent.files_agents = files_agents;
    let tools = linked(&cat.agent_tools, agent_id, tool::<ToolSchema>, &cat.tools).map_err(fail)?;
    let file = AgentFile {
        agents: vec![agent],
        groups: Vec::new(),
        blocks: blocks(cat, agent_id).map_err(fail)?,
        mcp_servers: mcp_servers(cat, &tools).map_err(fail)?,
        tools,
        files,
        sources,
        skills: Vec::new(),
        metadata: [("revision_id".to_owned(), db.version.clone())].into(),
        created_at: None,
    };
    Ok(Exported {
        file,
        archival: archival(db, agent_id).await?,
        renamed_messages: 0,
    })
}

/// The columns of `agents` an Agent File's agent has under the same name.
const AGENT_FIELDS: [&str; 18] = [
    "name",
    "agent_type",
    "description",
    "system",
    "tool_rules",
    "llm_config",
    "embedding_config",
    "compaction_settings",
    "response_format",
    "message_buffer_autoclear",
    "enable_sleeptime",
    "timezone",
    "max_files_open",
    "per_file_view_window_char_limit",
    "hidden",
    "project_id",
    "template_id",
    "base_template_id",
];

/// The agent's fields, named as an Agent File names them (what an export sets explicitly
/// too: no base tools or rules added by the import); its context is its `message_ids` that
/// name a message it has.
fn agent_schema(
    cat: &Catalog,
    row: &Row,
    messages: &[MessageSchema],
) -> Result<AgentSchema, String> {
    let agent_id = id(row);
    let ids = |links: &super::catalog::Links| links.get(&agent_id).cloned().unwrap_or_default();
    let held: HashSet<&str> = messages.iter().map(|m| m.id.as_str()).collect();
    let context: Vec<String> = column::<Vec<String>>(row, "message_ids", "the agent")?
        .unwrap_or_default()
        .into_iter()
        .filter(|m| held.contains(m.as_str()))
        .collect();
    let env = cat.agent_env.get(&agent_id).cloned().unwrap_or_default();
    let mut wire = json!({
        "id": agent_id,
        "memory_blocks": [],
        "tools": [],
        "tool_ids": ids(&cat.agent_tools),
        "source_ids": ids(&cat.agent_sources),
        "block_ids": ids(&cat.agent_blocks),
        "tags": ids(&cat.agent_tags),
        "include_base_tools": false,
        "include_base_tool_rules": false,
        "enable_reasoner": false,
        "embedding_chunk_size": null,
        "tool_exec_environment_variables": env,
        "in_context_message_ids": context,
        "metadata": row.get("metadata_").cloned().unwrap_or(Value::Null),
    });
    if let Some(obj) = wire.as_object_mut() {
        for key in AGENT_FIELDS {
            if let Some(v) = row.get(key).filter(|v| !v.is_null()) {
                obj.insert(key.into(), v.clone());
            }
        }
    }
    serde_json::from_value(wire).map_err(|e| format!("its row cannot be read: {e}"))
}

/// Every message of the agent, in the order Letta made them (`sequence_id`).
async fn messages(db: &LettaDb, agent_id: &str) -> Result<Vec<MessageSchema>> {
    let order = if db.has_column("messages", "sequence_id") {
        "t.sequence_id"
    } else {
        "t.created_at, t.id"
    };
    let rows: Vec<Row> = db
        .rows("messages", Some(("t.agent_id = $1", agent_id)), order)
        .await?
        .unwrap_or_default();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.into_iter().filter(|r| !deleted(r)) {
        let mid = id(&row);
        let m: MessageSchema = typed(&row, &[], "its row").map_err(|why| {
            MigrateError::Source(format!(
                "message {mid}: {why}, in the rows of agent {agent_id}"
            ))
        })?;
        out.push(m);
    }
    Ok(out)
}

/// The agent's blocks, with their tags.
fn blocks(cat: &Catalog, agent_id: &str) -> Result<Vec<BlockSchema>, String> {
    linked(
        &cat.agent_blocks,
        agent_id,
        |r| {
            let mut r = r.clone();
            let tags = cat.block_tags.get(&id(&r)).cloned();
            r.insert("tags".into(), json!(tags));
            typed(&r, &[("metadata_", "metadata")], "the block")
        },
        &cat.blocks,
    )
}

/// The rows of `table` linked to the agent, each made a `T`.
fn linked<T>(
    links: &super::catalog::Links,
    agent_id: &str,
    make: impl Fn(&Row) -> Result<T, String>,
    table: &super::catalog::Table,
) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for linked_id in links.get(agent_id).into_iter().flatten() {
        let Some(row) = table.get(linked_id) else {
            continue; // deleted: Letta no longer shows it either
        };
        out.push(make(row).map_err(|why| format!("{linked_id}: {why}"))?);
    }
    Ok(out)
}

/// The MCP servers the agent's tools come from (`metadata_.mcp.server_id`), as an export
/// names them.
fn mcp_servers(cat: &Catalog, tools: &[ToolSchema]) -> Result<Vec<McpServerSchema>, String> {
    let used: HashSet<&str> = tools
        .iter()
        .filter_map(|t| t.metadata_.as_ref()?.get("mcp")?.get("server_id")?.as_str())
        .collect();
    let mut out = Vec::new();
    for row in cat
        .mcp_servers
        .iter()
        .filter(|r| used.contains(id(r).as_str()))
    {
        out.push(typed(row, &[], "the MCP server")?);
    }
    Ok(out)
}

/// The agent's folders, their files with their text, and its open/closed file views.
async fn folders(
    db: &LettaDb,
    cat: &Catalog,
    agent_id: &str,
) -> Result<(Vec<SourceSchema>, Vec<FileSchema>, Vec<FileAgentSchema>)> {
    let fail =
        |why: String| MigrateError::Source(format!("{why}, in the rows of agent {agent_id}"));
    let sources: Vec<SourceSchema> = linked(
        &cat.agent_sources,
        agent_id,
        |r| typed(r, &[("metadata_", "metadata")], "the folder"),
        &cat.sources,
    )
    .map_err(fail)?;
    let mut files = Vec::new();
    for s in &sources {
        files.extend(folder_files(db, s).await?);
    }
    let views: Vec<Row> = db
        .rows(
            "files_agents",
            Some(("t.agent_id = $1", agent_id)),
            "t.created_at, t.id",
        )
        .await?
        .unwrap_or_default();
    let known: HashSet<&str> = files.iter().map(|f| f.id.as_str()).collect();
    let mut out = Vec::new();
    for v in views.iter().filter(|v| !deleted(v)) {
        if !text(v, "file_id").is_some_and(|f| known.contains(f.as_str())) {
            continue; // a view of a deleted file
        }
        out.push(typed(v, &[], "a file view").map_err(|why| fail(format!("{}: {why}", id(v))))?);
    }
    Ok((sources, files, out))
}

/// A folder's files, each with its text, named `<folder>/<name>` as an export names them.
async fn folder_files(db: &LettaDb, source: &SourceSchema) -> Result<Vec<FileSchema>> {
    let rows: Vec<Row> = db
        .rows(
            "files",
            Some(("t.source_id = $1", &source.id)),
            "t.created_at, t.id",
        )
        .await?
        .unwrap_or_default();
    let texts: Vec<Row> = db
        .rows(
            "file_contents",
            Some((
                "t.file_id IN (SELECT id FROM files WHERE source_id = $1)",
                &source.id,
            )),
            "",
        )
        .await?
        .unwrap_or_default();
    let mut out = Vec::new();
    for row in rows.iter().filter(|r| !deleted(r)) {
        let fid = id(row);
        let mut row = row.clone();
        let content = texts
            .iter()
            .find(|t| text(t, "file_id").as_deref() == Some(&fid));
        row.insert(
            "content".into(),
            json!(content.and_then(|c| text(c, "text"))),
        );
        if let Some(name) = text(&row, "file_name").filter(|n| !n.contains('/')) {
            row.insert("file_name".into(), json!(format!("{}/{name}", source.name)));
        }
        let file = typed(&row, &[], "the file")
            .map_err(|why| MigrateError::Source(format!("file {fid}: {why}")))?;
        out.push(file);
    }
    Ok(out)
}

/// The agent's archival passages, oldest first, with its archive (the one it owns first); an
/// older schema's `agent_passages` are read too.
async fn archival(db: &LettaDb, agent_id: &str) -> Result<Archival> {
    let fail =
        |why: String| MigrateError::Source(format!("{why}, in the rows of agent {agent_id}"));
    let order = "t.is_owner DESC, t.created_at";
    let links: Vec<Row> = db
        .rows(
            "archives_agents",
            Some(("t.agent_id = $1", agent_id)),
            order,
        )
        .await?
        .unwrap_or_default();
    let archive_ids: Vec<String> = links.iter().filter_map(|l| text(l, "archive_id")).collect();
    let mut archive: Option<Row> = None;
    let mut passages = Vec::new();
    for aid in &archive_ids {
        let rows: Vec<Row> = db
            .rows("archives", Some(("t.id = $1", aid)), "")
            .await?
            .unwrap_or_default();
        if let Some(a) = rows.into_iter().find(|a| !deleted(a)) {
            archive.get_or_insert(a);
            passages.extend(passage_rows(db, "archival_passages", "t.archive_id = $1", aid).await?);
        }
    }
    if db.has_table("agent_passages") {
        passages.extend(passage_rows(db, "agent_passages", "t.agent_id = $1", agent_id).await?);
    }
    let passages = passages
        .iter()
        .map(|p| passage(p).map_err(|why| fail(format!("passage {}: {why}", id(p)))))
        .collect::<Result<Vec<_>>>()?;
    Ok(Archival {
        archive_id: archive.as_ref().map(id),
        archive_name: archive.as_ref().and_then(|a| text(a, "name")),
        archive_description: archive.as_ref().and_then(|a| text(a, "description")),
        passages,
    })
}

async fn passage_rows(db: &LettaDb, table: &str, filter: &str, arg: &str) -> Result<Vec<Row>> {
    let rows: Vec<Row> = db
        .rows(table, Some((filter, arg)), "t.created_at, t.id")
        .await?
        .unwrap_or_default();
    Ok(rows.into_iter().filter(|r| !deleted(r)).collect())
}

/// A passage row; its vector as stored (the import drops Letta's zero padding).
fn passage(row: &Row) -> Result<ArchivalPassage, String> {
    Ok(ArchivalPassage {
        id: id(row),
        text: text(row, "text").unwrap_or_default(),
        tags: column(row, "tags", "the passage")?.unwrap_or_default(),
        metadata: column(row, "metadata_", "the passage")?,
        embedding: vector(row.get("embedding"))?,
        embedding_config: column(row, "embedding_config", "the passage")?,
        created_at: column::<String>(row, "created_at", "the passage")?
            .and_then(|t| mneme_types::agent_file::timestamp::parse(&t)),
    })
}
