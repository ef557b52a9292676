//! Schema migrations, embedded in the binary and applied in order at start-up.

use crate::Result;
use rusqlite::{Connection, TransactionBehavior};

/// Every migration ever shipped, in order. Never edit one that has shipped; add a new one.
/// Each version is applied once, whichever others a database has seen, so versions written in
/// parallel may land in either order (they must not depend on each other).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_search.sql")),
    (3, include_str!("../migrations/0003_mcp_servers.sql")),
    (
        4,
        include_str!("../migrations/0004_message_ids_version.sql"),
    ),
    (5, include_str!("../migrations/0005_reasoning_blocks.sql")),
    (6, include_str!("../migrations/0006_providers.sql")),
    (8, include_str!("../migrations/0008_messages_edited.sql")),
];

/// Applies the migrations this database has not seen, each in its own transaction.
pub(crate) fn run(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    for (version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if !done {
            tracing::info!(version, "applying migration");
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                (version, mneme_types::time::now().timestamp_micros()),
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}
