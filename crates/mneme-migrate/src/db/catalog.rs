//! What the database holds besides the agents' histories and passages, read once at the start:
//! agents, blocks, tools, folders and the links between them (small next to the messages), and
//! the objects that live beside agents (groups, identities, MCP servers, providers).

use std::collections::{BTreeMap, HashMap};

use mneme_types::{AgentType, CreateBlock, IdentityCreate, McpServer, Tool};
use serde_json::{Value, json};

use super::LettaDb;
use super::rows::{Row, column, deleted, id, text, typed};
use crate::report::Report;
use crate::{Result, letta};

/// Rows by id, in the order read.
#[derive(Default)]
pub(crate) struct Table {
    rows: Vec<Row>,
    index: HashMap<String, usize>,
}

impl Table {
    fn new(rows: Vec<Row>) -> Table {
        let rows: Vec<Row> = rows.into_iter().filter(|r| !deleted(r)).collect();
        let index = rows.iter().enumerate().map(|(i, r)| (id(r), i)).collect();
        Table { rows, index }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Row> {
        self.index.get(id).map(|&i| &self.rows[i])
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter()
    }
}

/// A link table as `from` → the `to`s, in the order read.
pub(crate) type Links = HashMap<String, Vec<String>>;

pub(crate) struct Catalog {
    pub(crate) agents: Table,
    pub(crate) blocks: Table,
    pub(crate) tools: Table,
    pub(crate) sources: Table,
    pub(crate) mcp_servers: Table,
    pub(crate) agent_blocks: Links,
    pub(crate) agent_tools: Links,
    pub(crate) agent_sources: Links,
    pub(crate) agent_tags: Links,
    pub(crate) block_tags: Links,
    /// Each agent's tool environment variables.
    pub(crate) agent_env: HashMap<String, BTreeMap<String, String>>,
}

/// Oldest first, as the REST lists with `order=asc` give them.
const BY_AGE: &str = "t.created_at, t.id";

impl Catalog {
    pub(crate) async fn load(db: &LettaDb, report: &mut Report) -> Result<Catalog> {
        organizations(db, report).await?;
        conversations(db, report).await?;
        let table = |name: &'static str| async move {
            Ok::<_, crate::MigrateError>(Table::new(all(db, name, BY_AGE).await?))
        };
        Ok(Catalog {
            agents: table("agents").await?,
            blocks: table("block").await?,
            tools: table("tools").await?,
            sources: table("sources").await?,
            mcp_servers: table("mcp_server").await?,
            agent_blocks: links(db, "blocks_agents", "agent_id", "block_id").await?,
            agent_tools: links(db, "tools_agents", "agent_id", "tool_id").await?,
            agent_sources: links(db, "sources_agents", "agent_id", "source_id").await?,
            agent_tags: links(db, "agents_tags", "agent_id", "tag").await?,
            block_tags: links(db, "blocks_tags", "block_id", "tag").await?,
            agent_env: environments(db).await?,
        })
    }

    /// The agents as the unit code reads them (ids and names of their blocks, tools and
    /// folders); one of a type this version does not know, or without a name, is reported
    /// and left out.
    pub(crate) fn letta_agents(&self, report: &mut Report) -> Vec<letta::Agent> {
        let mut out = Vec::new();
        for row in self.agents.iter() {
            match self.letta_agent(row) {
                Ok(a) => out.push(a),
                Err(why) => report.skip("agents", format!("agent {}: {why}", id(row))),
            }
        }
        out
    }

    pub(crate) fn letta_agent(&self, row: &Row) -> Result<letta::Agent, String> {
        let agent_id = id(row);
        if let Some(t) = text(row, "agent_type") {
            column::<AgentType>(row, "agent_type", "the agent")
                .map_err(|_| format!("agent_type {t:?} is not one this version knows"))?;
        }
        let name = text(row, "name").ok_or("it has no name")?;
        let linked = |links: &Links, table: &Table| -> Vec<letta::Named> {
            let ids = links.get(&agent_id).into_iter().flatten();
            ids.filter_map(|i| table.get(i)).map(named).collect()
        };
        Ok(letta::Agent {
            id: agent_id.clone(),
            name,
            message_ids: column(row, "message_ids", "the agent")?,
            memory: None,
            blocks: Some(linked(&self.agent_blocks, &self.blocks)),
            tools: linked(&self.agent_tools, &self.tools),
            sources: linked(&self.agent_sources, &self.sources),
        })
    }

