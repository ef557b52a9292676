//! Message batches: a batch job and the runs of its requests (`BatchStore`).

use async_trait::async_trait;
use mneme_types::{AgentId, Job, JobId, RunId, RunStatus, StopReason};

use crate::{Message, Page, Result, RunRecord, StoreError};

/// A batch as stored, with where each of its requests stands.
#[derive(Debug, Clone)]
pub struct BatchRecord {
    /// The wire job (`BatchJob`) as last written.
    pub job: Job,
    /// The requests' runs in request order, as they are now (a deleted run is left out).
    pub runs: Vec<BatchRun>,
}

/// One request of a batch: its run and how that run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRun {
    pub run_id: RunId,
    pub agent_id: AgentId,
    pub status: RunStatus,
    pub stop_reason: Option<StopReason>,
}

/// A change to a stored batch job, applied inside the write transaction.
pub type BatchEdit = Box<dyn FnOnce(&mut Job) -> Result<(), StoreError> + Send>;

/// Batch jobs. A batch is `running` from its creation until every run of its requests has
/// ended (`settle_batches`) or it is cancelled.
#[async_trait]
pub trait BatchStore: Send + Sync {
    /// Records the job and its requests' runs (owned by this replica, as `create_run`) in one
    /// transaction; an unknown agent is `NotFound` and writes nothing.
    async fn create_batch(&self, job: Job, runs: Vec<RunRecord>) -> Result<BatchRecord>;
    async fn get_batch(&self, id: JobId) -> Result<BatchRecord>;
    /// By creation time (`Page`; cursors are batch ids, unknown ones `NotFound`); only those
    /// still `created` or `running` when `active`.
    async fn list_batches(&self, active: bool, page: &Page) -> Result<Vec<BatchRecord>>;
    /// Applies `edit` to the job inside one write transaction (an `Err` writes nothing); the
    /// id stays and `updated_at` becomes now.
    async fn update_batch(&self, id: JobId, edit: BatchEdit) -> Result<BatchRecord>;
    /// Ends every `running` batch none of whose runs is `created` or `running` any more:
    /// `completed` when all of them completed, `failed` otherwise, `completed_at` now. Answers
    /// the jobs it ended; of concurrent callers, only one ends (and answers) a given batch.
    async fn settle_batches(&self) -> Result<Vec<Job>>;
    /// The messages the batch's runs stored (only `agent`'s when given), by storage sequence
    /// in `page.order`, cursors being message ids (unknown ones `NotFound`) as in
    /// `run_messages`. An unknown batch is `NotFound`.
    async fn batch_messages(
        &self,
        id: JobId,
        agent: Option<AgentId>,
        page: &Page,
    ) -> Result<Vec<Message>>;
}
