//! Several server processes (replicas) on one database acting as one server: which of them
//! coordinate, and how (DESIGN.md, "Replicas").
//!
//! - A thread's turns are serialized by the local lock and then the database lease
//!   `turn:<agent>` or `turn:<agent>/<conversation>` (`LeaseTurnLocks`).
//! - Every replica heart-beats (`ReplicaStore::heartbeat`): that renews its leases and brings
//!   back the runs other replicas asked it to cancel, which it cancels here.
//! - Now and then each replica fails the runs of replicas that stopped heart-beating, and a
//!   replica that starts fails only those (never a live replica's runs).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mneme_store::Store;
use mneme_types::Thread;

use crate::hub::RunHub;
use crate::locks::{Holder, LocalTurnLocks, TurnGuard, TurnLocks};

/// How the scheduler coordinates with other processes, chosen when the service is built.
#[derive(Debug, Clone, Default)]
pub enum Coordination {
    /// The only process on its database (SQLite): in-process locks, and no write beyond the
    /// turn's own on the hot path.
    #[default]
    Local,
    /// Any number of replicas on one database (PostgreSQL).
    Shared(SharedConfig),
}

impl Coordination {
    /// The settings of shared coordination; `None` when local.
    pub fn shared(&self) -> Option<&SharedConfig> {
        match self {
            Coordination::Local => None,
            Coordination::Shared(config) => Some(config),
        }
    }
}

/// The intervals of shared coordination. Tests shorten them.
#[derive(Debug, Clone)]
pub struct SharedConfig {
    /// How often a replica heart-beats (renewing its leases, reading cancel requests).
    pub heartbeat_every: Duration,
    /// How long a lease lasts without renewal: a crashed holder's threads are free after it.
    pub lease_ttl: Duration,
    /// A replica silent this long is dead: its runs are failed, its leases dropped.
    pub dead_after: Duration,
    /// How often a replica looks for dead replicas' runs.
    pub reap_every: Duration,
    /// The first and the longest wait between attempts on a lease another replica holds.
    pub backoff: (Duration, Duration),
}

impl Default for SharedConfig {
    fn default() -> SharedConfig {
        SharedConfig {
            heartbeat_every: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(10),
            dead_after: Duration::from_secs(15),
            reap_every: Duration::from_secs(5),
            backoff: (Duration::from_millis(20), Duration::from_millis(200)),
        }
    }
}

impl SharedConfig {
    /// The intervals for a replica declared dead after `dead_after` of silence: leases last
    /// two thirds of it, heartbeats renew them ten times per lease, dead replicas are looked
    /// for three times per timeout (15 s gives the defaults).
    pub fn with_timeout(dead_after: Duration) -> SharedConfig {
        let lease_ttl = dead_after * 2 / 3;
        SharedConfig {
            heartbeat_every: lease_ttl / 10,
            lease_ttl,
            dead_after,
            reap_every: dead_after / 3,
            ..SharedConfig::default()
        }
    }
}

/// The lease of a thread's turns.
fn lease_key(thread: Thread) -> String {
    match thread.conversation {
        None => format!("turn:{}", thread.agent),
        Some(c) => format!("turn:{}/{c}", thread.agent),
    }
}

/// The local lock, then the thread's lease in the database, held until the guard drops.
pub struct LeaseTurnLocks {
    local: LocalTurnLocks,
    store: Arc<dyn Store>,
    config: SharedConfig,
}

impl LeaseTurnLocks {
    pub fn new(store: Arc<dyn Store>, config: SharedConfig) -> LeaseTurnLocks {
        LeaseTurnLocks {
            local: LocalTurnLocks::default(),
            store,
            config,
        }
    }

    /// One attempt at the lease: whether this replica holds it now. A store error counts as
    /// not held (the caller waits or refuses; it never runs a turn without the lease).
    async fn take(&self, key: &str) -> bool {
        match self.store.acquire_lease(key, self.config.lease_ttl).await {
            Ok(None) => true,
            Ok(Some(_)) => false,
            Err(e) => {
                tracing::warn!(error = %e, key, "cannot take a turn lease");
                false
            }
        }
    }

    /// Waits, backing off, while another live replica holds lease `key`; then holds it.
    async fn wait_for(&self, key: &str) {
        let (first, longest) = self.config.backoff;
        let mut wait = first;
        while !self.take(key).await {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(longest);
        }
    }

