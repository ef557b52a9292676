//! Agent use cases: create, read, list, update, delete, and the agent's view of its blocks.

use mneme_agent::tools::{MULTI_AGENT_TOOL_NAMES, base_tool_rules, default_tool_names};
use mneme_agent::{MemoryStats, compile_system_message, default_system_prompt};
use mneme_store::{Agent, AgentFilter, AgentSettings, Message, NewAgent, Page, Role};
use mneme_types::{
    AgentId, AgentState, AgentType, Block, BlockId, BlockUpdate, CreateAgent, EmbeddingConfig,
    FormatChange, LlmConfig, Memory, MessageId, ModelSettings, Thread, Tool, ToolRule, UpdateAgent,
    time,
};
use serde_json::Value;

use crate::agent_model::{created_format, format_value, stored_format, updated_format};
use crate::blocks::{apply_update, new_block};
use crate::names::random_agent_name;
use crate::{Include, Result, Service, ServiceError};

impl Service {
    /// Creates an agent with its blocks and its compiled system message, all in one transaction
    /// (with its sleep-time companion and their group when `enable_sleeptime` is set).
    pub async fn create_agent(&self, req: CreateAgent) -> Result<AgentState> {
        reject_unsupported(&req)?;
        let built = self.build_agent(&req, &[]).await?;
        let (blocks, mut tools) = (built.blocks, built.tools);
        let has_folders = !built.new.folders.is_empty();
        let agent = if crate::sleeptime::wanted(&built.new.agent) {
            self.check_agent_quota(2).await?;
            let id = built.new.agent.id;
            let (group, companion) = self.companion(&built.new.agent, &blocks).await?;
            self.store
                .create_group(group, vec![built.new, companion])
                .await?;
            self.store.get_agent(id).await?
        } else {
            self.check_agent_quota(1).await?;
            self.store.create_agent(built.new).await?
        };
        if has_folders {
            self.sync_agent_files(agent.id).await?;
            tools = self.store.agent_tools(agent.id).await?;
        }
        let mut state = self.state(agent, Some(blocks), Some(tools), Include::ALL)?;
        self.fill_identities(std::slice::from_mut(&mut state))
            .await?;
        self.fill_sources(std::slice::from_mut(&mut state), Include::ALL)
            .await?;
        self.with_group(state, Include::ALL).await
    }

    /// The records of a new agent: the agent with its compiled system message, its new blocks
    /// and attachments (`pending`: blocks being created in the same transaction, which
    /// `block_ids` may name), its tools and rules.
    pub(crate) async fn build_agent(&self, req: &CreateAgent, pending: &[Block]) -> Result<Built> {
        let agent_type = req.agent_type.unwrap_or(AgentType::LettaV1Agent);
        if agent_type == AgentType::SplitThreadAgent {
            return Err(ServiceError::bad(
                "agent_type split_thread_agent cannot be created",
            ));
        }
        let name = match req.name.clone() {
            Some(name) => validate_name(name)?,
            None => random_agent_name(),
        };
        let (llm_config, format) = self.create_llm_config(req).await?;
        let embedding_config = self.create_embedding_config(req)?;
        let new_blocks = req
            .memory_blocks
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(new_block)
            .collect::<Result<Vec<_>>>()?;
        let existing_ids = req.block_ids.clone().unwrap_or_default();
        let existing = self.existing_blocks(&existing_ids, pending).await?;
        let tools = self.initial_tools(agent_type, req).await?;
        let tool_rules = initial_rules(agent_type, req, &tools);

        let now = time::now();
        let system_id = MessageId::new();
        let mut agent = agent_record(req, name, agent_type, (llm_config, format), now);
        let (max_open, chars) = mneme_agent::default_file_limits(agent.llm_config.context_window);
        agent.settings.max_files_open.get_or_insert(max_open);
        agent
            .settings
            .per_file_view_window_char_limit
            .get_or_insert(chars);
        agent.embedding_config = embedding_config;
        agent.tool_rules = Some(tool_rules);
        agent.message_ids = vec![system_id];
        let blocks: Vec<Block> = new_blocks.iter().chain(&existing).cloned().collect();
        let stats = MemoryStats {
            messages_total: 1,
            in_context: 1,
            passages: 0,
            conversation: None,
        };
        let mut system_message = Message::new(
            agent.id,
            Role::System,
            compile_system_message(&agent, &blocks, &Default::default(), stats, now),
            now,
        );
        system_message.id = system_id;
        let new = NewAgent {
            agent,
            new_blocks,
            existing_blocks: existing_ids,
            tools: tools.iter().map(|t| t.id).collect(),
            messages: vec![system_message],
            folders: folder_ids(&req.folder_ids, &req.source_ids)?,
        };
        Ok(Built { new, blocks, tools })
    }

