//! `BatchStore` on PostgreSQL: each batch a wire `BatchJob` as a JSON document, its requests'
//! runs in `batch_runs`.

use async_trait::async_trait;
use mneme_store::codec::{enum_value, micros, parse, to_json};
use mneme_store::{BatchEdit, BatchRecord, BatchRun, BatchStore, Message, Page, RunRecord};
use mneme_types::{AgentId, Job, JobId, JobStatus, RunStatus, StopReason};
use sqlx::{PgConnection, Row};

use crate::query::{Arg, Where, ensure_agent, ensure_row, fetch, order_limit, paginate};
use crate::{Error, PgStore, Result, StoreResult};

#[async_trait]
impl BatchStore for PgStore {
    async fn create_batch(&self, job: Job, runs: Vec<RunRecord>) -> StoreResult<BatchRecord> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let batch = create(&mut tx, &job, &runs).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(batch)
    }

    async fn get_batch(&self, id: JobId) -> StoreResult<BatchRecord> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let batch = load(&mut tx, id, false).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(batch)
    }

    async fn list_batches(&self, active: bool, page: &Page) -> StoreResult<Vec<BatchRecord>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let batches = list(&mut tx, active, page).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(batches)
    }

    async fn update_batch(&self, id: JobId, edit: BatchEdit) -> StoreResult<BatchRecord> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        // Locked, so that a concurrent edit of the document is not lost.
        let mut job = load(&mut tx, id, true).await?.job;
        edit(&mut job)?;
        job.id = id;
        job.updated_at = Some(mneme_types::time::now());
        save(&mut tx, &job, None).await?;
        let batch = load(&mut tx, id, false).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(batch)
    }

    async fn settle_batches(&self) -> StoreResult<Vec<Job>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        let ended = settle(&mut tx).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(ended)
    }

    async fn batch_messages(
        &self,
        id: JobId,
        agent: Option<AgentId>,
        page: &Page,
    ) -> StoreResult<Vec<Message>> {
        let mut tx = self.pool.begin().await.map_err(Error::from)?;
        ensure_row(&mut tx, "batches", "Batch", id, false).await?;
        let mut w = Where::default();
        w.push(
            "run_id IN (SELECT run_id FROM batch_runs WHERE batch_id = ?)",
            [Arg::Text(id.to_string())],
        );
        if let Some(agent) = agent {
            w.push("agent_id = ?", [Arg::Text(agent.to_string())]);
        }
        let messages = crate::messages::paged_messages(&mut tx, w, page).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(messages)
    }
}

async fn create(conn: &mut PgConnection, job: &Job, runs: &[RunRecord]) -> Result<BatchRecord> {
    sqlx::query("INSERT INTO batches (id, status, document, created_at) VALUES ($1, $2, $3, $4)")
        .bind(job.id.to_string())
        .bind(job.status.as_str())
        .bind(to_json(job)?)
        .bind(micros(&job.created_at))
        .execute(&mut *conn)
        .await?;
    for (position, run) in runs.iter().enumerate() {
        ensure_agent(conn, run.agent_id).await?;
        crate::runs::insert_run(conn, run).await?;
        sqlx::query("INSERT INTO batch_runs (batch_id, position, run_id) VALUES ($1, $2, $3)")
            .bind(job.id.to_string())
            .bind(position as i64)
            .bind(run.id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    load(conn, job.id, false).await
}

async fn load(conn: &mut PgConnection, id: JobId, lock: bool) -> Result<BatchRecord> {
    let job: Job =
        crate::rows::document_in(conn, ("batches", "document"), "Batch", id, lock).await?;
    let rows = sqlx::query(
        "SELECT r.id, r.agent_id, r.status, r.stop_reason FROM batch_runs b
         JOIN runs r ON r.id = b.run_id WHERE b.batch_id = $1 ORDER BY b.position",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut runs = Vec::with_capacity(rows.len());
    for r in rows {
        let stop: Option<String> = r.try_get(3)?;
        runs.push(BatchRun {
            run_id: parse(&r.try_get::<String, _>(0)?)?,
            agent_id: parse(&r.try_get::<String, _>(1)?)?,
            status: enum_value::<RunStatus>(&r.try_get::<String, _>(2)?)?,
            stop_reason: stop.map(|s| enum_value::<StopReason>(&s)).transpose()?,
        });
    }
    Ok(BatchRecord { job, runs })
}

async fn list(conn: &mut PgConnection, active: bool, page: &Page) -> Result<Vec<BatchRecord>> {
    let mut q = Where::default();
    if active {
        q.push("status IN ('created', 'running')", []);
    }
    paginate(conn, &mut q, "batches", "created_at", page, true).await?;
    let sql = format!(
        "SELECT id FROM batches {} {}",
        q.where_clause(),
        order_limit("created_at", page)
    );
    let ids = fetch(conn, &sql, q.params, |r| {
        Ok(parse::<JobId>(&r.try_get::<String, _>(0)?)?)
    })
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(load(conn, id, false).await?);
    }
    Ok(out)
}

/// Writes the job; with `from`, only while its stored status is still that one. Whether it
/// was written.
async fn save(conn: &mut PgConnection, job: &Job, from: Option<JobStatus>) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE batches SET status = $2, document = $3
         WHERE id = $1 AND ($4::TEXT IS NULL OR status = $4)",
    )
    .bind(job.id.to_string())
    .bind(job.status.as_str())
    .bind(to_json(job)?)
    .bind(from.map(|s| s.as_str()))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

async fn settle(conn: &mut PgConnection) -> Result<Vec<Job>> {
    let found = sqlx::query(
        "SELECT id, EXISTS (SELECT 1 FROM batch_runs b JOIN runs r ON r.id = b.run_id
                            WHERE b.batch_id = batches.id AND r.status <> 'completed')
         FROM batches WHERE status = 'running' AND NOT EXISTS (
             SELECT 1 FROM batch_runs b JOIN runs r ON r.id = b.run_id
             WHERE b.batch_id = batches.id AND r.status IN ('created', 'running'))",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut ended = Vec::new();
    for r in found {
        let id = parse::<JobId>(&r.try_get::<String, _>(0)?)?;
        let failed: bool = r.try_get(1)?;
        // Locked and written only while still running: of concurrent settlers, one ends it.
        let mut job = load(conn, id, true).await?.job;
        let now = mneme_types::time::now();
        job.status = if failed {
            JobStatus::Failed
        } else {
            JobStatus::Completed
        };
        job.completed_at = Some(now);
        job.updated_at = Some(now);
        if save(conn, &job, Some(JobStatus::Running)).await? {
            ended.push(job);
        }
    }
    Ok(ended)
}
