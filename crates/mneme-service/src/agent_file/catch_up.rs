//! A migrated agent brought level with its source again (`mneme migrate from-letta --since`):
//! the messages and passages it gained there and its blocks' new values, written in one
//! transaction with the context the source holds now, so that a cut-over costs only the
//! changes since the last run.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use mneme_store::{BlockChange, HistoryAppend, PassageList};
use mneme_types::agent_file::MessageSchema;
use mneme_types::{AgentId, ArchiveId, Block, MessageId, PassageId, time};

use super::messages::stored;
use super::migrated::{Archival, passage};
use crate::{Result, Service};

/// What the source shows of an agent the target holds.
#[derive(Debug, Clone, Default)]
pub struct CatchUp {
    /// Its messages of the window, oldest first (those the target holds are left alone).
    pub messages: Vec<MessageSchema>,
    /// Its in-context message ids now, in order.
    pub context: Vec<String>,
    /// Its blocks' values now, as (block id, value).
    pub blocks: Vec<(String, String)>,
    /// Its passages of the window (those the target holds are left alone).
    pub archival: Archival,
    /// Its system message now, as (message id, text), when the source shows it.
    pub system: Option<(String, String)>,
}

/// What a catch-up wrote (or, in a dry run, would write).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaughtUp {
    pub messages: u64,
    pub passages: u64,
    pub blocks: u64,
    /// Whether the source's context could be taken as it is (every message of it is here);
    /// otherwise the new messages were appended to the target's.
    pub context_taken: bool,
    /// Blocks of the source's agent that the target's does not have (attached since the first
    /// run): a catch-up does not attach them.
    pub unknown_blocks: Vec<String>,
    /// New messages (and passages) left behind: their ids are not of this server's kind, so a
    /// later run could not tell them from ones it had not copied.
    pub unkept: u64,
}

impl Service {
    /// Writes what `agent` gained on its source (nothing in a dry run), in one transaction.
    pub async fn catch_up(&self, agent: AgentId, up: CatchUp, dry_run: bool) -> Result<CaughtUp> {
        let held = self.store.get_agent(agent).await?;
        let shown = up.system.is_some();
        let (messages, unkept) = self.new_messages(agent, &up.messages).await?;
        let (message_ids, context_taken) = self.context(&held, &messages, &up.context).await?;
        let (block_changes, unknown_blocks) = self.block_changes(agent, &up.blocks).await?;
        let foreign = up
            .archival
            .passages
            .iter()
            .filter(|p| p.id.parse::<PassageId>().is_err())
            .count();
        let passages = self.new_passages(&held, up.archival).await?;
        let system_text = self.system_text(&message_ids, up.system).await?;
        let done = CaughtUp {
            messages: messages.len() as u64,
            passages: passages.len() as u64,
            blocks: block_changes.len() as u64,
            context_taken,
            unknown_blocks,
            unkept: unkept + foreign as u64,
        };
        let unchanged = messages.is_empty()
            && passages.is_empty()
            && block_changes.is_empty()
            && system_text.is_none()
            && message_ids == held.message_ids;
        if dry_run || unchanged {
            return Ok(done);
        }
        // When the source does not show its system text, the system messages of the agents
        // sharing a changed block are recompiled here (a crash before that is healed by the
        // next turn, which recompiles a stale one).
        let recompile: Vec<mneme_types::BlockId> = match shown {
            true => Vec::new(),
            false => block_changes
                .iter()
                .filter_map(|c| match c {
                    BlockChange::Update { block, .. } => Some(block.id),
                    _ => None,
                })
                .collect(),
        };
        self.store
            .append_history(HistoryAppend {
                agent_id: agent,
                messages,
                message_ids,
                message_ids_version: held.message_ids_version,
                block_changes,
                passages,
                system_text,
                created_at: time::now(),
            })
            .await?;
        for block in recompile {
            self.recompile_block_agents(block).await?;
        }
        Ok(done)
    }

    /// The source's system text, for the context's system message here, when it differs.
    async fn system_text(
        &self,
        context: &[MessageId],
        system: Option<(String, String)>,
    ) -> Result<Option<(MessageId, String)>> {
        let Some((id, text)) = system else {
            return Ok(None);
        };
        let Some(id) = id.parse().ok().filter(|id| context.first() == Some(id)) else {
            return Ok(None);
        };
        let held = self.store.messages_by_ids(&[id]).await?;
        Ok(held.first().filter(|m| m.text != text).map(|_| (id, text)))
    }

