//! Schema migrations, embedded in the binary and applied in order at start-up.

use crate::{Error, Result};
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
    (7, include_str!("../migrations/0007_counts.sql")),
    (8, include_str!("../migrations/0008_messages_edited.sql")),
    (9, include_str!("../migrations/0009_conversations.sql")),
    (10, include_str!("../migrations/0010_identities.sql")),
    (11, include_str!("../migrations/0011_groups.sql")),
    (12, include_str!("../migrations/0012_group_messages.sql")),
    (13, include_str!("../migrations/0013_folders.sql")),
    (14, include_str!("../migrations/0014_agent_files.sql")),
    (15, include_str!("../migrations/0015_step_lookups.sql")),
    (16, include_str!("../migrations/0016_replicas.sql")),
    (17, include_str!("../migrations/0017_file_owner.sql")),
    (18, include_str!("../migrations/0018_sandbox_configs.sql")),
    (19, include_str!("../migrations/0019_batches.sql")),
    (20, include_str!("../migrations/0020_provider_traces.sql")),
    (21, include_str!("../migrations/0021_tenancy.sql")),
];

/// Applies the migrations this database has not seen, each in its own transaction.
pub(crate) fn run(conn: &mut Connection) -> Result<()> {
    apply(conn, MIGRATIONS)
}

fn apply(conn: &mut Connection, migrations: &[(i64, &str)]) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    refuse_newer(conn, migrations)?;
    for (version, sql) in migrations {
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

/// A database a newer mneme wrote may hold what this one cannot read or would damage: it is
/// refused, untouched. An older one is migrated (the log says how far).
fn refuse_newer(conn: &Connection, migrations: &[(i64, &str)]) -> Result<()> {
    let stored: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })?;
    let known = migrations.iter().map(|(v, _)| *v).max().unwrap_or(0);
    match stored {
        Some(v) if v > known => Err(Error::Store(mneme_store::StoreError::Invalid(format!(
            "the database is at schema version {v}, newer than this mneme knows ({known}); \
             run the mneme that wrote it, or a newer one"
        )))),
        Some(v) if v < known => {
            tracing::info!(
                from = v,
                to = known,
                "migrating the database (a copy of the data directory made before this start \
                 is the way back)"
            );
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Version N means the same tables in every backend: this one's list ends at the shared
    /// number.
    #[test]
    fn the_newest_version_is_the_shared_schema_version() {
        assert_eq!(MIGRATIONS.last().unwrap().0, mneme_store::SCHEMA_VERSION);
    }

    #[test]
    fn a_database_newer_than_the_binary_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        run(&mut conn).unwrap();
        let newest = MIGRATIONS.last().unwrap().0;
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
            [newest + 1],
        )
        .unwrap();
        let err = run(&mut conn).unwrap_err();
        let Error::Store(mneme_store::StoreError::Invalid(why)) = err else {
            panic!("{err:?}");
        };
        assert!(
            why.contains(&format!("schema version {}", newest + 1)),
            "{why}"
        );
        // an older database migrates: the versions it lacks are applied
        let mut old = Connection::open_in_memory().unwrap();
        apply(&mut old, &MIGRATIONS[..3]).unwrap();
        run(&mut old).unwrap();
        let applied: i64 = old
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(applied as usize, MIGRATIONS.len());
    }

    /// Rows stored before the counts existed are counted when they arrive.
    #[test]
    fn counts_are_backfilled() {
        let mut conn = Connection::open_in_memory().unwrap();
        let before_counts = MIGRATIONS.iter().position(|(v, _)| *v == 7).unwrap();
        apply(&mut conn, &MIGRATIONS[..before_counts]).unwrap();
        conn.execute_batch(
            "INSERT INTO agents (id, name, agent_type, system, llm_config, created_at, updated_at)
             VALUES ('a', 'a', 'letta_v1_agent', '', '{}', 0, 0), ('b', 'b', 'letta_v1_agent', '', '{}', 0, 0);
             INSERT INTO messages (id, agent_id, role, text, created_at, updated_at)
             VALUES ('m1', 'a', 'system', '', 0, 0), ('m2', 'a', 'user', '', 0, 0);
             INSERT INTO archives (id, name, created_at, updated_at)
             VALUES ('x', 'x', 0, 0), ('y', 'y', 0, 0);
             INSERT INTO passages (id, archive_id, text, created_at, updated_at)
             VALUES ('p1', 'x', '', 0, 0), ('p2', 'x', '', 0, 0), ('p3', 'x', '', 0, 0);",
        )
        .unwrap();
        run(&mut conn).unwrap();
        let counts = |sql: &str| -> Vec<(String, i64)> {
            let mut stmt = conn.prepare(sql).unwrap();
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            rows.collect::<Result<_, _>>().unwrap()
        };
        let agents = counts("SELECT id, message_count FROM agents ORDER BY id");
        assert_eq!(agents, [("a".into(), 2), ("b".into(), 0)]);
        let archives = counts("SELECT id, passage_count FROM archives ORDER BY id");
        assert_eq!(archives, [("x".into(), 3), ("y".into(), 0)]);
    }
}
