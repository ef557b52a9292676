//! The PostgreSQL backend of `mneme-store`'s traits (sqlx, async, one connection pool), for
//! one server or several replicas on one database.
//!
//! Each trait method is one transaction. Where SQLite gets its serial order from its single
//! writer, here concurrent transactions of other replicas are real: a write that checks what it
//! read first (a context version, an expected block value, a unique name) locks the rows it
//! checks (`SELECT … FOR UPDATE`) or lets a constraint decide, so the promises of the traits
//! hold with any number of writers. Tables and columns are SQLite's (see `migrations/`), so
//! that `mneme migrate` copies rows unchanged.

mod agents;
mod batches;
mod blocks;
mod conversations;
mod folders;
mod groups;
mod identities;
mod imports;
mod mcp;
mod messages;
mod migrate;
mod passages;
mod providers;
mod query;
mod replicas;
mod rows;
mod runs;
mod sandbox;
#[cfg(feature = "scratch")]
pub mod scratch;
mod search;
mod tenancy;
mod tools;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use mneme_store::StoreError;

pub use migrate::SCHEMA_VERSIONS;

/// What PostgreSQL code fails with: a storage verdict (a missing row, a refused edit) or the
/// driver. Becomes a `StoreError` at the trait boundary (`?` in the trait methods), which must
/// not know sqlx.
#[derive(Debug)]
pub(crate) enum Error {
    Store(StoreError),
    Pg(sqlx::Error),
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

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Pg(e)
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(e) => e,
            Error::Pg(e) => from_sqlx(e),
        }
    }
}

/// The driver's error in storage's words: the caller's conflict, a database out of reach, or
/// our failure.
fn from_sqlx(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match e {
        E::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.get(..2) {
                // Integrity constraints (unique, foreign key, check): the caller's conflict.
                Some("23") => StoreError::Conflict(db.message().to_owned()),
                // Serialization failure and deadlock: a concurrent writer won; nothing written.
                Some("40") => StoreError::Conflict(db.message().to_owned()),
                // Text PostgreSQL cannot hold (a NUL character): the input's fault.
                Some("22") if code == "22021" || code == "22P05" => StoreError::Invalid(
                    "text with a NUL character (\\u0000) cannot be stored".to_owned(),
                ),
                // Connection exceptions, and a server shutting down or starting up.
                Some("08") | Some("57") => StoreError::Unavailable(db.message().to_owned()),
                _ => StoreError::Db(db.to_string()),
            }
        }
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::Protocol(_) => {
            StoreError::Unavailable(e.to_string())
        }
        e => StoreError::Db(e.to_string()),
    }
}

/// How the pool is sized and how long a request waits for a connection.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The most connections this process holds (each replica has its own pool).
    pub max_connections: u32,
    /// How long a request waits for a free or new connection before it fails as unavailable.
    pub acquire_timeout: Duration,
    /// The schema the tables live in (created if missing), instead of the connection's
    /// default (`public`): one database holds one organization per schema.
    pub schema: Option<String>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            schema: None,
        }
    }
}

/// The PostgreSQL store. Cheap to clone (a handle on the pool).
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// This process's replica id; every connection of the pool carries it as `mneme.replica`,
    /// the default of a new run's owner (`replicas`).
    replica: std::sync::Arc<str>,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and brings the schema
    /// up to date; refuses a database newer than this binary.
    pub async fn connect(url: &str, options: PgOptions) -> StoreResult<PgStore> {
        let connect: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("database url: {e}")))?;
        // Statements are logged by the store's own spans, not once more by the driver.
        let connect = connect.disable_statement_logging();
        let replica: std::sync::Arc<str> = format!("replica-{}", uuid::Uuid::new_v4()).into();
        let connect = connect.options([("mneme.replica", &*replica)]);
        let connect = match &options.schema {
            Some(schema) => connect.options([("search_path", schema.as_str())]),
            None => connect,
        };
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout);
        let pool = match pool.clone().connect_with(connect.clone()).await {
            Err(e) if is_missing_database(&e) => {
                create_database(&connect).await?;
                pool.connect_with(connect).await.map_err(from_sqlx)?
            }
            other => other.map_err(from_sqlx)?,
        };
        if let Some(schema) = &options.schema {
            create_schema(&pool, schema).await?;
        }
        migrate::run(&pool).await?;
        Ok(PgStore { pool, replica })
    }

    /// Drops `schema` with everything in it (a deleted organization's tables), connecting
    /// to `url` once.
    pub async fn drop_schema(url: &str, schema: &str) -> StoreResult<()> {
        let connect: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("database url: {e}")))?;
        let mut conn = connect.connect().await.map_err(from_sqlx)?;
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(schema));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map_err(from_sqlx)?;
        Ok(())
    }

    /// The pool, for tools that work on the tables themselves (`mneme migrate`).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// An identifier cannot be a bind parameter: quoted, with its quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the schema the pool's `search_path` names, before the migrations fill it.
async fn create_schema(pool: &PgPool, schema: &str) -> StoreResult<()> {
    let sql = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema));
    match sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await {
        Ok(_) => Ok(()),
        // Another replica created it at the same moment.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("23505") => Ok(()),
        Err(e) => Err(from_sqlx(e)),
    }
}

/// PostgreSQL's "database does not exist".
fn is_missing_database(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000"))
}

/// Creates the database `connect` names, through the server's `postgres` database with the same
/// credentials: a new deployment needs no manual `createdb`.
async fn create_database(connect: &PgConnectOptions) -> Result<()> {
    let name = connect.get_database().unwrap_or("postgres").to_owned();
    let mut admin = connect.clone().database("postgres").connect().await?;
    // An identifier cannot be a bind parameter: quoted, with its quotes doubled.
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    let sql = format!("CREATE DATABASE {quoted}");
    match sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut admin)
        .await
    {
        Ok(_) => tracing::info!(database = %name, "created the database"),
        // Another replica created it meanwhile.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_loss_is_unavailable_and_constraints_are_conflicts() {
        let lost = from_sqlx(sqlx::Error::PoolTimedOut);
        assert!(matches!(lost, StoreError::Unavailable(_)), "{lost:?}");
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let refused = from_sqlx(sqlx::Error::Io(io));
        assert!(matches!(refused, StoreError::Unavailable(_)), "{refused:?}");
        let verdict = StoreError::from(Error::not_found("Agent", "agent-1"));
        assert!(matches!(
            verdict,
            StoreError::NotFound { kind: "Agent", .. }
        ));
    }
}