    /// The messages the target does not hold yet, as stored, under their source ids, and how
    /// many have ids that are not of this server's kind (left behind).
    async fn new_messages(
        &self,
        agent: AgentId,
        listed: &[MessageSchema],
    ) -> Result<(Vec<mneme_store::Message>, u64)> {
        let ids: Vec<MessageId> = listed.iter().filter_map(|m| m.id.parse().ok()).collect();
        let held: HashSet<MessageId> = self
            .store
            .messages_by_ids(&ids)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect();
        let unkept = (listed.len() - ids.len()) as u64;
        let mut out = Vec::new();
        for m in listed {
            let Ok(id) = m.id.parse::<MessageId>() else {
                continue;
            };
            if !held.contains(&id) {
                let mut message = stored(m, agent);
                message.id = id;
                out.push(message);
            }
        }
        Ok((out, unkept))
    }

    /// Updates of the target's blocks whose value differs from the source's (a limit raised
    /// to fit, as an import does), and the source's blocks the target's agent lacks.
    async fn block_changes(
        &self,
        agent: AgentId,
        source: &[(String, String)],
    ) -> Result<(Vec<BlockChange>, Vec<String>)> {
        let held: Vec<Block> = self.store.agent_blocks(agent).await?;
        let (mut changes, mut unknown) = (Vec::new(), Vec::new());
        for (id, value) in source {
            let Some(b) = held.iter().find(|b| b.id.to_string() == *id) else {
                unknown.push(id.clone());
                continue;
            };
            if b.value == *value {
                continue;
            }
            let mut block = b.clone();
            block.value = value.clone();
            block.limit = block.limit.max(value.chars().count());
            changes.push(BlockChange::Update {
                expected: b.value.clone(),
                block,
            });
        }
        Ok((changes, unknown))
    }

    /// The window's passages the target does not hold, in the agent's archive (the source's
    /// if the target holds it), each with a vector as an import gives it.
    async fn new_passages(
        &self,
        agent: &mneme_store::Agent,
        archival: Archival,
    ) -> Result<Vec<mneme_store::Passage>> {
        if archival.passages.is_empty() {
            return Ok(Vec::new());
        }
        let config = agent.embedding_config.as_ref();
        let archives = self.store.agent_archives(agent.id).await?;
        let wanted: Option<ArchiveId> = archival.archive_id.as_deref().and_then(|a| a.parse().ok());
        let archive = match archives.into_iter().find(|a| Some(a.id) == wanted) {
            Some(a) => a,
            None => crate::search::default_archive(self.store.as_ref(), agent).await?,
        };
        let oldest = archival.passages.iter().filter_map(|p| p.created_at).min();
        let held = self.held_passages(archive.id, oldest).await?;
        // A passage whose id is not of this server's kind would get a fresh one, and be
        // copied again by every later run: left behind, as such messages are.
        let mut passages: Vec<mneme_store::Passage> = archival
            .passages
            .into_iter()
            .filter(|p| p.id.parse::<PassageId>().is_ok())
            .map(|p| passage(p, &archive, config, true))
            .filter(|p| !held.contains(&p.id))
            .collect();
        self.embed_missing(&mut passages, config).await?;
        Ok(passages)
    }

    /// The ids of the archive's passages created at or after `since` (all with no `since`):
    /// a migrated passage keeps its source's creation time, so the window is the same here.
    async fn held_passages(
        &self,
        archive: ArchiveId,
        since: Option<DateTime<Utc>>,
    ) -> Result<HashSet<PassageId>> {
        let mut held = HashSet::new();
        let mut query = PassageList {
            limit: 500,
            ascending: false,
            ..PassageList::default()
        };
        loop {
            let page = self.store.list_passages(&[archive], &query).await?;
            let done = page.len() < query.limit as usize;
            let mut older = false;
            for p in &page {
                older |= since.is_some_and(|s| p.created_at < s);
                held.insert(p.id);
            }
            match page.last() {
                Some(last) if !done && !older => query.after = Some(last.id),
                _ => return Ok(held),
            }
        }
    }

    /// The context after the catch-up: the source's when every message of it is the agent's
    /// here (held or new), else the target's with the new messages appended.
    async fn context(
        &self,
        held: &mneme_store::Agent,
        new: &[mneme_store::Message],
        context: &[String],
    ) -> Result<(Vec<MessageId>, bool)> {
        let source: Vec<MessageId> = context.iter().filter_map(|id| id.parse().ok()).collect();
        let known: HashSet<MessageId> = self
            .store
            .messages_by_ids(&source)
            .await?
            .iter()
            .chain(new)
            .filter(|m| m.agent_id == held.id)
            .map(|m| m.id)
            .collect();
        let whole = !source.is_empty()
            && source.len() == context.len()
            && source.iter().all(|id| known.contains(id));
        if whole {
            return Ok((source, true));
        }
        let mut ids = held.message_ids.clone();
        ids.extend(new.iter().map(|m| m.id));
        Ok((ids, false))
    }
}