    /// Blocks named by `block_ids`: those of `pending` as they are, the others read.
    async fn existing_blocks(&self, ids: &[BlockId], pending: &[Block]) -> Result<Vec<Block>> {
        let stored: Vec<BlockId> = ids
            .iter()
            .filter(|id| !pending.iter().any(|b| b.id == **id))
            .copied()
            .collect();
        let mut read = self.store.get_blocks(&stored).await?.into_iter();
        Ok(ids
            .iter()
            .filter_map(|id| match pending.iter().find(|b| b.id == *id) {
                Some(b) => Some(b.clone()),
                None => read.next(),
            })
            .collect())
    }

    pub async fn get_agent(&self, id: AgentId, include: Include) -> Result<AgentState> {
        let agent = self.store.get_agent(id).await?;
        let pending = self.scheduler.pending_approval(&agent.message_ids).await?;
        let blocks = match include.blocks {
            true => Some(self.store.agent_blocks(id).await?),
            false => None,
        };
        let tools = match include.tools {
            true => Some(self.store.agent_tools(id).await?),
            false => None,
        };
        let native = mneme_agent::Flavor::of(agent.agent_type) == mneme_agent::Flavor::Native;
        let mut state = self.state(agent, blocks, tools, include)?;
        self.fill_identities(std::slice::from_mut(&mut state))
            .await?;
        self.fill_sources(std::slice::from_mut(&mut state), include)
            .await?;
        state.pending_approval = pending.and_then(|m| {
            crate::render::letta_messages(&m, &crate::render::RenderOptions::new(native))
                .into_iter()
                .find(|p| matches!(p.body, mneme_types::MessageBody::ApprovalRequest(_)))
        });
        self.with_group(state, include).await
    }

    /// Fills `managed_group` (and its old name `multi_agent_group`) when asked.
    async fn with_group(&self, mut state: AgentState, include: Include) -> Result<AgentState> {
        if include.groups {
            let group = self
                .store
                .managed_groups(state.id)
                .await?
                .into_iter()
                .next();
            state.multi_agent_group.clone_from(&group);
            state.managed_group = group;
        }
        Ok(state)
    }

    pub async fn list_agents(
        &self,
        filter: &AgentFilter,
        page: &Page,
        include: Include,
    ) -> Result<Vec<AgentState>> {
        let agents = self.store.list_agents(filter, page).await?;
        self.states(agents, include).await
    }

    pub async fn count_agents(&self, filter: &AgentFilter) -> Result<u64> {
        Ok(self.store.count_agents(filter).await?)
    }

