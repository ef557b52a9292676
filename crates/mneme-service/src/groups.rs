//! Group use cases: create, read, list, count, modify, delete, shared blocks, an agent's
//! groups, and the group's messages (listed, edited, reset). Group messaging — a request
//! answered by several agents — is in `groups/messaging.rs`, its course in `groups/chat.rs`.

mod chat;
mod messaging;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mneme_scheduler::TurnGuard;
use mneme_store::{GroupFilter, Page, StoreError};
use mneme_types::{
    AgentId, BlockId, Group, GroupCreate, GroupId, GroupUpdate, LettaMessage, ManagerConfig,
    ManagerConfigUpdate, ManagerType, MessageId, MessageUpdate, Thread,
};

use crate::messages::{ListMessages, overridden, render_native};
use crate::render::{filter_types, letta_messages};
use crate::{Result, Service, ServiceError};

/// The tool a supervisor reaches its group's members with; attached to every supervisor.
const SUPERVISOR_TOOL: &str = "send_message_to_all_agents_in_group";

/// One lock per group: its exchanges run one at a time, so that two requests to a group do
/// not interleave their speakers' turns (across replicas with `Service::group_exchange`).
#[derive(Default)]
pub(crate) struct GroupLocks(Mutex<HashMap<GroupId, Arc<tokio::sync::Mutex<()>>>>);

impl GroupLocks {
    fn of(&self, group: GroupId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(group).or_default().clone()
    }

    fn forget(&self, group: GroupId) {
        let mut locks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        locks.remove(&group);
    }
}

impl Service {
    /// Holds group `id`'s exchanges, in this process and (on a shared database) across
    /// replicas, until the guard drops: two requests to a group never interleave their turns.
    pub(crate) async fn group_exchange(&self, id: GroupId) -> TurnGuard {
        let local = self.group_locks.of(id).lock_owned().await;
        self.scheduler
            .across_replicas(format!("group:{id}"), TurnGuard::new(local))
            .await
    }

    /// `POST /v1/groups/`: checks the agents, manager and blocks named (404), then creates
    /// the group, sharing its blocks with every member and the manager.
    pub async fn create_group(&self, req: GroupCreate) -> Result<Group> {
        let config = &req.manager_config;
        if let ManagerConfig::VoiceSleeptime {
            max_message_buffer_length,
            min_message_buffer_length,
            ..
        } = config
        {
            check_buffer_lengths(*max_message_buffer_length, *min_message_buffer_length)?;
        }
        self.check_members(config.manager_type(), &req.agent_ids)
            .await?;
        let mut group = Group::new(req.agent_ids, req.description, config);
        if let Some(manager) = group.manager_agent_id {
            self.store.get_agent(manager).await?;
        }
        self.store.get_blocks(&req.shared_block_ids).await?;
        group.project_id = req.project_id;
        group.hidden = req.hidden;
        group.shared_block_ids = req.shared_block_ids;
        let group = self.store.create_group(group, Vec::new()).await?;
        self.equip_supervisor(&group).await?;
        if !group.shared_block_ids.is_empty() {
            self.recompile_group(&group).await?;
        }
        Ok(group)
    }

    pub async fn get_group(&self, id: GroupId) -> Result<Group> {
        Ok(self.store.get_group(id).await?)
    }

    /// `GET /v1/groups/`: oldest first unless `page` says otherwise.
    pub async fn list_groups(&self, filter: &GroupFilter, page: &Page) -> Result<Vec<Group>> {
        Ok(self.store.list_groups(filter, page).await?)
    }

    /// `GET /v1/groups/count`: every group, hidden ones too, as Letta counts them.
    pub async fn count_groups(&self) -> Result<u64> {
        let all = GroupFilter {
            show_hidden: true,
            ..GroupFilter::default()
        };
        Ok(self.store.count_groups(&all).await?)
    }

    /// `PATCH /v1/groups/{id}`: the manager's kind cannot change; empty members or
    /// description leave them as they are (Letta's reading of falsy values).
    pub async fn update_group(&self, id: GroupId, req: GroupUpdate) -> Result<Group> {
        let group = self.store.get_group(id).await?;
        if let Some(update) = &req.manager_config {
            check_update(&group, update)?;
        }
        let members = req.agent_ids.clone().filter(|ids| !ids.is_empty());
        if let Some(ids) = &members {
            self.check_members(group.manager_type, ids).await?;
        }
        let manager = req.manager_config.as_ref().and_then(new_manager);
        if let Some(manager) = manager {
            self.store.get_agent(manager).await?;
        }
        let blocks_added = req
            .shared_block_ids
            .as_ref()
            .is_some_and(|ids| ids.iter().any(|b| !group.shared_block_ids.contains(b)));
        let edit = Box::new(move |g: &mut Group| {
            if let Some(update) = &req.manager_config {
                update.apply(g);
            }
            if let Some(ids) = members {
                g.agent_ids = ids;
            }
            if let Some(d) = req.description.filter(|d| !d.is_empty()) {
                g.description = d;
            }
            if let Some(p) = req.project_id {
                g.project_id = Some(p);
            }
            if let Some(blocks) = req.shared_block_ids {
                g.shared_block_ids = blocks;
            }
            Ok(())
        });
        let updated = self.store.update_group(id, edit).await?;
        if updated.manager_agent_id != group.manager_agent_id {
            self.equip_supervisor(&updated).await?;
        }
        if blocks_added {
            self.recompile_group(&updated).await?;
        }
        Ok(updated)
    }

