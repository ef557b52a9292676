//! Message requests as scheduler jobs: streamed (foreground or background), async and blocking;
//! stream resumption from a background run's chunk log, cancellation, chunk-log pruning.

use std::sync::Arc;
use std::time::Duration;

use mneme_agent::TurnOutput;
use mneme_scheduler::{Scheduler, TurnJob};
use mneme_store::{Store, StoreError};
use mneme_types::{
    AgentId, CancelledRuns, LettaRequest, LlmConfig, Run, RunId, RunStatus, Thread, time,
};
use tokio::sync::mpsc;

use crate::chunks::{Chunker, SseEvent};
use crate::render::RenderOptions;
use crate::sink::{Delivery, Presentation, RunSink};
use crate::{Result, Service, ServiceError};

/// Chunks of background runs are kept this long after the run ends, by default (Letta: 3 hours).
pub const CHUNK_RETENTION: Duration = Duration::from_secs(3 * 3600);

/// How often expired chunk logs are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// A stream of SSE events for one run.
pub struct MessageStream {
    pub run_id: RunId,
    pub events: mpsc::Receiver<SseEvent>,
}

/// Where a request's turn runs and how it enters: the agent routes wait for the thread, the
/// conversation routes are refused while it is busy (as Letta's).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) thread: Thread,
    pub(crate) refuse_if_busy: bool,
    /// The conversation's model, in place of the agent's unless the request overrides it.
    pub(crate) model: Option<LlmConfig>,
    /// The group the turn runs for (a group message, a sleep-time companion's run).
    pub(crate) group: Option<mneme_types::GroupId>,
    /// The run's `metadata`.
    pub(crate) metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Target {
    /// An agent route's request: the default conversation, waiting for its turn.
    pub(crate) fn agent(agent: AgentId) -> Target {
        Target {
            thread: Thread::default_of(agent),
            refuse_if_busy: false,
            model: None,
            group: None,
            metadata: None,
        }
    }
}

/// One turn to run, with how to report it.
pub(crate) struct Job {
    pub(crate) turn: TurnJob,
    pub(crate) opts: RenderOptions,
    pub(crate) types: Vec<String>,
    pub(crate) include_pings: bool,
    /// Tools whose calls wait for the client (rules and client tools), for token streams.
    pub(crate) approval_tools: Vec<String>,
    /// A sleep-time primary's turn: where its companions' runs are left.
    pub(crate) companions: Option<crate::sleeptime::RunSlot>,
}

impl Service {
    /// `POST /v1/agents/{id}/messages/stream` (and `streaming: true`): starts the turn and
    /// returns its events once it holds the agent. Errors before the stream starts (404, 422,
    /// 409 while an approval is pending) are returned as errors.
    pub async fn stream_message(
        &self,
        agent_id: AgentId,
        req: LettaRequest,
    ) -> Result<MessageStream> {
        self.stream_to(Target::agent(agent_id), req).await
    }

    /// A streamed request's turn in `target`.
    pub(crate) async fn stream_to(
        &self,
        target: Target,
        req: LettaRequest,
    ) -> Result<MessageStream> {
        let (job, background) = self
            .prepare_as(target, &req, true, RunStatus::Running)
            .await?;
        let run = job.turn.run_id;
        if background {
            let (turn, sink) = self.sink(job, Delivery::Log { seq: 0 });
            self.scheduler.start(turn, sink).await?;
            return self.resume_stream(run, 0).await;
        }
        let (tx, rx) = mpsc::channel(256);
        let (turn, sink) = self.sink(job, Delivery::Client(tx));
        self.scheduler.start(turn, sink).await?;
        Ok(MessageStream {
            run_id: run,
            events: rx,
        })
    }

    /// `POST /v1/agents/{id}/messages/async`: answers the run at once; the turn goes on.
    pub async fn send_message_async(&self, agent_id: AgentId, req: LettaRequest) -> Result<Run> {
        let (job, _) = self
            .prepare_as(Target::agent(agent_id), &req, false, RunStatus::Created)
            .await?;
        let run = self.get_run(job.turn.run_id).await?;
        let (turn, sink) = self.sink(job, Delivery::None);
        self.scheduler.spawn(turn, sink);
        Ok(run)
    }

    /// `override_model`: this request's model in place of the agent's. An unknown handle is
    /// the same 404 as at agent creation, before any run is recorded.
    pub(crate) async fn override_config(
        &self,
        req: &LettaRequest,
    ) -> Result<Option<mneme_types::LlmConfig>> {
        match req.override_model.as_deref().filter(|h| !h.is_empty()) {
            Some(handle) => Ok(Some(self.models.resolve_llm(handle, None).await?)),
            None => Ok(None),
        }
    }

