//! Sleep-time agents: a primary agent with `enable_sleeptime` gets a companion
//! (`<name>-sleeptime`, a `sleeptime_agent`) holding all of its blocks, and a `sleeptime` group
//! whose manager is the primary. Every `sleeptime_agent_frequency` turns of the primary, the
//! transcript of what it said since the companion last read goes to the companion in a run of
//! its own, queued in the background after the primary's turn is over: the primary's answer
//! never waits for it, and the companion's failures are only its own runs' failures. The
//! companion edits the shared blocks; the primary sees the edits from its next turn.

mod queue;
mod transcript;

use std::sync::{Arc, Mutex};

use mneme_store::{Agent, MessageQuery, NewAgent, Order};
use mneme_types::{
    AgentId, AgentType, Block, BlockId, CreateAgent, CreateBlock, Group, GroupId, LettaRequest,
    ManagerConfig, ManagerType, MessageCreate, MessageId, RunId, RunStatus, Thread,
};
use serde_json::{Map, Value};

use crate::sink::Delivery;
use crate::streaming::Target;
use crate::{Result, Service};

pub(crate) use queue::CompanionQueue;

/// Where a primary's turn leaves the runs of the companions it started.
pub(crate) type RunSlot = Arc<Mutex<Vec<RunId>>>;

/// Turns of the primary between two companion runs, for a new group (Letta's default).
pub(crate) const DEFAULT_FREQUENCY: u32 = 5;
/// `metadata.run_type` of a companion's runs, as Letta names them.
const RUN_TYPE: &str = "sleeptime_agent_send_message_async";
/// At most this many of the primary's latest messages go into one transcript.
const TRANSCRIPT_MESSAGES: u32 = 50;

/// What the companion's `memory_persona` block tells it at first (its policy, editable).
const MEMORY_PERSONA: &str = "I manage the memory of another agent while it is not talking. \
I read the conversations it had and keep its memory blocks accurate, concise and current: I \
add what is new and lasting (facts about the user, preferences, decisions, commitments), \
correct what became wrong, merge duplicates and remove what no longer matters. I write dates \
as absolute dates. When my edits are done I call memory_finish_edits.";

/// Whether `agent` asks for a companion: `enable_sleeptime` on an agent of a type that can
/// have one (not a sleep-time or voice agent itself).
pub(crate) fn wanted(agent: &Agent) -> bool {
    agent.settings.enable_sleeptime == Some(true) && can_have_companion(agent.agent_type)
}

fn can_have_companion(agent_type: AgentType) -> bool {
    !matches!(
        agent_type,
        AgentType::SleeptimeAgent | AgentType::VoiceConvoAgent | AgentType::VoiceSleeptimeAgent
    )
}

/// The default tools of a primary whose memory its companion edits: search, and no memory
/// editing. Letta also gives `send_message` to `letta_v1_agent`s, which answer in plain text
/// (its pitfall 22): they do not get it here.
pub(crate) fn primary_tool_names(agent_type: AgentType) -> &'static [&'static str] {
    match agent_type {
        AgentType::LettaV1Agent => &["conversation_search", "archival_memory_search"],
        t if can_have_companion(t)
            && !matches!(t, AgentType::ReactAgent | AgentType::WorkflowAgent) =>
        {
            &[
                "send_message",
                "conversation_search",
                "archival_memory_search",
            ]
        }
        t => mneme_agent::tools::default_tool_names(t),
    }
}

