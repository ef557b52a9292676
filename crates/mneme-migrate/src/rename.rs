//! An exported Agent File names everything by file-local ids (`agent-0`, `block-1`, ...); the
//! source server's answers give the real ones. The file is rewritten to the real ids so that the
//! import keeps them, and the files of agents that must arrive together are merged into one.

use std::collections::{HashMap, HashSet};

use mneme_types::agent_file::AgentFile;
use serde_json::Value;

/// What a file's local ids stand for on the source. A local id it does not know is tagged
/// with the file's own tag, so that two files' `block-0` never meet in a merge (and the tagged
/// id, not one of the server's, gets a fresh one at import).
pub(crate) struct Renames {
    map: HashMap<String, String>,
    tag: String,
}

impl Renames {
    pub(crate) fn new(tag: String) -> Renames {
        Renames {
            map: HashMap::new(),
            tag,
        }
    }

    pub(crate) fn insert(&mut self, local: &str, real: &str) {
        self.map.insert(local.to_owned(), real.to_owned());
    }

    pub(crate) fn knows(&self, local: &str) -> bool {
        self.map.contains_key(local)
    }

    fn apply(&self, id: &mut String) {
        *id = match self.map.get(id.as_str()) {
            Some(real) => real.clone(),
            None => format!("{}:{id}", self.tag),
        };
    }

    fn apply_all(&self, ids: &mut [String]) {
        ids.iter_mut().for_each(|id| self.apply(id));
    }
}

/// Every id of the file rewritten. Groups and identities are left out: the migration reads
/// them from the source whole, with every member, rather than one agent's view of them.
pub(crate) fn rename(file: &mut AgentFile, r: &Renames) {
    for agent in &mut file.agents {
        r.apply(&mut agent.id);
        for ids in [
            &mut agent.block_ids,
            &mut agent.tool_ids,
            &mut agent.source_ids,
            &mut agent.folder_ids,
        ] {
            ids.iter_mut().for_each(|ids| r.apply_all(ids));
        }
        r.apply_all(&mut agent.in_context_message_ids);
        agent.messages.iter_mut().for_each(|m| r.apply(&mut m.id));
        for fa in &mut agent.files_agents {
            r.apply(&mut fa.agent_id);
            r.apply(&mut fa.file_id);
            r.apply(&mut fa.source_id);
        }
        agent.group_ids.clear();
        agent.identity_ids = None;
    }
    file.blocks.iter_mut().for_each(|b| r.apply(&mut b.id));
    for t in &mut file.tools {
        r.apply(&mut t.id);
        let server = t
            .metadata_
            .as_mut()
            .and_then(|m| m.get_mut("mcp"))
            .and_then(|mcp| mcp.get_mut("server_id"));
        if let Some(Value::String(id)) = server {
            r.apply(id);
        }
    }
    file.sources.iter_mut().for_each(|s| r.apply(&mut s.id));
    for f in &mut file.files {
        r.apply(&mut f.id);
        r.apply(&mut f.source_id);
    }
    file.mcp_servers.iter_mut().for_each(|s| r.apply(&mut s.id));
    file.groups.clear();
}

/// `from`'s agents added to `into`, and whatever else of it `into` does not hold yet (a block
/// or tool two agents share arrives once).
pub(crate) fn merge(into: &mut AgentFile, from: AgentFile) {
    fn add<T>(into: &mut Vec<T>, from: Vec<T>, id: impl Fn(&T) -> &str) {
        let held: HashSet<String> = into.iter().map(|x| id(x).to_owned()).collect();
        into.extend(from.into_iter().filter(|x| !held.contains(id(x))));
    }
    into.agents.extend(from.agents);
    add(&mut into.blocks, from.blocks, |b| &b.id);
    add(&mut into.tools, from.tools, |t| &t.id);
    add(&mut into.sources, from.sources, |s| &s.id);
    add(&mut into.files, from.files, |f| &f.id);
    add(&mut into.mcp_servers, from.mcp_servers, |s| &s.id);
}