    /// The MCP servers as the source's list gives them; one of another type is reported.
    pub(crate) fn mcp_list(&self, report: &mut Report) -> Vec<McpServer> {
        let mut out = Vec::new();
        for row in self.mcp_servers.iter() {
            match mcp_server(row) {
                Ok(s) => out.push(s),
                Err(why) => report.skip("mcp_servers", format!("MCP server {}: {why}", id(row))),
            }
        }
        out
    }

    /// Every block, as the block list gives them.
    pub(crate) fn block_list(&self, report: &mut Report) -> Vec<(String, CreateBlock)> {
        let mut out = Vec::new();
        for row in self.blocks.iter() {
            let mut row = row.clone();
            if let Some(tags) = self.block_tags.get(&id(&row)) {
                row.insert("tags".into(), json!(tags));
            }
            match typed(&row, &[("metadata_", "metadata")], "the block") {
                Ok(b) => out.push((id(&row), b)),
                Err(why) => report.skip("blocks", format!("block {}: {why}", id(&row))),
            }
        }
        out
    }

    /// Every tool, as the tool list gives them.
    pub(crate) fn tool_list(&self, report: &mut Report) -> Vec<Tool> {
        let mut out = Vec::new();
        for row in self.tools.iter() {
            match tool(row) {
                Ok(t) => out.push(t),
                Err(why) => report.skip("tools", format!("tool {}: {why}", id(row))),
            }
        }
        out
    }
}

/// A block (by its label and value), tool or folder (by its name) as the REST answers name it.
fn named(row: &Row) -> letta::Named {
    letta::Named {
        id: id(row),
        label: text(row, "label"),
        name: text(row, "name"),
        file_name: None,
        original_file_name: None,
        value: text(row, "value"),
    }
}

/// A tool row as the REST `Tool`: a null `return_char_limit` is Letta's default.
pub(crate) fn tool<T: serde::de::DeserializeOwned>(row: &Row) -> Result<T, String> {
    let mut row = row.clone();
    if row.get("return_char_limit").is_none_or(Value::is_null) {
        row.insert("return_char_limit".into(), json!(DEFAULT_RETURN_CHAR_LIMIT));
    }
    let renames = [
        ("_created_by_id", "created_by_id"),
        ("_last_updated_by_id", "last_updated_by_id"),
    ];
    typed(&row, &renames, "the tool")
}

/// Letta's `FUNCTION_RETURN_CHAR_LIMIT`, what a tool without its own limit gets.
const DEFAULT_RETURN_CHAR_LIMIT: u32 = 50_000;

/// An `mcp_server` row as the REST `MCPServer`: the type, the stdio config's fields or the
/// URL with its headers. A token Letta keeps encrypted (`token_enc`) cannot be read here.
pub(crate) fn mcp_server(row: &Row) -> Result<McpServer, String> {
    let kind = text(row, "server_type").ok_or("it has no server_type")?;
    let mut wire = json!({
        "id": id(row),
        "server_name": text(row, "server_name"),
        "mcp_server_type": kind,
    });
    let Some(obj) = wire.as_object_mut() else {
        return Err("unreachable: a JSON object".into());
    };
    if let Some(Value::Object(stdio)) = row.get("stdio_config") {
        for key in ["command", "args", "env"] {
            if let Some(v) = stdio.get(key) {
                obj.insert(key.into(), v.clone());
            }
        }
    }
    obj.insert("server_url".into(), json!(text(row, "server_url")));
    obj.insert(
        "custom_headers".into(),
        row.get("custom_headers").cloned().unwrap_or(Value::Null),
    );
    if let Some(token) = text(row, "token") {
        obj.insert("auth_header".into(), json!("Authorization"));
        obj.insert("auth_token".into(), json!(format!("Bearer {token}")));
    }
    serde_json::from_value(wire).map_err(|e| format!("its config cannot be read: {e}"))
}

/// Every row of a table (none when this schema lacks it).
pub(crate) async fn all(db: &LettaDb, table: &str, order: &str) -> Result<Vec<Row>> {
    Ok(db.rows(table, None, order).await?.unwrap_or_default())
}

