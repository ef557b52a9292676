//! An Agent File into the store: every file-local id mapped to a fresh one, every reference
//! carried over, the whole file written by one `import_agents` (one transaction).

use std::collections::HashMap;

use mneme_agent::tools::FILE_TOOL_NAMES;
use mneme_agent::{MemoryStats, compile_system_message};
use mneme_store::{Agent, AgentImport, AgentSettings, ImportedAgent, Message, Role};
use mneme_types::agent_file::{
    AgentFile, AgentSchema, BlockSchema, GroupSchema, McpServerSchema, ToolSchema, read_agent_file,
};
use mneme_types::{
    AgentId, Block, CreateBlock, EmbeddingConfig, Group, HttpServerConfig, LlmConfig,
    ManagerConfig, ManagerType, McpServer, McpServerConfig, McpServerId, MessageId,
    StdioServerConfig, Tool, ToolId, time,
};
use serde_json::{Map, Value};

use super::folders::ImportedFolders;
use super::messages::stored;
use super::migrated::Archival;
use super::options::{ImportOptions, ImportedAgents};
use crate::{Result, Service, ServiceError};

/// The models the agents of a file run with, resolved before the plan is made.
struct Models {
    /// `model` (or the server's default) for agents whose file gives no `llm_config`, and
    /// every agent's when the import overrides it.
    llm: Option<LlmConfig>,
    embedding: Option<EmbeddingConfig>,
}

impl Service {
    /// `POST /v1/agents/import` (and `mneme import`): the file's agents, with their blocks,
    /// tools, histories, folders and files, created at once (the files' passages follow in
    /// the background). A file that cannot be read, or whose content breaks a rule (a block
    /// over its limit, a tool named nowhere), is a 4xx and writes nothing.
    /// The file's bytes are taken, and each stage's input let go once the next holds it, so a
    /// large file is in memory about twice, not four times.
    pub async fn import_agent_file(
        &self,
        bytes: Vec<u8>,
        opts: ImportOptions,
    ) -> Result<ImportedAgents> {
        let parsed = read_agent_file(&bytes)
            .map_err(|e| ServiceError::bad(format!("Invalid agent file: {e}")))?;
        drop(bytes);
        for warning in &parsed.warnings {
            tracing::warn!(?warning, "importing an agent file");
        }
        tracing::info!(generation = ?parsed.generation, "read the agent file");
        self.import_file(parsed.file, opts, HashMap::new()).await
    }

    /// An Agent File already read (an upload, or a migration's file assembled from a Letta
    /// server's answers), with each agent's archival passages keyed by the file's agent id,
    /// written in one transaction.
    pub async fn import_file(
        &self,
        mut file: AgentFile,
        opts: ImportOptions,
        mut archival: HashMap<String, Archival>,
    ) -> Result<ImportedAgents> {
        let messages: usize = file.agents.iter().map(|a| a.messages.len()).sum();
        tracing::info!(agents = file.agents.len(), messages, "importing agents");
        check_sizes(&file)?;
        warn_unsupported(&file);
        for agent in &mut file.agents {
            if let Some(config) = agent.llm_config.as_mut() {
                self.models.localize_llm(config);
            }
            if let Some(config) = agent.embedding_config.as_mut() {
                self.models.localize_embedding(config);
            }
        }
        let models = self.import_models(&file, &opts).await?;
        let (servers, server_ids) = self.import_mcp_servers(&file, opts.keep_ids).await?;
        let folders = self
            .import_folders(&file, models.embedding.as_ref(), opts.keep_ids)
            .await?;
        let mut import = plan(&file, &opts, &models, &server_ids, &folders)?;
        if opts.keep_ids {
            self.leave_held(&mut import).await?;
        }
        for (schema, agent) in file.agents.iter().zip(import.agents.iter_mut()) {
            if let Some(a) = archival.remove(&schema.id) {
                self.with_passages(agent, a, opts.keep_ids).await?;
            }
        }
        import.mcp_servers = servers;
        let to_embed = folders.with_text();
        import.folders = folders.records;
        drop(file);
        tracing::info!("writing the import in one transaction");
        self.check_tool_names(&import).await?;
        let with_folders: Vec<AgentId> = import
            .agents
            .iter()
            .filter(|a| !a.folders.is_empty())
            .map(|a| a.agent.id)
            .collect();
        self.check_agent_quota(import.agents.len()).await?;
        let passages = import.agents.iter().map(|a| a.passages.len()).sum();
        self.check_passage_quota(passages).await?;
        let agent_ids = self.store.import_agents(import).await?;
        self.settle_imported_files(to_embed, with_folders).await;
        Ok(ImportedAgents { agent_ids })
    }

