//! The reference check: every id a file uses names an object of that file.

use std::collections::HashSet;

use super::{AgentFile, AgentFileError, AgentSchema, MessageRole};

/// Odd but importable: reported, not refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentFileWarning {
    /// A tool result names a call that no message of its agent made (Letta's export keeps
    /// only the newest messages, so the call may be cut off).
    UnansweredToolReturn {
        agent_id: String,
        message_id: String,
        tool_call_id: String,
    },
    /// A tool rule names a tool the agent is not given in this file (it may be a built-in
    /// tool the importing server attaches).
    RuleForMissingTool { agent_id: String, tool_name: String },
    /// An agent names a group the file does not hold: Letta exports a sleeptime agent's
    /// `group_ids` without the group (agent-file collection's ezra.af), and its importer ignores
    /// them.
    GroupNotInFile { agent_id: String, group_id: String },
    /// An agent's `source_ids` (or `folder_ids`) names a source the file does not hold: Letta
    /// exports only the sources of files an agent holds, so an attached folder without such
    /// files is named but missing. The importer skips it.
    SourceNotInFile { agent_id: String, source_id: String },
    /// A legacy file's `multi_agent_group` was set; groups of that layout are not imported.
    LegacyGroupDropped,
}

type Ids<'a> = HashSet<&'a str>;

/// The ids of one kind of object, refusing duplicates.
fn ids<'a, T>(
    items: &'a [T],
    what: &str,
    id: impl Fn(&'a T) -> &'a str,
) -> Result<Ids<'a>, AgentFileError> {
    let mut set = HashSet::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if !set.insert(id(item)) {
            return Err(AgentFileError::DuplicateId {
                path: format!("{what}[{i}].id"),
                id: id(item).to_owned(),
            });
        }
    }
    Ok(set)
}

fn check<'a>(
    set: &Ids<'_>,
    kind: &'static str,
    path: impl Fn(usize) -> String,
    refs: impl IntoIterator<Item = &'a String>,
) -> Result<(), AgentFileError> {
    for (i, id) in refs.into_iter().enumerate() {
        if !set.contains(id.as_str()) {
            return Err(AgentFileError::DanglingReference {
                path: path(i),
                kind,
                id: id.clone(),
            });
        }
    }
    Ok(())
}

struct FileIds<'a> {
    agents: Ids<'a>,
    blocks: Ids<'a>,
    tools: Ids<'a>,
    groups: Ids<'a>,
    files: Ids<'a>,
    sources: Ids<'a>,
}

/// Checks every reference; returns the warnings.
pub(crate) fn validate(file: &AgentFile) -> Result<Vec<AgentFileWarning>, AgentFileError> {
    let ids = FileIds {
        agents: ids(&file.agents, "agents", |a| &a.id)?,
        blocks: ids(&file.blocks, "blocks", |b| &b.id)?,
        tools: ids(&file.tools, "tools", |t| &t.id)?,
        groups: ids(&file.groups, "groups", |g| &g.id)?,
        files: ids(&file.files, "files", |f| &f.id)?,
        sources: ids(&file.sources, "sources", |s| &s.id)?,
    };
    ids_of(&file.mcp_servers, "mcp_servers", |m| &m.id)?;
    for (i, f) in file.files.iter().enumerate() {
        let path = |_| format!("files[{i}].source_id");
        check(&ids.sources, "source", path, [&f.source_id])?;
    }
    check_groups(file, &ids)?;
    let mut message_ids = HashSet::new();
    let mut warnings = Vec::new();
    for (a, agent) in file.agents.iter().enumerate() {
        check_agent(a, agent, &ids)?;
        for (m, msg) in agent.messages.iter().enumerate() {
            if !message_ids.insert(msg.id.as_str()) {
                return Err(AgentFileError::DuplicateId {
                    path: format!("agents[{a}].messages[{m}].id"),
                    id: msg.id.clone(),
                });
            }
        }
        warnings.extend(missing_groups(agent, &ids.groups));
        warnings.extend(missing_sources(agent, &ids.sources));
        warnings.extend(rule_warnings(file, agent));
        warnings.extend(tool_return_warnings(agent));
    }
    Ok(warnings)
}

fn ids_of<'a, T>(
    items: &'a [T],
    what: &str,
    id: impl Fn(&'a T) -> &'a str,
) -> Result<(), AgentFileError> {
    ids(items, what, id).map(|_| ())
}

