//! The writer thread: every write transaction of the store, committed in groups.
//!
//! One thread owns the writer connection and takes writes (jobs) from a queue. It begins one
//! `BEGIN IMMEDIATE` transaction, runs the first job, then every job already waiting behind it
//! (at most `MAX_BATCH`), each in its own savepoint, commits once, and only then answers them
//! all. With `synchronous=FULL` a commit costs an fsync of the WAL: concurrent agents now share
//! one instead of queueing on theirs, and nobody hears "done" before it. The thread never waits
//! for more jobs, so a lone writer is as fast as before.
//!
//! Seen from a caller nothing changed: jobs run one after another, each sees the ones before
//! it, and a job's failure (an `Err`, a panic) rolls back its own savepoint only.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::{Cached, Result, StoreResult};
use mneme_store::StoreError;

/// The most jobs one transaction takes: bounds how long the last of them waits for its answer
/// and how much one failed commit takes down.
const MAX_BATCH: usize = 64;

/// The handle to the writer thread. Dropping it lets the thread finish the queued jobs, then
/// waits for it, so that the connection is closed when the store is gone.
pub(crate) struct Writer {
    jobs: Option<Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread that owns `conn` from now on.
    pub(crate) fn start(conn: Connection) -> StoreResult<Writer> {
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(&conn, &queue))
            .map_err(|e| StoreError::Db(format!("starting the writer thread: {e}")))?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs `f` on the writer inside the current transaction; answers once it is committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (job, answer) = job(f);
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job).is_ok());
        if sent != Some(true) {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has run what is already queued.
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            // Never wait for ourselves: a job's captures could hold the last store handle.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// A queued write with its caller's answer, its result type erased.
trait Job: Send {
    /// Runs the write on the open transaction; false if it failed and its changes must go.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the fate of its transaction is known: its own failure if it
    /// failed, else the batch's if the batch failed, else its result.
    fn answer(self: Box<Self>, batch: Result<(), BatchFailed>);
}

/// Why a whole transaction was lost, said to every job in it.
#[derive(Debug, Clone)]
struct BatchFailed(String);

/// The `Job` of one `Writer::write` call: the closure until it ran, then its result until the
/// answer.
struct Write<T, F> {
    f: Option<F>,
    out: Option<Result<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

/// Wraps `f` as a job, with the receiver of its answer.
fn job<T, F>(f: F) -> (Box<dyn Job>, oneshot::Receiver<StoreResult<T>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let write = Write {
        f: Some(f),
        out: None,
        reply,
    };
    (Box::new(write), answer)
}

impl<T: Send, F: FnOnce(&Connection) -> Result<T> + Send> Job for Write<T, F> {
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let out = f(conn);
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn answer(self: Box<Self>, batch: Result<(), BatchFailed>) {
        let out = match (batch, self.out) {
            (_, Some(Err(e))) => Err(e.into()),
            (Err(BatchFailed(why)), _) => Err(StoreError::Db(why)),
            (Ok(()), Some(Ok(value))) => Ok(value),
            (Ok(()), None) => Err(StoreError::Db("the write panicked".into())),
        };
        // A caller that stopped waiting (a cancelled request) needs no answer.
        let _ = self.reply.send(out);
    }
}

fn stopped() -> StoreError {
    StoreError::Db("the writer thread has stopped".into())
}

/// The thread's loop: one batch per turn until the queue is closed and empty.
fn serve(conn: &Connection, queue: &Receiver<Box<dyn Job>>) {
    while let Ok(first) = queue.recv() {
        run_batch(conn, first, queue);
    }
}

/// Runs `first` and the jobs queued behind it in one transaction, commits, answers them all.
fn run_batch(conn: &Connection, first: Box<dyn Job>, queue: &Receiver<Box<dyn Job>>) {
    if let Err(e) = begin(conn) {
        first.answer(Err(e));
        return;
    }
    let mut done: Vec<Box<dyn Job>> = Vec::new();
    let mut next = Some(first);
    while let Some(mut job) = next.take() {
        let kept = run_in_savepoint(conn, &mut *job);
        done.push(job);
        if let Err(e) = kept {
            rollback(conn);
            return answer_all(done, Err(e));
        }
        if done.len() < MAX_BATCH {
            next = queue.try_recv().ok();
        }
    }
    let committed = exec(conn, "COMMIT").map_err(|e| {
        rollback(conn);
        BatchFailed(format!("commit failed: {e}"))
    });
    answer_all(done, committed);
}

fn begin(conn: &Connection) -> Result<(), BatchFailed> {
    // A transaction left open by a failed rollback would refuse every later BEGIN.
    rollback(conn);
    exec(conn, "BEGIN IMMEDIATE")
        .map_err(|e| BatchFailed(format!("cannot begin a transaction: {e}")))
}

/// Runs one job in its own savepoint, rolled back if the job fails or panics. `Err` means the
/// transaction itself is lost (SQLite rolled it back, or a savepoint could not be undone), and
/// with it the work of the jobs before this one.
fn run_in_savepoint(conn: &Connection, job: &mut dyn Job) -> Result<(), BatchFailed> {
    exec(conn, "SAVEPOINT job")
        .map_err(|e| BatchFailed(format!("cannot open a savepoint: {e}")))?;
    let kept = catch_unwind(AssertUnwindSafe(|| job.run(conn))).unwrap_or_else(|_| {
        tracing::error!("a write panicked; its changes are rolled back");
        false
    });
    let undone = if kept {
        Ok(())
    } else {
        exec(conn, "ROLLBACK TO job")
    };
    let ended = undone.and_then(|()| exec(conn, "RELEASE job"));
    if conn.is_autocommit() {
        return Err(BatchFailed(
            "the transaction was rolled back by a write in it".into(),
        ));
    }
    ended.map_err(|e| BatchFailed(format!("cannot end a savepoint: {e}")))
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(e) = exec(conn, "ROLLBACK")
    {
        tracing::error!(error = %e, "rolling back a failed write transaction");
    }
}

/// Runs one of the writer's fixed statements (prepared once per connection).
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.execute_cached(sql, []).map(drop)
}

fn answer_all(jobs: Vec<Box<dyn Job>>, batch: Result<(), BatchFailed>) {
    for job in jobs {
        job.answer(batch.clone());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use super::*;
    use crate::{Durability, Error, open_connection};

    /// A database with one table of texts, and the connection the writer will own.
    fn database(dir: &tempfile::TempDir) -> (PathBuf, Connection) {
        let path = dir.path().join("w.db");
        let conn = open_connection(&path, Durability::Full).unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT NOT NULL)")
            .unwrap();
        (path, conn)
    }

    fn insert(conn: &Connection, v: &str) -> Result<()> {
        conn.execute("INSERT INTO t VALUES (?1)", [v])?;
        Ok(())
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    /// What another connection reads: the committed rows.
    fn stored(path: &Path) -> Vec<String> {
        let conn = open_connection(path, Durability::Full).unwrap();
        let mut stmt = conn.prepare("SELECT v FROM t ORDER BY rowid").unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    /// Runs `jobs` as the thread finds them when they were queued before it looked.
    fn serve_queued(conn: &Connection, jobs: Vec<Box<dyn Job>>) {
        let (sender, queue) = mpsc::channel();
        for job in jobs {
            sender.send(job).unwrap();
        }
        drop(sender);
        serve(conn, &queue);
    }

    #[test]
    fn queued_writes_share_one_commit_and_a_failure_stays_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = database(&dir);
        let outside = open_connection(&path, Durability::Full).unwrap();
        let (first, first_done) = job(|c| insert(c, "a"));
        let (failing, failed) = job(|c| {
            insert(c, "b")?;
            Err::<(), _>(Error::Store(StoreError::Invalid("refused".into())))
        });
        let (last, last_done) = job(move |c| {
            insert(c, "c")?;
            Ok((count(c), count(&outside)))
        });
        serve_queued(&conn, vec![first, failing, last]);
        first_done.blocking_recv().unwrap().unwrap();
        let refusal = failed.blocking_recv().unwrap();
        assert!(
            matches!(refusal, Err(StoreError::Invalid(_))),
            "{refusal:?}"
        );
        // The last write saw the first one's row, which nobody else could see yet.
        assert_eq!(last_done.blocking_recv().unwrap().unwrap(), (2, 0));
        assert_eq!(stored(&path), ["a", "c"]);
    }

    #[test]
    fn a_panicking_write_is_rolled_back_alone_and_answered() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = database(&dir);
        let (first, first_done) = job(|c| insert(c, "a"));
        let (panicking, panicked) = job(|c| -> Result<()> {
            insert(c, "p")?;
            panic!("a bug in a write");
        });
        let (last, last_done) = job(|c| insert(c, "c"));
        serve_queued(&conn, vec![first, panicking, last]);
        first_done.blocking_recv().unwrap().unwrap();
        let answer = panicked.blocking_recv().unwrap();
        assert!(
            matches!(&answer, Err(StoreError::Db(m)) if m.contains("panicked")),
            "{answer:?}"
        );
        last_done.blocking_recv().unwrap().unwrap();
        assert_eq!(stored(&path), ["a", "c"]);
    }

    #[test]
    fn a_write_that_ends_the_transaction_fails_its_batch_mates_not_later_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = database(&dir);
        let (first, first_done) = job(|c| insert(c, "a"));
        let (ending, ended) = job(|c| Ok(c.execute_batch("ROLLBACK")?));
        let (last, last_done) = job(|c| insert(c, "c"));
        serve_queued(&conn, vec![first, ending, last]);
        for answer in [first_done.blocking_recv(), ended.blocking_recv()] {
            let answer = answer.unwrap();
            assert!(matches!(answer, Err(StoreError::Db(_))), "{answer:?}");
        }
        last_done.blocking_recv().unwrap().unwrap();
        assert_eq!(stored(&path), ["c"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_all_succeed_and_later_writes_follow_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = database(&dir);
        let writer = Arc::new(Writer::start(conn).unwrap());
        let writers = (0..64).map(|i| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for j in 0..10 {
                    let v = format!("{i}-{j}");
                    writer.write(move |c| insert(c, &v)).await.unwrap();
                }
            })
        });
        for w in writers.collect::<Vec<_>>() {
            w.await.unwrap();
        }
        assert_eq!(stored(&path).len(), 640);

        let panicked = writer
            .write(|_| -> Result<()> { panic!("a bug in a write") })
            .await;
        assert!(matches!(panicked, Err(StoreError::Db(_))), "{panicked:?}");
        writer.write(|c| insert(c, "after")).await.unwrap();
        assert_eq!(stored(&path).len(), 641);
    }
}
