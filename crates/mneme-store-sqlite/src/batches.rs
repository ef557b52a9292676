//! `BatchStore` on SQLite: each batch a wire `BatchJob` as a JSON document, its requests' runs
//! in `batch_runs`.

use async_trait::async_trait;
use mneme_store::{BatchEdit, BatchRecord, BatchRun, BatchStore, Message, Page, RunRecord};
use mneme_types::{AgentId, Job, JobId, JobStatus, RunStatus, StopReason};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::Cached;
use crate::agents::{Where, ensure_agent, order_limit, paginate};
use crate::rows::{self, micros, to_json};
use crate::{Error, Result, SqliteStore, StoreResult};

#[async_trait]
impl BatchStore for SqliteStore {
    async fn create_batch(&self, job: Job, runs: Vec<RunRecord>) -> StoreResult<BatchRecord> {
        let owner = self.db.replica.clone();
        self.write(move |tx| {
            tx.execute_cached(
                "INSERT INTO batches (id, status, document, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    job.id.to_string(),
                    job.status.as_str(),
                    to_json(&job)?,
                    micros(&job.created_at),
                ],
            )?;
            for (position, run) in runs.iter().enumerate() {
                ensure_agent(tx, run.agent_id)?;
                crate::runs::insert_run(tx, run, &owner)?;
                tx.execute_cached(
                    "INSERT INTO batch_runs (batch_id, position, run_id) VALUES (?1, ?2, ?3)",
                    rusqlite::params![job.id.to_string(), position as i64, run.id.to_string()],
                )?;
            }
            load(tx, job.id)
        })
        .await
    }

    async fn get_batch(&self, id: JobId) -> StoreResult<BatchRecord> {
        self.read(move |conn| load(conn, id)).await
    }

    async fn list_batches(&self, active: bool, page: &Page) -> StoreResult<Vec<BatchRecord>> {
        let page = page.clone();
        self.read(move |conn| list(conn, active, &page)).await
    }

    async fn update_batch(&self, id: JobId, edit: BatchEdit) -> StoreResult<BatchRecord> {
        self.write(move |tx| {
            let mut job: Job = rows::document_in(tx, "batches", "document", "Batch", id)?;
            edit(&mut job)?;
            job.id = id;
            job.updated_at = Some(mneme_types::time::now());
            save(tx, &job, None)?;
            load(tx, id)
        })
        .await
    }

    async fn settle_batches(&self) -> StoreResult<Vec<Job>> {
        self.write(settle).await
    }

    async fn batch_messages(
        &self,
        id: JobId,
        agent: Option<AgentId>,
        page: &Page,
    ) -> StoreResult<Vec<Message>> {
        let page = page.clone();
        self.read(move |conn| {
            ensure_batch(conn, id)?;
            let mut w = Where::default();
            w.push(
                "run_id IN (SELECT run_id FROM batch_runs WHERE batch_id = ?)",
                [SqlValue::Text(id.to_string())],
            );
            if let Some(agent) = agent {
                w.push("agent_id = ?", [SqlValue::Text(agent.to_string())]);
            }
            crate::messages::paged_messages(conn, w, &page)
        })
        .await
    }
}

fn ensure_batch(conn: &Connection, id: JobId) -> Result<()> {
    let found = conn
        .query_row(
            "SELECT 1 FROM batches WHERE id = ?1",
            [id.to_string()],
            |_| Ok(()),
        )
        .optional()?;
    found.ok_or_else(|| Error::not_found("Batch", id))
}

fn load(conn: &Connection, id: JobId) -> Result<BatchRecord> {
    let job: Job = rows::document_in(conn, "batches", "document", "Batch", id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.agent_id, r.status, r.stop_reason FROM batch_runs b
         JOIN runs r ON r.id = b.run_id WHERE b.batch_id = ?1 ORDER BY b.position",
    )?;
    let mut found = stmt.query([id.to_string()])?;
    let mut runs = Vec::new();
    while let Some(r) = found.next()? {
        let status: String = r.get(2)?;
        let stop: Option<String> = r.get(3)?;
        runs.push(BatchRun {
            run_id: rows::parse(&r.get::<_, String>(0)?)?,
            agent_id: rows::parse(&r.get::<_, String>(1)?)?,
            status: mneme_store::codec::enum_value::<RunStatus>(&status)?,
            stop_reason: stop
                .map(|s| mneme_store::codec::enum_value::<StopReason>(&s))
                .transpose()?,
        });
    }
    Ok(BatchRecord { job, runs })
}

fn list(conn: &Connection, active: bool, page: &Page) -> Result<Vec<BatchRecord>> {
    let mut q = Where::default();
    if active {
        q.push("status IN ('created', 'running')", []);
    }
    paginate(conn, &mut q, "batches", "created_at", page, true)?;
    let sql = format!(
        "SELECT id FROM batches {} {}",
        q.where_clause(),
        order_limit("created_at", page)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut found = stmt.query(params_from_iter(q.params))?;
    let mut ids = Vec::new();
    while let Some(r) = found.next()? {
        ids.push(rows::parse::<JobId>(&r.get::<_, String>(0)?)?);
    }
    ids.into_iter().map(|id| load(conn, id)).collect()
}

/// Writes the job; with `from`, only while its stored status is still that one. Whether it
/// was written.
fn save(conn: &Connection, job: &Job, from: Option<JobStatus>) -> Result<bool> {
    let n = conn.execute_cached(
        "UPDATE batches SET status = ?2, document = ?3
         WHERE id = ?1 AND (?4 IS NULL OR status = ?4)",
        rusqlite::params![
            job.id.to_string(),
            job.status.as_str(),
            to_json(job)?,
            from.map(|s| s.as_str()),
        ],
    )?;
    Ok(n == 1)
}

fn settle(tx: &Connection) -> Result<Vec<Job>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, EXISTS (SELECT 1 FROM batch_runs b JOIN runs r ON r.id = b.run_id
                            WHERE b.batch_id = batches.id AND r.status <> 'completed')
         FROM batches WHERE status = 'running' AND NOT EXISTS (
             SELECT 1 FROM batch_runs b JOIN runs r ON r.id = b.run_id
             WHERE b.batch_id = batches.id AND r.status IN ('created', 'running'))",
    )?;
    let mut found = stmt.query([])?;
    let mut done = Vec::new();
    while let Some(r) = found.next()? {
        done.push((
            rows::parse::<JobId>(&r.get::<_, String>(0)?)?,
            r.get::<_, bool>(1)?,
        ));
    }
    let mut ended = Vec::new();
    for (id, failed) in done {
        let mut job: Job = rows::document_in(tx, "batches", "document", "Batch", id)?;
        let now = mneme_types::time::now();
        job.status = if failed {
            JobStatus::Failed
        } else {
            JobStatus::Completed
        };
        job.completed_at = Some(now);
        job.updated_at = Some(now);
        if save(tx, &job, Some(JobStatus::Running))? {
            ended.push(job);
        }
    }
    Ok(ended)
}
