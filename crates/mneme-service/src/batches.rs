//! Message batches: many agents' requests as one job. Each request becomes a run recorded with
//! the batch, in one transaction, and runs as an async request's turn does (a scheduler job,
//! one per request); the batch ends once every run has (`settle`), and its `callback_url`, if
//! any, hears of it. A restart fails the runs it interrupted (the scheduler's start-up), after
//! which the sweep ends their batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use mneme_agent::{TurnEvent, TurnOutput};
use mneme_scheduler::{ActiveRun, SchedulerError, TurnSink};
use mneme_store::{BatchRecord, Page};
use mneme_types::{
    AgentId, BatchCallback, BatchJob, BatchProgress, BatchRequestState, CreateBatch, JobId,
    JobStatus, JobType, LettaBatchMessages, RunStatus, time,
};
use serde_json::{Map, Value};

use crate::sink::{Delivery, RunSink};
use crate::streaming::Target;
use crate::{Result, Service, ServiceError};

/// How long a callback may take before it is recorded as failed.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// How often batches whose runs ended without their sink (a restart, a dead replica, a
/// deleted agent) are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Letta's `metadata.job_type` for a batch.
const JOB_TYPE: &str = "batch_messages";

impl Service {
    /// `POST /v1/messages/batches`: validates every request first (any refusal refuses the
    /// batch, and nothing is recorded), records the batch with its runs, then starts them.
    pub async fn create_batch(&self, req: CreateBatch) -> Result<BatchJob> {
        let callback_url = req.callback_url.map(check_callback).transpose()?;
        if req.requests.is_empty() {
            return Err(ServiceError::Unprocessable(
                "A batch needs at least one request".into(),
            ));
        }
        let job = new_job(callback_url);
        let mut jobs = Vec::with_capacity(req.requests.len());
        let mut runs = Vec::with_capacity(req.requests.len());
        for item in &req.requests {
            let mut target = Target::agent(item.agent_id);
            let mut metadata = Map::new();
            metadata.insert("batch_id".into(), Value::String(job.id.to_string()));
            target.metadata = Some(metadata);
            let (turn, _, run) = self
                .plan(target, &item.request, false, RunStatus::Created)
                .await?;
            jobs.push(turn);
            runs.push(run);
        }
        let batch = self.store.create_batch(job, runs).await?;
        self.start_batch(batch.job.id, jobs);
        Ok(wire(batch))
    }

    /// Starts the batch's jobs: the agents' in parallel, each agent's in request order (a job
    /// is started once the one before it was admitted, so it queues behind it).
    fn start_batch(&self, batch: JobId, jobs: Vec<crate::streaming::Job>) {
        let mut by_agent: Vec<(AgentId, Vec<crate::streaming::Job>)> = Vec::new();
        for job in jobs {
            let agent = job.turn.agent_id;
            match by_agent.iter_mut().find(|(a, _)| *a == agent) {
                Some((_, queue)) => queue.push(job),
                None => by_agent.push((agent, vec![job])),
            }
        }
        for (_, queue) in by_agent {
            let service = self.clone();
            tokio::spawn(async move {
                for job in queue {
                    let (turn, inner) = service.sink(job, Delivery::None);
                    let sink = BatchSink {
                        inner,
                        service: service.clone(),
                        batch,
                    };
                    // A refusal is recorded on the run; the next request still runs.
                    if let Err(e) = service.scheduler.start(turn, sink).await {
                        tracing::warn!(%batch, error = %e, "a batch request was refused");
                    }
                }
            });
        }
    }

    pub async fn get_batch(&self, id: JobId) -> Result<BatchJob> {
        Ok(wire(self.store.get_batch(id).await?))
    }

    /// `GET /v1/messages/batches`: as Letta's, only batches still going.
    pub async fn list_batches(&self, page: &Page) -> Result<Vec<BatchJob>> {
        let batches = self.store.list_batches(true, page).await?;
        Ok(batches.into_iter().map(wire).collect())
    }

    /// The messages the batch's runs stored, in Letta's internal shape.
    pub async fn batch_messages(
        &self,
        id: JobId,
        agent: Option<AgentId>,
        page: &Page,
    ) -> Result<LettaBatchMessages> {
        let stored = self.store.batch_messages(id, agent, page).await?;
        Ok(LettaBatchMessages {
            messages: stored
                .iter()
                .map(crate::messages::internal_message)
                .collect(),
        })
    }

    /// `PATCH /v1/messages/batches/{id}/cancel`: a batch still going becomes `cancelled` and
    /// its unfinished runs are cancelled (a queued one ends without running); an ended batch
    /// stays as it ended.
    pub async fn cancel_batch(&self, id: JobId) -> Result<()> {
        let changed = Arc::new(AtomicBool::new(false));
        let flag = changed.clone();
        let edit = Box::new(move |job: &mut BatchJob| {
            if is_going(job.status) {
                job.status = JobStatus::Cancelled;
                job.completed_at = Some(time::now());
                flag.store(true, Ordering::Release);
            }
            Ok(())
        });
        let batch = self.store.update_batch(id, edit).await?;
        for run in batch.runs.iter().filter(|r| run_going(r.status)) {
            match self.scheduler.active(run.run_id) {
                Some(active) => active.cancel.cancel(),
                // Executing on another replica: it stops within a heartbeat. A run of this
                // process not registered yet sees the batch cancelled when it registers.
                None => {
                    self.scheduler.cancel_elsewhere(run.run_id).await?;
                }
            }
        }
        if changed.load(Ordering::Acquire) {
            self.notify(batch.job);
        }
        Ok(())
    }

