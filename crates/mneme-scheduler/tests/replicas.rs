//! Shared coordination between two schedulers on one database: two SQLite handles on one file
//! are two replicas for leases, heartbeats and dead replicas' runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use mneme_agent::{AgentError, TurnInput, TurnOutput};
use mneme_scheduler::{
    Coordination, NoSink, Scheduler, SchedulerError, SharedConfig, TurnGuard, TurnJob, TurnRunner,
};
use mneme_store::Store;
use mneme_store_sqlite::{Durability, SqliteStore};
use mneme_types::{AgentId, RunId, RunStatus, StopReason, time};

/// Turns that last `turn` (forever when `None`, until cancelled), counting how many run at
/// once across every runner sharing `running`.
struct Runner {
    turn: Option<Duration>,
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

#[async_trait]
impl TurnRunner for Runner {
    async fn run_turn(&self, input: TurnInput) -> Result<TurnOutput, AgentError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let stop = match self.turn {
            Some(turn) => {
                tokio::time::sleep(turn).await;
                StopReason::EndTurn
            }
            None => {
                input.cancel.cancelled().await;
                StopReason::Cancelled
            }
        };
        self.running.fetch_sub(1, Ordering::SeqCst);
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

fn config() -> SharedConfig {
    SharedConfig {
        heartbeat_every: Duration::from_millis(50),
        lease_ttl: Duration::from_millis(300),
        dead_after: Duration::from_millis(500),
        reap_every: Duration::from_millis(100),
        backoff: (Duration::from_millis(5), Duration::from_millis(40)),
    }
}

struct Replica {
    store: Arc<dyn Store>,
    scheduler: Scheduler,
    heartbeat: tokio::task::AbortHandle,
}

struct Pair {
    a: Replica,
    b: Replica,
    agent: AgentId,
    most: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

async fn replica(path: &std::path::Path, runner: Runner) -> Replica {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path, Durability::Normal).unwrap());
    let coordination = Coordination::Shared(config());
    let scheduler = Scheduler::coordinated(store.clone(), Arc::new(runner), coordination);
    let heartbeat = scheduler.start_up().await.unwrap().unwrap();
    Replica {
        store,
        scheduler,
        heartbeat,
    }
}

/// Replicas `a` and `b` on one file; `a`'s turns last `turn_a`, `b`'s `turn_b`.
async fn pair(turn_a: Option<Duration>, turn_b: Option<Duration>) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let runner = |turn| Runner {
        turn,
        running: running.clone(),
        most: most.clone(),
    };
    let a = replica(&path, runner(turn_a)).await;
    let b = replica(&path, runner(turn_b)).await;
    let agent = mneme_store::conformance::new_agent("a", vec![]);
    let agent = a.store.create_agent(agent).await.unwrap().id;
    Pair {
        a,
        b,
        agent,
        most,
        _dir: dir,
    }
}

impl Replica {
    /// A job for a new running run recorded through this replica (its owner).
    async fn job(&self, agent: AgentId, refuse_if_busy: bool) -> TurnJob {
        let record = mneme_store::conformance::run_record(agent, time::now());
        let run = self.store.create_run(record).await.unwrap();
        TurnJob {
            conversation_id: None,
            refuse_if_busy,
            agent_id: agent,
            run_id: run.id,
            inputs: vec![],
            approval: None,
            checked_version: None,
            max_steps: 5,
            stream_tokens: false,
            client_tools: vec![],
            queued: false,
            wants_events: false,
            llm_config: None,
            compaction: Default::default(),
            system: Default::default(),
            group_id: None,
        }
    }

    async fn status(&self, run: RunId) -> RunStatus {
        self.store.get_run(run).await.unwrap().status
    }
}

