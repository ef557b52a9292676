//! Agents, read from the source: each one's Agent File export (its history, blocks, tools,
//! folders and files in Letta's own layout) with the file-local ids put back to the real ones
//! the source's other answers give, its archival passages beside it; and the groups of agents
//! that must arrive in one transaction because they share blocks, folders or a group.

use std::collections::{BTreeMap, HashMap, HashSet};

use mneme_service::{Archival, ArchivalPassage};
use mneme_types::agent_file::{
    AgentFile, GroupSchema, ManagerConfig, MessageRole, MessageSchema, read_agent_file,
};

use crate::client::Source;
use crate::rename::{Renames, rename};
use crate::{MigrateError, Result, VIEWS};
use crate::{history, letta};

/// The agents that go together, each list in the source's order: agents sharing a block or a
/// folder, or in one group (its manager too), are written in one transaction.
pub(crate) fn components(agents: &[letta::Agent], groups: &[letta::Group]) -> Vec<Vec<String>> {
    let index: HashMap<&str, usize> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    let mut parent: Vec<usize> = (0..agents.len()).collect();
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, a) in agents.iter().enumerate() {
        let shared = a.blocks().chain(&a.sources).map(|n| n.id.as_str());
        for id in shared {
            match owner.get(id) {
                Some(&j) => union(&mut parent, i, j),
                None => {
                    owner.insert(id, i);
                }
            }
        }
    }
    for g in groups {
        let members: Vec<usize> = g
            .agents()
            .filter_map(|id| index.get(id.as_str()).copied())
            .collect();
        for pair in members.windows(2) {
            union(&mut parent, pair[0], pair[1]);
        }
    }
    let mut out: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (i, a) in agents.iter().enumerate() {
        let root = find(&mut parent, i);
        out.entry(root).or_default().push(a.id.clone());
    }
    out.into_values().collect()
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    // The earlier agent stays the root, so components come out in the source's order.
    parent[ra.max(rb)] = ra.min(rb);
}

/// One agent as the import takes it: its file with real ids, its passages, and how many of
/// its messages could not keep their id.
pub(crate) struct Exported {
    pub(crate) file: AgentFile,
    pub(crate) archival: Archival,
    pub(crate) renamed_messages: usize,
}

/// The agent's export with the source's ids, and its passages. `tag` tells its unmapped
/// local ids from another file's.
pub(crate) async fn export(
    src: &Source,
    agent: &letta::Agent,
    servers: &[mneme_types::McpServer],
    tag: usize,
) -> Result<Exported> {
    let body = src.text(&format!("/v1/agents/{}/export", agent.id)).await?;
    let parsed = read_agent_file(body.as_bytes()).map_err(|e| {
        MigrateError::Source(format!(
            "the export of agent {} cannot be read: {e}",
            agent.id
        ))
    })?;
    drop(body);
    let mut file = parsed.file;
    keep_one_agent(&mut file, agent)?;
    let mut renames = Renames::new(format!("migrated-{tag}"));
    let own_id = file.agents[0].id.clone();
    renames.insert(&own_id, &agent.id);
    name_blocks(&file, agent, &mut renames);
    name_tools(&file, agent, &mut renames);
    name_servers(&file, servers, &mut renames);
    name_folders(src, &file, agent, &mut renames).await?;
    let listed: Vec<letta::ListedMessage> = src
        .list(&format!(
            "/v1/agents/{}/messages?order=asc&{VIEWS}",
            agent.id
        ))
        .await?;
    let renamed_messages = name_messages(&listed, &file, agent, &mut renames);
    rename(&mut file, &renames);
    let send_message = agent
        .tools
        .iter()
        .any(|t| t.name.as_deref() == Some("send_message"));
    with_history(&mut file, &listed, send_message);
    let archival = archival(src, &agent.id).await?;
    Ok(Exported {
        file,
        archival,
        renamed_messages,
    })
}

/// The file's agent that is `agent` (an export may bring others along: they are migrated on
/// their own), with only the blocks, tools, folders and files it uses.
fn keep_one_agent(file: &mut AgentFile, agent: &letta::Agent) -> Result<()> {
    if file.agents.is_empty() {
        return Err(MigrateError::Source(format!(
            "the export of agent {} holds no agent",
            agent.id
        )));
    }
    let at = file
        .agents
        .iter()
        .position(|a| a.name.as_deref() == Some(agent.name.as_str()))
        .unwrap_or(0);
    let kept = file.agents.swap_remove(at);
    let blocks: HashSet<&String> = kept.block_ids.iter().flatten().collect();
    let tools: HashSet<&String> = kept.tool_ids.iter().flatten().collect();
    let mut sources: HashSet<&String> = kept
        .source_ids
        .iter()
        .chain(&kept.folder_ids)
        .flatten()
        .collect();
    sources.extend(kept.files_agents.iter().map(|fa| &fa.source_id));
    file.blocks.retain(|b| blocks.contains(&b.id));
    file.tools.retain(|t| tools.contains(&t.id));
    file.sources.retain(|s| sources.contains(&s.id));
    file.files.retain(|f| sources.contains(&f.source_id));
    file.agents = vec![kept];
    Ok(())
}