    /// With ids kept, the blocks and groups the store holds already under their ids (an
    /// earlier import brought them, shared with the agents imported now) are left out: the
    /// agents are attached to the stored ones.
    async fn leave_held(&self, import: &mut AgentImport) -> Result<()> {
        let mut blocks = Vec::with_capacity(import.blocks.len());
        for b in std::mem::take(&mut import.blocks) {
            if !held(self.store.get_block(b.id).await)? {
                blocks.push(b);
            }
        }
        import.blocks = blocks;
        let mut groups = Vec::with_capacity(import.groups.len());
        for g in std::mem::take(&mut import.groups) {
            if !held(self.store.get_group(g.id).await)? {
                groups.push(g);
            }
        }
        import.groups = groups;
        Ok(())
    }

    /// After the import is written: the files that came with text are chunked and embedded
    /// in the background, and the agents with folders get the files of them they did not
    /// hold opened (the file tools came with the import).
    async fn settle_imported_files(
        &self,
        to_embed: Vec<(mneme_types::FolderId, mneme_types::FileId)>,
        agents: Vec<AgentId>,
    ) {
        for (folder, file) in to_embed {
            let work = crate::folders::Work {
                folder,
                file,
                job: None,
            };
            self.process_later(work, None);
        }
        for agent in agents {
            // The import is whole without this: the agent's own files are in place.
            if let Err(e) = self.sync_agent_files(agent).await {
                tracing::warn!(%agent, error = %e, "an imported agent's files were not synced");
            }
        }
    }

    /// The model overrides, and the model of agents whose file gives none.
    async fn import_models(&self, file: &AgentFile, opts: &ImportOptions) -> Result<Models> {
        let needs_default = file.agents.iter().any(|a| a.llm_config.is_none());
        let handle = opts.model.clone().or_else(|| {
            let from_file = file.agents.iter().find_map(|a| a.model.clone());
            needs_default
                .then(|| from_file.or_else(|| self.config.default_model.clone()))
                .flatten()
        });
        let llm = match handle {
            Some(h) => Some(self.models.resolve_llm(&h, None).await?),
            None => None,
        };
        let embedding = match &opts.embedding {
            Some(h) => Some(self.models.resolve_embedding(h)?),
            None => None,
        };
        Ok(Models { llm, embedding })
    }

    /// The file's MCP servers: one of this server's by the same name is used as it is (its
    /// secrets stay); another is created from the file's config (which carries none). The new
    /// records, and the server id each file id stands for.
    async fn import_mcp_servers(
        &self,
        file: &AgentFile,
        keep: bool,
    ) -> Result<(Vec<McpServer>, HashMap<String, McpServerId>)> {
        let mut new = Vec::new();
        let mut ids = HashMap::new();
        for (i, s) in file.mcp_servers.iter().enumerate() {
            let id = match self.store.mcp_server_by_name(&s.server_name).await {
                Ok(stored) => stored.id,
                Err(mneme_store::StoreError::NotFound { .. }) => {
                    let mut server = McpServer {
                        config: mcp_config(s, i)?,
                        id: McpServerId::new(),
                        server_name: s.server_name.clone(),
                    };
                    keep_id(keep, &s.id, &mut server.id);
                    let id = server.id;
                    new.push(server);
                    id
                }
                Err(e) => return Err(e.into()),
            };
            ids.insert(s.id.clone(), id);
        }
        Ok((new, ids))
    }

    /// Every tool an agent names is in the file or on this server (a 400 naming it, rather
    /// than the store's refusal).
    async fn check_tool_names(&self, import: &AgentImport) -> Result<()> {
        let mut wanted: Vec<String> = import
            .agents
            .iter()
            .flat_map(|a| a.tools.iter().cloned())
            .filter(|n| !import.tools.iter().any(|t| &t.name == n))
            .collect();
        wanted.sort();
        wanted.dedup();
        let found = self.store.tools_by_name(&wanted).await?;
        match wanted.iter().find(|n| !found.iter().any(|t| &t.name == *n)) {
            Some(missing) => Err(ServiceError::bad(format!(
                "Invalid agent file: an agent uses the tool {missing:?}, which is neither in the file nor on this server"
            ))),
            None => Ok(()),
        }
    }
}

