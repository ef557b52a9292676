//! The audit writer: requests record their mutations without waiting for the database, and a
//! background task writes them in batches, one transaction each.
//!
//! Recording never blocks and never fails the request: entries go into a large bounded queue,
//! and when it is full (the database far behind) the entry is dropped, counted and logged,
//! rather than holding up or failing the request it describes. The task writes a batch once
//! `BATCH` entries wait or `LINGER` after the first of them, whichever comes first; `flush`
//! writes everything recorded before it (at shutdown, and in tests).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mneme_store::{AuditFilter, NewAuditEntry, TenancyStore};
use mneme_types::AuditEntry;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::Result;

/// Entries written in one transaction at most; a batch this full is written at once.
const BATCH: usize = 256;
/// How long the first entry of a batch waits for others.
const LINGER: Duration = Duration::from_millis(200);
/// Entries waiting at most; beyond them new ones are dropped.
const QUEUE: usize = 65_536;

enum Command {
    Record(NewAuditEntry),
    /// Answered once every entry recorded before it is written (or failed to be).
    Flush(oneshot::Sender<()>),
}

/// The audit log: recording through a background writer, listing straight from the store.
/// Dropping it lets the writer write what is queued, then end.
pub struct AuditLog {
    store: Arc<dyn TenancyStore>,
    queue: mpsc::Sender<Command>,
    dropped: Arc<AtomicU64>,
}

impl AuditLog {
    /// Starts the writer task on the current tokio runtime.
    pub fn start(store: Arc<dyn TenancyStore>) -> AuditLog {
        let (queue, commands) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write_batches(store.clone(), commands, dropped.clone()));
        AuditLog {
            store,
            queue,
            dropped,
        }
    }

    /// Queues the entry for writing; never waits. A full queue drops it (counted, logged).
    pub fn record(&self, entry: NewAuditEntry) {
        if self.queue.try_send(Command::Record(entry)).is_err() {
            lost(&self.dropped, 1, "the audit queue is full");
        }
    }

    /// Waits until every entry recorded before this call is written.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Command::Flush(done)).await.is_ok() {
            // The writer answers every flush it takes; gone, it has nothing left to write.
            let _ = written.await;
        }
    }

    /// Entries lost so far: dropped from a full queue, or in a batch the store refused.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The entries the filter selects, as stored (entries still queued are not yet there).
    pub async fn list(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        Ok(self.store.list_audit(filter).await?)
    }
}

/// Counts `n` lost entries and logs it: the first loss, then every thousandth, so that a
/// database far behind does not also flood the log.
fn lost(dropped: &AtomicU64, n: u64, why: &str) {
    let before = dropped.fetch_add(n, Ordering::Relaxed);
    if before == 0 || before / 1000 != (before + n) / 1000 {
        tracing::warn!(
            lost = n,
            total_lost = before + n,
            "audit entries lost: {why}"
        );
    }
}

/// The writer task: until every `AuditLog` handle is gone and the queue drained, gathers a
/// batch and writes it.
async fn write_batches(
    store: Arc<dyn TenancyStore>,
    mut commands: mpsc::Receiver<Command>,
    dropped: Arc<AtomicU64>,
) {
    while let Some(first) = commands.recv().await {
        let mut batch = Batch::default();
        batch.take(first);
        if !batch.is_due() {
            batch.gather(&mut commands).await;
        }
        batch.write(&*store, &dropped).await;
    }
}

#[derive(Default)]
struct Batch {
    entries: Vec<NewAuditEntry>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn take(&mut self, command: Command) {
        match command {
            Command::Record(entry) => self.entries.push(entry),
            Command::Flush(done) => self.flushes.push(done),
        }
    }

    /// Full, or someone waits for it.
    fn is_due(&self) -> bool {
        self.entries.len() >= BATCH || !self.flushes.is_empty()
    }

    /// Takes more commands until the batch is due or `LINGER` has passed.
    async fn gather(&mut self, commands: &mut mpsc::Receiver<Command>) {
        let deadline = Instant::now() + LINGER;
        while !self.is_due() {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.take(command),
                    None => return,
                },
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    async fn write(self, store: &dyn TenancyStore, dropped: &AtomicU64) {
        if !self.entries.is_empty()
            && let Err(e) = store.append_audit(&self.entries).await
        {
            tracing::error!(error = %e, "writing audit entries");
            lost(
                dropped,
                self.entries.len() as u64,
                "the store refused the batch",
            );
        }
        for done in self.flushes {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use mneme_store::Order;
    use mneme_types::{DEFAULT_ORG_ID, DEFAULT_USER_ID, OrgId};

    use super::*;

    fn entry(org: OrgId, path: &str) -> NewAuditEntry {
        NewAuditEntry {
            at: mneme_types::time::now(),
            organization_id: org,
            user_id: DEFAULT_USER_ID,
            key_id: None,
            method: "POST".into(),
            route: "/v1/agents".into(),
            path: path.into(),
            status: 201,
            request_id: None,
        }
    }

    fn everything(order: Order) -> AuditFilter {
        AuditFilter {
            organization_id: None,
            user_id: None,
            after: None,
            before: None,
            limit: 10_000,
            order,
        }
    }

    async fn log() -> (AuditLog, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = mneme_testkit::store_of(dir.path()).await;
        (AuditLog::start(store), dir)
    }

    #[tokio::test]
    async fn recorded_entries_are_listed_in_order_once_flushed() {
        let (log, _dir) = log().await;
        let other = OrgId::new();
        // More than a batch, so that several transactions write them.
        let paths: Vec<String> = (0..BATCH * 2 + 10).map(|i| format!("/e/{i}")).collect();
        for (i, path) in paths.iter().enumerate() {
            let org = if i % 2 == 0 { DEFAULT_ORG_ID } else { other };
            log.record(entry(org, path));
        }
        log.flush().await;
        let listed = log.list(&everything(Order::Asc)).await.unwrap();
        let got: Vec<&str> = listed.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(got, paths);
        assert!(listed.windows(2).all(|w| w[0].seq < w[1].seq));
        let mut of_other = everything(Order::Desc);
        of_other.organization_id = Some(other);
        of_other.limit = 2;
        let newest: Vec<String> = log
            .list(&of_other)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            newest,
            [
                paths[paths.len() - 1].clone(),
                paths[paths.len() - 3].clone()
            ]
        );
        assert_eq!(log.dropped(), 0);
    }

    #[tokio::test]
    async fn entries_queued_when_the_log_is_dropped_are_still_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = mneme_testkit::store_of(dir.path()).await;
        let log = AuditLog::start(store.clone());
        for i in 0..10 {
            log.record(entry(DEFAULT_ORG_ID, &format!("/e/{i}")));
        }
        drop(log);
        let deadline = Instant::now() + LINGER * 20;
        while store
            .list_audit(&everything(Order::Asc))
            .await
            .unwrap()
            .len()
            < 10
        {
            assert!(Instant::now() < deadline, "the queue was not drained");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_lone_entry_is_written_without_a_flush() {
        let (log, _dir) = log().await;
        log.record(entry(DEFAULT_ORG_ID, "/alone"));
        // Written within the linger time, with nobody waiting for it.
        let deadline = Instant::now() + LINGER * 20;
        loop {
            let listed = log.list(&everything(Order::Asc)).await.unwrap();
            if listed.len() == 1 {
                assert_eq!(listed[0].path, "/alone");
                break;
            }
            assert!(Instant::now() < deadline, "never written");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A flush with nothing queued returns at once.
        log.flush().await;
    }
}
