//! One turn per agent at a time. `TurnLocks` is the seam: in-process locks today
//! (`LocalTurnLocks`); with several replicas on one PostgreSQL the same trait becomes a lease in
//! the database that a crashed holder loses after a bounded time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use mneme_types::AgentId;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Held for as long as a turn (or another exclusive change of the agent's history) runs;
/// dropping it lets the next waiter in.
pub struct TurnGuard {
    _held: Box<dyn Send + Sync>,
}

impl TurnGuard {
    /// Wraps whatever keeps the lock (a mutex guard, a lease's renewal task).
    pub fn new(held: impl Send + Sync + 'static) -> TurnGuard {
        TurnGuard {
            _held: Box::new(held),
        }
    }
}

/// Serializes the turns of each agent. Waiters are served in arrival order.
#[async_trait]
pub trait TurnLocks: Send + Sync {
    /// Waits until no other holder has `agent`, then holds it until the guard is dropped.
    async fn acquire(&self, agent: AgentId) -> TurnGuard;
}

/// Per-agent async mutexes in this process. Entries are weak so that idle agents cost nothing.
#[derive(Default)]
pub struct LocalTurnLocks {
    locks: Mutex<HashMap<AgentId, Weak<AsyncMutex<()>>>>,
}

impl LocalTurnLocks {
    fn lock_of(&self, agent: AgentId) -> Arc<AsyncMutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 1024 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        match map.get(&agent).and_then(Weak::upgrade) {
            Some(lock) => lock,
            None => {
                let lock = Arc::new(AsyncMutex::new(()));
                map.insert(agent, Arc::downgrade(&lock));
                lock
            }
        }
    }
}

#[async_trait]
impl TurnLocks for LocalTurnLocks {
    async fn acquire(&self, agent: AgentId) -> TurnGuard {
        let guard: OwnedMutexGuard<()> = self.lock_of(agent).lock_owned().await;
        TurnGuard::new(guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_holder_per_agent_and_agents_are_independent() {
        let locks = Arc::new(LocalTurnLocks::default());
        let (a, b) = (AgentId::new(), AgentId::new());
        let held = locks.acquire(a).await;
        // Another agent is not blocked.
        let other = tokio::time::timeout(Duration::from_millis(200), locks.acquire(b)).await;
        assert!(other.is_ok());
        // The same agent waits until the guard is dropped.
        let waiting = tokio::spawn({
            let locks = locks.clone();
            async move { locks.acquire(a).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(held);
        let second = tokio::time::timeout(Duration::from_secs(2), waiting).await;
        assert!(matches!(second, Ok(Ok(_))));
    }
}
