//! `ReplicaStore` on PostgreSQL: liveness, leases and cancel requests between the server
//! processes on one database. Each method is one transaction; a lease changes hands in one
//! `INSERT … ON CONFLICT … DO UPDATE … WHERE` (the row lock it takes orders concurrent
//! claimants), so two replicas never both hold one.

use std::time::Duration;

use async_trait::async_trait;
use mneme_store::{PoolState, ReplicaStore, StoreError, UnfinishedFile};
use mneme_types::{FileId, RunId};
use sqlx::{PgConnection, Row};

use crate::{Error, PgStore, Result, StoreResult};

/// The statuses of a run that something still executes.
const ACTIVE: &str = "status IN ('created', 'running')";

fn now() -> i64 {
    mneme_types::time::now().timestamp_micros()
}

fn span(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn run_ids(ids: Vec<String>) -> Result<Vec<RunId>> {
    ids.iter()
        .map(|id| {
            id.parse()
                .map_err(|_| Error::Store(StoreError::Corrupt(format!("bad run id {id}"))))
        })
        .collect()
}

#[async_trait]
impl ReplicaStore for PgStore {
    fn replica_id(&self) -> &str {
        &self.replica
    }

    fn pool_state(&self) -> Option<PoolState> {
        let pool = self.pool();
        Some(PoolState {
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        })
    }

    async fn heartbeat(&self, lease_ttl: Duration) -> StoreResult<Vec<RunId>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let ids = heartbeat(&mut tx, &self.replica, lease_ttl).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(ids)
    }

    async fn acquire_lease(&self, key: &str, ttl: Duration) -> StoreResult<Option<String>> {
        let now = now();
        // Taken over only when free, expired or ours; otherwise the row is left as it is and
        // the select in the same transaction names its holder.
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        sqlx::query(
            "INSERT INTO leases (key, holder, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET holder = excluded.holder,
                 expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        )
        .bind(key)
        .bind(&*self.replica)
        .bind(now.saturating_add(span(ttl)))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(Error::from)?;
        let holder: String = sqlx::query_scalar("SELECT holder FROM leases WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok((holder != *self.replica).then_some(holder))
    }

    async fn release_lease(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE key = $1 AND holder = $2")
            .bind(key)
            .bind(&*self.replica)
            .execute(&self.pool)
            .await
            .map_err(Error::from)?;
        Ok(())
    }

    async fn retire(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        for sql in [
            "DELETE FROM leases WHERE holder = $1",
            "DELETE FROM search_state WHERE name = 'outbox:' || $1",
            "DELETE FROM replicas WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(&*self.replica)
                .execute(&mut *tx)
                .await
                .map_err(Error::from)?;
        }
        tx.commit().await.map_err(Error::from)?;
        Ok(())
    }

    async fn request_cancel(&self, run: RunId) -> StoreResult<bool> {
        let id = run.to_string();
        // One statement: whether the run exists, and whether it was active and is now flagged.
        let sql = format!(
            "WITH flagged AS (UPDATE runs SET cancel_requested = 1 WHERE id = $1 AND {ACTIVE}
                              RETURNING id)
             SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1),
                    EXISTS (SELECT 1 FROM flagged)"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&id)
            .fetch_one(&self.pool)
            .await
            .map_err(Error::from)?;
        let (exists, flagged): (bool, bool) = (
            row.try_get(0).map_err(Error::from)?,
            row.try_get(1).map_err(Error::from)?,
        );
        match exists {
            true => Ok(flagged),
            false => Err(Error::not_found("Run", run).into()),
        }
    }

    async fn fail_dead_runs(&self, dead_after: Duration) -> StoreResult<Vec<RunId>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let failed = fail_dead(&mut tx, &self.replica, dead_after).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(failed)
    }

    async fn restart_orphaned_files(
        &self,
        dead_after: Duration,
    ) -> StoreResult<Vec<UnfinishedFile>> {
        let live_since = now().saturating_sub(span(dead_after));
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let out =
            crate::folders::restart_unfinished(&mut tx, &self.replica, Some(live_since)).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    async fn fail_dead_files(
        &self,
        dead_after: Duration,
        message: String,
    ) -> StoreResult<Vec<FileId>> {
        let live_since = now().saturating_sub(span(dead_after));
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let out =
            crate::folders::fail_unfinished(&mut tx, &self.replica, live_since, &message).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(out)
    }

    async fn prune_search_shared(&self, applied: u64, dead_after: Duration) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let upto = prune_shared(&mut tx, &self.replica, applied, dead_after).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(upto)
    }
}

async fn heartbeat(tx: &mut PgConnection, me: &str, lease_ttl: Duration) -> Result<Vec<RunId>> {
    let now = now();
    sqlx::query(
        "INSERT INTO replicas (id, started_at, heartbeat_at) VALUES ($1, $2, $2)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
    )
    .bind(me)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE leases SET expires_at = $2 WHERE holder = $1")
        .bind(me)
        .bind(now.saturating_add(span(lease_ttl)))
        .execute(&mut *tx)
        .await?;
    let sql =
        format!("SELECT id FROM runs WHERE owner = $1 AND cancel_requested <> 0 AND {ACTIVE}");
    let ids: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(me)
        .fetch_all(&mut *tx)
        .await?;
    run_ids(ids)
}

async fn fail_dead(tx: &mut PgConnection, me: &str, dead_after: Duration) -> Result<Vec<RunId>> {
    let now = now();
    let cutoff = now.saturating_sub(span(dead_after));
    let sql = format!(
        "UPDATE runs SET status = 'failed', stop_reason = 'error', completed_at = $3
         WHERE {ACTIVE} AND (owner IS NULL OR (owner <> $1 AND owner NOT IN
             (SELECT id FROM replicas WHERE heartbeat_at >= $2)))
         RETURNING id"
    );
    let ids: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(me)
        .bind(cutoff)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
    // Replicas silent since the cutoff (never this one), with their leases and watermarks.
    sqlx::query(
        "WITH dead AS (DELETE FROM replicas WHERE heartbeat_at < $2 AND id <> $1 RETURNING id),
              leases_gone AS (DELETE FROM leases WHERE holder IN (SELECT id FROM dead))
         DELETE FROM search_state WHERE name IN (SELECT 'outbox:' || id FROM dead)",
    )
    .bind(me)
    .bind(cutoff)
    .execute(&mut *tx)
    .await?;
    run_ids(ids)
}

async fn prune_shared(
    tx: &mut PgConnection,
    me: &str,
    applied: u64,
    dead_after: Duration,
) -> Result<u64> {
    let cutoff = now().saturating_sub(span(dead_after));
    sqlx::query(
        "INSERT INTO search_state (name, value) VALUES ('outbox:' || $1, $2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(me)
    .bind(i64::try_from(applied).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    // A live replica that recorded no watermark yet holds pruning back entirely.
    let upto: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(COALESCE(s.value, 0)) FROM
             (SELECT id FROM replicas WHERE heartbeat_at >= $2 UNION SELECT $1::text) r
             LEFT JOIN search_state s ON s.name = 'outbox:' || r.id",
    )
    .bind(me)
    .bind(cutoff)
    .fetch_one(&mut *tx)
    .await?;
    let upto = upto.unwrap_or(0).max(0);
    sqlx::query("DELETE FROM search_outbox WHERE seq <= $1")
        .bind(upto)
        .execute(&mut *tx)
        .await?;
    Ok(upto as u64)
}
