//! One unit of agents (those that share blocks, folders or a group): read from the source,
//! several units ahead of the writes since the source's answers are the slow part, then
//! written in one transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use mneme_service::{Archival, ImportOptions, Include, Service, ServiceError};
use mneme_types::agent_file::AgentFile;
use mneme_types::{AgentId, McpServer};

use crate::origin::Origin;
use crate::report::Report;
use crate::{Migrated, Options, Result, agents, letta, rename};

/// What reading a unit found.
pub(crate) enum Read {
    /// The target holds something else under one of its ids.
    Collision(String),
    Unit {
        /// Its agents the target holds (an earlier run wrote them).
        present: usize,
        /// What changed on the source since a time, for the agents present (`--since`).
        catch_up: Option<crate::since::Unit>,
        /// Its other agents (all of them on a first run; those the source gained since, on a
        /// later one), read whole.
        ready: Option<Box<Ready>>,
    },
}

/// A unit read whole, to be written.
pub(crate) struct Ready {
    /// Its agents' files merged, with the source's ids.
    file: AgentFile,
    /// Each agent's passages, by agent id.
    archival: HashMap<String, Archival>,
    /// How many messages each agent could not keep the id of.
    renamed: Vec<(String, usize)>,
    messages: u64,
    passages: u64,
}

/// The unit's agents read from the source: those the target does not hold whole, those it
/// holds only for what changed since a time (`since`).
pub(crate) async fn read(
    service: &Service,
    src: &Origin,
    unit: &[String],
    groups: &[letta::Group],
    servers: &[McpServer],
    since: Option<DateTime<Utc>>,
    names: &HashMap<&str, &str>,
) -> Result<Read> {
    let present = match presence(service, unit, names).await? {
        Presence::Held(present) => present,
        Presence::Collision(why) => return Ok(Read::Collision(why)),
    };
    let absent: Vec<String> = unit
        .iter()
        .filter(|id| !present.contains(id))
        .cloned()
        .collect();
    let catch_up = match since {
        Some(since) if !present.is_empty() => {
            Some(crate::since::read(src.http()?, &present, groups, since).await?)
        }
        _ => None,
    };
    let ready = match absent.is_empty() {
        true => None,
        false => Some(Box::new(read_whole(src, &absent, groups, servers).await?)),
    };
    Ok(Read::Unit {
        present: present.len(),
        catch_up,
        ready,
    })
}

/// Agents read whole, their files merged (what they share arrives once), with their groups.
async fn read_whole(
    src: &Origin,
    unit: &[String],
    groups: &[letta::Group],
    servers: &[McpServer],
) -> Result<Ready> {
    let mut file: Option<AgentFile> = None;
    let (mut archival, mut renamed) = (HashMap::new(), Vec::new());
    let (mut messages, mut passages) = (0, 0);
    for (i, id) in unit.iter().enumerate() {
        let agent = src.agent(id).await?;
        let exported = src.export(&agent, servers, i).await?;
        renamed.push((id.clone(), exported.renamed_messages));
        messages += exported.file.agents[0].messages.len() as u64;
        passages += exported.archival.passages.len() as u64;
        archival.insert(id.clone(), exported.archival);
        match file.as_mut() {
            Some(f) => rename::merge(f, exported.file),
            None => file = Some(exported.file),
        }
    }
    let Some(mut file) = file else {
        return Err(crate::MigrateError::Source("a unit of no agents".into()));
    };
    let members: HashSet<&String> = unit.iter().collect();
    file.groups = groups
        .iter()
        .filter(|g| g.agents().any(|a| members.contains(a)))
        .filter_map(agents::group)
        .collect();
    Ok(Ready {
        file,
        archival,
        renamed,
        messages,
        passages,
    })
}

/// The unit written (nothing in a dry run), and counted: its new agents in one transaction,
/// each catch-up in one of its own.
pub(crate) async fn write(
    service: &Service,
    opts: &Options,
    unit: &[String],
    read: Read,
    report: &mut Report,
    migrated: &mut Migrated,
) -> Result<()> {
    let (present, catch_up, ready) = match read {
        Read::Collision(why) => {
            for id in unit {
                report.skip("agents", format!("agent {id}: {why}"));
            }
            return Ok(());
        }
        Read::Unit {
            present,
            catch_up,
            ready,
        } => (present, catch_up, ready),
    };
    report.present("agents", present as u64);
    if let Some(up) = catch_up {
        crate::since::write(service, opts.dry_run, up, report, migrated).await?;
    }
    match ready {
        Some(ready) => write_whole(service, opts, *ready, report, migrated).await,
        None => Ok(()),
    }
}