/// Blocks by label: an agent holds one block of each label.
fn name_blocks(file: &AgentFile, agent: &letta::Agent, r: &mut Renames) {
    let by_label: HashMap<&str, &str> = agent
        .blocks()
        .filter_map(|b| Some((b.label.as_deref()?, b.id.as_str())))
        .collect();
    for b in &file.blocks {
        if let Some(real) = by_label.get(b.label.as_str()) {
            r.insert(&b.id, real);
        }
    }
}

/// Tools by name: names are unique on a server.
fn name_tools(file: &AgentFile, agent: &letta::Agent, r: &mut Renames) {
    let by_name: HashMap<&str, &str> = agent
        .tools
        .iter()
        .filter_map(|t| Some((t.name.as_deref()?, t.id.as_str())))
        .collect();
    for t in &file.tools {
        let name = t.name.as_deref().unwrap_or_default();
        if let Some(real) = by_name.get(name) {
            r.insert(&t.id, real);
        }
    }
}

/// MCP servers by name: names are unique on a server.
fn name_servers(file: &AgentFile, servers: &[mneme_types::McpServer], r: &mut Renames) {
    for s in &file.mcp_servers {
        if let Some(real) = servers.iter().find(|x| x.server_name == s.server_name) {
            r.insert(&s.id, &real.id.to_string());
        }
    }
}

/// Folders by name, and their files by file name within them (the source's file list).
async fn name_folders(
    src: &Source,
    file: &AgentFile,
    agent: &letta::Agent,
    r: &mut Renames,
) -> Result<()> {
    for s in &file.sources {
        let Some(real) = agent
            .sources
            .iter()
            .find(|x| x.name.as_deref() == Some(s.name.as_str()))
        else {
            continue;
        };
        r.insert(&s.id, &real.id);
        let listed: Vec<letta::Named> = src.list(&format!("/v1/folders/{}/files", real.id)).await?;
        // An export names a file `<folder>/<name>`; the folder's listing, `<name>`.
        let prefix = format!("{}/", s.name);
        for f in file.files.iter().filter(|f| f.source_id == s.id) {
            let Some(name) = f.file_name.as_deref() else {
                continue;
            };
            let name = name.strip_prefix(&prefix).unwrap_or(name);
            let same = |n: &letta::Named| {
                let names = [&n.file_name, &n.original_file_name];
                names.iter().any(|x| x.as_deref() == Some(name))
            };
            if let Some(found) = listed.iter().find(|n| same(n)) {
                r.insert(&f.id, &found.id);
            }
        }
    }
    Ok(())
}

/// The export's messages (its agent's context): by position against the agent's
/// `message_ids`; any others against the source's history listing, which gives each message's
/// id and time to the second only: within each second, in order, each message takes the next
/// listed id of its role. How many found no id.
fn name_messages(
    listed: &[letta::ListedMessage],
    file: &AgentFile,
    agent: &letta::Agent,
    r: &mut Renames,
) -> usize {
    let schema = &file.agents[0];
    let in_context = agent.message_ids.as_deref().unwrap_or_default();
    if in_context.len() == schema.in_context_message_ids.len() {
        for (local, real) in schema.in_context_message_ids.iter().zip(in_context) {
            r.insert(local, real);
        }
    }
    if schema.messages.iter().all(|m| r.knows(&m.id)) {
        return 0;
    }
    let mut used: HashSet<String> = in_context.iter().cloned().collect();
    let mut by_second: HashMap<i64, Vec<(&str, MessageRole)>> = HashMap::new();
    for m in listed {
        let Some(role) = history::role(&m.message_type) else {
            continue;
        };
        let ids = by_second.entry(m.date.timestamp()).or_default();
        if !ids.iter().any(|(id, _)| *id == m.id) {
            ids.push((&m.id, role));
        }
    }
    let mut missing = 0;
    for m in &schema.messages {
        if r.knows(&m.id) {
            continue;
        }
        let found = by_second
            .get(&m.created_at.timestamp())
            .into_iter()
            .flatten()
            .find(|(id, role)| !used.contains(*id) && *role == m.role);
        match found {
            Some((id, _)) => {
                used.insert((*id).to_owned());
                r.insert(&m.id, id);
            }
            None => missing += 1,
        }
    }
    missing
}

/// The agent's whole history in the listing's order: the export's message where it has one
/// (it holds the context, in full), else the one its listed views give back; the export's
/// messages the listing does not show come last.
fn with_history(file: &mut AgentFile, listed: &[letta::ListedMessage], send_message: bool) {
    let agent = &mut file.agents[0];
    let mut exported: HashMap<String, MessageSchema> = std::mem::take(&mut agent.messages)
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect();
    let order: Vec<String> = agent_order(&exported, listed);
    let mut restored: HashMap<String, MessageSchema> = history::stored(listed, send_message)
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect();
    for id in order {
        if let Some(m) = exported.remove(&id).or_else(|| restored.remove(&id)) {
            agent.messages.push(m);
        }
    }
}