/// The most text one field of an imported file may hold. A model's whole context window is far
/// smaller (two million tokens are about eight megabytes), so a larger field is a broken file,
/// not a memory.
const MAX_FIELD_BYTES: usize = 8 * 1024 * 1024;

/// Every large text of the file (system prompts, block values, message texts, tool sources)
/// within [`MAX_FIELD_BYTES`]; the path of the first that is not.
fn check_sizes(file: &AgentFile) -> Result<()> {
    let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let too_large = |path: String, len: usize| {
        ServiceError::bad(format!(
            "Invalid agent file: {path} is too large ({len} bytes; a field may hold {MAX_FIELD_BYTES})"
        ))
    };
    for (i, a) in file.agents.iter().enumerate() {
        if len(&a.system) > MAX_FIELD_BYTES {
            return Err(too_large(format!("agents[{i}].system"), len(&a.system)));
        }
        for (j, m) in a.messages.iter().enumerate() {
            let size: usize = m.content.iter().map(part_len).sum();
            if size > MAX_FIELD_BYTES {
                return Err(too_large(
                    format!("agents[{i}].messages[{j}].content"),
                    size,
                ));
            }
        }
    }
    let blocks = file.blocks.iter().map(|b| b.value.len());
    let tools = file.tools.iter().map(|t| len(&t.source_code));
    let files = file.files.iter().map(|f| len(&f.content));
    let named = blocks
        .enumerate()
        .map(|(i, n)| (format!("blocks[{i}].value"), n))
        .chain(
            tools
                .enumerate()
                .map(|(i, n)| (format!("tools[{i}].source_code"), n)),
        )
        .chain(
            files
                .enumerate()
                .map(|(i, n)| (format!("files[{i}].content"), n)),
        );
    for (path, n) in named {
        if n > MAX_FIELD_BYTES {
            return Err(too_large(path, n));
        }
    }
    Ok(())
}

/// About how many bytes a content part holds: its text, or its JSON for the rarer kinds.
fn part_len(p: &mneme_types::agent_file::ContentPart) -> usize {
    use mneme_types::agent_file::ContentPart as P;
    match p {
        P::Text { text, .. } => text.len(),
        P::Reasoning { reasoning, .. } => reasoning.len(),
        other => serde_json::to_string(other).map_or(0, |s| s.len()),
    }
}

/// What a file holds that this server does not import yet, said in the log.
fn warn_unsupported(file: &AgentFile) {
    if !file.skills.is_empty() {
        tracing::warn!(
            part = "skills",
            count = file.skills.len(),
            "an agent file part this server does not import yet"
        );
    }
}

/// A file's server config as this server's (without secrets: a file carries none).
fn mcp_config(s: &McpServerSchema, i: usize) -> Result<McpServerConfig> {
    let bad = |what: &str| {
        ServiceError::bad(format!(
            "Invalid agent file: mcp_servers[{i}] ({}) {what}",
            s.server_name
        ))
    };
    let http = || -> Result<HttpServerConfig> {
        let server_url = s
            .server_url
            .clone()
            .ok_or_else(|| bad("has no server_url"))?;
        Ok(HttpServerConfig {
            server_url,
            auth_header: None,
            auth_token: None,
            custom_headers: None,
        })
    };
    match s.server_type.as_str() {
        "stdio" => {
            let stdio = s
                .stdio_config
                .as_ref()
                .ok_or_else(|| bad("has no stdio_config"))?;
            let command = stdio
                .get("command")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("has no command"))?;
            let args = stdio
                .get("args")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            Ok(McpServerConfig::Stdio(StdioServerConfig {
                command: command.to_owned(),
                args: args.filter_map(Value::as_str).map(str::to_owned).collect(),
                env: None,
            }))
        }
        "sse" => Ok(McpServerConfig::Sse(http()?)),
        "streamable_http" => Ok(McpServerConfig::StreamableHttp(http()?)),
        other => Err(bad(&format!("has an unknown server_type {other:?}"))),
    }
}

