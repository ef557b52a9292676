//! Turns that run detached from the request: streamed (foreground or background), async, and
//! the blocking ones too, so that a client that goes away never leaves a run half-recorded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mneme_agent::{TurnInput, TurnOutput};
use mneme_llm::LlmError;
use mneme_store::{Message, RunChunk, RunRecord, Store};
use mneme_types::{
    AgentId, LettaErrorMessage, LettaRequest, LettaStopReason, LettaStreamingResponse, Run, RunId,
    RunStatus, StopReason, time,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::chunks::{Chunker, SseEvent, to_json};
use crate::hub::ActiveRun;
use crate::render::{RenderOptions, filter_types};
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

/// Where a job's chunks go.
enum Sink {
    /// Blocking and async requests: nobody reads chunks.
    None,
    /// A connected client; if it goes away the run is cancelled.
    Client(mpsc::Sender<SseEvent>),
    /// The run's chunk log in the database (background runs), read by any number of streams.
    Log { seq: u64 },
}

/// One turn to run, with how to report it.
pub(crate) struct Job {
    pub(crate) agent_id: AgentId,
    pub(crate) run: RunId,
    pub(crate) inputs: Vec<Message>,
    pub(crate) approval: Option<mneme_agent::approval::ApprovalAnswer>,
    pub(crate) max_steps: u32,
    pub(crate) opts: RenderOptions,
    pub(crate) types: Vec<String>,
    pub(crate) stream_tokens: bool,
    pub(crate) include_pings: bool,
    /// The run was recorded as `created` (async): it becomes `running` when the turn starts.
    pub(crate) queued: bool,
    pub(crate) client_tools: Vec<mneme_agent::ClientTool>,
    /// Tools whose calls wait for the client (rules and client tools), for token streams.
    pub(crate) approval_tools: Vec<String>,
}

impl Service {
    /// `POST /v1/agents/{id}/messages/stream` (and `streaming: true`): starts the turn and
    /// returns its events. Errors before the stream starts (404, 422) are returned as errors.
    pub async fn stream_message(
        &self,
        agent_id: AgentId,
        req: LettaRequest,
    ) -> Result<MessageStream> {
        let (job, background) = self.prepare(agent_id, &req, true).await?;
        let run = job.run;
        if background {
            let active = self.hub.register(run, agent_id);
            let me = self.clone();
            tokio::spawn(async move { me.execute(job, active, Sink::Log { seq: 0 }).await });
            return self.resume_stream(run, 0).await;
        }
        let (tx, rx) = mpsc::channel(256);
        let active = self.hub.register(run, agent_id);
        let me = self.clone();
        tokio::spawn(async move { me.execute(job, active, Sink::Client(tx)).await });
        Ok(MessageStream {
            run_id: run,
            events: rx,
        })
    }

    /// `POST /v1/agents/{id}/messages/async`: answers the run at once; the turn goes on.
    pub async fn send_message_async(&self, agent_id: AgentId, req: LettaRequest) -> Result<Run> {
        let (job, _) = self.prepare_queued(agent_id, &req).await?;
        let run = self.get_run(job.run).await?;
        let active = self.hub.register(job.run, agent_id);
        let me = self.clone();
        tokio::spawn(async move { me.execute(job, active, Sink::None).await });
        Ok(run)
    }

    /// Runs a blocking request's turn as a detached job and waits for it.
    pub(crate) async fn run_blocking(&self, job: Job) -> Result<TurnOutput> {
        let active = self.hub.register(job.run, job.agent_id);
        let me = self.clone();
        tokio::spawn(async move { me.execute(job, active, Sink::None).await })
            .await
            .map_err(|e| ServiceError::Internal(format!("turn task failed: {e}")))?
    }

    /// Like `prepare`, for a run that answers before it starts (`messages/async`).
    async fn prepare_queued(&self, agent_id: AgentId, req: &LettaRequest) -> Result<(Job, bool)> {
        self.prepare_as(agent_id, req, false, RunStatus::Created)
            .await
    }

    /// Validates a request and records its run; the job is ready to execute.
    pub(crate) async fn prepare(
        &self,
        agent_id: AgentId,
        req: &LettaRequest,
        streaming: bool,
    ) -> Result<(Job, bool)> {
        self.prepare_as(agent_id, req, streaming, RunStatus::Running)
            .await
    }

    async fn prepare_as(
        &self,
        agent_id: AgentId,
        req: &LettaRequest,
        streaming: bool,
        status: RunStatus,
    ) -> Result<(Job, bool)> {
        let inputs = crate::messages::input_messages(agent_id, req, streaming)?;
        let client_tools = crate::messages::client_tools(req)?;
        let approval = crate::messages::approval_answer(agent_id, req)?;
        let agent = self.store.get_agent(agent_id).await?;
        if approval.is_none() {
            self.refuse_while_pending(&agent).await?;
        }
        let background = streaming && req.background == Some(true);
        let run = self
            .store
            .create_run(crate::messages::new_run(agent_id, req, background, status))
            .await?;
        let job = Job {
            agent_id,
            run: run.id,
            inputs,
            approval,
            max_steps: req.max_steps.unwrap_or(crate::messages::DEFAULT_MAX_STEPS),
            opts: crate::messages::render_options(&agent.agent_type, req),
            types: req.include_return_message_types.clone().unwrap_or_default(),
            stream_tokens: streaming && req.stream_tokens == Some(true),
            include_pings: streaming && req.include_pings.unwrap_or(true),
            queued: status == RunStatus::Created,
            approval_tools: approval_tools(&agent, &client_tools),
            client_tools,
        };
        Ok((job, background))
    }

    /// Runs a job to the end: waits for the agent, runs the turn, reports chunks, records the
    /// run's outcome.
    async fn execute(self, job: Job, active: ActiveRun, mut sink: Sink) -> Result<TurnOutput> {
        let started = Instant::now();
        let run = job.run;
        if let Sink::Client(tx) = &sink {
            // The reader is dropped when the client hangs up: cancel at once, even while the
            // turn is waiting on the model and has nothing to send.
            let (tx, cancel) = (tx.clone(), active.cancel.clone());
            tokio::spawn(async move {
                tx.closed().await;
                cancel.cancel();
            });
        }
        if job.include_pings {
            self.emit(&mut sink, run, &active, SseEvent::ping(run, None))
                .await;
        }
        let _turn = self.locks.acquire(job.agent_id).await;
        if job.queued {
            self.set_status(run, RunStatus::Running).await;
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        // Without a reader the turn gets no sender at all, so that `rx` ends with the turn.
        let events = match &sink {
            Sink::None => {
                drop(tx);
                None
            }
            Sink::Client(_) | Sink::Log { .. } => Some(tx),
        };
        let input = TurnInput {
            agent_id: job.agent_id,
            run_id: run,
            inputs: job.inputs,
            approval: job.approval,
            max_steps: job.max_steps,
            cancel: active.cancel.clone(),
            events,
            stream_tokens: job.stream_tokens,
            client_tools: job.client_tools.clone(),
        };
        let runtime = self.runtime.clone();
        let turn = tokio::spawn(async move { runtime.run_turn(input).await });
        let mut chunker = Chunker::new(
            run,
            job.opts.clone(),
            job.stream_tokens,
            job.approval_tools.clone(),
        );
        while let Some(event) = rx.recv().await {
            for chunk in filter_types(chunker.on_event(event), &job.types) {
                self.emit(&mut sink, run, &active, SseEvent::Data(chunk))
                    .await;
            }
        }
        let result = match turn.await {
            Ok(r) => r.map_err(ServiceError::from),
            Err(e) => Err(ServiceError::Internal(format!("turn task failed: {e}"))),
        };
        // New messages are searchable: index them soon, off this request's path.
        self.searcher.changed();
        let stop = match &result {
            Ok(out) => out.stop_reason,
            Err(_) => StopReason::Error,
        };
        // The run's outcome is stored before the stream's last chunks, so that a client that
        // has read `[DONE]` finds the run finished.
        if let Err(e) = self.finish_run(run, stop, started).await {
            tracing::error!(error = %e, %run, "cannot record the end of a run");
        }
        for event in closing_events(run, &result) {
            self.emit(&mut sink, run, &active, event).await;
        }
        self.hub.finish(run);
        result
    }

    /// New input while the agent waits for an approval is a 409, before any run starts.
    async fn refuse_while_pending(&self, agent: &mneme_store::Agent) -> Result<()> {
        match self.pending_approval(agent).await? {
            Some(request) => Err(ServiceError::PendingApproval(request.id)),
            None => Ok(()),
        }
    }

    /// The agent's approval request awaiting an answer, if any.
    pub(crate) async fn pending_approval(
        &self,
        agent: &mneme_store::Agent,
    ) -> Result<Option<Message>> {
        let Some(last) = agent
            .message_ids
            .last()
            .filter(|_| agent.message_ids.len() > 1)
        else {
            return Ok(None);
        };
        let message = self.store.get_message(*last).await?;
        Ok(mneme_agent::approval::pending_request(std::slice::from_ref(&message)).cloned())
    }

    async fn set_status(&self, run: RunId, status: RunStatus) {
        let edit = Box::new(move |r: &mut RunRecord| r.status = status);
        if let Err(e) = self.store.update_run(run, edit).await {
            tracing::error!(error = %e, %run, "cannot update a run's status");
        }
    }

    /// Delivers one event. A client that is gone cancels the run: its current step is dropped,
    /// completed steps stay stored.
    async fn emit(&self, sink: &mut Sink, run: RunId, active: &ActiveRun, event: SseEvent) {
        match sink {
            Sink::None => {}
            Sink::Client(tx) => {
                if tx.send(event).await.is_err() && !active.cancel.is_cancelled() {
                    tracing::info!(%run, "client went away; cancelling the run");
                    active.cancel.cancel();
                }
            }
            Sink::Log { seq } => {
                *seq += 1;
                let chunk = log_chunk(*seq, run, event);
                if let Err(e) = self.store.append_chunks(run, vec![chunk]).await {
                    tracing::error!(error = %e, %run, "cannot store a stream chunk");
                }
                active.appended.notify_waiters();
            }
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
        let hub = self.hub.clone();
        tokio::spawn(async move { tail(store, hub, run_id, starting_after, tx).await });
        Ok(MessageStream { run_id, events: rx })
    }

    /// `POST /v1/agents/{id}/messages/cancel`: cancels the agent's running runs (or those
    /// listed); each stops at its next step boundary or model-call await.
    pub async fn cancel_runs(
        &self,
        agent_id: AgentId,
        run_ids: Option<Vec<RunId>>,
    ) -> Result<Value> {
        self.store.get_agent(agent_id).await?;
        let active = self.hub.of_agent(agent_id);
        let targets: Vec<RunId> = match run_ids {
            Some(ids) if !ids.is_empty() => ids,
            _ => active.iter().map(|(id, _)| *id).collect(),
        };
        if targets.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "CONFLICT: No active runs to cancel for agent {agent_id}"
            )));
        }
        let mut out = serde_json::Map::new();
        for id in targets {
            let status = match active.iter().find(|(r, _)| *r == id) {
                Some((_, run)) => {
                    run.cancel.cancel();
                    "cancelled"
                }
                None => "failed",
            };
            out.insert(id.to_string(), json!(status));
        }
        Ok(Value::Object(out))
    }

    /// Runs left `created` or `running` by a previous process that stopped mid-turn are marked
    /// failed: nothing will finish them, and stream readers must not wait for them.
    pub(crate) async fn fail_orphaned_runs(&self) -> Result<()> {
        let filter = mneme_store::RunFilter {
            active: true,
            ..Default::default()
        };
        let page = mneme_store::Page {
            limit: 10_000,
            ..Default::default()
        };
        for run in self.store.list_runs(&filter, &page).await? {
            let edit = Box::new(|r: &mut RunRecord| {
                r.status = RunStatus::Failed;
                r.stop_reason = Some(StopReason::Error);
                r.completed_at = Some(time::now());
            });
            self.store.update_run(run.id, edit).await?;
            tracing::warn!(run = %run.id, "marked a run interrupted by a restart as failed");
        }
        self.prune_chunks().await
    }

    async fn prune_chunks(&self) -> Result<()> {
        let retention = chrono::Duration::from_std(self.config.chunk_retention).unwrap_or_default();
        let pruned = self.store.prune_chunks(time::now() - retention).await?;
        if pruned > 0 {
            tracing::debug!(pruned, "deleted expired stream chunks");
        }
        Ok(())
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

/// The end of a stream: stop reason and usage, or stop reason and an error event; `[DONE]`.
fn closing_events(run: RunId, result: &Result<TurnOutput>) -> Vec<SseEvent> {
    let stop = |stop_reason: StopReason| {
        SseEvent::Data(LettaStreamingResponse::StopReason(LettaStopReason {
            stop_reason,
        }))
    };
    let error = |kind: &str, message: String| {
        SseEvent::Error(LettaErrorMessage {
            run_id: run,
            error_type: kind.to_owned(),
            detail: Some(message.clone()),
            message,
            seq_id: None,
        })
    };
    match result {
        Ok(out) => match &out.error {
            Some(e) => vec![
                stop(out.stop_reason),
                error(llm_error_type(e), e.to_string()),
                SseEvent::Done,
            ],
            None => vec![
                stop(out.stop_reason),
                SseEvent::Data(LettaStreamingResponse::Usage(crate::messages::usage_of(
                    &out.usage,
                ))),
                SseEvent::Done,
            ],
        },
        Err(e) => vec![
            stop(StopReason::Error),
            error("internal_error", e.to_string()),
            SseEvent::Done,
        ],
    }
}

fn llm_error_type(e: &LlmError) -> &'static str {
    match e {
        LlmError::RateLimited { .. } => "llm_rate_limit",
        LlmError::Authentication(_) => "llm_authentication",
        LlmError::Timeout => "llm_timeout",
        LlmError::ContextWindowExceeded(_) => "context_window_overflow_in_system_prompt",
        _ => "llm_error",
    }
}