impl Service {
    /// The companion of `primary` (whose blocks are `blocks`) and their group, not stored yet.
    pub(crate) async fn companion(
        &self,
        primary: &Agent,
        blocks: &[Block],
    ) -> Result<(Group, NewAgent)> {
        let persona = CreateBlock {
            label: "memory_persona".into(),
            value: MEMORY_PERSONA.into(),
            description: Some("How to manage the other agent's memory.".into()),
            ..CreateBlock::default()
        };
        let req = CreateAgent {
            name: Some(format!("{}-sleeptime", primary.name)),
            agent_type: Some(AgentType::SleeptimeAgent),
            llm_config: Some(primary.llm_config.clone()),
            embedding_config: primary.embedding_config.clone(),
            memory_blocks: Some(vec![persona]),
            block_ids: Some(blocks.iter().map(|b| b.id).collect()),
            project_id: primary.project_id.clone(),
            ..CreateAgent::default()
        };
        let companion = self.build_agent(&req, blocks).await?.new;
        let manager = ManagerConfig::Sleeptime {
            manager_agent_id: primary.id,
            sleeptime_agent_frequency: Some(DEFAULT_FREQUENCY),
        };
        let description = format!("Sleep-time memory management for {}", primary.name);
        let group = Group::new(vec![companion.agent.id], description, &manager);
        Ok((group, companion))
    }

    /// `enable_sleeptime` changed on an existing agent: `on` creates the companion and the
    /// group (in one transaction) unless they exist, off deletes them.
    pub(crate) async fn set_sleeptime(&self, id: AgentId, on: bool) -> Result<()> {
        let agent = self.store.get_agent(id).await?;
        let groups = self.sleeptime_groups(id).await?;
        if on && groups.is_empty() && can_have_companion(agent.agent_type) {
            let blocks = self.store.agent_blocks(id).await?;
            let (group, companion) = self.companion(&agent, &blocks).await?;
            self.check_agent_quota(1).await?;
            self.store.create_group(group, vec![companion]).await?;
        } else if !on {
            self.delete_companions(id).await?;
        }
        Ok(())
    }

    /// Deletes the agent's sleep-time groups with their companions (whose runs stop).
    pub(crate) async fn delete_companions(&self, id: AgentId) -> Result<()> {
        for group in self.sleeptime_groups(id).await? {
            self.store.delete_group(group.id, true).await?;
            for companion in &group.agent_ids {
                for (_, run) in self.scheduler.active_runs(*companion) {
                    run.cancel.cancel();
                }
            }
        }
        Ok(())
    }

