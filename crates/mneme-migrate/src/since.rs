//! `--since`: agents an earlier run copied are brought level with the source by what changed
//! there since a time, read from the newest end of their histories and archives, so that a
//! final run during a cut-over costs seconds per agent rather than a whole history.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use mneme_service::{CatchUp, CaughtUp, Service};
use mneme_types::{AgentId, GroupId, MessageId};

use crate::client::{PAGE, Source};
use crate::report::Report;
use crate::{AGENT_INCLUDE, MigrateError, Migrated, Result, VIEWS, agents, history, letta};

/// Listed times are to the second (Letta's message listing): the window opens a little early,
/// and what the target holds already is recognised by id.
const SLACK: Duration = Duration::seconds(2);

/// The pages of the newest-first reads: small, since a cut-over's window is short and a
/// passage comes with its vector.
const RECENT_PAGE: usize = 20;

/// A unit the target holds, as the source shows it now within the window.
pub(crate) struct Unit {
    agents: Vec<(AgentId, CatchUp)>,
    /// Its sleep-time groups' state: (group, turns counter, last processed message).
    groups: Vec<(GroupId, Option<i64>, Option<MessageId>)>,
}

pub(crate) async fn read(
    src: &Source,
    unit: &[String],
    groups: &[letta::Group],
    since: DateTime<Utc>,
) -> Result<Unit> {
    let members: HashSet<&String> = unit.iter().collect();
    let groups = groups
        .iter()
        .filter(|g| g.agents().any(|a| members.contains(a)))
        .filter_map(|g| {
            let last = g.last_processed_message_id.as_deref();
            Some((
                g.id.parse().ok()?,
                g.turns_counter,
                last.and_then(|m| m.parse().ok()),
            ))
        })
        .collect();
    Ok(Unit {
        agents: agents_of(src, unit, since).await?,
        groups,
    })
}

/// Each agent of the unit as the source shows it now within the window.
async fn agents_of(
    src: &Source,
    unit: &[String],
    since: DateTime<Utc>,
) -> Result<Vec<(AgentId, CatchUp)>> {
    let from = since - SLACK;
    let mut out = Vec::with_capacity(unit.len());
    // A block the unit's agents share is brought by the first of them.
    let mut seen: HashSet<String> = HashSet::new();
    for id in unit {
        let parsed: AgentId = id
            .parse()
            .map_err(|_| MigrateError::Source(format!("agent {id}: not an agent id")))?;
        let mut up = agent(src, id, from).await?;
        up.blocks.retain(|(block, _)| seen.insert(block.clone()));
        out.push((parsed, up));
    }
    Ok(out)
}

async fn agent(src: &Source, id: &str, from: DateTime<Utc>) -> Result<CatchUp> {
    let agent: letta::Agent = src.get(&format!("/v1/agents/{id}?{AGENT_INCLUDE}")).await?;
    let send_message = agent
        .tools
        .iter()
        .any(|t| t.name.as_deref() == Some("send_message"));
    let listed = messages(src, id, from).await?;
    let blocks = agent
        .blocks()
        .filter_map(|b| Some((b.id.clone(), b.value.clone()?)))
        .collect();
    let context = agent.message_ids.unwrap_or_default();
    Ok(CatchUp {
        messages: history::stored(&listed, send_message),
        system: system(src, id, &context).await?,
        context,
        blocks,
        archival: passages(src, id, from).await?,
    })
}

/// The text of the context's system message, when it is the history's first message (as an
/// agent's is from its creation): the source recompiles it in place when memory changes.
async fn system(src: &Source, id: &str, context: &[String]) -> Result<Option<(String, String)>> {
    let first: Vec<letta::ListedMessage> = src
        .get(&format!(
            "/v1/agents/{id}/messages?order=asc&limit=1&{VIEWS}"
        ))
        .await?;
    Ok(first
        .into_iter()
        .next()
        .filter(|m| m.message_type == "system_message" && context.first() == Some(&m.id))
        .map(|m| {
            let text = history::text_of(m.content.as_ref());
            (m.id, text)
        }))
}

/// The history's views from `from` on, oldest first: the newest end is searched for the last
/// message before `from`, and the listing read forward after it (in its own order, which
/// keeps each message's views as the full listing has them).
async fn messages(
    src: &Source,
    id: &str,
    from: DateTime<Utc>,
) -> Result<Vec<letta::ListedMessage>> {
    let newest_first = format!("/v1/agents/{id}/messages?order=desc&{VIEWS}");
    let (_, before) = src
        .list_while(
            &newest_first,
            None,
            RECENT_PAGE,
            |m: &letta::ListedMessage| m.date >= from,
        )
        .await?;
    let forward = format!("/v1/agents/{id}/messages?order=asc&{VIEWS}");
    let (listed, _) = src
        .list_while(&forward, before.map(|m| m.id), PAGE, |_| true)
        .await?;
    Ok(listed)
}

/// The archive's passages created from `from` on, oldest first.
async fn passages(src: &Source, id: &str, from: DateTime<Utc>) -> Result<mneme_service::Archival> {
    let newest_first = format!("/v1/agents/{id}/archival-memory?ascending=false");
    let (mut listed, _) = src
        .list_while(&newest_first, None, RECENT_PAGE, |p: &letta::Passage| {
            p.created_at.is_none_or(|at| at >= from)
        })
        .await?;
    listed.reverse();
    agents::with_archive(src, listed).await
}

/// The unit's agents brought level (nothing written in a dry run), and counted.
pub(crate) async fn write(
    service: &Service,
    dry_run: bool,
    read: Unit,
    report: &mut Report,
    migrated: &mut Migrated,
) -> Result<()> {
    for (id, up) in read.agents {
        // Brought level here: not to be looked at again with the blocks of no agent.
        migrated
            .blocks
            .extend(up.blocks.iter().map(|(block, _)| block.clone()));
        let done: CaughtUp = service.catch_up(id, up, dry_run).await?;
        report.copied("messages", done.messages);
        report.copied("passages", done.passages);
        report.copied("block_values", done.blocks);
        if !done.context_taken && done.messages > 0 {
            report.note(format!(
                "agent {id}: its context on the source names messages the target does not hold; the new messages were appended to its context here"
            ));
        }
        if done.unkept > 0 {
            report.note(format!(
                "agent {id}: {} new messages or passages have ids of another kind and were left behind",
                done.unkept
            ));
        }
        for block in done.unknown_blocks {
            report.note(format!(
                "agent {id}: block {block} was attached on the source after the first run; --since does not attach blocks"
            ));
        }
    }
    for (id, turns, last) in read.groups {
        if service.set_group_state(id, turns, last, dry_run).await? {
            report.copied("group_states", 1);
        }
    }
    Ok(())
}