/// The store records of a whole file.
fn plan(
    file: &AgentFile,
    opts: &ImportOptions,
    models: &Models,
    servers: &HashMap<String, McpServerId>,
    folders: &ImportedFolders,
) -> Result<AgentImport> {
    let tools: Vec<(String, Tool)> = file
        .tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut record = tool(t, i, servers)?;
            keep_id(opts.keep_ids, &t.id, &mut record.id);
            Ok((t.id.clone(), record))
        })
        .collect::<Result<_>>()?;
    let blocks: Vec<(String, Block)> = file
        .blocks
        .iter()
        .map(|b| {
            let mut record = block(b)?;
            keep_id(opts.keep_ids, &b.id, &mut record.id);
            Ok((b.id.clone(), record))
        })
        .collect::<Result<_>>()?;
    let ids = FileIds {
        tools: tools
            .iter()
            .map(|(id, t)| (id.clone(), t.name.clone()))
            .collect(),
        blocks: blocks
            .iter()
            .map(|(id, b)| (id.clone(), b.clone()))
            .collect(),
    };
    let mut new_blocks: Vec<Block> = blocks.into_iter().map(|(_, b)| b).collect();
    let mut agents = Vec::with_capacity(file.agents.len());
    for schema in &file.agents {
        let (mut agent, own_blocks) = imported_agent(schema, opts, models, &ids)?;
        with_files(&mut agent, schema, folders);
        new_blocks.extend(own_blocks);
        agents.push(agent);
    }
    let agent_ids: HashMap<&str, AgentId> = file
        .agents
        .iter()
        .zip(&agents)
        .map(|(schema, a)| (schema.id.as_str(), a.agent.id))
        .collect();
    let groups = file
        .groups
        .iter()
        .map(|g| {
            let mut record = group(g, &agent_ids, &ids)?;
            keep_id(opts.keep_ids, &g.id, &mut record.id);
            Ok(record)
        })
        .collect::<Result<Vec<_>>>()?;
    with_companions(&mut agents, &groups);
    Ok(AgentImport {
        tools: tools.into_iter().map(|(_, t)| t).collect(),
        replace_tools: opts.override_existing_tools,
        blocks: new_blocks,
        agents,
        mcp_servers: Vec::new(),
        groups,
        folders: Vec::new(),
    })
}

/// A file's group with this server's ids.
fn group(g: &GroupSchema, agents: &HashMap<&str, AgentId>, ids: &FileIds) -> Result<Group> {
    let agent = |id: &str| {
        agents.get(id).copied().ok_or_else(|| {
            ServiceError::bad(format!(
                "Invalid agent file: group {} names agent {id}, which the file does not hold",
                g.id
            ))
        })
    };
    let manager = manager_config(&g.manager_config, &agent)?;
    let members = g
        .agent_ids
        .iter()
        .map(|id| agent(id))
        .collect::<Result<Vec<_>>>()?;
    let mut group = Group::new(members, g.description.clone(), &manager);
    group.project_id.clone_from(&g.project_id);
    group.hidden = g.hidden;
    if g.turns_counter.is_some() {
        group.turns_counter = g.turns_counter;
    }
    group.last_processed_message_id = g
        .last_processed_message_id
        .as_deref()
        .and_then(|id| id.parse().ok())
        .or(group.last_processed_message_id);
    group.shared_block_ids = g
        .shared_block_ids
        .iter()
        .filter_map(|id| ids.blocks.get(id).map(|b| b.id))
        .collect();
    Ok(group)
}

fn manager_config(
    config: &mneme_types::agent_file::ManagerConfig,
    agent: &dyn Fn(&str) -> Result<AgentId>,
) -> Result<ManagerConfig> {
    use mneme_types::agent_file::ManagerConfig as File;
    Ok(match config {
        File::RoundRobin { max_turns } => ManagerConfig::RoundRobin {
            max_turns: *max_turns,
        },
        File::Supervisor { manager_agent_id } => ManagerConfig::Supervisor {
            manager_agent_id: agent(manager_agent_id)?,
        },
        File::Dynamic {
            manager_agent_id,
            termination_token,
            max_turns,
        } => ManagerConfig::Dynamic {
            manager_agent_id: agent(manager_agent_id)?,
            termination_token: termination_token.clone(),
            max_turns: *max_turns,
        },
        File::Sleeptime {
            manager_agent_id,
            sleeptime_agent_frequency,
        } => ManagerConfig::Sleeptime {
            manager_agent_id: agent(manager_agent_id)?,
            sleeptime_agent_frequency: *sleeptime_agent_frequency,
        },
        File::VoiceSleeptime {
            manager_agent_id,
            max_message_buffer_length,
            min_message_buffer_length,
        } => ManagerConfig::VoiceSleeptime {
            manager_agent_id: agent(manager_agent_id)?,
            max_message_buffer_length: *max_message_buffer_length,
            min_message_buffer_length: *min_message_buffer_length,
        },
    })
}