    /// `DELETE /v1/groups/{id}`: the group only; its agents and blocks stay.
    pub async fn delete_group(&self, id: GroupId) -> Result<()> {
        self.store.delete_group(id, false).await?;
        self.group_locks.forget(id);
        Ok(())
    }

    /// `PATCH /v1/groups/{id}/blocks/attach/{block_id}`: the block joins the group's shared
    /// blocks and every member and the manager; their system prompts show it at once.
    pub async fn attach_group_block(&self, id: GroupId, block: BlockId) -> Result<()> {
        self.store.attach_group_block(id, block).await?;
        let group = self.store.get_group(id).await?;
        self.recompile_group(&group).await
    }

    /// `PATCH /v1/groups/{id}/blocks/detach/{block_id}`: the block leaves the group's shared
    /// blocks; the agents keep it. A block the group does not share is no error, as in Letta.
    pub async fn detach_group_block(&self, id: GroupId, block: BlockId) -> Result<()> {
        self.store.get_group(id).await?;
        self.store.get_block(block).await?;
        match self.store.detach_group_block(id, block).await {
            Ok(()) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /v1/agents/{id}/groups`: the groups the agent is a member of, newest first by
    /// default. An unknown manager type matches no group.
    pub async fn groups_of_agent(
        &self,
        agent: AgentId,
        manager_type: Option<&str>,
        page: &Page,
    ) -> Result<Vec<Group>> {
        self.store.get_agent(agent).await?;
        let kind = match manager_type.filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => match t.parse::<ManagerType>() {
                Ok(kind) => Some(kind),
                Err(_) => return Ok(Vec::new()),
            },
        };
        let groups = self.store.groups_of_agent(agent, kind).await?;
        Ok(crate::agents::page_in_order(groups, page, |g| {
            g.id.to_string()
        }))
    }

    /// `GET /v1/groups/{id}/messages`: the messages of the group's exchanges, of every agent,
    /// paged as an agent's messages are (oldest first whichever `order`), each rendered as
    /// its own agent's messages render.
    pub async fn list_group_messages(
        &self,
        id: GroupId,
        q: ListMessages,
    ) -> Result<Vec<LettaMessage>> {
        let query = ListMessages {
            conversation: None,
            ..q.clone()
        }
        .query();
        let stored = self.store.group_messages(id, &query).await?;
        let mut native: HashMap<AgentId, bool> = HashMap::new();
        let mut out = Vec::with_capacity(stored.len());
        for m in &stored {
            let is_native = match native.get(&m.agent_id) {
                Some(n) => *n,
                None => {
                    let agent = self.store.get_agent(m.agent_id).await?;
                    *native
                        .entry(m.agent_id)
                        .or_insert(render_native(&agent.agent_type))
                }
            };
            out.extend(letta_messages(m, &overridden(is_native, q.render.as_ref())));
        }
        Ok(filter_types(out, &q.include_types))
    }

    /// `PATCH /v1/groups/{id}/messages/{message_id}`: as the agent route edits its messages;
    /// a message of no exchange of this group is a 404.
    pub async fn modify_group_message(
        &self,
        id: GroupId,
        message: MessageId,
        update: MessageUpdate,
    ) -> Result<LettaMessage> {
        self.store.get_group(id).await?;
        let stored = self.store.get_message(message).await?;
        if stored.group_id != Some(id.to_string()) {
            return Err(StoreError::not_found("Message", message).into());
        }
        self.modify_message(stored.agent_id, message, update).await
    }

    /// `PATCH /v1/groups/{id}/reset-messages`: deletes the group's messages and takes them
    /// out of the contexts that held them, while no exchange of the group and no turn of its
    /// agents runs.
    pub async fn reset_group_messages(&self, id: GroupId) -> Result<()> {
        let group = self.store.get_group(id).await?;
        let _exchange = self.group_exchange(id).await;
        let agents = agents_of(&group);
        let mut held = Vec::with_capacity(agents.len());
        for agent in &agents {
            held.push(self.scheduler.exclusive(Thread::default_of(*agent)).await);
        }
        self.store.reset_group_messages(id).await?;
        drop(held);
        for agent in agents {
            self.recompile(agent).await?;
        }
        Ok(())
    }

    /// Members must exist (404); a dynamic group names each agent once and no two agents of
    /// one name, since its manager chooses speakers by name (400, as Letta).
    async fn check_members(&self, kind: ManagerType, ids: &[AgentId]) -> Result<()> {
        let mut names: Vec<String> = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let agent = self.store.get_agent(*id).await?;
            if kind != ManagerType::Dynamic {
                continue;
            }
            if ids[..i].contains(id) {
                return Err(ServiceError::bad("Duplicate agent ids found in list"));
            }
            if names.contains(&agent.name) {
                return Err(ServiceError::bad(
                    "Duplicate agent names found in the provided agent IDs.",
                ));
            }
            names.push(agent.name);
        }
        Ok(())
    }

    /// A supervisor reaches its members through `send_message_to_all_agents_in_group`: it
    /// gets the tool when the group is made and when it becomes the manager.
    async fn equip_supervisor(&self, group: &Group) -> Result<()> {
        let Some(manager) = group.manager_agent_id else {
            return Ok(());
        };
        if group.manager_type != ManagerType::Supervisor {
            return Ok(());
        }
        let tools = self
            .store
            .tools_by_name(&[SUPERVISOR_TOOL.to_owned()])
            .await?;
        let tool = tools.first().ok_or_else(|| {
            ServiceError::Internal(format!("the built-in tool {SUPERVISOR_TOOL} is missing"))
        })?;
        Ok(self.store.attach_tool(manager, tool.id).await?)
    }

    /// Rebuilds the system prompts of the group's members and manager (shared blocks
    /// changed).
    async fn recompile_group(&self, group: &Group) -> Result<()> {
        for agent in agents_of(group) {
            self.recompile(agent).await?;
        }
        Ok(())
    }
}

/// The members and the manager, each once, in a fixed order (locks are taken in it).
fn agents_of(group: &Group) -> Vec<AgentId> {
    let mut agents: Vec<AgentId> = group
        .agent_ids
        .iter()
        .chain(&group.manager_agent_id)
        .copied()
        .collect();
    agents.sort_by_key(|a| a.to_string());
    agents.dedup();
    agents
}

/// The manager a configuration update names, if any.
fn new_manager(update: &ManagerConfigUpdate) -> Option<AgentId> {
    match update {
        ManagerConfigUpdate::RoundRobin { .. } => None,
        ManagerConfigUpdate::Supervisor { manager_agent_id }
        | ManagerConfigUpdate::Dynamic {
            manager_agent_id, ..
        }
        | ManagerConfigUpdate::Sleeptime {
            manager_agent_id, ..
        }
        | ManagerConfigUpdate::VoiceSleeptime {
            manager_agent_id, ..
        } => *manager_agent_id,
    }
}

/// A configuration update must be of the group's kind; a voice sleep-time one keeps its
/// buffer lengths valid together with those it does not change.
fn check_update(group: &Group, update: &ManagerConfigUpdate) -> Result<()> {
    if update.manager_type() != group.manager_type {
        return Err(ServiceError::bad(
            "Cannot change group pattern after creation",
        ));
    }
    if let ManagerConfigUpdate::VoiceSleeptime {
        max_message_buffer_length,
        min_message_buffer_length,
        ..
    } = update
    {
        check_buffer_lengths(
            max_message_buffer_length.or(group.max_message_buffer_length),
            min_message_buffer_length.or(group.min_message_buffer_length),
        )?;
    }
    Ok(())
}

/// Letta's rule for a voice sleep-time group's buffer: both lengths or neither, each above
/// 4, the maximum above the minimum (400 otherwise, in Letta's words).
fn check_buffer_lengths(max: Option<u32>, min: Option<u32>) -> Result<()> {
    let (max_name, min_name) = ("max_message_buffer_length", "min_message_buffer_length");
    let show = |v: Option<u32>| v.map_or("None".to_owned(), |v| v.to_string());
    let (max, min) = match (max, min) {
        (None, None) => return Ok(()),
        (Some(max), Some(min)) => (max, min),
        _ => {
            return Err(ServiceError::bad(format!(
                "Both '{max_name}' and '{min_name}' must be provided together (got {max_name}={}, {min_name}={})",
                show(max),
                show(min)
            )));
        }
    };
    if max <= 4 || min <= 4 {
        return Err(ServiceError::bad(format!(
            "Both '{max_name}' and '{min_name}' must be greater than 4 (got {max_name}={max}, {min_name}={min})"
        )));
    }
    if max <= min {
        return Err(ServiceError::bad(format!(
            "'{max_name}' must be greater than '{min_name}' (got {max_name}={max} <= {min_name}={min})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_lengths_follow_letta_rules() {
        assert!(check_buffer_lengths(None, None).is_ok());
        assert!(check_buffer_lengths(Some(10), Some(5)).is_ok());
        for (max, min, why) in [
            (Some(10), None, "provided together"),
            (Some(10), Some(4), "greater than 4"),
            (Some(6), Some(6), "must be greater than 'min"),
        ] {
            let err = check_buffer_lengths(max, min).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }
}