async fn within<T>(limit: Duration, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, f).await.expect("in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_never_run_one_agents_turns_at_once() {
    let turn = Some(Duration::from_millis(40));
    let p = pair(turn, turn).await;
    let mut outcomes = Vec::new();
    for i in 0..6 {
        let replica = if i % 2 == 0 { &p.a } else { &p.b };
        let job = replica.job(p.agent, false).await;
        let scheduler = replica.scheduler.clone();
        outcomes.push(tokio::spawn(async move {
            scheduler.start(job, NoSink).await?.outcome().await
        }));
    }
    for outcome in outcomes {
        let out = within(Duration::from_secs(5), outcome).await.unwrap();
        assert_eq!(out.unwrap().stop_reason, StopReason::EndTurn);
    }
    assert_eq!(p.most.load(Ordering::SeqCst), 1, "one turn at a time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_thread_elsewhere_refuses_conversation_style_jobs() {
    let p = pair(None, None).await;
    let job = p.a.job(p.agent, false).await;
    let hanging = p.a.scheduler.start(job, NoSink).await.unwrap();
    let refused = p.b.job(p.agent, true).await;
    let run = refused.run_id;
    match p.b.scheduler.start(refused, NoSink).await {
        Err(SchedulerError::Busy { run: None, .. }) => {}
        other => panic!("expected busy, got {:?}", other.map(|r| r.run_id)),
    }
    assert_eq!(p.b.status(run).await, RunStatus::Failed);
    p.a.scheduler
        .active(hanging.run_id)
        .unwrap()
        .cancel
        .cancel();
    let out = within(Duration::from_secs(2), hanging.outcome()).await;
    assert_eq!(out.unwrap().stop_reason, StopReason::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_replica_loses_its_lease_then_its_runs() {
    let p = pair(None, Some(Duration::from_millis(10))).await;
    let job = p.a.job(p.agent, false).await;
    let stuck = job.run_id;
    let _hanging = p.a.scheduler.start(job, NoSink).await.unwrap();
    // `a` stops heart-beating, as a process that froze or lost the database would.
    p.a.heartbeat.abort();
    let job = p.b.job(p.agent, false).await;
    let started = std::time::Instant::now();
    let waiting = p.b.scheduler.start(job, NoSink);
    let out = within(Duration::from_secs(3), async {
        waiting.await?.outcome().await
    })
    .await;
    assert_eq!(out.unwrap().stop_reason, StopReason::EndTurn);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "b waited for a's lease to expire"
    );
    within(Duration::from_secs(3), async {
        while p.b.status(stuck).await != RunStatus::Failed {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let failed = p.b.store.get_run(stuck).await.unwrap();
    assert_eq!(failed.stop_reason, Some(StopReason::Error));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_replicas_late_end_does_not_overwrite_its_failed_run() {
    let p = pair(Some(Duration::from_millis(1500)), None).await;
    let job = p.a.job(p.agent, false).await;
    let run = job.run_id;
    let turn = p.a.scheduler.start(job, NoSink).await.unwrap();
    // `a` stops heart-beating but its turn goes on, as a frozen process's would.
    p.a.heartbeat.abort();
    within(Duration::from_secs(3), async {
        while p.b.status(run).await != RunStatus::Failed {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let out = within(Duration::from_secs(3), turn.outcome()).await;
    assert_eq!(out.unwrap().stop_reason, StopReason::EndTurn);
    let stored = p.b.store.get_run(run).await.unwrap();
    assert_eq!(stored.status, RunStatus::Failed);
    assert_eq!(stored.stop_reason, Some(StopReason::Error));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_across_replicas_keeps_the_other_waiting_until_it_drops() {
    let p = pair(None, None).await;
    let key = || "group:g1".to_owned();
    let local = || TurnGuard::new(());
    let held = p.a.scheduler.across_replicas(key(), local()).await;
    let waiting = tokio::spawn({
        let b = p.b.scheduler.clone();
        async move { b.across_replicas(key(), local()).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "b got the lock a holds");
    drop(held);
    let second = within(Duration::from_secs(2), waiting).await.unwrap();
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_through_another_replica_stops_the_run() {
    let p = pair(None, None).await;
    let job = p.a.job(p.agent, false).await;
    let run = job.run_id;
    let hanging = p.a.scheduler.start(job, NoSink).await.unwrap();
    assert!(
        !p.a.scheduler.cancel_elsewhere(run).await.unwrap(),
        "runs here"
    );
    assert!(p.b.scheduler.cancel_elsewhere(run).await.unwrap());
    let out = within(Duration::from_secs(2), hanging.outcome()).await;
    assert_eq!(out.unwrap().stop_reason, StopReason::Cancelled);
    assert_eq!(p.b.status(run).await, RunStatus::Cancelled);
    assert!(!p.b.scheduler.cancel_elsewhere(run).await.unwrap(), "ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_starting_replica_fails_only_dead_replicas_runs() {
    let p = pair(None, None).await;
    let job = p.a.job(p.agent, false).await;
    let live = job.run_id;
    let hanging = p.a.scheduler.start(job, NoSink).await.unwrap();
    // A run whose owner never heart-beat (a replica that died before its first beat).
    let orphan_store = SqliteStore::open(&p._dir.path().join("t.db"), Durability::Normal);
    let orphan = mneme_store::conformance::run_record(p.agent, time::now());
    let orphan_store: Arc<dyn Store> = Arc::new(orphan_store.unwrap());
    let orphan = orphan_store.create_run(orphan).await.unwrap().id;
    // A third replica starting on the same file.
    let runner = Runner {
        turn: None,
        running: Arc::default(),
        most: Arc::default(),
    };
    let c = replica(&p._dir.path().join("t.db"), runner).await;
    assert_eq!(c.status(live).await, RunStatus::Running, "a is alive");
    assert_eq!(c.status(orphan).await, RunStatus::Failed);
    c.heartbeat.abort();
    p.a.scheduler.active(live).unwrap().cancel.cancel();
    let out = within(Duration::from_secs(2), hanging.outcome()).await;
    assert_eq!(out.unwrap().stop_reason, StopReason::Cancelled);
}