    /// Applies a PATCH: present, non-null fields change; the system message is recompiled when
    /// anything it is compiled from changed.
    pub async fn update_agent(&self, id: AgentId, req: UpdateAgent) -> Result<AgentState> {
        reject_unsupported_update(&req)?;
        let name = req.name.clone().map(validate_name).transpose()?;
        let (llm_config, format) = match self.update_llm_config(id, &req).await? {
            Some((config, change)) => (Some(config), updated_format(&req, change)),
            None => (None, req.response_format.clone().map(Some)),
        };
        let embedding_config = match (&req.embedding_config, &req.embedding) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(h)) => Some(self.models.resolve_embedding(h)?),
            (None, None) => None,
        };
        if let Some(ids) = &req.block_ids {
            self.store.get_blocks(ids).await?;
        }
        if let Some(ids) = &req.message_ids {
            self.check_message_ids(id, ids).await?;
        }
        let folders = self.updated_folders(&req).await?;
        let recompile = req.system.is_some()
            || req.block_ids.is_some()
            || llm_config.is_some()
            || req.tool_rules.is_some();
        let blocks = req.block_ids.clone();
        let req_sleeptime = req.enable_sleeptime;
        let edit = Box::new(move |a: &mut Agent| {
            if let Some(format) = format {
                a.settings.response_format = format_value(format);
            }
            apply_agent_update(a, req, name, llm_config, embedding_config);
            Ok(())
        });
        let sleeptime = req_sleeptime;
        self.store.update_agent(id, edit, blocks).await?;
        if let Some(folders) = folders {
            // Its own transaction: the folders were checked above, so only a folder deleted
            // in between can make it fail after the agent's edit was written.
            self.store.set_agent_folders(id, folders).await?;
            self.sync_agent_files(id).await?;
        }
        if recompile {
            self.recompile(id).await?;
        }
        if let Some(on) = sleeptime {
            self.set_sleeptime(id, on).await?;
        }
        self.get_agent(id, Include::ALL).await
    }

    /// The folders an update replaces the agent's with (`folder_ids` and `source_ids`
    /// together), each checked to exist; `None` when it names none.
    async fn updated_folders(
        &self,
        req: &UpdateAgent,
    ) -> Result<Option<Vec<mneme_types::FolderId>>> {
        if req.folder_ids.is_none() && req.source_ids.is_none() {
            return Ok(None);
        }
        let ids = folder_ids(&req.folder_ids, &req.source_ids)?;
        for id in &ids {
            self.store.get_folder(*id).await?;
        }
        Ok(Some(ids))
    }

    /// Deletes the agent; its turns still running (in any conversation) are cancelled, so that
    /// they stop at their next step instead of writing for an agent that is gone.
    pub async fn delete_agent(&self, id: AgentId) -> Result<()> {
        self.delete_companions(id).await?;
        self.store.delete_agent(id).await?;
        for (_, run) in self.scheduler.active_runs(id) {
            run.cancel.cancel();
        }
        Ok(())
    }

    pub async fn attach_block(&self, agent: AgentId, block: BlockId) -> Result<AgentState> {
        self.store.attach_block(agent, block).await?;
        self.recompile(agent).await?;
        self.follow_blocks(agent, block, true).await;
        self.get_agent(agent, Include::ALL).await
    }

    pub async fn detach_block(&self, agent: AgentId, block: BlockId) -> Result<AgentState> {
        self.store.detach_block(agent, block).await?;
        self.recompile(agent).await?;
        self.follow_blocks(agent, block, false).await;
        self.get_agent(agent, Include::ALL).await
    }

    /// The agent's blocks in its block order, paged by block id within that order.
    pub async fn agent_blocks(&self, agent: AgentId, page: &Page) -> Result<Vec<Block>> {
        let blocks = self.store.agent_blocks(agent).await?;
        Ok(page_in_order(blocks, page, |b| b.id.to_string()))
    }

    pub async fn agent_block(&self, agent: AgentId, label: &str) -> Result<Block> {
        let blocks = self.store.agent_blocks(agent).await?;
        blocks
            .into_iter()
            .find(|b| b.label.as_deref() == Some(label))
            .ok_or_else(|| {
                ServiceError::Store(mneme_store::StoreError::NotFound {
                    kind: "Block",
                    id: format!("with label '{label}' for agent {agent}"),
                })
            })
    }

    pub async fn update_agent_block(
        &self,
        agent: AgentId,
        label: &str,
        update: BlockUpdate,
    ) -> Result<Block> {
        let edit = Box::new(move |b: &mut Block| apply_update(b, update));
        let block = self.store.update_agent_block(agent, label, edit).await?;
        self.recompile_block_agents(block.id).await?;
        Ok(block)
    }

    /// Rewrites the agent's system message from its current state; returns the new text.
    pub async fn recompile(&self, id: AgentId) -> Result<String> {
        self.recompile_thread(Thread::default_of(id), false).await
    }

    /// The thread's system message compiled from the current state, stored unless `dry_run`.
    pub(crate) async fn recompile_thread(&self, thread: Thread, dry_run: bool) -> Result<String> {
        let ctx = mneme_agent::thread_context(&*self.store, thread).await?;
        let stats = MemoryStats {
            messages_total: ctx.message_count,
            in_context: ctx.agent.message_ids.len() as u64,
            passages: ctx.passage_count,
            conversation: ctx.conversation,
        };
        let text = compile_system_message(&ctx.agent, &ctx.blocks, &ctx.files, stats, time::now());
        let system = ctx
            .messages
            .into_iter()
            .next()
            .filter(|m| m.role == Role::System);
        if let Some(message) = system.filter(|m| m.text != text && !dry_run) {
            self.store
                .set_message_text(message.id, text.clone())
                .await?;
        }
        Ok(text)
    }

    pub(crate) async fn recompile_block_agents(&self, block: BlockId) -> Result<()> {
        for agent in self.store.agent_ids_of_block(block).await? {
            self.recompile(agent).await?;
        }
        Ok(())
    }

    pub(crate) async fn states(
        &self,
        agents: Vec<Agent>,
        include: Include,
    ) -> Result<Vec<AgentState>> {
        let ids: Vec<AgentId> = agents.iter().map(|a| a.id).collect();
        let mut blocks = match include.blocks {
            true => self.store.blocks_of_agents(&ids).await?,
            false => Vec::new(),
        };
        let mut tools = match include.tools {
            true => self.store.tools_of_agents(&ids).await?,
            false => Vec::new(),
        };
        let mut states = agents
            .into_iter()
            .map(|agent| {
                let own_blocks = take_for(&mut blocks, agent.id);
                let own_tools = take_for(&mut tools, agent.id);
                self.state(agent, own_blocks, own_tools, include)
            })
            .collect::<Result<Vec<_>>>()?;
        self.fill_identities(&mut states).await?;
        self.fill_sources(&mut states, include).await?;
        let mut grouped = Vec::with_capacity(states.len());
        for state in states {
            grouped.push(self.with_group(state, include).await?);
        }
        let states = grouped;
        Ok(states)
    }

    /// Shapes a stored agent as `AgentState`; relationships not included are empty arrays.
    fn state(
        &self,
        agent: Agent,
        blocks: Option<Vec<Block>>,
        tools: Option<Vec<Tool>>,
        include: Include,
    ) -> Result<AgentState> {
        let blocks = blocks.unwrap_or_default();
        let tools = tools
            .unwrap_or_default()
            .into_iter()
            .map(|t| serde_json::to_value(t).unwrap_or_default())
            .collect();
        let s = agent.settings;
        let variables = variables(&s, agent.id, include);
        let response_format = stored_format(&s);
        Ok(AgentState {
            id: agent.id,
            name: agent.name,
            agent_type: agent.agent_type,
            system: agent.system,
            description: agent.description,
            metadata: agent.metadata,
            model: agent.llm_config.handle.clone(),
            embedding: agent
                .embedding_config
                .as_ref()
                .and_then(|c| c.handle.clone()),
            embedding_config: agent.embedding_config,
            model_settings: Some(ModelSettings::from_config(
                &agent.llm_config,
                response_format.as_ref(),
            )),
            llm_config: agent.llm_config,
            compaction_settings: Some(crate::compaction::shown(s.compaction_settings)),
            response_format,
            memory: Memory {
                agent_type: Some(agent.agent_type),
                git_enabled: false,
                blocks: blocks.clone(),
                file_blocks: Vec::new(),
                prompt_template: String::new(),
            },
            blocks,
            tools,
            sources: Vec::new(),
            tags: if include.tags { agent.tags } else { Vec::new() },
            tool_rules: agent.tool_rules,
            message_ids: Some(agent.message_ids),
            // One list in Letta, under its old and its new name.
            tool_exec_environment_variables: variables.clone(),
            secrets: variables,
            identity_ids: match include.identities {
                true => agent.identity_ids,
                false => Vec::new(),
            },
            // Filled from `identity_ids` by `fill_identities`, which reads the store.
            identities: Vec::new(),
            project_id: agent.project_id,
            template_id: agent.template_id,
            base_template_id: agent.base_template_id,
            deployment_id: s.deployment_id,
            entity_id: s.entity_id,
            pending_approval: None,
            message_buffer_autoclear: s.message_buffer_autoclear,
            enable_sleeptime: s.enable_sleeptime,
            multi_agent_group: None,
            managed_group: None,
            last_run_completion: agent.last_run_completion,
            last_run_duration_ms: agent.last_run_duration_ms,
            last_stop_reason: agent.last_stop_reason,
            timezone: Some(s.timezone.unwrap_or_else(|| "UTC".into())),
            max_files_open: s.max_files_open,
            per_file_view_window_char_limit: s.per_file_view_window_char_limit,
            hidden: s.hidden,
            created_by_id: None,
            last_updated_by_id: None,
            created_at: Some(agent.created_at),
            updated_at: Some(agent.updated_at),
        })
    }

    /// The type's default tools (unless `include_base_tools` is false), the multi-agent tools
    /// with `include_multi_agent_tools`, then those named in `tools`, each once.
    async fn initial_tools(&self, agent_type: AgentType, req: &CreateAgent) -> Result<Vec<Tool>> {
        let mut names: Vec<String> = Vec::new();
        if req.include_base_tools.unwrap_or(true) {
            let defaults = match req.enable_sleeptime == Some(true) {
                true => crate::sleeptime::primary_tool_names(agent_type),
                false => default_tool_names(agent_type),
            };
            names.extend(defaults.iter().map(|n| (*n).to_owned()));
        }
        if req.include_multi_agent_tools == Some(true) {
            names.extend(MULTI_AGENT_TOOL_NAMES.iter().map(|n| (*n).to_owned()));
        }
        for name in req.tools.iter().flatten() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let mut tools = self.store.tools_by_name(&names).await?;
        if let Some(missing) = names.iter().find(|n| !tools.iter().any(|t| &t.name == *n)) {
            return Err(ServiceError::bad(format!("Tool '{missing}' not found")));
        }
        for id in req.tool_ids.iter().flatten() {
            let id = id
                .parse()
                .map_err(|_| ServiceError::Unprocessable(format!("'{id}' is not a tool id")))?;
            let tool = self.store.get_tool(id).await?;
            if !tools.iter().any(|t| t.id == tool.id) {
                tools.push(tool);
            }
        }
        Ok(tools)
    }

    async fn create_llm_config(&self, req: &CreateAgent) -> Result<(LlmConfig, FormatChange)> {
        let mut config = match (&req.llm_config, &req.model, &self.config.default_model) {
            (Some(c), _, _) => {
                let mut c = c.clone();
                if let Some(limit) = req.context_window_limit {
                    c.context_window = c.context_window.min(limit);
                }
                c
            }
            (None, Some(h), _) | (None, None, Some(h)) => {
                self.models.resolve_llm(h, req.context_window_limit).await?
            }
            (None, None, None) => {
                return Err(ServiceError::bad(
                    "Must specify either model or llm_config in request",
                ));
            }
        };
        if let Some(v) = req.max_tokens {
            config.max_tokens = Some(v);
        }
        if let Some(v) = req.max_reasoning_tokens {
            config.max_reasoning_tokens = v;
        }
        if let Some(v) = req.enable_reasoner.or(req.reasoning) {
            config.enable_reasoner = v;
        }
        // As in Letta: the settings apply over the legacy fields, `parallel_tool_calls` last.
        let format = match &req.model_settings {
            Some(settings) => settings.apply(&mut config),
            None => FormatChange::Keep,
        };
        if let Some(v) = req.parallel_tool_calls {
            config.parallel_tool_calls = Some(v);
        }
        Ok((config, format))
    }

    fn create_embedding_config(&self, req: &CreateAgent) -> Result<Option<EmbeddingConfig>> {
        let handle = req
            .embedding
            .as_ref()
            .or(self.config.default_embedding.as_ref());
        let mut config = match (&req.embedding_config, handle) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(h)) => Some(self.models.resolve_embedding(h)?),
            (None, None) => None,
        };
        if let (Some(c), Some(size)) = (config.as_mut(), req.embedding_chunk_size) {
            c.embedding_chunk_size = Some(size);
        }
        Ok(config)
    }

    /// The new `llm_config` a PATCH asks for, if any.
    async fn update_llm_config(
        &self,
        id: AgentId,
        req: &UpdateAgent,
    ) -> Result<Option<(LlmConfig, FormatChange)>> {
        let touches = req.llm_config.is_some()
            || req.model_settings.is_some()
            || req.model.is_some()
            || req.context_window_limit.is_some()
            || req.max_tokens.is_some()
            || req.reasoning.is_some()
            || req.parallel_tool_calls.is_some();
        if !touches {
            return Ok(None);
        }
        let mut config = match (&req.llm_config, &req.model) {
            (Some(c), _) => c.clone(),
            (None, Some(h)) => self.models.resolve_llm(h, req.context_window_limit).await?,
            (None, None) => self.store.get_agent(id).await?.llm_config,
        };
        if let Some(limit) = req.context_window_limit {
            config.context_window = config.context_window.min(limit);
        }
        if let Some(v) = req.max_tokens {
            config.max_tokens = Some(v);
        }
        if let Some(v) = req.reasoning {
            config.enable_reasoner = v;
        }
        let format = match &req.model_settings {
            Some(settings) => settings.apply(&mut config),
            None => FormatChange::Keep,
        };
        if let Some(v) = req.parallel_tool_calls {
            config.parallel_tool_calls = Some(v);
        }
        Ok(Some((config, format)))
    }

    /// In-context message ids must be this agent's messages, starting with its system message.
    async fn check_message_ids(&self, agent: AgentId, ids: &[MessageId]) -> Result<()> {
        for (i, id) in ids.iter().enumerate() {
            let message = self.store.get_message(*id).await?;
            if message.agent_id != agent {
                return Err(ServiceError::bad(format!(
                    "Message {id} does not belong to agent {agent}"
                )));
            }
            if i == 0 && message.role != Role::System {
                return Err(ServiceError::bad(
                    "The first in-context message must be the system message",
                ));
            }
        }
        if ids.is_empty() {
            return Err(ServiceError::bad(
                "message_ids must keep the system message",
            ));
        }
        Ok(())
    }
}

