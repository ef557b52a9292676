//! The scheduler's contract over a real SQLite store, with a scripted turn runner in place of
//! the step loop: serialization per agent, admission under the lock, cancellation, outcomes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mneme_agent::{AgentError, TurnEvent, TurnInput, TurnOutput};
use mneme_scheduler::{
    ActiveRun, LocalTurnLocks, NoSink, Scheduler, SchedulerError, TurnJob, TurnRunner, TurnSink,
};
use mneme_store::{Message, RunRecord, Store, ToolCallRecord};
use mneme_store_sqlite::{Durability, SqliteStore};
use mneme_types::{AgentId, MessageId, RunId, RunStatus, StopReason, Thread, time};

/// What the scripted runner does for a turn.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Script {
    /// Waits a moment, then ends the turn.
    Reply,
    /// Waits a moment, then leaves an approval request as the last in-context message.
    AskApproval,
    /// Waits until cancelled.
    Hang,
}

struct ScriptedRunner {
    store: Arc<dyn Store>,
    script: Mutex<Vec<Script>>,
    /// (run, started) and (run, ended) in the order they happened.
    log: Mutex<Vec<(RunId, &'static str)>>,
}

#[async_trait]
impl TurnRunner for ScriptedRunner {
    async fn run_turn(&self, input: TurnInput) -> Result<TurnOutput, AgentError> {
        self.log.lock().unwrap().push((input.run_id, "start"));
        let script = self.script.lock().unwrap().remove(0);
        if let Some(events) = &input.events {
            let _ = events.send(TurnEvent::StepCommitted { messages: vec![] });
        }
        let stop = match script {
            Script::Hang => {
                input.cancel.cancelled().await;
                StopReason::Cancelled
            }
            Script::Reply => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                StopReason::EndTurn
            }
            Script::AskApproval => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut request =
                    Message::new(input.agent_id, mneme_store::Role::Approval, "", time::now());
                request.tool_calls = vec![ToolCallRecord {
                    id: "call-1".into(),
                    name: "dangerous".into(),
                    arguments: "{}".into(),
                }];
                self.store
                    .reset_messages(input.agent_id, vec![request])
                    .await?;
                StopReason::RequiresApproval
            }
        };
        self.log.lock().unwrap().push((input.run_id, "end"));
        Ok(TurnOutput {
            messages: vec![],
            compactions: vec![],
            stop_reason: stop,
            usage: Default::default(),
            error: None,
            first_chunk_at: None,
        })
    }
}

struct Fixture {
    store: Arc<dyn Store>,
    runner: Arc<ScriptedRunner>,
    scheduler: Scheduler,
    agent: AgentId,
    _dir: tempfile::TempDir,
}

async fn fixture(script: Vec<Script>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("t.db"), Durability::Normal).unwrap());
    let agent = store
        .create_agent(mneme_store::conformance::new_agent("a", vec![]))
        .await
        .unwrap()
        .id;
    let runner = Arc::new(ScriptedRunner {
        store: store.clone(),
        script: Mutex::new(script),
        log: Mutex::new(Vec::new()),
    });
    let scheduler = Scheduler::new(
        store.clone(),
        runner.clone(),
        Arc::new(LocalTurnLocks::default()),
    );
    Fixture {
        store,
        runner,
        scheduler,
        agent,
        _dir: dir,
    }
}

impl Fixture {
    /// A job for a new `running` run (or `created` when `queued`).
    async fn job(&self, queued: bool) -> TurnJob {
        let status = if queued {
            RunStatus::Created
        } else {
            RunStatus::Running
        };
        let mut record = mneme_store::conformance::run_record(self.agent, time::now());
        record.status = status;
        let run = self.store.create_run(record).await.unwrap();
        TurnJob {
            conversation_id: None,
            refuse_if_busy: false,
            agent_id: self.agent,
            run_id: run.id,
            inputs: vec![],
            approval: None,
            checked_version: None,
            max_steps: 5,
            stream_tokens: false,
            client_tools: vec![],
            queued,
            wants_events: true,
            llm_config: None,
            compaction: Default::default(),
            system: Default::default(),
            group_id: None,
        }
    }

