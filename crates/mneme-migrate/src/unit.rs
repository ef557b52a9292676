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
    /// The target holds all its agents: an earlier run wrote it.
    Present,
    /// The target holds something else under one of its ids, or only some of its agents.
    Collision(String),
    /// The target holds all its agents, and what changed on the source since a time is read.
    CatchUp(crate::since::Unit),
    Ready(Box<Ready>),
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

/// The unit's agents read from the source, unless the target holds them.
pub(crate) async fn read(
    service: &Service,
    src: &Origin,
    unit: &[String],
    groups: &[letta::Group],
    servers: &[McpServer],
    since: Option<DateTime<Utc>>,
) -> Result<Read> {
    match presence(service, src, unit).await? {
        Presence::All => {
            return Ok(match since {
                Some(since) => {
                    Read::CatchUp(crate::since::read(src.http()?, unit, groups, since).await?)
                }
                None => Read::Present,
            });
        }
        Presence::Collision(why) => return Ok(Read::Collision(why)),
        Presence::None => {}
    }
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
    Ok(Read::Ready(Box::new(Ready {
        file,
        archival,
        renamed,
        messages,
        passages,
    })))
}

/// The unit written in one transaction (nothing in a dry run), and counted.
pub(crate) async fn write(
    service: &Service,
    opts: &Options,
    unit: &[String],
    read: Read,
    report: &mut Report,
    migrated: &mut Migrated,
) -> Result<()> {
    let ready = match read {
        Read::Present => {
            report.present("agents", unit.len() as u64);
            return Ok(());
        }
        Read::Collision(why) => {
            for id in unit {
                report.skip("agents", format!("agent {id}: {why}"));
            }
            return Ok(());
        }
        Read::CatchUp(read) => {
            return crate::since::write(service, opts.dry_run, read, report, migrated).await;
        }
        Read::Ready(ready) => *ready,
    };
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
    let counted = count(&file, unit.len());
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
    None,
    All,
    Collision(String),
}

/// Whether the target holds the unit's agents: all of them under their ids and names (an
/// earlier run wrote the unit, in one transaction), none, or something else under one of
/// their ids.
async fn presence(service: &Service, src: &Origin, unit: &[String]) -> Result<Presence> {
    let mut found = 0;
    for id in unit {
        let Ok(parsed) = id.parse::<AgentId>() else {
            continue;
        };
        match service.get_agent(parsed, Include::default()).await {
            Ok(there) => {
                let source = src.agent_name(id).await?;
                if there.name != source {
                    return Ok(Presence::Collision(format!(
                        "the target holds another agent ({:?}) under this id",
                        there.name
                    )));
                }
                found += 1;
            }
            Err(ServiceError::Store(mneme_store::StoreError::NotFound { .. })) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(match found {
        0 => Presence::None,
        n if n == unit.len() => Presence::All,
        _ => Presence::Collision(
            "some agents of its unit (sharing blocks, folders or a group) are in the target and some are not".into(),
        ),
    })
}