/// An agent's variables as Letta lists them (`AgentEnvironmentVariable`), when the caller asked
/// for them: they hold credentials, so 1.x reads show them only with `include=agent.secrets`.
fn variables(settings: &AgentSettings, agent: AgentId, include: Include) -> Vec<Value> {
    if !include.secrets {
        return Vec::new();
    }
    let mut all = settings
        .tool_exec_environment_variables
        .clone()
        .unwrap_or_default();
    all.extend(settings.secrets.clone().unwrap_or_default());
    all.iter()
        .map(|(key, value)| {
            serde_json::json!({
                "id": format!("agent-env-{}", uuid::Uuid::new_v4()), "key": key,
                "value": value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string()),
                "description": null, "agent_id": agent.to_string(), "organization_id": null,
                "value_enc": null, "created_by_id": null, "last_updated_by_id": null,
                "created_at": null, "updated_at": null,
            })
        })
        .collect()
}

/// Removes and returns the entry of `id` from a per-agent list.
fn take_for<T: Default>(list: &mut [(AgentId, T)], id: AgentId) -> Option<T> {
    list.iter_mut()
        .find(|(a, _)| *a == id)
        .map(|(_, v)| std::mem::take(v))
}

fn apply_agent_update(
    a: &mut Agent,
    req: UpdateAgent,
    name: Option<String>,
    llm_config: Option<LlmConfig>,
    embedding_config: Option<EmbeddingConfig>,
) {
    set(&mut a.name, name);
    set(&mut a.system, req.system);
    set_opt(&mut a.description, req.description);
    set_opt(&mut a.metadata, req.metadata);
    set(&mut a.tags, req.tags.map(dedup));
    set(&mut a.identity_ids, req.identity_ids.map(dedup));
    set(&mut a.message_ids, req.message_ids);
    set(&mut a.llm_config, llm_config);
    set_opt(&mut a.embedding_config, embedding_config);
    set_opt(&mut a.tool_rules, req.tool_rules);
    set_opt(&mut a.project_id, req.project_id);
    set_opt(&mut a.template_id, req.template_id);
    set_opt(&mut a.base_template_id, req.base_template_id);
    set_opt(&mut a.last_run_completion, req.last_run_completion);
    set_opt(&mut a.last_run_duration_ms, req.last_run_duration_ms);
    set_opt(&mut a.last_stop_reason, req.last_stop_reason);
    let s = &mut a.settings;
    if let Some(patch) = req.compaction_settings {
        let stored = s.compaction_settings.take();
        s.compaction_settings = Some(crate::compaction::patched(stored, patch));
    }
    set_opt(&mut s.timezone, req.timezone);
    set(
        &mut s.message_buffer_autoclear,
        req.message_buffer_autoclear,
    );
    set_opt(&mut s.enable_sleeptime, req.enable_sleeptime);
    set_opt(&mut s.max_files_open, req.max_files_open);
    set_opt(
        &mut s.per_file_view_window_char_limit,
        req.per_file_view_window_char_limit,
    );
    set_opt(&mut s.hidden, req.hidden);
    set_opt(&mut s.secrets, req.secrets);
    set_opt(
        &mut s.tool_exec_environment_variables,
        req.tool_exec_environment_variables,
    );
    a.updated_at = time::now();
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

fn set_opt<T>(field: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *field = value;
    }
}

