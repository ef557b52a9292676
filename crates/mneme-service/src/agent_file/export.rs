//! An agent out of the store as an Agent File: its blocks, tools, the MCP servers its tools
//! come from (without their secrets), its folders with the files it holds (their text and its
//! views of them) and its whole history, under file-local ids.

use std::collections::{BTreeMap, HashMap};

use mneme_store::{Message, Order, Page};
use mneme_types::agent_file::{
    AgentFile, AgentSchema, BlockSchema, GroupSchema, ManagerConfig, McpServerSchema,
    PackageRequirement, ToolSchema,
};
use mneme_types::{AgentId, Block, McpServerConfig, MessageId, Thread, Tool, time};
use serde_json::{Map, Value};

use super::folders::ExportedFolders;
use super::messages::{file_id, schema};
use super::options::ExportOptions;
use crate::{Result, Service, ServiceError};

/// How many messages a page of the history read holds.
const PAGE: u32 = 5_000;

impl Service {
    /// `GET|POST /v1/agents/{id}/export` (and `mneme export`): the agent as an Agent File,
    /// pretty-printed with two-space indents as Letta writes it; with its sleep-time
    /// companions and their group, when it has them.
    pub async fn export_agent_file(
        &self,
        agent_id: AgentId,
        opts: ExportOptions,
    ) -> Result<String> {
        let thread = Thread {
            agent: agent_id,
            conversation: opts.conversation,
        };
        let mut members = vec![self.exported(thread, opts.scrub_messages).await?];
        let groups = self.sleeptime_groups(agent_id).await?;
        for companion in groups.iter().flat_map(|g| &g.agent_ids) {
            let thread = Thread::default_of(*companion);
            members.push(self.exported(thread, opts.scrub_messages).await?);
        }
        let tools = distinct(members.iter().flat_map(|(ctx, _)| &ctx.tools), |t| t.id);
        let blocks = distinct(members.iter().flat_map(|(ctx, _)| &ctx.blocks), |b| b.id);
        let mcp_servers = self.mcp_servers_of(&tools).await?;
        let folders = self
            .exported_folders(members.iter().map(|(c, _)| c.agent.id))
            .await?;
        let mut file = AgentFile {
            agents: Vec::new(),
            groups: Vec::new(),
            blocks: blocks
                .iter()
                .enumerate()
                .map(|(i, b)| block_schema(b, i))
                .collect(),
            files: folders.files.clone(),
            sources: folders.sources.clone(),
            tools: tools
                .iter()
                .enumerate()
                .map(|(i, t)| tool_schema(t, i, &mcp_servers))
                .collect(),
            mcp_servers: mcp_servers.iter().map(|(_, s)| s.clone()).collect(),
            skills: Vec::new(),
            metadata: BTreeMap::from([(
                "revision_id".to_owned(),
                format!("mneme-{}", env!("CARGO_PKG_VERSION")),
            )]),
            created_at: Some(time::now()),
        };
        let local = LocalIds::new(&members, &blocks, &tools);
        file.agents = agent_schemas(members, &local, &folders);
        file.groups = groups
            .iter()
            .enumerate()
            .map(|(i, g)| group_schema(g, i, &local))
            .collect();
        serde_json::to_string_pretty(&file)
            .map_err(|e| ServiceError::Internal(format!("writing the agent file: {e}")))
    }

    /// A thread's context and (unless scrubbed) its whole history.
    async fn exported(
        &self,
        thread: Thread,
        scrub: bool,
    ) -> Result<(mneme_store::AgentContext, Vec<Message>)> {
        let ctx = mneme_agent::thread_context(&*self.store, thread).await?;
        let history = match scrub {
            true => Vec::new(),
            false => self.whole_history(thread).await?,
        };
        Ok((ctx, history))
    }

    /// Every message of the thread, oldest first.
    async fn whole_history(&self, thread: Thread) -> Result<Vec<Message>> {
        let mut out: Vec<Message> = Vec::new();
        loop {
            let page = Page {
                after: out.last().map(|m| m.id.to_string()),
                limit: PAGE,
                order: Order::Asc,
                ..Page::default()
            };
            let got = self
                .store
                .thread_messages(thread.agent, thread.conversation, &page)
                .await?;
            let done = got.len() < PAGE as usize;
            out.extend(got);
            if done {
                return Ok(out);
            }
        }
    }