async fn links(db: &LettaDb, table: &str, from: &str, to: &str) -> Result<Links> {
    let mut out: Links = HashMap::new();
    for row in all(db, table, "").await?.iter().filter(|r| !deleted(r)) {
        if let (Some(a), Some(b)) = (text(row, from), text(row, to)) {
            out.entry(a).or_default().push(b);
        }
    }
    Ok(out)
}

async fn environments(db: &LettaDb) -> Result<HashMap<String, BTreeMap<String, String>>> {
    let mut out: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for row in all(db, "agent_environment_variables", "").await? {
        if deleted(&row) {
            continue;
        }
        if let (Some(agent), Some(key)) = (text(&row, "agent_id"), text(&row, "key")) {
            let value = text(&row, "value").unwrap_or_default();
            out.entry(agent).or_default().insert(key, value);
        }
    }
    Ok(out)
}

/// Every organization's rows are migrated (mneme has one); several are said.
async fn organizations(db: &LettaDb, report: &mut Report) -> Result<()> {
    let orgs: Vec<Row> = all(db, "organizations", "t.id").await?;
    let live: Vec<String> = orgs.iter().filter(|r| !deleted(r)).map(id).collect();
    if live.len() > 1 {
        report.note(format!(
            "the Letta database holds {} organizations ({}): all are migrated into this server's one",
            live.len(),
            live.join(", ")
        ));
    }
    Ok(())
}

/// Messages of an agent's conversations (Letta 0.16's threads besides the agent's own) are
/// listed with its history by Letta's REST API, and so migrated into it, over HTTP and here
/// alike: said, since the target then holds them in one thread.
async fn conversations(db: &LettaDb, report: &mut Report) -> Result<()> {
    if !db.has_column("messages", "conversation_id") {
        return Ok(());
    }
    let counted = "(SELECT agent_id, count(*) AS n FROM messages \
                   WHERE conversation_id IS NOT NULL AND NOT is_deleted GROUP BY agent_id)";
    let rows: Vec<Row> = db.select(counted, None, "t.agent_id").await?;
    for row in rows {
        let n = row.get("n").and_then(Value::as_u64).unwrap_or_default();
        report.note(format!(
            "agent {}: {n} messages of its conversations are migrated into its own history",
            text(&row, "agent_id").unwrap_or_default()
        ));
    }
    Ok(())
}

/// The groups, with their members (the `agent_ids` column, in its order, as Letta answers;
/// the link table where that is empty) and shared blocks; one of a manager type this version
/// does not know is reported.
pub(crate) async fn groups(db: &LettaDb, report: &mut Report) -> Result<Vec<letta::Group>> {
    let members = links(db, "groups_agents", "group_id", "agent_id").await?;
    let blocks = links(db, "groups_blocks", "group_id", "block_id").await?;
    let mut out = Vec::new();
    for mut row in all(db, "groups", BY_AGE)
        .await?
        .into_iter()
        .filter(|r| !deleted(r))
    {
        let gid = id(&row);
        let listed = row.get("agent_ids").and_then(Value::as_array);
        if listed.is_none_or(|a| a.is_empty())
            && let Some(m) = members.get(&gid)
        {
            row.insert("agent_ids".into(), json!(m));
        }
        row.insert(
            "shared_block_ids".into(),
            json!(blocks.get(&gid).cloned().unwrap_or_default()),
        );
        let group: Result<letta::Group, String> = typed(&row, &[], "the group");
        match group {
            Ok(g) if crate::agents::group(&g).is_some() => out.push(g),
            Ok(g) => report.skip(
                "groups",
                format!(
                    "group {gid}: manager_type {:?} (or its manager) is not one this version knows",
                    g.manager_type
                ),
            ),
            Err(why) => report.skip("groups", format!("group {gid}: {why}")),
        }
    }
    Ok(out)
}