/// Every message id once: the listing's in order, then the export's it does not show (in the
/// export's order, which is by time).
fn agent_order(
    exported: &HashMap<String, MessageSchema>,
    listed: &[letta::ListedMessage],
) -> Vec<String> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut order: Vec<String> = Vec::new();
    for m in listed {
        if seen.insert(&m.id) {
            order.push(m.id.clone());
        }
    }
    let mut rest: Vec<&MessageSchema> = exported
        .values()
        .filter(|m| !seen.contains(m.id.as_str()))
        .collect();
    rest.sort_by_key(|m| m.created_at);
    order.extend(rest.into_iter().map(|m| m.id.clone()));
    order
}

/// The agent's archival passages, oldest first, with their archive.
async fn archival(src: &Source, agent: &str) -> Result<Archival> {
    let listed: Vec<letta::Passage> = src
        .list(&format!(
            "/v1/agents/{agent}/archival-memory?ascending=true"
        ))
        .await?;
    with_archive(src, listed).await
}

/// Listed passages with the archive they are in.
pub(crate) async fn with_archive(src: &Source, listed: Vec<letta::Passage>) -> Result<Archival> {
    let archive_id = listed.iter().find_map(|p| p.archive_id.clone());
    let archive = match &archive_id {
        // An older server has no archives: the passages go to a new one of the agent's.
        Some(id) => src
            .get::<letta::Archive>(&format!("/v1/archives/{id}"))
            .await
            .ok(),
        None => None,
    };
    let passages = listed
        .into_iter()
        .map(|p| ArchivalPassage {
            id: p.id,
            text: p.text,
            tags: p.tags.unwrap_or_default(),
            metadata: p.metadata,
            embedding: p.embedding,
            embedding_config: p.embedding_config,
            created_at: p.created_at,
        })
        .collect();
    Ok(Archival {
        archive_id,
        archive_name: archive.as_ref().map(|a| a.name.clone()),
        archive_description: archive.and_then(|a| a.description),
        passages,
    })
}

/// A source group as an Agent File's, its ids the source's.
pub(crate) fn group(g: &letta::Group) -> Option<GroupSchema> {
    let manager = || g.manager_agent_id.clone();
    let config = match g.manager_type.as_str() {
        "round_robin" => ManagerConfig::RoundRobin {
            max_turns: g.max_turns,
        },
        "supervisor" => ManagerConfig::Supervisor {
            manager_agent_id: manager()?,
        },
        "dynamic" => ManagerConfig::Dynamic {
            manager_agent_id: manager()?,
            termination_token: g.termination_token.clone(),
            max_turns: g.max_turns,
        },
        "sleeptime" => ManagerConfig::Sleeptime {
            manager_agent_id: manager()?,
            sleeptime_agent_frequency: g.sleeptime_agent_frequency,
        },
        "voice_sleeptime" => ManagerConfig::VoiceSleeptime {
            manager_agent_id: manager()?,
            max_message_buffer_length: g.max_message_buffer_length,
            min_message_buffer_length: g.min_message_buffer_length,
        },
        _ => return None,
    };
    Some(GroupSchema {
        agent_ids: g.agent_ids.clone(),
        description: g.description.clone().unwrap_or_default(),
        manager_config: config,
        project_id: g.project_id.clone(),
        shared_block_ids: g.shared_block_ids.clone(),
        hidden: g.hidden,
        id: g.id.clone(),
        turns_counter: g.turns_counter,
        last_processed_message_id: g.last_processed_message_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, blocks: &[&str], sources: &[&str]) -> letta::Agent {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": id,
            "blocks": blocks.iter().map(|b| serde_json::json!({"id": b, "label": b})).collect::<Vec<_>>(),
            "sources": sources.iter().map(|s| serde_json::json!({"id": s, "name": s})).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn agents_sharing_a_block_a_folder_or_a_group_go_together_in_source_order() {
        let agents = [
            agent("a", &["b1"], &[]),
            agent("b", &["b2"], &["s1"]),
            agent("c", &["b1"], &[]),
            agent("d", &["b3"], &["s1"]),
            agent("e", &["b4"], &[]),
            agent("f", &["b5"], &[]),
            agent("g", &["b6"], &[]),
        ];
        let group: letta::Group = serde_json::from_value(serde_json::json!({
            "id": "group-1", "manager_type": "sleeptime", "agent_ids": ["g"], "manager_agent_id": "e"
        }))
        .unwrap();
        let units = components(&agents, &[group]);
        assert_eq!(
            units,
            vec![vec!["a", "c"], vec!["b", "d"], vec!["e", "g"], vec!["f"]]
        );
    }
}
