//! `Scheduler`: admission under the agent's lock, the turn as a detached task, and the run's
//! record until its end.
//!
//! Invariants:
//! - a job is registered (cancellable) before it waits for its agent, and unregistered only
//!   after its run's outcome is stored and its sink told;
//! - the pending-approval check runs while the job holds the agent, so a job queued behind a
//!   turn that ends in an approval request is refused, never run;
//! - the task runs to the end whatever the submitter does: a caller that goes away never
//!   leaves a run half-recorded.

use std::sync::Arc;
use std::time::Instant;

use mneme_agent::{TurnInput, TurnOutput, approval};
use mneme_store::{Message, Page, RunFilter, RunRecord, Store, StoreError};
use mneme_types::{MessageId, RunId, RunStatus, StopReason, Thread, time};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::hub::RunHub;
use crate::locks::Holder;
use crate::replica::{Coordination, LeaseTurnLocks};
use crate::{
    ActiveRun, LocalTurnLocks, SchedulerError, TurnGuard, TurnJob, TurnLocks, TurnRunner, TurnSink,
};

type Outcome = Result<TurnOutput, SchedulerError>;

/// Runs turns. Cheap to clone; one per process.
#[derive(Clone)]
pub struct Scheduler {
    store: Arc<dyn Store>,
    runner: Arc<dyn TurnRunner>,
    locks: Arc<dyn TurnLocks>,
    hub: Arc<RunHub>,
    coordination: Coordination,
}

/// An admitted job whose turn is running.
pub struct Running {
    pub run_id: RunId,
    task: JoinHandle<Outcome>,
}

impl Running {
    /// Waits for the turn's end.
    pub async fn outcome(self) -> Outcome {
        join(self.task).await
    }
}

impl Scheduler {
    pub fn new(
        store: Arc<dyn Store>,
        runner: Arc<dyn TurnRunner>,
        locks: Arc<dyn TurnLocks>,
    ) -> Scheduler {
        Scheduler {
            store,
            runner,
            locks,
            hub: Arc::new(RunHub::default()),
            coordination: Coordination::Local,
        }
    }

    /// A scheduler whose turn locks are those `coordination` calls for: in-process ones when
    /// local, the database's leases under them when shared.
    pub fn coordinated(
        store: Arc<dyn Store>,
        runner: Arc<dyn TurnRunner>,
        coordination: Coordination,
    ) -> Scheduler {
        let locks: Arc<dyn TurnLocks> = match &coordination {
            Coordination::Local => Arc::new(LocalTurnLocks::default()),
            Coordination::Shared(config) => {
                Arc::new(LeaseTurnLocks::new(store.clone(), config.clone()))
            }
        };
        Scheduler {
            coordination,
            ..Scheduler::new(store, runner, locks)
        }
    }

    pub fn coordination(&self) -> &Coordination {
        &self.coordination
    }

    /// Makes `local` (a lock this process holds on something shared, a group's exchanges) hold
    /// across replicas too: with shared coordination it waits for lease `key` and keeps it until
    /// the guard drops; alone on its database the local lock is all there is.
    pub async fn across_replicas(&self, key: String, local: TurnGuard) -> TurnGuard {
        match &self.coordination {
            Coordination::Local => local,
            Coordination::Shared(config) => {
                let leases = LeaseTurnLocks::new(self.store.clone(), config.clone());
                leases.hold(key, local).await
            }
        }
    }

    /// Start-up: closes the runs nothing will finish. Alone on its database, every active run
    /// is a previous process's; shared, only the runs of replicas that stopped heart-beating
    /// are (others are executing), and this replica starts heart-beating, first at once so
    /// that the others count it alive. The heartbeat task's handle, when shared.
    pub async fn start_up(&self) -> Result<Option<tokio::task::AbortHandle>, StoreError> {
        let Some(config) = self.coordination.shared() else {
            self.fail_orphaned_runs().await?;
            return Ok(None);
        };
        self.store.heartbeat(config.lease_ttl).await?;
        crate::replica::fail_dead_runs(&*self.store, config.dead_after).await;
        Ok(Some(crate::replica::spawn_heartbeat(
            self.store.clone(),
            self.hub.clone(),
            config.clone(),
        )))
    }

