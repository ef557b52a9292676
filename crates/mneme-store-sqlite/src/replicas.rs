//! `ReplicaStore` on SQLite: liveness, leases and cancel requests between handles on one file.
//! One SQLite process is the usual case (nothing calls these then), but two handles on one
//! file behave as two replicas, which is how the coordination is tested without PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mneme_store::{ReplicaStore, UnfinishedFile};
use mneme_types::{FileId, RunId};
use rusqlite::{Connection, OptionalExtension};

use crate::rows::micros;
use crate::{Cached, Error, Result, SqliteStore, StoreResult};

/// The statuses of a run that something still executes.
const ACTIVE: &str = "status IN ('created', 'running')";

fn now() -> i64 {
    micros(&mneme_types::time::now())
}

fn span(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[async_trait]
impl ReplicaStore for SqliteStore {
    fn replica_id(&self) -> &str {
        &self.db.replica
    }

    async fn heartbeat(&self, lease_ttl: Duration) -> StoreResult<Vec<RunId>> {
        let me = self.db.replica.clone();
        self.write(move |tx| {
            let now = now();
            tx.execute_cached(
                "INSERT INTO replicas (id, started_at, heartbeat_at) VALUES (?1, ?2, ?2)
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                (&*me, now),
            )?;
            tx.execute_cached(
                "UPDATE leases SET expires_at = ?2 WHERE holder = ?1",
                (&*me, now.saturating_add(span(lease_ttl))),
            )?;
            let sql = format!(
                "SELECT id FROM runs WHERE owner = ?1 AND cancel_requested <> 0 AND {ACTIVE}"
            );
            run_ids(tx, &sql, &me)
        })
        .await
    }

    async fn acquire_lease(&self, key: &str, ttl: Duration) -> StoreResult<Option<String>> {
        let (me, key) = (self.db.replica.clone(), key.to_owned());
        self.write(move |tx| {
            let now = now();
            // Taken over only when free, expired or ours: one statement decides.
            tx.execute_cached(
                "INSERT INTO leases (key, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET holder = excluded.holder,
                     expires_at = excluded.expires_at
                 WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4",
                (&key, &*me, now.saturating_add(span(ttl)), now),
            )?;
            let holder: String =
                tx.query_row_cached("SELECT holder FROM leases WHERE key = ?1", [&key], |r| {
                    r.get(0)
                })?;
            Ok((holder != *me).then_some(holder))
        })
        .await
    }

    async fn release_lease(&self, key: &str) -> StoreResult<()> {
        let (me, key) = (self.db.replica.clone(), key.to_owned());
        self.write(move |tx| {
            tx.execute_cached(
                "DELETE FROM leases WHERE key = ?1 AND holder = ?2",
                (&key, &*me),
            )?;
            Ok(())
        })
        .await
    }

    async fn retire(&self) -> StoreResult<()> {
        let me = self.db.replica.clone();
        self.write(move |tx| {
            tx.execute_cached("DELETE FROM leases WHERE holder = ?1", [&*me])?;
            tx.execute_cached(
                "DELETE FROM search_state WHERE name = 'outbox:' || ?1",
                [&*me],
            )?;
            tx.execute_cached("DELETE FROM replicas WHERE id = ?1", [&*me])?;
            Ok(())
        })
        .await
    }

    async fn request_cancel(&self, run: RunId) -> StoreResult<bool> {
        self.write(move |tx| {
            let id = run.to_string();
            let sql = format!("UPDATE runs SET cancel_requested = 1 WHERE id = ?1 AND {ACTIVE}");
            if tx.execute_cached(&sql, [&id])? > 0 {
                return Ok(true);
            }
            let exists = tx
                .query_row_cached("SELECT 1 FROM runs WHERE id = ?1", [&id], |_| Ok(()))
                .optional()?;
            match exists {
                Some(()) => Ok(false),
                None => Err(Error::not_found("Run", run)),
            }
        })
        .await
    }

    async fn fail_dead_runs(&self, dead_after: Duration) -> StoreResult<Vec<RunId>> {
        let me = self.db.replica.clone();
        self.write(move |tx| {
            let now = now();
            let cutoff = now.saturating_sub(span(dead_after));
            let sql = format!(
                "UPDATE runs SET status = 'failed', stop_reason = 'error', completed_at = ?3
                 WHERE {ACTIVE} AND (owner IS NULL OR (owner <> ?1 AND owner NOT IN
                     (SELECT id FROM replicas WHERE heartbeat_at >= ?2)))
                 RETURNING id"
            );
            let failed = {
                let mut stmt = tx.prepare_cached(&sql)?;
                let rows = stmt.query_map((&*me, cutoff, now), |r| r.get::<_, String>(0))?;
                parse_ids(rows)?
            };
            forget_dead(tx, &me, cutoff)?;
            Ok(failed)
        })
        .await
    }

    async fn restart_orphaned_files(
        &self,
        dead_after: Duration,
    ) -> StoreResult<Vec<UnfinishedFile>> {
        let me = self.db.replica.clone();
        self.write(move |tx| {
            let live_since = now().saturating_sub(span(dead_after));
            crate::folders::restart_unfinished(tx, &me, Some(live_since))
        })
        .await
    }

    async fn fail_dead_files(
        &self,
        dead_after: Duration,
        message: String,
    ) -> StoreResult<Vec<FileId>> {
        let me = self.db.replica.clone();
        self.write(move |tx| {
            let live_since = now().saturating_sub(span(dead_after));
            crate::folders::fail_unfinished(tx, &me, live_since, &message)
        })
        .await
    }

    async fn prune_search_shared(&self, applied: u64, dead_after: Duration) -> StoreResult<u64> {
        let me = self.db.replica.clone();
        self.write(move |tx| {
            let cutoff = now().saturating_sub(span(dead_after));
            tx.execute_cached(
                "INSERT INTO search_state (name, value) VALUES ('outbox:' || ?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (&*me, applied as i64),
            )?;
            // A live replica that recorded no watermark yet holds pruning back entirely.
            let upto: i64 = tx.query_row_cached(
                "SELECT MIN(COALESCE(s.value, 0)) FROM
                     (SELECT id FROM replicas WHERE heartbeat_at >= ?2 UNION SELECT ?1) r
                     LEFT JOIN search_state s ON s.name = 'outbox:' || r.id",
                (&*me, cutoff),
                |r| r.get(0),
            )?;
            tx.execute_cached("DELETE FROM search_outbox WHERE seq <= ?1", [upto])?;
            Ok(upto.max(0) as u64)
        })
        .await
    }
}

/// Replicas silent since `cutoff` (never `me`), with their leases and outbox watermarks.
fn forget_dead(tx: &Connection, me: &Arc<str>, cutoff: i64) -> Result<()> {
    const DEAD: &str = "SELECT id FROM replicas WHERE heartbeat_at < ?2 AND id <> ?1";
    tx.execute_cached(
        &format!("DELETE FROM leases WHERE holder IN ({DEAD})"),
        (&**me, cutoff),
    )?;
    tx.execute_cached(
        &format!("DELETE FROM search_state WHERE name IN (SELECT 'outbox:' || id FROM ({DEAD}))"),
        (&**me, cutoff),
    )?;
    tx.execute_cached(
        "DELETE FROM replicas WHERE heartbeat_at < ?2 AND id <> ?1",
        (&**me, cutoff),
    )?;
    Ok(())
}

fn run_ids(tx: &Connection, sql: &str, param: &str) -> Result<Vec<RunId>> {
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map([param], |r| r.get::<_, String>(0))?;
    parse_ids(rows)
}

fn parse_ids(rows: impl Iterator<Item = rusqlite::Result<String>>) -> Result<Vec<RunId>> {
    rows.map(|id| crate::rows::parse(&id?)).collect()
}