/// Agents read whole, in one transaction with ids kept: what the target holds of theirs (a
/// block or folder they share with agents an earlier run brought) is attached, not made.
async fn write_whole(
    service: &Service,
    opts: &Options,
    ready: Ready,
    report: &mut Report,
    migrated: &mut Migrated,
) -> Result<()> {
    let Ready {
        file,
        archival,
        renamed,
        messages,
        passages,
    } = ready;
    migrated
        .blocks
        .extend(file.blocks.iter().map(|b| b.id.clone()));
    migrated
        .tools
        .extend(file.tools.iter().filter_map(|t| t.name.clone()));
    let mut counted = count(&file, file.agents.len());
    for (kind, n) in held(service, &file).await? {
        if let Some(c) = counted.iter_mut().find(|(k, _)| *k == kind) {
            c.1 -= n.min(c.1);
        }
        report.present(kind, n);
    }
    if !opts.dry_run {
        let import = ImportOptions {
            override_existing_tools: false,
            append_copy_suffix: false,
            embedding: opts.embedding.clone(),
            keep_ids: true,
            ..ImportOptions::default()
        };
        service.import_file(file, import, archival).await?;
    }
    for (kind, n) in counted {
        report.copied(kind, n);
    }
    report.copied("messages", messages);
    report.copied("passages", passages);
    for (id, n) in renamed.into_iter().filter(|(_, n)| *n > 0) {
        report.note(format!(
            "agent {id}: {n} messages got new ids (the source's history listing did not name them)"
        ));
    }
    Ok(())
}

/// What of a unit's merged file the target holds already (shared with agents of the unit an
/// earlier run brought): not written again.
async fn held(service: &Service, file: &AgentFile) -> Result<[(&'static str, u64); 3]> {
    let (mut blocks, mut folders, mut groups) = (0, 0, 0);
    for b in &file.blocks {
        if let Ok(id) = b.id.parse() {
            blocks += u64::from(found(service.get_block(id).await)?);
        }
    }
    for f in &file.sources {
        if let Ok(id) = f.id.parse() {
            folders += u64::from(found(service.get_folder(id).await)?);
        }
    }
    for g in &file.groups {
        if let Ok(id) = g.id.parse() {
            groups += u64::from(found(service.get_group(id).await)?);
        }
    }
    Ok([("blocks", blocks), ("folders", folders), ("groups", groups)])
}

fn found<T>(r: mneme_service::Result<T>) -> Result<bool> {
    match r {
        Ok(_) => Ok(true),
        Err(ServiceError::Store(mneme_store::StoreError::NotFound { .. })) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The counts of a unit's merged file: what its agents share counts once. The server's own
/// tools (`letta_*` types) are matched by name, never copied.
fn count(file: &AgentFile, agents: usize) -> [(&'static str, u64); 6] {
    let custom = file
        .tools
        .iter()
        .filter(|t| !t.tool_type.starts_with("letta_"));
    [
        ("agents", agents as u64),
        ("groups", file.groups.len() as u64),
        ("blocks", file.blocks.len() as u64),
        ("tools", custom.count() as u64),
        ("folders", file.sources.len() as u64),
        ("files", file.files.len() as u64),
    ]
}

enum Presence {
    /// These of the unit's agents are in the target under their ids and names (none, some or
    /// all: a unit gains agents when they are added to its shared blocks, folders or groups).
    Held(Vec<String>),
    Collision(String),
}

/// Which of the unit's agents the target holds under their ids and names, unless it holds
/// something else under one of their ids.
/// `names` are the source's agents' names, as its listing at the start of the run gave them.
async fn presence(
    service: &Service,
    unit: &[String],
    names: &HashMap<&str, &str>,
) -> Result<Presence> {
    let mut held = Vec::new();
    for id in unit {
        let Ok(parsed) = id.parse::<AgentId>() else {
            continue;
        };
        match service.get_agent(parsed, Include::default()).await {
            Ok(there) => {
                if names.get(id.as_str()) != Some(&there.name.as_str()) {
                    return Ok(Presence::Collision(format!(
                        "the target holds another agent ({:?}) under this id",
                        there.name
                    )));
                }
                held.push(id.clone());
            }
            Err(ServiceError::Store(mneme_store::StoreError::NotFound { .. })) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Presence::Held(held))
}