/// An agent the file gives a sleep-time companion (a `sleeptime` group it manages) has
/// `enable_sleeptime` on, whatever the file says: the companion came with it to run.
fn with_companions(agents: &mut [ImportedAgent], groups: &[Group]) {
    for g in groups
        .iter()
        .filter(|g| g.manager_type == ManagerType::Sleeptime)
    {
        if let Some(a) = agents
            .iter_mut()
            .find(|a| Some(a.agent.id) == g.manager_agent_id)
        {
            a.agent.settings.enable_sleeptime = Some(true);
        }
    }
}

/// The file's id in place of a fresh one when the import keeps ids and the file's is one of
/// this server's kind; else the fresh one stays.
pub(super) fn keep_id<T: std::str::FromStr>(keep: bool, file_id: &str, id: &mut T) {
    if keep && let Ok(kept) = file_id.parse() {
        *id = kept;
    }
}

/// File-local ids of tools (to names) and blocks (to their new records).
struct FileIds {
    tools: HashMap<String, String>,
    blocks: HashMap<String, Block>,
}

/// A file's tool as a new record; an MCP tool names its server by this server's id.
fn tool(t: &ToolSchema, i: usize, servers: &HashMap<String, McpServerId>) -> Result<Tool> {
    let name = t
        .name
        .clone()
        .or_else(|| {
            let from_schema = t.json_schema.as_ref()?.get("name")?.as_str()?;
            Some(from_schema.to_owned())
        })
        .ok_or_else(|| ServiceError::bad(format!("Invalid agent file: tools[{i}] has no name")))?;
    let requirements = |r: &Option<Vec<mneme_types::agent_file::PackageRequirement>>| {
        r.as_ref().map(|list| {
            list.iter()
                .filter_map(|p| serde_json::to_value(p).ok())
                .collect()
        })
    };
    Ok(Tool {
        id: ToolId::new(),
        tool_type: t.tool_type.clone(),
        name,
        description: t.description.clone(),
        source_type: t.source_type.clone(),
        source_code: t.source_code.clone(),
        json_schema: t.json_schema.clone().map(Value::Object),
        args_json_schema: t.args_json_schema.clone().map(Value::Object),
        tags: t.tags.clone(),
        return_char_limit: t.return_char_limit,
        pip_requirements: requirements(&t.pip_requirements),
        npm_requirements: requirements(&t.npm_requirements),
        default_requires_approval: t.default_requires_approval,
        enable_parallel_execution: t.enable_parallel_execution,
        created_by_id: None,
        last_updated_by_id: None,
        metadata_: t.metadata_.clone().map(|m| with_server(m, servers)),
        project_id: t.project_id.clone(),
    })
}

/// `metadata_.mcp.server_id` of a file's MCP tool, from the file's id to this server's.
fn with_server(
    mut metadata: Map<String, Value>,
    servers: &HashMap<String, McpServerId>,
) -> Map<String, Value> {
    if let Some(Value::Object(mcp)) = metadata.get_mut("mcp") {
        let local = mcp
            .get("server_id")
            .and_then(Value::as_str)
            .and_then(|id| servers.get(id));
        if let Some(id) = local {
            mcp.insert("server_id".into(), Value::String(id.to_string()));
        }
    }
    metadata
}

/// A file's block as a new block, checked as one created through the API. A value over its
/// limit gets a limit that fits it: Letta stopped enforcing limits, so real files hold such
/// blocks, and an import must not lose or refuse them.
fn block(b: &BlockSchema) -> Result<Block> {
    new_block(CreateBlock {
        label: b.label.clone(),
        value: b.value.clone(),
        limit: Some(b.limit),
        description: b.description.clone(),
        read_only: b.read_only,
        metadata: b.metadata.clone(),
        tags: b.tags.clone(),
        hidden: b.hidden,
        is_template: b.is_template,
        template_name: b.template_name.clone(),
        template_id: b.template_id.clone(),
        base_template_id: b.base_template_id.clone(),
        deployment_id: b.deployment_id.clone(),
        entity_id: b.entity_id.clone(),
        project_id: b.project_id.clone(),
        preserve_on_migration: b.preserve_on_migration,
    })
}