    async fn run_of(&self, id: RunId) -> RunRecord {
        self.store.get_run(id).await.unwrap()
    }
}

/// Records the order of a sink's reports.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl TurnSink for Recorder {
    async fn registered(&mut self, _: &ActiveRun) {
        self.0.lock().unwrap().push("registered".into());
    }
    async fn admitted(&mut self, _: &ActiveRun) {
        self.0.lock().unwrap().push("admitted".into());
    }
    async fn event(&mut self, _: &ActiveRun, _: TurnEvent) {
        self.0.lock().unwrap().push("event".into());
    }
    async fn finished(&mut self, _: &ActiveRun, result: &Result<TurnOutput, SchedulerError>) {
        let what = match result {
            Ok(out) => format!("finished {}", out.stop_reason.as_str()),
            Err(e) => format!("failed {e}"),
        };
        self.0.lock().unwrap().push(what);
    }
}

#[tokio::test]
async fn turns_of_one_agent_run_one_after_the_other_in_order() {
    let f = fixture(vec![Script::Reply, Script::Reply, Script::Reply]).await;
    let mut running = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let job = f.job(false).await;
        ids.push(job.run_id);
        let scheduler = f.scheduler.clone();
        running.push(tokio::spawn(async move {
            scheduler.start(job, NoSink).await.unwrap().outcome().await
        }));
        // Submitted in this order: each waits for the agent before the next is submitted.
        let last = *ids.last().unwrap();
        wait_until(|| f.scheduler.active(last).is_some()).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for r in running {
        assert_eq!(r.await.unwrap().unwrap().stop_reason, StopReason::EndTurn);
    }
    let log = f.runner.log.lock().unwrap().clone();
    let expected: Vec<(RunId, &str)> = ids
        .iter()
        .flat_map(|id| [(*id, "start"), (*id, "end")])
        .collect();
    assert_eq!(log, expected, "no overlap, arrival order");
    for id in ids {
        let run = f.run_of(id).await;
        assert_eq!(run.status, RunStatus::Completed);
        assert_eq!(run.stop_reason, Some(StopReason::EndTurn));
        assert!(run.completed_at.is_some());
    }
}

#[tokio::test]
async fn a_job_queued_behind_a_turn_that_asks_for_approval_is_refused() {
    let f = fixture(vec![Script::AskApproval, Script::Reply]).await;
    let first = f.job(false).await;
    let first = f.scheduler.start(first, NoSink).await.unwrap();
    // Queued while the first turn runs: admission happens only once it holds the agent. Its
    // submitter found nothing pending, as a request does before it is queued.
    let mut second = f.job(false).await;
    second.checked_version = Some(
        f.store
            .get_agent(f.agent)
            .await
            .unwrap()
            .message_ids_version,
    );
    let second_run = second.run_id;
    let refused = f.scheduler.start(second, NoSink).await.err().unwrap();
    let out = first.outcome().await.unwrap();
    assert_eq!(out.stop_reason, StopReason::RequiresApproval);
    let SchedulerError::PendingApproval(request) = refused else {
        panic!("expected PendingApproval, got {refused:?}");
    };
    let agent = f.store.get_agent(f.agent).await.unwrap();
    assert_eq!(agent.message_ids.last(), Some(&request));
    // The refused job never ran, and its run says so.
    assert_eq!(f.runner.log.lock().unwrap().len(), 2);
    let run = f.run_of(second_run).await;
    assert_eq!(run.status, RunStatus::Failed);
    // Pending is pending for later jobs too, whether queued or not.
    let third = f.job(true).await;
    let third_run = third.run_id;
    let sink = Recorder::default();
    f.scheduler.spawn(third, sink.clone());
    wait_until(|| {
        sink.0
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.starts_with("failed"))
    })
    .await;
    assert_eq!(f.run_of(third_run).await.status, RunStatus::Failed);
    let reports = sink.0.lock().unwrap().clone();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert_eq!(reports[0], "registered");
    assert!(
        reports[1].starts_with("failed"),
        "refused before admission: {reports:?}"
    );
}

