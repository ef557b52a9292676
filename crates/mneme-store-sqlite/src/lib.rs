//! The embedded SQLite backend of `mneme-store`'s traits (rusqlite, bundled SQLite, WAL).
//!
//! One writer connection, owned by the writer thread, serialises all writes (`BEGIN IMMEDIATE`,
//! so no `SQLITE_BUSY` between our own writers) and commits concurrent ones together (see
//! `writer`); reads use a small pool of reader connections that WAL lets run beside the writer,
//! on tokio's blocking pool.

mod agents;
mod batches;
mod blocks;
mod conversations;
mod folders;
mod group_messages;
mod groups;
mod identities;
mod imports;
mod mcp;
mod messages;
mod migrate;
mod passages;
mod providers;
mod replicas;
mod rows;
mod runs;
mod sandbox;
mod search;
mod steps;
mod tags;
mod tenancy;
mod tools;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

use mneme_store::StoreError;

/// What SQLite code fails with inside a transaction: a storage verdict (an edit closure's
/// refusal, a missing row) or SQLite itself. The orphan rule keeps `From<rusqlite::Error>` off
/// `StoreError`, which must not know rusqlite; this carries both and becomes a `StoreError` at
/// the trait boundary (`read`/`write`).
#[derive(Debug)]
pub(crate) enum Error {
    Store(StoreError),
    Sqlite(rusqlite::Error),
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
/// What the trait methods answer.
type StoreResult<T> = mneme_store::Result<T>;

impl Error {
    pub(crate) fn not_found(kind: &'static str, id: impl ToString) -> Error {
        Error::Store(StoreError::not_found(kind, id))
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sqlite(e)
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(e) => e,
            // A unique or foreign-key constraint is the caller's conflict, not our failure.
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, msg))
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict(msg.unwrap_or_else(|| f.to_string()))
            }
            Error::Sqlite(e) => StoreError::Db(e.to_string()),
        }
    }
}

/// How hard SQLite flushes a commit to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: an acknowledged write survives power loss.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a process crash; the last commits may be lost on power loss.
    Normal,
}

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
}

struct Db {
    path: PathBuf,
    durability: Durability,
    writer: writer::Writer,
    readers: Mutex<Vec<Connection>>,
    /// This handle's replica id: every open is a replica of its own (`replicas`).
    replica: Arc<str>,
}

/// Reader connections kept open between reads.
const MAX_IDLE_READERS: usize = 8;

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs pending migrations.
    pub fn open(path: &Path, durability: Durability) -> StoreResult<SqliteStore> {
        let mut writer = open_connection(path, durability)?;
        migrate::run(&mut writer)?;
        Ok(SqliteStore {
            db: Arc::new(Db {
                path: path.to_owned(),
                durability,
                writer: writer::Writer::start(writer)?,
                readers: Mutex::new(Vec::new()),
                replica: format!("replica-{}", uuid::Uuid::new_v4()).into(),
            }),
        })
    }

    /// Runs `f` on a reader connection.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let db = self.db.clone();
        blocking(move || {
            let conn = match lock(&db.readers).pop() {
                Some(conn) => conn,
                None => open_connection(&db.path, db.durability)?,
            };
            let out = f(&conn);
            let mut idle = lock(&db.readers);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            out
        })
        .await
    }

    /// Runs `f` atomically on the writer: its changes are kept only on `Ok`, and the answer
    /// comes once they are committed (durably, as `Durability` says).
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.db.writer.write(f).await
    }
}

fn open_connection(path: &Path, durability: Durability) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON;
         PRAGMA busy_timeout=5000; PRAGMA temp_store=MEMORY;"
    ))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// `execute` and `query_row` through the connection's statement cache: parsing the same SQL
/// again for every call showed in profiles of the step.
pub(crate) trait Cached {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// Statements kept prepared per connection (rusqlite's default is 16; a step uses more).
const STATEMENT_CACHE: usize = 256;

async fn blocking<T, F>(f: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(out) => out.map_err(StoreError::from),
        Err(e) => Err(StoreError::Db(format!("storage task failed: {e}"))),
    }
}

/// A poisoned lock only means another thread panicked while holding it; the connection itself
/// is still usable (SQLite rolls back an unfinished transaction).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// An acknowledged write is committed: a store that never shuts down (its writer thread and
    /// connection leaked, as in a crash) leaves it to the next one that opens the file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acknowledged_writes_are_in_the_file_without_a_clean_shutdown() {
        use mneme_store::conformance::{agent, append, message};
        use mneme_store::{AgentStore, Role};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = Arc::new(SqliteStore::open(&path, Durability::Full).unwrap());
        let writers = (0..16).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let a = agent(&*store, &format!("a{i}")).await;
                append(&*store, a.id, vec![message(a.id, Role::User, "hi")]).await;
                a.id
            })
        });
        let mut agents = Vec::new();
        for w in writers.collect::<Vec<_>>() {
            agents.push(w.await.unwrap());
        }
        std::mem::forget(store);

        let reopened = SqliteStore::open(&path, Durability::Full).unwrap();
        for id in agents {
            let ctx = reopened.agent_context(id).await.unwrap();
            assert_eq!((ctx.messages.len(), ctx.message_count), (2, 2));
        }
    }

    #[test]
    fn sqlite_errors_become_backend_neutral_store_errors() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (name TEXT UNIQUE); INSERT INTO t VALUES ('a');")
            .unwrap();
        let taken = conn.execute("INSERT INTO t VALUES ('a')", []).unwrap_err();
        let err = StoreError::from(Error::from(taken));
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        let broken = conn
            .execute("INSERT INTO missing VALUES (1)", [])
            .unwrap_err();
        let err = StoreError::from(Error::from(broken));
        assert!(
            matches!(&err, StoreError::Db(m) if m.contains("missing")),
            "{err:?}"
        );
        let verdict = StoreError::from(Error::not_found("Agent", "agent-1"));
        assert!(matches!(
            verdict,
            StoreError::NotFound { kind: "Agent", .. }
        ));
    }
}
