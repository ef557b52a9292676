//! Schema versions, embedded in the binary and applied in order at connection.
//!
//! The numbers are SQLite's: version N means the same tables and columns in both backends.
//! PostgreSQL support began at version 15, whose file holds the whole schema; every later
//! version is written for both backends under the same number.

use sqlx::{Connection, PgConnection, PgPool};

use crate::{Error, Result};
use mneme_store::StoreError;

/// Every version ever shipped for PostgreSQL, in order. Never edit one that has shipped.
pub const SCHEMA_VERSIONS: &[(i64, &str)] = &[
    (15, include_str!("../migrations/0015_schema.sql")),
    (16, include_str!("../migrations/0016_replicas.sql")),
    (17, include_str!("../migrations/0017_file_owner.sql")),
    (18, include_str!("../migrations/0018_sandbox_configs.sql")),
    (19, include_str!("../migrations/0019_batches.sql")),
    (20, include_str!("../migrations/0020_provider_traces.sql")),
    (21, include_str!("../migrations/0021_tenancy.sql")),
];

/// Held while migrating, so that replicas starting together apply each version once.
const LOCK_KEY: i64 = 0x6d6e_656d_6500; // "mneme\0"

/// Applies the versions this database has not seen, each in its own transaction, under an
/// advisory lock that replicas starting at the same moment queue on.
pub(crate) async fn run(pool: &PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let applied = apply(&mut conn, SCHEMA_VERSIONS).await;
    // Released even when a version failed; a lost connection releases it anyway.
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await;
    applied?;
    unlocked?;
    Ok(())
}

async fn apply(conn: &mut PgConnection, versions: &[(i64, &str)]) -> Result<()> {
    refuse_foreign_schema(conn).await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations \
         (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    refuse_newer(conn, versions).await?;
    for (version, sql) in versions {
        let mut tx = conn.begin().await?;
        let done: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)",
        )
        .bind(version)
        .fetch_one(&mut *tx)
        .await?;
        if !done {
            tracing::info!(version, "applying migration");
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(mneme_types::time::now().timestamp_micros())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// A database with tables of its own but no schema versions of ours is someone else's, most
/// likely Letta's own (same table names, other columns): refused untouched, with the way on.
async fn refuse_foreign_schema(conn: &mut PgConnection) -> Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::TEXT FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         ORDER BY table_name",
    )
    .fetch_all(&mut *conn)
    .await?;
    if tables.is_empty() || tables.iter().any(|t| t == "schema_migrations") {
        return Ok(());
    }
    let letta = tables.iter().any(|t| t == "alembic_version");
    let whose = if letta {
        "Letta's"
    } else {
        "another application's"
    };
    Err(Error::Store(StoreError::Invalid(format!(
        "the database holds {whose} tables ({} of them) and none of mneme's; point mneme at an \
         empty database (it is created if missing). Letta's data is moved with `mneme migrate`.",
        tables.len()
    ))))
}

/// A database a newer mneme wrote may hold what this one cannot read or would damage: it is
/// refused, untouched.
async fn refuse_newer(conn: &mut PgConnection, versions: &[(i64, &str)]) -> Result<()> {
    let stored: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await?;
    let known = versions.iter().map(|(v, _)| *v).max().unwrap_or(0);
    match stored {
        Some(v) if v > known => Err(Error::Store(StoreError::Invalid(format!(
            "the database is at schema version {v}, newer than this mneme knows ({known}); \
             run the mneme that wrote it, or a newer one"
        )))),
        Some(v) if v < known => {
            tracing::info!(from = v, to = known, "migrating the database");
            Ok(())
        }
        _ => Ok(()),
    }
}