#[tokio::test]
async fn a_job_that_answers_the_approval_is_admitted() {
    let f = fixture(vec![Script::AskApproval, Script::Reply]).await;
    let first = f.job(false).await;
    f.run_to_end(first).await;
    let mut answer = f.job(false).await;
    answer.approval = Some(mneme_agent::approval::ApprovalAnswer {
        decisions: vec![],
        all: None,
        message: Message::new(f.agent, mneme_store::Role::Approval, "", time::now()),
    });
    assert_eq!(f.run_to_end(answer).await, StopReason::EndTurn);
}

#[tokio::test]
async fn a_job_cancelled_while_queued_ends_without_running() {
    let f = fixture(vec![Script::Hang]).await;
    let first = f.job(false).await;
    let first_run = first.run_id;
    let first = f.scheduler.start(first, NoSink).await.unwrap();
    let queued = f.job(true).await;
    let queued_run = queued.run_id;
    let sink = Recorder::default();
    f.scheduler.spawn(queued, sink.clone());
    wait_until(|| f.scheduler.active(queued_run).is_some()).await;
    let active = f.scheduler.active_runs(f.agent);
    assert_eq!(active.len(), 2);
    f.scheduler.active(queued_run).unwrap().cancel.cancel();
    wait_until(|| f.scheduler.active(queued_run).is_none()).await;
    let run = f.run_of(queued_run).await;
    assert_eq!(
        (run.status, run.stop_reason),
        (RunStatus::Cancelled, Some(StopReason::Cancelled))
    );
    assert_eq!(
        *sink.0.lock().unwrap(),
        ["registered", "finished cancelled"]
    );
    // The hanging turn is still there and stops when cancelled too.
    f.scheduler.active(first_run).unwrap().cancel.cancel();
    assert_eq!(
        first.outcome().await.unwrap().stop_reason,
        StopReason::Cancelled
    );
    assert_eq!(
        f.runner.log.lock().unwrap().len(),
        2,
        "the queued job never ran"
    );
    assert!(f.scheduler.active_runs(f.agent).is_empty());
}

#[tokio::test]
async fn a_sink_hears_admission_events_and_the_end_after_the_run_is_recorded() {
    let f = fixture(vec![Script::Reply]).await;
    let job = f.job(true).await;
    let run = job.run_id;
    let sink = Recorder::default();
    let running = f.scheduler.start(job, sink.clone()).await.unwrap();
    assert_eq!(
        f.run_of(run).await.status,
        RunStatus::Running,
        "queued runs start running"
    );
    running.outcome().await.unwrap();
    assert_eq!(
        *sink.0.lock().unwrap(),
        ["registered", "admitted", "event", "finished end_turn"]
    );
    assert_eq!(f.run_of(run).await.status, RunStatus::Completed);
    let agent = f.store.get_agent(f.agent).await.unwrap();
    assert_eq!(agent.last_stop_reason.as_deref(), Some("end_turn"));
}

#[tokio::test]
async fn runs_left_running_by_a_previous_process_are_failed() {
    let f = fixture(vec![]).await;
    let left = f.job(false).await.run_id;
    let queued = f.job(true).await.run_id;
    f.scheduler.fail_orphaned_runs().await.unwrap();
    for id in [left, queued] {
        let run = f.run_of(id).await;
        assert_eq!(
            (run.status, run.stop_reason),
            (RunStatus::Failed, Some(StopReason::Error))
        );
    }
}

impl Fixture {
    /// Leaves an approval request raised by a run that ended with `status` (and the stop
    /// reason that goes with it) as the agent's last in-context message.
    async fn pending_request(&self, status: RunStatus, stop: StopReason) -> (Message, RunId) {
        let run = self.job(false).await.run_id;
        let edit = Box::new(move |r: &mut RunRecord| {
            r.status = status;
            r.stop_reason = Some(stop);
            r.completed_at = Some(time::now());
        });
        self.store.finish_run(run, edit).await.unwrap();
        let mut request = Message::new(self.agent, mneme_store::Role::Approval, "", time::now());
        request.run_id = Some(run);
        request.tool_calls = vec![ToolCallRecord {
            id: "call-1".into(),
            name: "dangerous".into(),
            arguments: "{}".into(),
        }];
        self.store
            .reset_messages(self.agent, vec![request.clone()])
            .await
            .unwrap();
        (request, run)
    }

