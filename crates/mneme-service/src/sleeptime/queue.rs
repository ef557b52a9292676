//! The companions' runs waiting to execute: in order per group (each run reads on from where
//! the one before it stopped), a few at a time across groups, and a bounded number waiting in
//! all, so that a burst of primaries' turns cannot pile up work without end. A run that finds
//! the queue full fails at once (its primary is never affected).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use mneme_scheduler::{Scheduler, TurnJob};
use mneme_store::{RunRecord, Store};
use mneme_types::{GroupId, RunStatus, StopReason, time};
use tokio::sync::Semaphore;

use crate::sink::RunSink;

/// Companion runs waiting, in all groups, before new ones are refused.
const CAPACITY: usize = 1024;
/// Companion turns running at once.
const CONCURRENT: usize = 2;

type Queued = (TurnJob, RunSink);

pub(crate) struct CompanionQueue {
    scheduler: Scheduler,
    store: Arc<dyn Store>,
    permits: Arc<Semaphore>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: HashMap<GroupId, VecDeque<Queued>>,
    /// Groups whose runs a task is executing; it takes their next one until none is left.
    draining: HashSet<GroupId>,
    count: usize,
}

impl CompanionQueue {
    pub(crate) fn new(scheduler: Scheduler, store: Arc<dyn Store>) -> Arc<CompanionQueue> {
        Arc::new(CompanionQueue {
            scheduler,
            store,
            permits: Arc::new(Semaphore::new(CONCURRENT)),
            state: Mutex::default(),
        })
    }

    /// Queues a companion's turn (its run recorded `created`) behind the group's others.
    pub(crate) fn push(self: &Arc<Self>, group: GroupId, job: TurnJob, sink: RunSink) {
        let mut state = self.lock();
        if state.count >= CAPACITY {
            drop(state);
            tokio::spawn(refuse(self.store.clone(), job));
            return;
        }
        state.count += 1;
        state
            .waiting
            .entry(group)
            .or_default()
            .push_back((job, sink));
        if state.draining.insert(group) {
            tokio::spawn(self.clone().drain(group));
        }
    }

    /// Runs the group's queued turns one after the other until none is left.
    async fn drain(self: Arc<Self>, group: GroupId) {
        while let Some((job, sink)) = self.next(group) {
            let Ok(_permit) = self.permits.clone().acquire_owned().await else {
                return;
            };
            let run = job.run_id;
            match self.scheduler.start(job, sink).await {
                Ok(running) => {
                    if let Err(e) = running.outcome().await {
                        tracing::warn!(error = %e, %run, "a sleep-time companion's run failed");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, %run, "a sleep-time companion's run was refused")
                }
            }
        }
    }

    /// The group's next turn; none left ends its draining, under the same lock as `push`
    /// checks it, so no queued turn is left without a task.
    fn next(&self, group: GroupId) -> Option<Queued> {
        let mut state = self.lock();
        let next = state.waiting.get_mut(&group).and_then(VecDeque::pop_front);
        match next {
            Some(queued) => {
                state.count -= 1;
                Some(queued)
            }
            None => {
                state.waiting.remove(&group);
                state.draining.remove(&group);
                None
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Fails a run the full queue could not take.
async fn refuse(store: Arc<dyn Store>, job: TurnJob) {
    let run = job.run_id;
    tracing::warn!(%run, "sleep-time queue full; the companion's run is dropped");
    let edit = Box::new(|r: &mut RunRecord| {
        r.status = RunStatus::Failed;
        r.stop_reason = Some(StopReason::Error);
        r.completed_at = Some(time::now());
        let note = "sleep-time queue full: too many companion runs waiting";
        r.data
            .metadata
            .get_or_insert_with(Default::default)
            .insert("error".into(), note.into());
    });
    if let Err(e) = store.finish_run(run, edit).await {
        tracing::warn!(error = %e, %run, "cannot record a dropped companion run");
    }
}