/// A new agent's record from its request; its embedding, rules and context are the caller's
/// to fill.
fn agent_record(
    req: &CreateAgent,
    name: String,
    agent_type: AgentType,
    (llm_config, format): (LlmConfig, FormatChange),
    now: chrono::DateTime<chrono::Utc>,
) -> Agent {
    Agent {
        id: AgentId::new(),
        name,
        agent_type,
        system: req
            .system
            .clone()
            .unwrap_or_else(|| default_system_prompt(agent_type).to_owned()),
        description: req.description.clone(),
        metadata: req.metadata.clone(),
        llm_config,
        embedding_config: None,
        tool_rules: None,
        message_ids: Vec::new(),
        message_ids_version: 0,
        messages_edited: 0,
        tags: dedup(req.tags.clone().unwrap_or_default()),
        identity_ids: dedup(req.identity_ids.clone().unwrap_or_default()),
        project_id: req.project_id.clone(),
        template_id: req.template_id.clone(),
        base_template_id: req.base_template_id.clone(),
        last_run_completion: None,
        last_run_duration_ms: None,
        last_stop_reason: None,
        settings: create_settings(req, agent_type, format),
        created_at: now,
        updated_at: now,
    }
}

fn create_settings(
    req: &CreateAgent,
    agent_type: AgentType,
    format: FormatChange,
) -> AgentSettings {
    AgentSettings {
        // Derived from `llm_config` on every read; not stored.
        model_settings: None,
        compaction_settings: req
            .compaction_settings
            .clone()
            .map(|patch| crate::compaction::patched(None, patch)),
        response_format: format_value(created_format(req, format)),
        timezone: req.timezone.clone(),
        // A workflow agent starts every request from its system message alone, whatever
        // the request says (Letta forces it at creation).
        message_buffer_autoclear: agent_type == AgentType::WorkflowAgent
            || req.message_buffer_autoclear.unwrap_or(false),
        enable_sleeptime: req.enable_sleeptime,
        max_files_open: req.max_files_open,
        per_file_view_window_char_limit: req.per_file_view_window_char_limit,
        hidden: req.hidden,
        deployment_id: None,
        entity_id: None,
        secrets: req.secrets.clone(),
        tool_exec_environment_variables: req.tool_exec_environment_variables.clone(),
    }
}