    /// Ends the batches whose runs have all ended, and calls their callbacks back.
    pub(crate) async fn settle_batches(&self) -> Result<()> {
        for job in self.store.settle_batches().await? {
            tracing::info!(batch = %job.id, status = job.status.as_str(), "batch ended");
            self.notify(job);
        }
        Ok(())
    }

    /// POSTs the ended batch to its `callback_url`, if it has one, off the caller's path, and
    /// records the outcome on the batch.
    fn notify(&self, job: BatchJob) {
        let Some(url) = job.callback_url.clone() else {
            return;
        };
        let store = self.store.clone();
        tokio::spawn(async move {
            let body = BatchCallback {
                job_id: job.id,
                status: job.status,
                completed_at: job.completed_at,
            };
            let (code, error) = match post(&url, &body).await {
                Ok(code) => (Some(i64::from(code)), None),
                Err(e) => (None, Some(e)),
            };
            if let Some(e) = &error {
                tracing::warn!(batch = %job.id, error = %e, "batch callback failed");
            }
            let edit = Box::new(move |j: &mut BatchJob| {
                j.callback_sent_at = Some(time::now());
                j.callback_status_code = code;
                j.callback_error = error;
                Ok(())
            });
            if let Err(e) = store.update_batch(job.id, edit).await {
                tracing::warn!(batch = %job.id, error = %e, "cannot record a batch callback");
            }
        });
    }
}

/// Ends now and then the batches whose runs ended without their sink (interrupted by a
/// restart, failed with a dead replica, gone with their agent).
pub(crate) fn spawn_sweep(service: Service) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = service.settle_batches().await {
                tracing::warn!(error = %e, "cannot settle batches");
            }
        }
    });
}

/// A batch request's sink: the run's own, and the batch's end once it is the last to end.
struct BatchSink {
    inner: RunSink,
    service: Service,
    batch: JobId,
}

#[async_trait]
impl TurnSink for BatchSink {
    async fn registered(&mut self, active: &ActiveRun) {
        // Cancelled before this run could be reached: it ends without running.
        match self.service.store.get_batch(self.batch).await {
            Ok(batch) if batch.job.status == JobStatus::Cancelled => active.cancel.cancel(),
            Ok(_) => {}
            Err(e) => tracing::warn!(batch = %self.batch, error = %e, "cannot read a batch"),
        }
        self.inner.registered(active).await;
    }

    async fn admitted(&mut self, active: &ActiveRun) {
        self.inner.admitted(active).await;
    }

    async fn event(&mut self, active: &ActiveRun, event: TurnEvent) {
        self.inner.event(active, event).await;
    }

    async fn finished(&mut self, active: &ActiveRun, result: &Result<TurnOutput, SchedulerError>) {
        self.inner.finished(active, result).await;
        // Off the turn's path: the thread is let go meanwhile.
        let service = self.service.clone();
        tokio::spawn(async move {
            if let Err(e) = service.settle_batches().await {
                tracing::warn!(error = %e, "cannot settle batches");
            }
        });
    }
}

fn new_job(callback_url: Option<String>) -> BatchJob {
    let mut metadata = Map::new();
    metadata.insert("job_type".into(), Value::String(JOB_TYPE.into()));
    BatchJob {
        created_by_id: None,
        last_updated_by_id: None,
        created_at: time::now(),
        updated_at: None,
        status: JobStatus::Running,
        completed_at: None,
        stop_reason: None,
        metadata: Some(metadata),
        job_type: JobType::Batch,
        background: None,
        agent_id: None,
        callback_url,
        callback_sent_at: None,
        callback_status_code: None,
        callback_error: None,
        ttft_ns: None,
        total_duration_ns: None,
        id: JobId::new(),
        user_id: None,
    }
}

/// The job as stored, with where its requests stand in `metadata` (`progress`, `requests`).
fn wire(batch: BatchRecord) -> BatchJob {
    let mut job = batch.job;
    let mut progress = BatchProgress {
        total: batch.runs.len() as u64,
        ..BatchProgress::default()
    };
    let mut requests = Vec::with_capacity(batch.runs.len());
    for run in batch.runs {
        let count = match run.status {
            RunStatus::Created => &mut progress.created,
            RunStatus::Running => &mut progress.running,
            RunStatus::Completed => &mut progress.completed,
            RunStatus::Failed => &mut progress.failed,
            RunStatus::Cancelled => &mut progress.cancelled,
        };
        *count += 1;
        requests.push(BatchRequestState {
            agent_id: run.agent_id,
            run_id: run.run_id,
            status: run.status,
            stop_reason: run.stop_reason,
        });
    }
    let metadata = job.metadata.get_or_insert_with(Map::new);
    metadata.insert("progress".into(), to_value(&progress));
    metadata.insert("requests".into(), to_value(&requests));
    job
}

/// `metadata` is free-form JSON on the wire; these plain structs always serialize.
fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn is_going(status: JobStatus) -> bool {
    matches!(status, JobStatus::Created | JobStatus::Running)
}

fn run_going(status: RunStatus) -> bool {
    matches!(status, RunStatus::Created | RunStatus::Running)
}

/// Letta's `callback_url`: an absolute http(s) URL of at most 2,083 characters.
fn check_callback(url: String) -> Result<String> {
    let ok = url.len() <= 2083
        && reqwest::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    match ok {
        true => Ok(url),
        false => Err(ServiceError::Unprocessable(format!(
            "callback_url must be an absolute http or https URL, got '{url}'"
        ))),
    }
}

/// POSTs `body` to `url` once; the status code answered, or why there is none.
async fn post(url: &str, body: &BatchCallback) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .timeout(CALLBACK_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let answer = client.post(url).json(body).send().await;
    answer
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}