/// The identities, each with the agents and blocks it is linked to.
pub(crate) async fn identities(
    db: &LettaDb,
    report: &mut Report,
) -> Result<Vec<(String, IdentityCreate)>> {
    let agents = links(db, "identities_agents", "identity_id", "agent_id").await?;
    let blocks = links(db, "identities_blocks", "identity_id", "block_id").await?;
    let mut out = Vec::new();
    for mut row in all(db, "identities", BY_AGE)
        .await?
        .into_iter()
        .filter(|r| !deleted(r))
    {
        let iid = id(&row);
        row.insert(
            "agent_ids".into(),
            json!(agents.get(&iid).cloned().unwrap_or_default()),
        );
        row.insert(
            "block_ids".into(),
            json!(blocks.get(&iid).cloned().unwrap_or_default()),
        );
        match typed(&row, &[], "the identity") {
            Ok(create) => out.push((iid, create)),
            Err(why) => report.skip("identities", format!("identity {iid}: {why}")),
        }
    }
    Ok(out)
}

/// The providers, as the provider list gives them (the keys are not read: as over HTTP, the
/// operator gives them).
pub(crate) async fn providers(db: &LettaDb, report: &mut Report) -> Result<Vec<letta::Provider>> {
    let mut out = Vec::new();
    for row in all(db, "providers", BY_AGE)
        .await?
        .iter()
        .filter(|r| !deleted(r))
    {
        match typed(row, &[], "the provider") {
            Ok(p) => out.push(p),
            Err(why) => report.skip("providers", format!("provider {}: {why}", id(row))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_types::McpServerConfig;

    fn row(v: Value) -> Row {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn mcp_server_rows_read_as_the_rest_list_gives_them() {
        let stdio = mcp_server(&row(json!({
            "id": "mcp_server-00000000-0000-4000-8000-000000000001", "server_name": "notes",
            "server_type": "stdio",
            "stdio_config": {"server_name": "notes", "type": "stdio", "command": "notes-mcp",
                             "args": ["--quiet"], "env": {"A": "1"}}
        })))
        .unwrap();
        let McpServerConfig::Stdio(c) = &stdio.config else {
            panic!("{stdio:?}")
        };
        assert_eq!((c.command.as_str(), c.args.len()), ("notes-mcp", 1));
        assert_eq!(c.env.as_ref().unwrap()["A"], "1");
        let http = mcp_server(&row(json!({
            "id": "mcp_server-00000000-0000-4000-8000-000000000002", "server_name": "web",
            "server_type": "streamable_http", "server_url": "http://mcp.example/mcp",
            "token": "t0k"
        })))
        .unwrap();
        let McpServerConfig::StreamableHttp(c) = &http.config else {
            panic!("{http:?}")
        };
        assert_eq!(c.auth_token.as_deref(), Some("Bearer t0k"));
        let odd = mcp_server(&row(json!({
            "id": "mcp_server-00000000-0000-4000-8000-000000000003", "server_name": "x",
            "server_type": "carrier_pigeon"
        })));
        assert!(odd.is_err());
    }

    #[test]
    fn an_agent_of_an_unknown_type_or_without_a_name_is_refused_with_the_reason() {
        let cat = Catalog {
            agents: Table::default(),
            blocks: Table::new(vec![row(
                json!({"id": "block-1", "label": "human", "value": "v"}),
            )]),
            tools: Table::default(),
            sources: Table::default(),
            mcp_servers: Table::default(),
            agent_blocks: [("agent-1".to_owned(), vec!["block-1".to_owned()])].into(),
            agent_tools: Links::new(),
            agent_sources: Links::new(),
            agent_tags: Links::new(),
            block_tags: Links::new(),
            agent_env: HashMap::new(),
        };
        let a = cat
            .letta_agent(&row(
                json!({"id": "agent-1", "name": "ada", "agent_type": "letta_v1_agent"}),
            ))
            .unwrap();
        let blocks: Vec<_> = a
            .blocks()
            .map(|b| (b.id.as_str(), b.label.as_deref()))
            .collect();
        assert_eq!(blocks, [("block-1", Some("human"))]);
        let e = cat
            .letta_agent(&row(
                json!({"id": "agent-2", "name": "x", "agent_type": "future_agent"}),
            ))
            .unwrap_err();
        assert!(e.contains("\"future_agent\""), "{e}");
        let e = cat.letta_agent(&row(json!({"id": "agent-3"}))).unwrap_err();
        assert!(e.contains("no name"), "{e}");
    }
}