fn check_groups(file: &AgentFile, ids: &FileIds<'_>) -> Result<(), AgentFileError> {
    for (g, group) in file.groups.iter().enumerate() {
        let agents = |i| format!("groups[{g}].agent_ids[{i}]");
        check(&ids.agents, "agent", agents, &group.agent_ids)?;
        let blocks = |i| format!("groups[{g}].shared_block_ids[{i}]");
        check(&ids.blocks, "block", blocks, &group.shared_block_ids)?;
        if let Some(manager) = group.manager_config.manager_agent_id() {
            let path = |_| format!("groups[{g}].manager_config.manager_agent_id");
            check(&ids.agents, "agent", path, [&manager.to_owned()])?;
        }
    }
    Ok(())
}

fn check_agent(a: usize, agent: &AgentSchema, ids: &FileIds<'_>) -> Result<(), AgentFileError> {
    let lists: [(&Ids<'_>, &'static str, &str, &Option<Vec<String>>); 2] = [
        (&ids.blocks, "block", "block_ids", &agent.block_ids),
        (&ids.tools, "tool", "tool_ids", &agent.tool_ids),
    ];
    for (set, kind, field, list) in lists {
        let path = |i| format!("agents[{a}].{field}[{i}]");
        check(set, kind, path, list.iter().flatten())?;
    }
    let messages: Ids<'_> = agent.messages.iter().map(|m| m.id.as_str()).collect();
    let path = |i| format!("agents[{a}].in_context_message_ids[{i}]");
    check(
        &messages,
        "message of this agent",
        path,
        &agent.in_context_message_ids,
    )?;
    for (f, fa) in agent.files_agents.iter().enumerate() {
        let at = |field: &'static str| move |_| format!("agents[{a}].files_agents[{f}].{field}");
        check(&ids.agents, "agent", at("agent_id"), [&fa.agent_id])?;
        check(&ids.files, "file", at("file_id"), [&fa.file_id])?;
        check(&ids.sources, "source", at("source_id"), [&fa.source_id])?;
    }
    Ok(())
}

fn missing_groups(agent: &AgentSchema, groups: &Ids<'_>) -> Vec<AgentFileWarning> {
    let missing = agent
        .group_ids
        .iter()
        .filter(|g| !groups.contains(g.as_str()));
    missing
        .map(|g| AgentFileWarning::GroupNotInFile {
            agent_id: agent.id.clone(),
            group_id: g.clone(),
        })
        .collect()
}

fn missing_sources(agent: &AgentSchema, sources: &Ids<'_>) -> Vec<AgentFileWarning> {
    let named = agent.source_ids.iter().chain(&agent.folder_ids).flatten();
    named
        .filter(|s| !sources.contains(s.as_str()))
        .map(|s| AgentFileWarning::SourceNotInFile {
            agent_id: agent.id.clone(),
            source_id: s.clone(),
        })
        .collect()
}

fn rule_warnings(file: &AgentFile, agent: &AgentSchema) -> Vec<AgentFileWarning> {
    let mine: HashSet<&str> = agent
        .tool_ids
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let names: HashSet<&str> = file
        .tools
        .iter()
        .filter(|t| mine.contains(t.id.as_str()))
        .filter_map(|t| t.name.as_deref())
        .collect();
    agent
        .tool_rules
        .iter()
        .flatten()
        .filter(|r| !names.contains(r.tool_name()))
        .map(|r| AgentFileWarning::RuleForMissingTool {
            agent_id: agent.id.clone(),
            tool_name: r.tool_name().to_owned(),
        })
        .collect()
}

fn tool_return_warnings(agent: &AgentSchema) -> Vec<AgentFileWarning> {
    let calls: HashSet<&str> = agent
        .messages
        .iter()
        .flat_map(|m| m.tool_calls.iter().flatten())
        .map(|c| c.id.as_str())
        .collect();
    let mut warnings = Vec::new();
    for m in agent
        .messages
        .iter()
        .filter(|m| m.role == MessageRole::Tool)
    {
        let returns = m.tool_returns.iter().flatten();
        let named = m
            .tool_call_id
            .iter()
            .chain(returns.filter_map(|r| r.tool_call_id.as_ref()));
        for id in named {
            if !calls.contains(id.as_str()) {
                warnings.push(AgentFileWarning::UnansweredToolReturn {
                    agent_id: agent.id.clone(),
                    message_id: m.id.clone(),
                    tool_call_id: id.clone(),
                });
            }
        }
    }
    warnings.dedup();
    warnings
}