/// [`crate::blocks::new_block`], with the limit raised to fit the value (see [`block`]).
pub(crate) fn new_block(mut b: CreateBlock) -> Result<Block> {
    let len = b.value.chars().count();
    let limit = b.limit.unwrap_or(mneme_types::DEFAULT_BLOCK_LIMIT);
    if len > limit {
        tracing::warn!(label = %b.label, len, limit, "an imported block over its limit; its limit is raised to fit");
        b.limit = Some(len);
    }
    let label = b.label.clone();
    crate::blocks::new_block(b)
        .map_err(|e| ServiceError::Unprocessable(format!("block {label:?}: {e}")))
}

/// One agent's records, and the blocks it brings inline (`memory_blocks`).
fn imported_agent(
    schema: &AgentSchema,
    opts: &ImportOptions,
    models: &Models,
    ids: &FileIds,
) -> Result<(ImportedAgent, Vec<Block>)> {
    let mut agent = agent_record(schema, opts, models)?;
    let inline: Vec<Block> = schema
        .memory_blocks
        .iter()
        .flatten()
        .map(|b| new_block(b.clone()))
        .collect::<Result<_>>()?;
    let mut blocks: Vec<Block> = schema
        .block_ids
        .iter()
        .flatten()
        .filter_map(|id| ids.blocks.get(id).cloned())
        .collect();
    blocks.extend(inline.iter().cloned());
    let (messages, message_ids) = history(schema, opts, &agent, &blocks);
    agent.message_ids = message_ids;
    let imported = ImportedAgent {
        agent,
        blocks: blocks.iter().map(|b| b.id).collect(),
        tools: tool_names(schema, ids),
        messages,
        archive: None,
        passages: Vec::new(),
        folders: Vec::new(),
        files: Vec::new(),
    };
    Ok((imported, inline))
}

/// The agent's folders and its views of their files; with a folder come the file tools, as
/// attaching one here gives them.
fn with_files(agent: &mut ImportedAgent, schema: &AgentSchema, folders: &ImportedFolders) {
    let (ids, files) = folders.of_agent(schema);
    if !ids.is_empty() {
        for name in FILE_TOOL_NAMES {
            if !agent.tools.iter().any(|t| t == name) {
                agent.tools.push((*name).to_owned());
            }
        }
    }
    agent.folders = ids;
    agent.files = files;
}