    /// The MCP servers the tools were registered from, each with its file-local id.
    async fn mcp_servers_of(&self, tools: &[Tool]) -> Result<Vec<(String, McpServerSchema)>> {
        let mut out: Vec<(String, McpServerSchema)> = Vec::new();
        for id in tools.iter().filter_map(Tool::mcp_server_id) {
            let key = id.to_string();
            if out.iter().any(|(k, _)| *k == key) {
                continue;
            }
            // A tool imported from another server names a server this one does not have.
            let server = match self.store.get_mcp_server(id).await {
                Ok(server) => server,
                Err(mneme_store::StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let schema = mcp_schema(&server, out.len());
            out.push((key, schema));
        }
        Ok(out)
    }
}

/// Each item once, in the order first met.
fn distinct<'a, T: Clone + 'a, K: PartialEq>(
    items: impl Iterator<Item = &'a T>,
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.iter().any(|o| key(o) == key(item)) {
            out.push(item.clone());
        }
    }
    out
}

/// File-local ids of the exported agents (`agent-<i>`), blocks and tools.
struct LocalIds {
    agents: HashMap<AgentId, String>,
    blocks: HashMap<mneme_types::BlockId, String>,
    tools: HashMap<mneme_types::ToolId, String>,
}

impl LocalIds {
    fn new(
        members: &[(mneme_store::AgentContext, Vec<Message>)],
        blocks: &[Block],
        tools: &[Tool],
    ) -> LocalIds {
        LocalIds {
            agents: members
                .iter()
                .enumerate()
                .map(|(i, (ctx, _))| (ctx.agent.id, format!("agent-{i}")))
                .collect(),
            blocks: blocks
                .iter()
                .enumerate()
                .map(|(i, b)| (b.id, format!("block-{i}")))
                .collect(),
            tools: tools
                .iter()
                .enumerate()
                .map(|(i, t)| (t.id, format!("tool-{i}")))
                .collect(),
        }
    }
}

/// The agents with their messages (numbered through the file) and their files.
fn agent_schemas(
    members: Vec<(mneme_store::AgentContext, Vec<Message>)>,
    local: &LocalIds,
    folders: &ExportedFolders,
) -> Vec<AgentSchema> {
    let (mut numbered, mut rows) = (0, 0);
    let mut out = Vec::with_capacity(members.len());
    for (ctx, history) in members {
        let count = history.len();
        let mut schema = agent_schema(&ctx, history, local, numbered);
        folders.fill(&mut schema, ctx.agent.id, &mut rows);
        out.push(schema);
        numbered += count;
    }
    out
}

/// An agent with its messages, numbered from `first` (message ids are unique in a file).
fn agent_schema(
    ctx: &mneme_store::AgentContext,
    history: Vec<Message>,
    local: &LocalIds,
    first: usize,
) -> AgentSchema {
    let a = &ctx.agent;
    let agent_id = local.agents.get(&a.id).cloned().unwrap_or_default();
    let ids: HashMap<MessageId, String> = history
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id, file_id(first + i)))
        .collect();
    let mut schema_agent = AgentSchema::new(&agent_id);
    schema_agent.name = Some(a.name.clone());
    schema_agent.agent_type = a.agent_type;
    schema_agent.system = Some(a.system.clone());
    schema_agent.description = a.description.clone();
    schema_agent.metadata = a.metadata.clone();
    schema_agent.llm_config = Some(a.llm_config.clone());
    schema_agent.embedding_config = a.embedding_config.clone();
    schema_agent.tool_rules = a.tool_rules.clone();
    schema_agent.tags = Some(a.tags.clone());
    schema_agent.include_base_tools = false;
    let block_ids = ctx.blocks.iter().filter_map(|b| local.blocks.get(&b.id));
    schema_agent.block_ids = Some(block_ids.cloned().collect());
    let tool_ids = ctx.tools.iter().filter_map(|t| local.tools.get(&t.id));
    schema_agent.tool_ids = Some(tool_ids.cloned().collect());
    schema_agent.project_id = a.project_id.clone();
    schema_agent.template_id = a.template_id.clone();
    schema_agent.base_template_id = a.base_template_id.clone();
    apply_settings(&mut schema_agent, &a.settings);
    schema_agent.in_context_message_ids = a
        .message_ids
        .iter()
        .filter_map(|id| ids.get(id).cloned())
        .collect();
    schema_agent.messages = history
        .into_iter()
        .enumerate()
        .map(|(i, m)| schema(m, file_id(first + i), &agent_id))
        .collect();
    schema_agent
}

/// A sleep-time group between exported agents.
fn group_schema(g: &mneme_types::Group, i: usize, local: &LocalIds) -> GroupSchema {
    let agent = |id: &AgentId| local.agents.get(id).cloned().unwrap_or_default();
    GroupSchema {
        agent_ids: g.agent_ids.iter().map(agent).collect(),
        description: g.description.clone(),
        manager_config: ManagerConfig::Sleeptime {
            manager_agent_id: g.manager_agent_id.as_ref().map(agent).unwrap_or_default(),
            sleeptime_agent_frequency: g.sleeptime_agent_frequency,
        },
        project_id: g.project_id.clone(),
        shared_block_ids: g
            .shared_block_ids
            .iter()
            .filter_map(|b| local.blocks.get(b).cloned())
            .collect(),
        hidden: g.hidden,
        id: format!("group-{i}"),
        // A file starts its group afresh, as Letta's do.
        turns_counter: None,
        last_processed_message_id: None,
    }
}

