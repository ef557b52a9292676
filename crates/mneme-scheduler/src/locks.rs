//! One turn per thread (an agent's default conversation, or one of its conversations) at a
//! time. `TurnLocks` is the seam: in-process locks for one server (`LocalTurnLocks`); with
//! several replicas on one database, the local lock and then a lease in the database
//! (`LeaseTurnLocks`, in `lease`), which a crashed holder loses after the lease's ttl.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use mneme_types::Thread;
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

/// Who holds a thread that `try_hold` could not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A turn (or a history change) in this process, or one waiting for it.
    ThisProcess,
    /// Another replica on the same database.
    OtherReplica,
}

/// Serializes the turns of each thread. Waiters are served in arrival order.
#[async_trait]
pub trait TurnLocks: Send + Sync {
    /// Waits until no other holder has `thread`, then holds it until the guard is dropped.
    async fn acquire(&self, thread: Thread) -> TurnGuard;
    /// Holds `thread` if nobody holds it or waits for it; `None` when it is busy.
    async fn try_acquire(&self, thread: Thread) -> Option<TurnGuard>;
    /// `try_acquire`, telling who holds a busy thread: a turn of this process may be about
    /// to let it go (its end is stored), one of another replica is not known here.
    async fn try_hold(&self, thread: Thread) -> Result<TurnGuard, Holder> {
        self.try_acquire(thread).await.ok_or(Holder::ThisProcess)
    }
}

/// Per-thread async mutexes in this process. Entries are weak so that idle threads cost nothing.
#[derive(Default)]
pub struct LocalTurnLocks {
    locks: Mutex<HashMap<Thread, Weak<AsyncMutex<()>>>>,
}

impl LocalTurnLocks {
    fn lock_of(&self, agent: Thread) -> Arc<AsyncMutex<()>> {
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
    async fn acquire(&self, thread: Thread) -> TurnGuard {
        let guard: OwnedMutexGuard<()> = self.lock_of(thread).lock_owned().await;
        TurnGuard::new(guard)
    }

    async fn try_acquire(&self, thread: Thread) -> Option<TurnGuard> {
        let guard = self.lock_of(thread).try_lock_owned().ok()?;
        Some(TurnGuard::new(guard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_types::{AgentId, ConversationId};
    use std::time::Duration;

    #[tokio::test]
    async fn one_holder_per_thread_and_threads_are_independent() {
        let locks = Arc::new(LocalTurnLocks::default());
        let agent = AgentId::new();
        let a = Thread::default_of(agent);
        let b = Thread::default_of(AgentId::new());
        let conversation = Thread {
            agent,
            conversation: Some(ConversationId::new()),
        };
        let held = locks.acquire(a).await;
        // Another agent, and another conversation of the same agent, are not blocked.
        for other in [b, conversation] {
            let got = tokio::time::timeout(Duration::from_millis(200), locks.acquire(other)).await;
            assert!(got.is_ok());
        }
        // The same thread waits until the guard is dropped.
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

    #[tokio::test]
    async fn try_acquire_refuses_a_busy_thread_only() {
        let locks = LocalTurnLocks::default();
        let agent = AgentId::new();
        let conversation = Thread {
            agent,
            conversation: Some(ConversationId::new()),
        };
        let held = locks.try_acquire(conversation).await;
        assert!(held.is_some());
        assert!(locks.try_acquire(conversation).await.is_none());
        assert!(locks.try_acquire(Thread::default_of(agent)).await.is_some());
        drop(held);
        assert!(locks.try_acquire(conversation).await.is_some());
    }
}