    /// Asks the replica executing `run` to cancel it, when the run does not execute here and
    /// other replicas share the database. Whether the run was active and is now asked to stop.
    pub async fn cancel_elsewhere(&self, run: RunId) -> Result<bool, StoreError> {
        if self.coordination.shared().is_none() || self.hub.get(run).is_some() {
            return Ok(false);
        }
        self.store.request_cancel(run).await
    }

    /// Starts `job` and waits until it is admitted (it holds its agent and nothing refuses it),
    /// so that a refusal is the caller's error. A refused job's run is recorded as failed.
    pub async fn start(
        &self,
        job: TurnJob,
        sink: impl TurnSink,
    ) -> Result<Running, SchedulerError> {
        let run_id = job.run_id;
        let (admitted, on_admission) = oneshot::channel();
        let span = turn_span(&job);
        let task = tokio::spawn(
            self.clone()
                .execute(job, Box::new(sink), Some(admitted))
                .instrument(span),
        );
        match on_admission.await {
            Ok(()) => Ok(Running { run_id, task }),
            // Not admitted: the task ended with the reason.
            Err(_) => match join(task).await {
                Err(e) => Err(e),
                Ok(_) => Err(SchedulerError::Aborted(
                    "a job ended before admission".into(),
                )),
            },
        }
    }

    /// Starts `job` without waiting: its run was answered already (async requests). A refusal
    /// is recorded on the run.
    pub fn spawn(&self, job: TurnJob, sink: impl TurnSink) {
        let span = turn_span(&job);
        tokio::spawn(
            self.clone()
                .execute(job, Box::new(sink), None)
                .instrument(span),
        );
    }

    /// Holds `thread` as a turn does, for other changes of its history (a reset).
    pub async fn exclusive(&self, thread: Thread) -> TurnGuard {
        self.locks.acquire(thread).await
    }

    /// The run, if it executes in this process.
    pub fn active(&self, run: RunId) -> Option<ActiveRun> {
        self.hub.get(run)
    }

    /// The agent's runs executing in this process, in any of its threads.
    pub fn active_runs(&self, agent: mneme_types::AgentId) -> Vec<(RunId, ActiveRun)> {
        self.hub.of_agent(agent)
    }

    /// The thread's runs executing in this process.
    pub fn active_runs_of(&self, thread: Thread) -> Vec<(RunId, ActiveRun)> {
        self.hub.of_thread(thread)
    }