    /// Runs a blocking request's turn as a detached job and waits for it.
    pub(crate) async fn run_blocking(&self, job: Job) -> Result<TurnOutput> {
        let (turn, sink) = self.sink(job, Delivery::None);
        let running = self.scheduler.start(turn, sink).await?;
        Ok(running.outcome().await?)
    }

    /// Validates a request and records its run in the target's thread; the job is ready to
    /// execute.
    pub(crate) async fn prepare_as(
        &self,
        target: Target,
        req: &LettaRequest,
        streaming: bool,
        status: RunStatus,
    ) -> Result<(Job, bool)> {
        let (job, background, record) = self.plan(target, req, streaming, status).await?;
        self.store.create_run(record).await?;
        Ok((job, background))
    }

    /// Validates a request and builds its job with the run to record before it executes
    /// (`prepare_as` records it alone, a batch with the others).
    pub(crate) async fn plan(
        &self,
        target: Target,
        req: &LettaRequest,
        streaming: bool,
        status: RunStatus,
    ) -> Result<(Job, bool, mneme_store::RunRecord)> {
        let thread = target.thread;
        let agent_id = thread.agent;
        let inputs = crate::messages::input_messages(agent_id, req, streaming)?;
        let client_tools = crate::messages::client_tools(req)?;
        let approval = crate::messages::approval_answer(agent_id, req)?;
        let agent = self.store.get_agent(agent_id).await?;
        let llm_config = self.override_config(req).await?;
        let version = self.admissible(&target, &agent, approval.is_none()).await?;
        let llm_config = llm_config.or(target.model);
        let background = streaming && req.background == Some(true);
        let mut record = crate::messages::new_run(agent_id, req, background, status);
        record.conversation_id = thread.conversation;
        record.data.metadata = target.metadata;
        let stream_tokens = streaming && req.stream_tokens == Some(true);
        let compaction = self
            .compaction_options(&agent, req, llm_config.as_ref())
            .await;
        let turn = TurnJob {
            agent_id,
            conversation_id: thread.conversation,
            refuse_if_busy: target.refuse_if_busy,
            run_id: record.id,
            inputs,
            checked_version: approval.is_none().then_some(version),
            approval,
            max_steps: req.max_steps.unwrap_or(crate::messages::DEFAULT_MAX_STEPS),
            stream_tokens,
            queued: status == RunStatus::Created,
            wants_events: streaming,
            client_tools: client_tools.clone(),
            llm_config,
            compaction,
            system: crate::messages::system_overrides(req),
            group_id: target.group,
        };
        let job = Job {
            turn,
            opts: crate::messages::render_options(&agent.agent_type, req),
            types: req.include_return_message_types.clone().unwrap_or_default(),
            include_pings: streaming && req.include_pings.unwrap_or(true),
            approval_tools: approval_tools(&agent, &client_tools),
            companions: crate::sleeptime::wanted(&agent).then(Default::default),
        };
        Ok((job, background, record))
    }

    /// The scheduler's job and the sink that reports it as Letta's chunks.
    pub(crate) fn sink(&self, job: Job, delivery: Delivery) -> (TurnJob, RunSink) {
        let run = job.turn.run_id;
        let chunker = Chunker::new(run, job.opts, job.turn.stream_tokens, job.approval_tools);
        let after = job.companions.map(|runs| crate::sink::AfterTurn {
            service: self.clone(),
            thread: job.turn.thread(),
            runs,
        });
        let sink = RunSink {
            after,
            run,
            store: self.store.clone(),
            searcher: self.searcher.clone(),
            delivery,
            presentation: Presentation {
                chunker,
                types: job.types,
                include_pings: job.include_pings,
            },
        };
        (job.turn, sink)
    }

    /// Refuses early, so that no run is recorded, what the scheduler would refuse once the job
    /// holds the thread (it checks again then): a busy conversation, a pending approval
    /// (`new_input`). The version of the thread's context that was checked.
    async fn admissible(
        &self,
        target: &Target,
        agent: &mneme_store::Agent,
        new_input: bool,
    ) -> Result<u64> {
        if target.refuse_if_busy {
            self.refuse_while_busy(target.thread)?;
        }
        // The default conversation's context is on the agent row read already: no second read.
        let conversation;
        let (ids, version) = match target.thread.conversation {
            None => (&agent.message_ids, agent.message_ids_version),
            Some(id) => {
                conversation = self.store.get_conversation(id).await?;
                (&conversation.message_ids, conversation.message_ids_version)
            }
        };
        if new_input {
            self.refuse_while_pending(ids).await?;
        }
        Ok(version)
    }