    /// The approval request the scheduler finds pending on the agent as stored now.
    async fn pending_approval(&self) -> Option<MessageId> {
        let agent = self.store.get_agent(self.agent).await.unwrap();
        let pending = self
            .scheduler
            .pending_approval(&agent.message_ids)
            .await
            .unwrap();
        pending.map(|m| m.id)
    }

    /// Starts `job` and waits for its turn to end.
    async fn run_to_end(&self, job: TurnJob) -> StopReason {
        let running = self.scheduler.start(job, NoSink).await.unwrap();
        running.outcome().await.unwrap().stop_reason
    }
}

#[tokio::test]
async fn an_approval_whose_run_failed_refuses_nothing() {
    let f = fixture(vec![Script::Reply]).await;
    let (live, _) = f
        .pending_request(RunStatus::Completed, StopReason::RequiresApproval)
        .await;
    assert_eq!(f.pending_approval().await, Some(live.id));
    let refused = f.scheduler.start(f.job(false).await, NoSink).await;
    assert!(matches!(refused, Err(SchedulerError::PendingApproval(id)) if id == live.id));

    // A crash ended the run that raised it: the request is abandoned, the job runs (the
    // turn clears the request).
    f.pending_request(RunStatus::Failed, StopReason::Error)
        .await;
    assert_eq!(f.pending_approval().await, None);
    assert_eq!(f.run_to_end(f.job(false).await).await, StopReason::EndTurn);
}

#[tokio::test]
async fn an_in_context_id_naming_no_message_refuses_nothing() {
    let f = fixture(vec![Script::Reply]).await;
    let edit = Box::new(|a: &mut mneme_store::Agent| {
        a.message_ids.push(MessageId::new());
        Ok(())
    });
    f.store.update_agent(f.agent, edit, None).await.unwrap();
    assert_eq!(f.pending_approval().await, None);
    assert_eq!(f.run_to_end(f.job(false).await).await, StopReason::EndTurn);
}

#[tokio::test]
async fn cancelling_a_pending_approval_denies_it_and_cancels_its_run() {
    let f = fixture(vec![]).await;
    assert_eq!(
        f.scheduler
            .cancel_approval(Thread::default_of(f.agent))
            .await
            .unwrap(),
        None
    );
    let (request, run) = f
        .pending_request(RunStatus::Completed, StopReason::RequiresApproval)
        .await;
    let cancelled = f
        .scheduler
        .cancel_approval(Thread::default_of(f.agent))
        .await
        .unwrap();
    assert_eq!(cancelled, Some(run));
    let record = f.run_of(run).await;
    assert_eq!(
        (record.status, record.stop_reason),
        (RunStatus::Cancelled, Some(StopReason::Cancelled))
    );
    let agent = f.store.get_agent(f.agent).await.unwrap();
    assert_eq!(agent.last_stop_reason.as_deref(), Some("cancelled"));
    assert_eq!(f.pending_approval().await, None);
    let ctx = f.store.agent_context(f.agent).await.unwrap();
    let tool = ctx.messages.last().unwrap();
    assert_eq!(tool.tool_returns[0].tool_call_id, "call-1");
    assert_eq!(tool.tool_returns[0].status, "error");
    assert!(
        tool.tool_returns[0]
            .func_response
            .contains(mneme_agent::approval::CANCEL_REASON)
    );
    assert_eq!(ctx.messages[ctx.messages.len() - 3].id, request.id);
    assert_eq!(
        f.scheduler
            .cancel_approval(Thread::default_of(f.agent))
            .await
            .unwrap(),
        None
    );
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 2 s");
}