    /// The agent's approval request awaiting an answer, if any: its last in-context message,
    /// unless the run that raised it ended without waiting for the answer (a crash, a
    /// cancellation). Such an abandoned request refuses nothing: the next turn clears it.
    pub async fn pending_approval(
        &self,
        message_ids: &[MessageId],
    ) -> Result<Option<Message>, StoreError> {
        let Some(last) = message_ids.last().filter(|_| message_ids.len() > 1) else {
            return Ok(None);
        };
        let message = match self.store.get_message(*last).await {
            Ok(message) => message,
            // An id naming no message holds no request; the turn drops it from the context.
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(request) = approval::pending_request(std::slice::from_ref(&message)) else {
            return Ok(None);
        };
        if approval::is_abandoned(&*self.store, request).await? {
            return Ok(None);
        }
        Ok(Some(message))
    }

    /// Clears the agent's pending approval request as Letta's cancel does (every pending call
    /// denied, with error returns), once no turn holds the agent, and records the run that
    /// raised it as cancelled. That run, or `None` when nothing was pending.
    pub async fn cancel_approval(&self, thread: Thread) -> Result<Option<RunId>, SchedulerError> {
        let _guard = self.locks.acquire(thread).await;
        let Some((_, run)) = approval::cancel(&*self.store, thread).await? else {
            return Ok(None);
        };
        let edit = Box::new(|r: &mut RunRecord| {
            r.status = RunStatus::Cancelled;
            r.stop_reason = Some(StopReason::Cancelled);
            r.completed_at.get_or_insert_with(time::now);
        });
        mneme_metrics::run_finished(
            RunStatus::Cancelled.as_str(),
            StopReason::Cancelled.as_str(),
        );
        self.store.finish_run(run, edit).await?;
        Ok(Some(run))
    }

    /// Runs left `created` or `running` by a previous process that stopped mid-turn are marked
    /// failed: nothing will finish them, and stream readers must not wait for them.
    pub async fn fail_orphaned_runs(&self) -> Result<(), StoreError> {
        let filter = RunFilter {
            active: true,
            ..Default::default()
        };
        let page = Page {
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
        Ok(())
    }

    /// A job from registration to its recorded end.
    async fn execute(
        self,
        job: TurnJob,
        mut sink: Box<dyn TurnSink>,
        admitted: Option<oneshot::Sender<()>>,
    ) -> Outcome {
        let started = Instant::now();
        let run = job.run_id;
        let active = self.hub.register(run, job.thread());
        sink.registered(&active).await;
        // The guard is held until the run's end is recorded, so the next turn of the agent
        // starts after it.
        let (_guard, result) = match self.admit(&job, &active).await {
            Ok(Some(guard)) => {
                // Running before anyone hears of the admission.
                if job.queued {
                    self.set_status(run, RunStatus::Running).await;
                }
                if let Some(tx) = admitted {
                    let _ = tx.send(());
                }
                sink.admitted(&active).await;
                tracing::debug!("turn admitted");
                (Some(guard), self.run(job, &active, sink.as_mut()).await)
            }
            Ok(None) => {
                // Cancelled while it waited: it ends without running.
                if let Some(tx) = admitted {
                    let _ = tx.send(());
                }
                (None, Ok(cancelled()))
            }
            Err(e) => (None, Err(e)),
        };
        let (stop, first_chunk_at) = match &result {
            Ok(out) => (out.stop_reason, out.first_chunk_at),
            Err(_) => (StopReason::Error, None),
        };
        let timing = RunTiming {
            started,
            first_chunk_at,
        };
        // The run's outcome is stored before the sink's last report, so that a reader that has
        // seen the end finds the run finished.
        mneme_metrics::run_finished(stop.run_status().as_str(), stop.as_str());
        tracing::debug!(stop_reason = stop.as_str(), "turn ended");
        match self.finish_run(run, stop, timing).await {
            Ok(()) => {}
            // Deleted under its turn, with its agent or conversation: nothing left to record.
            Err(StoreError::NotFound { .. }) => {
                tracing::debug!(%run, "the run was deleted before its end");
            }
            Err(e) => tracing::error!(error = %e, %run, "cannot record the end of a run"),
        }
        active.mark_ended();
        sink.finished(&active, &result).await;
        self.hub.finish(run);
        result
    }

    /// Waits for the agent (or the job's cancellation), then checks that nothing refuses the
    /// job. `Ok(None)`: cancelled while waiting.
    async fn admit(
        &self,
        job: &TurnJob,
        active: &ActiveRun,
    ) -> Result<Option<TurnGuard>, SchedulerError> {
        let thread = job.thread();
        let guard = if job.refuse_if_busy {
            match self.locks.try_hold(thread).await {
                Ok(guard) => guard,
                // Held by a run whose end is stored (a client that saw it end may send at
                // once) or by a history change: the thread is about to be free; wait.
                Err(Holder::ThisProcess) if !self.busy_elsewhere(thread, job.run_id) => {
                    self.locks.acquire(thread).await
                }
                Err(Holder::ThisProcess) => return Err(self.busy(thread, job.run_id)),
                // Another replica's turn: its run is not known here.
                Err(Holder::OtherReplica) => {
                    return Err(SchedulerError::Busy { thread, run: None });
                }
            }
        } else {
            tokio::select! {
                g = self.locks.acquire(thread) => g,
                _ = active.cancel.cancelled() => return Ok(None),
            }
        };
        if job.approval.is_none() {
            let (ids, version) = self.context_ids(thread).await?;
            // Whether an approval is pending depends on the in-context ids alone: unchanged
            // since the submitter's check, its answer holds.
            let unchanged = job.checked_version == Some(version);
            if !unchanged && let Some(request) = self.pending_approval(&ids).await? {
                return Err(SchedulerError::PendingApproval(request.id));
            }
        }
        Ok(Some(guard))
    }

    /// The thread's in-context ids and their version.
    pub async fn context_ids(&self, thread: Thread) -> Result<(Vec<MessageId>, u64), StoreError> {
        Ok(match thread.conversation {
            None => {
                let agent = self.store.get_agent(thread.agent).await?;
                (agent.message_ids, agent.message_ids_version)
            }
            Some(c) => {
                let conversation = self.store.get_conversation(c).await?;
                (conversation.message_ids, conversation.message_ids_version)
            }
        })
    }

    /// Whether another run of the thread is still executing (its outcome not stored).
    fn busy_elsewhere(&self, thread: Thread, own: RunId) -> bool {
        self.hub.of_thread(thread).iter().any(|(id, _)| *id != own)
    }

    /// The refusal of a job whose thread another turn holds, naming that turn's run.
    fn busy(&self, thread: Thread, own: RunId) -> SchedulerError {
        let run = self
            .hub
            .of_thread(thread)
            .into_iter()
            .map(|(id, _)| id)
            .find(|id| *id != own);
        SchedulerError::Busy { thread, run }
    }

    /// The turn itself, in a task of its own so that a panic in the step loop is an outcome.
    async fn run(&self, job: TurnJob, active: &ActiveRun, sink: &mut dyn TurnSink) -> Outcome {
        let (tx, mut rx) = mpsc::unbounded_channel();
        // Without a reader the turn gets no sender at all, so that `rx` ends with the turn.
        let events = job.wants_events.then_some(tx);
        let input = TurnInput {
            agent_id: job.agent_id,
            conversation_id: job.conversation_id,
            run_id: job.run_id,
            inputs: job.inputs,
            approval: job.approval,
            max_steps: job.max_steps,
            cancel: active.cancel.clone(),
            events,
            stream_tokens: job.stream_tokens,
            client_tools: job.client_tools,
            llm_config: job.llm_config,
            compaction: job.compaction,
            system: job.system,
            group_id: job.group_id,
        };
        let runner = self.runner.clone();
        let turn = tokio::spawn(async move { runner.run_turn(input).await }.in_current_span());
        while let Some(event) = rx.recv().await {
            sink.event(active, event).await;
        }
        match turn.await {
            Ok(result) => result.map_err(SchedulerError::from),
            Err(e) => Err(SchedulerError::Aborted(e.to_string())),
        }
    }

    /// Records the end of a run and its outcome on the agent, in one write.
    async fn finish_run(
        &self,
        run: RunId,
        stop: StopReason,
        timing: RunTiming,
    ) -> Result<(), StoreError> {
        let now = time::now();
        let elapsed = timing.started.elapsed();
        // Both durations count from the job's start, so the first token never comes after the
        // end (Letta counts from the request's start too).
        let ttft = timing
            .first_chunk_at
            .map(|at| at.saturating_duration_since(timing.started).as_nanos() as u64);
        let edit = Box::new(move |r: &mut RunRecord| {
            // Another replica found this one silent and failed the run meanwhile (a frozen
            // process whose turn went on): readers were told so and the agent may have moved
            // on, so the first recorded end stands.
            if r.status == RunStatus::Failed && r.completed_at.is_some() {
                return;
            }
            r.status = stop.run_status();
            r.stop_reason = Some(stop);
            r.completed_at = Some(now);
            r.data.total_duration_ns = Some(elapsed.as_nanos() as u64);
            if ttft.is_some() {
                r.data.ttft_ns = ttft;
            }
        });
        self.store.finish_run(run, edit).await?;
        Ok(())
    }

    async fn set_status(&self, run: RunId, status: RunStatus) {
        let edit = Box::new(move |r: &mut RunRecord| r.status = status);
        if let Err(e) = self.store.update_run(run, edit).await {
            tracing::error!(error = %e, %run, "cannot update a run's status");
        }
    }
}

/// When a job started and when its turn's first model answer began to arrive.
struct RunTiming {
    started: Instant,
    first_chunk_at: Option<Instant>,
}

/// The outcome of a job cancelled before its turn started.
fn cancelled() -> TurnOutput {
    TurnOutput {
        messages: Vec::new(),
        compactions: Vec::new(),
        stop_reason: StopReason::Cancelled,
        usage: Default::default(),
        error: None,
        first_chunk_at: None,
    }
}

/// The span of a job's turn: a child of the span it was submitted in (the request's, when a
/// request submitted it), so that the turn's logs and traces join the request's although the
/// turn runs in a task of its own.
fn turn_span(job: &TurnJob) -> tracing::Span {
    tracing::info_span!("turn", run_id = %job.run_id, agent_id = %job.agent_id)
}

async fn join(task: JoinHandle<Outcome>) -> Outcome {
    task.await
        .map_err(|e| SchedulerError::Aborted(e.to_string()))?
}