    /// A block attached to (detached from) a primary is attached to (detached from) its
    /// companions too, so that they keep managing all of its memory. Best effort: the
    /// primary's change stands whatever happens here.
    pub(crate) async fn follow_blocks(&self, agent: AgentId, block: BlockId, attach: bool) {
        let groups = match self.sleeptime_groups(agent).await {
            Ok(groups) => groups,
            Err(e) => return tracing::warn!(error = %e, %agent, "cannot read sleep-time groups"),
        };
        for companion in groups.iter().flat_map(|g| g.agent_ids.iter().copied()) {
            let changed = match attach {
                true => self.store.attach_block(companion, block).await,
                false => self.store.detach_block(companion, block).await,
            };
            let recompiled = match changed {
                Ok(()) => self.recompile(companion).await.map(|_| ()),
                Err(mneme_store::StoreError::NotFound { .. }) if !attach => Ok(()),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = recompiled {
                tracing::warn!(error = %e, %companion, %block, "companion block not updated");
            }
        }
    }

    pub(crate) async fn sleeptime_groups(&self, agent: AgentId) -> Result<Vec<Group>> {
        let groups = self.store.managed_groups(agent).await?;
        Ok(groups
            .into_iter()
            .filter(|g| g.manager_type == ManagerType::Sleeptime)
            .collect())
    }

    /// After a turn of a primary in `thread` that produced `last` (its last message): counts
    /// the turn in each sleep-time group and, when the frequency says so, queues a run of each
    /// companion with the transcript since the group's last one. The runs queued.
    pub(crate) async fn trigger_companions(
        &self,
        thread: Thread,
        last: MessageId,
    ) -> Result<Vec<RunId>> {
        let mut runs = Vec::new();
        for group in self.sleeptime_groups(thread.agent).await? {
            let Some(since) = self.count_turn(group.id, last).await? else {
                continue;
            };
            let Some(request) = self.companion_request(thread, since).await? else {
                continue;
            };
            for companion in &group.agent_ids {
                runs.push(self.queue_companion(group.id, *companion, &request).await?);
            }
        }
        Ok(runs)
    }

    /// Counts a turn of the group's primary, in one write with reading the counter. When the
    /// companions are due, records `last` as what they will have read and answers what they
    /// had read before (`Some(None)`: nothing yet).
    async fn count_turn(
        &self,
        group: GroupId,
        last: MessageId,
    ) -> Result<Option<Option<MessageId>>> {
        let due: Arc<Mutex<Option<Option<MessageId>>>> = Arc::default();
        let out = due.clone();
        let edit = Box::new(move |g: &mut Group| {
            let fire = match g.sleeptime_agent_frequency.filter(|f| *f > 0) {
                Some(every) => {
                    let counter = (g.turns_counter.unwrap_or(-1) + 1) % i64::from(every);
                    g.turns_counter = Some(counter);
                    counter == 0
                }
                None => true,
            };
            if fire {
                let before = g.last_processed_message_id.replace(last);
                *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(before);
            }
            Ok(())
        });
        self.store.update_group(group, edit).await?;
        let answer = due.lock().unwrap_or_else(|e| e.into_inner()).take();
        Ok(answer)
    }

    /// The companion's input: the primary's messages after `since` (its latest
    /// `TRANSCRIPT_MESSAGES`, oldest first) as a transcript. `None` when there is nothing to read.
    async fn companion_request(
        &self,
        thread: Thread,
        since: Option<MessageId>,
    ) -> Result<Option<LettaRequest>> {
        let agent = self.store.get_agent(thread.agent).await?;
        let mut query = MessageQuery {
            after: since,
            limit: TRANSCRIPT_MESSAGES,
            order: Order::Desc,
            conversation: thread.conversation,
            ..MessageQuery::default()
        };
        let messages = match self.store.list_messages(thread.agent, &query).await {
            Ok(messages) => messages,
            // The last message read is gone (a reset): read the latest ones.
            Err(mneme_store::StoreError::NotFound { .. }) => {
                query.after = None;
                self.store.list_messages(thread.agent, &query).await?
            }
            Err(e) => return Err(e.into()),
        };
        let lines = transcript::lines(&messages);
        if lines.is_empty() {
            return Ok(None);
        }
        let text = transcript::input(agent.agent_type, &lines);
        let message = MessageCreate {
            role: Some("user".into()),
            content: Some(Value::String(text)),
            ..MessageCreate::default()
        };
        Ok(Some(LettaRequest {
            messages: Some(vec![message]),
            ..LettaRequest::default()
        }))
    }

    /// Records the companion's run (`created`) and queues its turn.
    async fn queue_companion(
        &self,
        group: GroupId,
        companion: AgentId,
        request: &LettaRequest,
    ) -> Result<RunId> {
        let mut metadata = Map::new();
        metadata.insert("run_type".into(), RUN_TYPE.into());
        metadata.insert("agent_id".into(), companion.to_string().into());
        let target = Target {
            group: Some(group),
            metadata: Some(metadata),
            ..Target::agent(companion)
        };
        let (job, _) = self
            .prepare_as(target, request, false, RunStatus::Created)
            .await?;
        let run = job.turn.run_id;
        let (turn, sink) = self.sink(job, Delivery::None);
        self.companions.push(group, turn, sink);
        Ok(run)
    }
}

/// The companions' runs a primary's turn started, for `usage.run_ids` (`None` when none).
pub(crate) fn started(slot: Option<RunSlot>) -> Option<Vec<String>> {
    let runs = slot?.lock().unwrap_or_else(|e| e.into_inner()).clone();
    (!runs.is_empty()).then(|| runs.iter().map(ToString::to_string).collect())
}