/// A chunk for the log: message and ping chunks get their `seq_id` and `run_id` written in.
fn log_chunk(seq: u64, run: RunId, event: SseEvent) -> RunChunk {
    let (event, data) = match event {
        SseEvent::Data(mut chunk) => {
            match &mut chunk {
                LettaStreamingResponse::Message(m) => {
                    m.seq_id = Some(seq);
                    m.run_id.get_or_insert(run);
                }
                LettaStreamingResponse::Ping(p) => {
                    p.seq_id = Some(seq);
                    p.run_id.get_or_insert(run);
                }
                LettaStreamingResponse::StopReason(_)
                | LettaStreamingResponse::Usage(_)
                | LettaStreamingResponse::Error(_) => {}
            }
            (None, to_json(&chunk))
        }
        SseEvent::Error(e) => (Some("error".to_owned()), to_json(&e)),
        SseEvent::Logged { event, data } => (event, data),
        SseEvent::Done => (None, "[DONE]".to_owned()),
    };
    RunChunk { seq, event, data }
}

/// Reads a run's chunk log after `after` and follows it until `[DONE]` or until the run ended
/// without one (a crash), waking on appends and polling as a fallback.
async fn tail(
    store: Arc<dyn Store>,
    hub: Arc<crate::hub::RunHub>,
    run: RunId,
    mut after: u64,
    tx: mpsc::Sender<SseEvent>,
) {
    loop {
        let waiter = hub.get(run).map(|a| a.appended);
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
