//! The runs executing in this process: their cancel tokens and the signal that wakes stream
//! readers when a background run appends chunks. In-process by nature: across replicas the
//! chunk log in the database is the source of truth and readers poll it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mneme_types::{AgentId, RunId, Thread};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A run executing here.
#[derive(Clone)]
pub struct ActiveRun {
    pub agent_id: AgentId,
    /// The thread (default conversation or conversation) the run's turn is in.
    pub thread: Thread,
    /// Stops the turn at its next step boundary or during its model call.
    pub cancel: CancellationToken,
    /// Woken when the run appends stream chunks, and when it ends.
    pub appended: Arc<Notify>,
    /// The run's outcome is stored: it only reports its end before it lets its thread go.
    ended: Arc<AtomicBool>,
}

impl ActiveRun {
    /// Whether the run's outcome is stored (it still holds its thread for a moment).
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    pub(crate) fn mark_ended(&self) {
        self.ended.store(true, Ordering::Release);
    }
}

#[derive(Default)]
pub(crate) struct RunHub {
    runs: Mutex<HashMap<RunId, ActiveRun>>,
}

impl RunHub {
    pub(crate) fn register(&self, run: RunId, thread: Thread) -> ActiveRun {
        let active = ActiveRun {
            agent_id: thread.agent,
            thread,
            cancel: CancellationToken::new(),
            appended: Arc::new(Notify::new()),
            ended: Arc::new(AtomicBool::new(false)),
        };
        self.lock().insert(run, active.clone());
        active
    }

    pub(crate) fn finish(&self, run: RunId) {
        if let Some(active) = self.lock().remove(&run) {
            active.appended.notify_waiters();
        }
    }

    pub(crate) fn get(&self, run: RunId) -> Option<ActiveRun> {
        self.lock().get(&run).cloned()
    }

    /// The agent's runs that are still executing.
    pub(crate) fn of_agent(&self, agent: AgentId) -> Vec<(RunId, ActiveRun)> {
        self.lock()
            .iter()
            .filter(|(_, a)| a.agent_id == agent)
            .map(|(id, a)| (*id, a.clone()))
            .collect()
    }

    /// The thread's runs that are still executing (not those whose outcome is stored).
    pub(crate) fn of_thread(&self, thread: Thread) -> Vec<(RunId, ActiveRun)> {
        self.lock()
            .iter()
            .filter(|(_, a)| a.thread == thread && !a.ended())
            .map(|(id, a)| (*id, a.clone()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, ActiveRun>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }
}