    /// New input while another request's turn runs in the thread is a 409 (conversation
    /// routes), before any run is recorded; the scheduler checks again at admission.
    fn refuse_while_busy(&self, thread: Thread) -> Result<()> {
        match self.scheduler.active_runs_of(thread).first() {
            Some((run, _)) => Err(ServiceError::ConversationBusy { run: Some(*run) }),
            None => Ok(()),
        }
    }

    /// New input while the thread waits for an approval is a 409, before any run starts.
    pub(crate) async fn refuse_while_pending(&self, ids: &[mneme_types::MessageId]) -> Result<()> {
        match self.scheduler.pending_approval(ids).await? {
            Some(request) => Err(ServiceError::PendingApproval(request.id)),
            None => Ok(()),
        }
    }

    /// `POST /v1/runs/{id}/stream`: the chunks of a background run after `starting_after`,
    /// then new ones as they come, until the run's `[DONE]`.
    pub async fn resume_stream(&self, run_id: RunId, starting_after: u64) -> Result<MessageStream> {
        let run = self.store.get_run(run_id).await?;
        if !run.background {
            return Err(ServiceError::bad(format!(
                "Run {run_id} was not created with background=true; its stream cannot be resumed"
            )));
        }
        let expired = run.completed_at.is_some_and(|t| {
            (time::now() - t).to_std().unwrap_or_default() > self.config.chunk_retention
        });
        if expired {
            return Err(ServiceError::Expired(format!(
                "EXPIRED: the stream of run {run_id} is no longer kept"
            )));
        }
        let (tx, rx) = mpsc::channel(256);
        let store = self.store.clone();
        let scheduler = self.scheduler.clone();
        tokio::spawn(async move { tail(store, scheduler, run_id, starting_after, tx).await });
        Ok(MessageStream { run_id, events: rx })
    }

    /// `POST /v1/agents/{id}/messages/cancel`: cancels the agent's running runs (or those
    /// listed); each stops at its next step boundary or model-call await. With no run active,
    /// the run whose approval request the agent waits on is the one cancelled: as in Letta,
    /// its pending calls are denied, so the agent is not left blocked.
    pub async fn cancel_runs(
        &self,
        agent_id: AgentId,
        run_ids: Option<Vec<RunId>>,
    ) -> Result<CancelledRuns> {
        let agent = self.store.get_agent(agent_id).await?;
        let active = self.scheduler.active_runs(agent_id);
        let targets: Vec<RunId> = match run_ids {
            Some(ids) if !ids.is_empty() => ids,
            _ => self.runs_to_cancel(agent_id, &active).await?,
        };
        if targets.is_empty() {
            return match self
                .scheduler
                .cancel_approval(Thread::default_of(agent_id))
                .await?
            {
                Some(run) => Ok(CancelledRuns(vec![(run, RunStatus::Cancelled)])),
                None => Err(ServiceError::Conflict(format!(
                    "CONFLICT: No active runs to cancel for agent {agent_id}"
                ))),
            };
        }
        let all_active = targets.iter().all(|t| active.iter().any(|(r, _)| r == t));
        let waiting = match all_active {
            true => None,
            false => self.approval_run(&agent).await?,
        };
        let mut out: Vec<(RunId, RunStatus)> = Vec::with_capacity(targets.len());
        for id in targets {
            // A run listed twice is one key of the answer.
            if out.iter().any(|(r, _)| *r == id) {
                continue;
            }
            let status = match active.iter().find(|(r, _)| *r == id) {
                Some((_, run)) => {
                    run.cancel.cancel();
                    RunStatus::Cancelled
                }
                None if waiting == Some(id) => {
                    match self
                        .scheduler
                        .cancel_approval(Thread::default_of(agent_id))
                        .await?
                    {
                        Some(_) => RunStatus::Cancelled,
                        None => RunStatus::Failed,
                    }
                }
                None if self.cancel_remote(agent_id, id).await? => RunStatus::Cancelled,
                None => RunStatus::Failed,
            };
            out.push((id, status));
        }
        Ok(CancelledRuns(out))
    }