    /// Holds lease `key` across replicas, under `local` (the caller's own lock of the same
    /// thing in this process), until the guard drops; renewed by the heartbeat meanwhile.
    pub async fn hold(&self, key: String, local: TurnGuard) -> TurnGuard {
        self.wait_for(&key).await;
        self.guard(local, key)
    }

    /// The guard holding both: the lease is released before the local lock, so that the next
    /// local holder never finds the lease "ours" and then loses it to this release.
    fn guard(&self, local: TurnGuard, key: String) -> TurnGuard {
        TurnGuard::new(LeaseRelease {
            held: Some((local, key, self.store.clone())),
        })
    }
}

#[async_trait]
impl TurnLocks for LeaseTurnLocks {
    async fn acquire(&self, thread: Thread) -> TurnGuard {
        let local = self.local.acquire(thread).await;
        let key = lease_key(thread);
        self.wait_for(&key).await;
        self.guard(local, key)
    }

    async fn try_acquire(&self, thread: Thread) -> Option<TurnGuard> {
        self.try_hold(thread).await.ok()
    }

    async fn try_hold(&self, thread: Thread) -> Result<TurnGuard, Holder> {
        let local = self
            .local
            .try_acquire(thread)
            .await
            .ok_or(Holder::ThisProcess)?;
        let key = lease_key(thread);
        match self.take(&key).await {
            true => Ok(self.guard(local, key)),
            false => Err(Holder::OtherReplica),
        }
    }
}

/// Releases a lease when dropped, then the local lock it was taken under.
struct LeaseRelease {
    held: Option<(TurnGuard, String, Arc<dyn Store>)>,
}

impl Drop for LeaseRelease {
    fn drop(&mut self) {
        let Some((local, key, store)) = self.held.take() else {
            return;
        };
        // Outside a runtime (a shutdown) the lease simply expires after its ttl.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            if let Err(e) = store.release_lease(&key).await {
                tracing::warn!(error = %e, key, "cannot release a turn lease; it expires");
            }
            drop(local);
        });
    }
}

/// What a file a stopped server (or a dead replica) left unfinished says: its uploaded bytes
/// were on that server's disk, so no one can resume it.
pub const FILE_INTERRUPTED: &str =
    "processing was interrupted by a server restart and the upload was lost; upload the file again";

/// The replica's background work: heartbeats (with the cancel requests they bring back) and
/// the search for dead replicas' runs and unfinished files. Runs until aborted (tests) or the process ends.
pub(crate) fn spawn_heartbeat(
    store: Arc<dyn Store>,
    hub: Arc<RunHub>,
    config: SharedConfig,
) -> tokio::task::AbortHandle {
    let task = tokio::spawn(async move {
        let mut beat = tokio::time::interval(config.heartbeat_every);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reaped = tokio::time::Instant::now();
        loop {
            beat.tick().await;
            heartbeat(&*store, &hub, &config).await;
            if reaped.elapsed() >= config.reap_every {
                reaped = tokio::time::Instant::now();
                fail_dead_runs(&*store, config.dead_after).await;
                fail_dead_files(&*store, config.dead_after).await;
            }
        }
    });
    task.abort_handle()
}

/// One heartbeat; the runs executing here that another replica asked to cancel are cancelled.
async fn heartbeat(store: &dyn Store, hub: &RunHub, config: &SharedConfig) {
    match store.heartbeat(config.lease_ttl).await {
        Ok(runs) => {
            for run in runs {
                if let Some(active) = hub.get(run).filter(|a| !a.cancel.is_cancelled()) {
                    tracing::info!(%run, "cancelling a run at another replica's request");
                    active.cancel.cancel();
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
    }
}

/// Fails the unfinished files of replicas that stopped heart-beating: their bytes are on that
/// replica's disk. (A replica starting on the same data directory resumes what is left.)
async fn fail_dead_files(store: &dyn Store, dead_after: Duration) {
    match store
        .fail_dead_files(dead_after, FILE_INTERRUPTED.to_owned())
        .await
    {
        Ok(files) => {
            for file in files {
                tracing::warn!(%file, "marked a file of a replica that stopped as failed");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot look for dead replicas' files"),
    }
}

/// Fails the runs of replicas that stopped heart-beating.
pub(crate) async fn fail_dead_runs(store: &dyn Store, dead_after: Duration) {
    match store.fail_dead_runs(dead_after).await {
        Ok(runs) => {
            for run in runs {
                tracing::warn!(%run, "marked a run of a replica that stopped as failed");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot look for dead replicas' runs"),
    }
}
