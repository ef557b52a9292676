//! One turn per agent at a time. In-process today; the same interface can become a database
//! lease when several replicas share one PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use mneme_types::AgentId;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Per-agent locks. Entries are weak so that idle agents cost nothing.
#[derive(Default)]
pub(crate) struct AgentLocks {
    locks: Mutex<HashMap<AgentId, Weak<AsyncMutex<()>>>>,
}

impl AgentLocks {
    /// Waits until no other turn of `agent` runs; the turn holds the guard.
    pub(crate) async fn acquire(&self, agent: AgentId) -> OwnedMutexGuard<()> {
        let lock = {
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
        };
        lock.lock_owned().await
    }
}