/// The tools an agent uses, by name: those of `tool_ids`, then those of `tools`.
fn tool_names(schema: &AgentSchema, ids: &FileIds) -> Vec<String> {
    let mut names: Vec<String> = schema
        .tool_ids
        .iter()
        .flatten()
        .filter_map(|id| ids.tools.get(id).cloned())
        .collect();
    for name in schema.tools.iter().flatten() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// The agent's stored history and in-context ids: the file's, mapped to fresh ids; only its
/// system message with `strip_messages`; a system message compiled now when the file has none
/// first in context.
fn history(
    schema: &AgentSchema,
    opts: &ImportOptions,
    agent: &Agent,
    blocks: &[Block],
) -> (Vec<Message>, Vec<MessageId>) {
    let mut by_file_id: HashMap<&str, MessageId> = HashMap::with_capacity(schema.messages.len());
    let mut messages: Vec<Message> = Vec::with_capacity(schema.messages.len());
    for m in &schema.messages {
        let mut message = stored(m, agent.id);
        keep_id(opts.keep_ids, &m.id, &mut message.id);
        by_file_id.insert(m.id.as_str(), message.id);
        messages.push(message);
    }
    let mut context: Vec<MessageId> = schema
        .in_context_message_ids
        .iter()
        .filter_map(|id| by_file_id.get(id.as_str()).copied())
        .collect();
    let first_is_system = context
        .first()
        .and_then(|id| messages.iter().find(|m| m.id == *id))
        .is_some_and(|m| m.role == Role::System);
    if !first_is_system {
        let system = fresh_system(agent, blocks, messages.len() as u64);
        context.insert(0, system.id);
        messages.insert(0, system);
    }
    if opts.strip_messages {
        let system = context[0];
        messages.retain(|m| m.id == system);
        context.truncate(1);
    }
    (messages, context)
}

/// A system message compiled from the agent's base prompt and blocks.
fn fresh_system(agent: &Agent, blocks: &[Block], messages_total: u64) -> Message {
    let stats = MemoryStats {
        messages_total: messages_total + 1,
        in_context: 1,
        passages: 0,
        conversation: None,
    };
    let now = time::now();
    let text = compile_system_message(agent, blocks, &Default::default(), stats, now);
    Message::new(agent.id, Role::System, text, now)
}

/// The agent row: the file's settings, the import's overrides.
fn agent_record(schema: &AgentSchema, opts: &ImportOptions, models: &Models) -> Result<Agent> {
    let mut id = AgentId::new();
    keep_id(opts.keep_ids, &schema.id, &mut id);
    let name = match (&opts.name, &schema.name) {
        (Some(name), _) => name.clone(),
        (None, Some(name)) if opts.append_copy_suffix => format!("{name}_copy"),
        (None, Some(name)) => name.clone(),
        (None, None) => crate::names::random_agent_name(),
    };
    let mut llm_config = match (&schema.llm_config, &models.llm) {
        (_, Some(config)) if opts.model.is_some() => config.clone(),
        (Some(config), _) => config.clone(),
        (None, Some(config)) => config.clone(),
        (None, None) => {
            return Err(ServiceError::bad(format!(
                "Invalid agent file: agent {:?} has no llm_config nor model, and this server has no default model",
                schema.id
            )));
        }
    };
    if let Some(settings) = &schema.model_settings {
        settings.apply(&mut llm_config);
    }
    if let Some(parallel) = schema.parallel_tool_calls {
        llm_config.parallel_tool_calls = Some(parallel);
    }
    let now = time::now();
    Ok(Agent {
        id,
        name,
        agent_type: schema.agent_type,
        system: schema.system.clone().unwrap_or_default(),
        description: schema.description.clone(),
        metadata: schema.metadata.clone(),
        llm_config,
        embedding_config: models.embedding.clone().or(schema.embedding_config.clone()),
        tool_rules: schema.tool_rules.clone(),
        message_ids: Vec::new(),
        message_ids_version: 0,
        messages_edited: 0,
        tags: schema.tags.clone().unwrap_or_default(),
        identity_ids: vec![],
        project_id: opts.project_id.clone().or(schema.project_id.clone()),
        template_id: schema.template_id.clone(),
        base_template_id: schema.base_template_id.clone(),
        last_run_completion: None,
        last_run_duration_ms: None,
        last_stop_reason: None,
        settings: settings(schema, opts),
        created_at: now,
        updated_at: now,
    })
}

fn settings(schema: &AgentSchema, opts: &ImportOptions) -> AgentSettings {
    AgentSettings {
        model_settings: None,
        compaction_settings: schema.compaction_settings.clone(),
        response_format: schema
            .response_format
            .as_ref()
            .and_then(|f| serde_json::to_value(f).ok()),
        timezone: schema.timezone.clone(),
        message_buffer_autoclear: schema.message_buffer_autoclear,
        enable_sleeptime: schema.enable_sleeptime,
        max_files_open: schema.max_files_open,
        per_file_view_window_char_limit: schema.per_file_view_window_char_limit,
        hidden: schema.hidden,
        deployment_id: None,
        entity_id: None,
        secrets: variables(schema.secrets.as_ref(), opts),
        tool_exec_environment_variables: variables(
            schema.tool_exec_environment_variables.as_ref(),
            opts,
        ),
    }
}

/// The file's declared variables, valued from the import's `secrets` when it gives them
/// (Letta's rule: a declared name the import does not give is empty).
fn variables(
    declared: Option<&std::collections::BTreeMap<String, String>>,
    opts: &ImportOptions,
) -> Option<Map<String, Value>> {
    let declared = declared?;
    let given = opts.env_vars.as_ref();
    Some(
        declared
            .iter()
            .map(|(k, v)| {
                let value = match given {
                    Some(env) => env.get(k).cloned().unwrap_or(Value::String(String::new())),
                    None => Value::String(v.clone()),
                };
                (k.clone(), value)
            })
            .collect(),
    )
}

/// Whether a lookup found the record (`NotFound`: it did not).
fn held<T>(found: std::result::Result<T, mneme_store::StoreError>) -> Result<bool> {
    match found {
        Ok(_) => Ok(true),
        Err(mneme_store::StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