fn apply_settings(a: &mut AgentSchema, s: &mneme_store::AgentSettings) {
    a.compaction_settings = s.compaction_settings.clone();
    a.response_format = s
        .response_format
        .clone()
        .and_then(|f| serde_json::from_value(f).ok());
    a.timezone = s.timezone.clone();
    a.message_buffer_autoclear = s.message_buffer_autoclear;
    a.enable_sleeptime = s.enable_sleeptime;
    a.max_files_open = s.max_files_open;
    a.per_file_view_window_char_limit = s.per_file_view_window_char_limit;
    a.hidden = s.hidden;
    // Values of secrets are not exported: an import gives them (`secrets`), as in Letta.
    a.secrets = s.secrets.as_ref().map(names_only);
    a.tool_exec_environment_variables = s.tool_exec_environment_variables.as_ref().map(names_only);
}

/// The variables' names, their values emptied.
fn names_only(vars: &Map<String, Value>) -> BTreeMap<String, String> {
    vars.keys().map(|k| (k.clone(), String::new())).collect()
}

fn block_schema(b: &Block, i: usize) -> BlockSchema {
    BlockSchema {
        value: b.value.clone(),
        limit: b.limit,
        project_id: b.project_id.clone(),
        template_name: b.template_name.clone(),
        is_template: b.is_template,
        template_id: b.template_id.clone(),
        base_template_id: b.base_template_id.clone(),
        deployment_id: b.deployment_id.clone(),
        entity_id: b.entity_id.clone(),
        preserve_on_migration: b.preserve_on_migration,
        label: b.label.clone().unwrap_or_default(),
        read_only: b.read_only,
        description: b.description.clone(),
        metadata: b.metadata.clone(),
        hidden: b.hidden,
        tags: b.tags.clone(),
        id: format!("block-{i}"),
    }
}

fn tool_schema(t: &Tool, i: usize, servers: &[(String, McpServerSchema)]) -> ToolSchema {
    let requirements = |r: &Option<Vec<Value>>| {
        r.as_ref().map(|list| {
            list.iter()
                .filter_map(|v| serde_json::from_value::<PackageRequirement>(v.clone()).ok())
                .collect()
        })
    };
    // An MCP tool names its server by the server's file-local id.
    let mut metadata = t.metadata_.clone();
    if let (Some(server), Some(meta)) = (t.mcp_server_id(), metadata.as_mut()) {
        let local = servers.iter().find(|(k, _)| *k == server.to_string());
        if let (Some((_, s)), Some(Value::Object(mcp))) = (local, meta.get_mut("mcp")) {
            mcp.insert("server_id".into(), Value::String(s.id.clone()));
        }
    }
    ToolSchema {
        id: format!("tool-{i}"),
        tool_type: t.tool_type.clone(),
        description: t.description.clone(),
        source_type: t.source_type.clone(),
        name: Some(t.name.clone()),
        tags: t.tags.clone(),
        source_code: t.source_code.clone(),
        json_schema: t.json_schema.as_ref().and_then(|v| v.as_object().cloned()),
        args_json_schema: t
            .args_json_schema
            .as_ref()
            .and_then(|v| v.as_object().cloned()),
        return_char_limit: t.return_char_limit,
        pip_requirements: requirements(&t.pip_requirements),
        npm_requirements: requirements(&t.npm_requirements),
        default_requires_approval: t.default_requires_approval,
        enable_parallel_execution: t.enable_parallel_execution,
        created_by_id: None,
        last_updated_by_id: None,
        metadata_: metadata,
        project_id: t.project_id.clone(),
    }
}

/// A server's config without its secrets: no auth header or token, no environment.
fn mcp_schema(s: &mneme_types::McpServer, i: usize) -> McpServerSchema {
    let (server_url, stdio_config) = match &s.config {
        McpServerConfig::Stdio(c) => {
            let stdio = serde_json::json!({"command": c.command, "args": c.args});
            (None, stdio.as_object().cloned())
        }
        McpServerConfig::Sse(c) | McpServerConfig::StreamableHttp(c) => {
            (Some(c.server_url.clone()), None)
        }
    };
    McpServerSchema {
        id: format!("mcp_server-{i}"),
        server_type: s.config.server_type().as_str().to_owned(),
        server_name: s.server_name.clone(),
        server_url,
        stdio_config,
        metadata_: None,
    }
}