    /// The agent's runs a cancel without a list targets: those executing here and, with other
    /// replicas on the database, its active runs wherever they execute.
    async fn runs_to_cancel(
        &self,
        agent: AgentId,
        here: &[(RunId, mneme_scheduler::ActiveRun)],
    ) -> Result<Vec<RunId>> {
        let mut ids: Vec<RunId> = here.iter().map(|(id, _)| *id).collect();
        if self.config.coordination.shared().is_some() {
            let filter = mneme_store::RunFilter {
                agent_ids: vec![agent],
                active: true,
                ..Default::default()
            };
            let page = mneme_store::Page {
                limit: 1000,
                ..Default::default()
            };
            for run in self.store.list_runs(&filter, &page).await? {
                if !ids.contains(&run.id) {
                    ids.push(run.id);
                }
            }
        }
        Ok(ids)
    }

    /// Asks the replica executing the agent's run `id` to cancel it (shared coordination; the
    /// owner stops it within a heartbeat). Whether it was active; an unknown run, or one of
    /// another agent, is not.
    pub(crate) async fn cancel_remote(&self, agent: AgentId, id: RunId) -> Result<bool> {
        if self.config.coordination.shared().is_none() {
            return Ok(false);
        }
        match self.store.get_run(id).await {
            Ok(run) if run.agent_id == agent => Ok(self.scheduler.cancel_elsewhere(id).await?),
            Ok(_) | Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The run that raised the approval request the agent waits on (answerable or abandoned).
    async fn approval_run(&self, agent: &mneme_store::Agent) -> Result<Option<RunId>> {
        let Some(last) = agent.message_ids.last() else {
            return Ok(None);
        };
        let message = match self.store.get_message(*last).await {
            Ok(message) => message,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let request = mneme_agent::approval::pending_request(std::slice::from_ref(&message));
        Ok(request.and_then(|r| r.run_id))
    }

    /// Marks runs nothing will finish as failed (a previous process's; when shared, those of
    /// replicas that stopped), starts heart-beating when shared, and prunes expired chunk logs.
    pub(crate) async fn recover_runs(&self) -> Result<()> {
        if let Some(task) = self.scheduler.start_up().await? {
            if let Some(old) = self.lock_heartbeat().replace(task) {
                old.abort();
            }
            crate::search::spawn_shared_sync(self.searcher.clone(), &self.config.coordination);
        }
        self.prune_chunks().await
    }

    async fn prune_chunks(&self) -> Result<()> {
        let retention = chrono::Duration::from_std(self.config.chunk_retention).unwrap_or_default();
        let pruned = self.store.prune_chunks(time::now() - retention).await?;
        if pruned > 0 {
            tracing::debug!(pruned, "deleted expired stream chunks");
        }
        self.prune_traces().await
    }
}

/// Deletes expired chunk logs now and then, for as long as the process runs.
pub(crate) fn spawn_pruning(service: Service) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = service.prune_chunks().await {
                tracing::warn!(error = %e, "cannot prune stream chunks");
            }
        }
    });
}

/// Reads a run's chunk log after `after` and follows it until `[DONE]` or until the run ended
/// without one (a crash), waking on appends and polling as a fallback.
async fn tail(
    store: Arc<dyn Store>,
    scheduler: Scheduler,
    run: RunId,
    mut after: u64,
    tx: mpsc::Sender<SseEvent>,
) {
    loop {
        let waiter = scheduler.active(run).map(|a| a.appended);
        let notified = waiter.as_ref().map(|n| n.notified());
        let chunks = match store.read_chunks(run, after, 100).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, %run, "cannot read stream chunks");
                return;
            }
        };
        let got = !chunks.is_empty();
        for chunk in chunks {
            after = chunk.seq;
            let done = chunk.data == "[DONE]";
            // Logged chunks go out as they were stored: no parsing, no re-serializing.
            let event = match done {
                true => SseEvent::Done,
                false => SseEvent::Logged {
                    event: chunk.event,
                    data: chunk.data,
                },
            };
            if tx.send(event).await.is_err() || done {
                return;
            }
        }
        if got {
            continue;
        }
        let Some(notified) = notified else {
            // Not running here: finished (or interrupted) unless a last chunk is still unread.
            match store.get_run(run).await {
                Ok(r) if r.status.is_terminal() => {
                    if store
                        .read_chunks(run, after, 1)
                        .await
                        .map(|c| c.is_empty())
                        .unwrap_or(true)
                    {
                        return;
                    }
                    continue;
                }
                _ => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
    }
}

/// Names of the tools whose calls stop the turn for the client.
fn approval_tools(agent: &mneme_store::Agent, client: &[mneme_agent::ClientTool]) -> Vec<String> {
    let ruled = mneme_agent::system::tool_rules(agent)
        .into_iter()
        .filter_map(|r| match r {
            mneme_types::ToolRule::RequiresApproval { tool_name } => Some(tool_name),
            _ => None,
        });
    ruled.chain(client.iter().map(|t| t.name.clone())).collect()
}