/// The caller's rules (their schema was checked when the request was read), plus Letta's base
/// rules for the attached built-ins when `include_base_tool_rules` says so (by default: on for
/// MemGPT-style agents, off for `letta_v1_agent`, whose loop needs none). A tool the caller
/// already rules on keeps only the caller's rule.
fn initial_rules(agent_type: AgentType, req: &CreateAgent, tools: &[Tool]) -> Vec<ToolRule> {
    let mut rules = req.tool_rules.clone().unwrap_or_default();
    let base = req
        .include_base_tool_rules
        .unwrap_or(agent_type != AgentType::LettaV1Agent);
    if base {
        let names: Vec<String> = tools.iter().map(|t| t.name.clone()).collect();
        let ruled: Vec<String> = rules.iter().map(|r| r.tool_name().to_owned()).collect();
        rules.extend(
            base_tool_rules(&names)
                .into_iter()
                .filter(|rule| !ruled.iter().any(|n| n == rule.tool_name())),
        );
    }
    rules
}

/// A new agent's records, ready for the store, with its blocks and tools for the answer.
pub(crate) struct Built {
    pub(crate) new: NewAgent,
    pub(crate) blocks: Vec<Block>,
    pub(crate) tools: Vec<Tool>,
}

/// Letta allows letters, digits, spaces, `-`, `_` and `'` in agent names.
fn validate_name(name: String) -> Result<String> {
    let ok = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '\'');
    if name.trim().is_empty() {
        return Err(ServiceError::bad("Agent name must not be empty"));
    }
    if let Some(c) = name.chars().find(|c| !ok(*c)) {
        return Err(ServiceError::bad(format!(
            "Agent name '{name}' contains '{c}'; names may contain letters, digits, spaces, '-', '_' and '''"
        )));
    }
    Ok(name)
}

fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut seen = Vec::with_capacity(items.len());
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// Options whose features do not exist yet are refused rather than silently dropped.
fn reject_unsupported(req: &CreateAgent) -> Result<()> {
    crate::compaction::check_patch(req.compaction_settings.as_ref())?;
    let unsupported = [(
        "initial_message_sequence",
        non_empty(&req.initial_message_sequence),
    )];
    refuse(&unsupported)
}

fn reject_unsupported_update(req: &UpdateAgent) -> Result<()> {
    crate::compaction::check_patch(req.compaction_settings.as_ref())?;
    let unsupported = [("tool_ids", non_empty(&req.tool_ids))];
    refuse(&unsupported)
}

/// The folders `folder_ids` and `source_ids` (its older name) name together, each once; an
/// id that is not a folder's is a 404, as an unknown folder is.
pub(crate) fn folder_ids(
    folders: &Option<Vec<String>>,
    sources: &Option<Vec<String>>,
) -> Result<Vec<mneme_types::FolderId>> {
    let named = folders.iter().chain(sources.iter()).flatten();
    let ids = named
        .map(|s| {
            s.parse()
                .map_err(|_| ServiceError::NotFound(format!("Folder {s} not found")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(dedup(ids))
}

fn refuse(options: &[(&str, bool)]) -> Result<()> {
    match options.iter().find(|(_, used)| *used) {
        Some((name, _)) => Err(ServiceError::bad(format!(
            "'{name}' is not supported by this version of mneme yet"
        ))),
        None => Ok(()),
    }
}

fn non_empty<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

/// Pages a list that has its own order (an agent's blocks or tools) by item id.
pub(crate) fn page_in_order<T>(
    mut items: Vec<T>,
    page: &Page,
    id_of: impl Fn(&T) -> String,
) -> Vec<T> {
    if page.order == mneme_store::Order::Desc {
        items.reverse();
    }
    let pos = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| items.iter().position(|b| id_of(b) == *id))
    };
    let start = pos(&page.after).map(|p| p + 1).unwrap_or(0);
    let end = pos(&page.before).unwrap_or(items.len()).max(start);
    items.drain(start..end).take(page.limit as usize).collect()
}
