//! `/v1/jobs`: the jobs that report the processing of uploaded files.

use mneme_store::{JobFilter, Page};
use mneme_types::{Job, JobId, JobStatus, time};

use crate::{Result, Service};

impl Service {
    pub async fn list_jobs(&self, filter: &JobFilter, page: &Page) -> Result<Vec<Job>> {
        if let Some(folder) = filter.folder {
            self.store.get_folder(folder).await?;
        }
        Ok(self.store.list_jobs(filter, page).await?)
    }

    pub async fn get_job(&self, id: JobId) -> Result<Job> {
        Ok(self.store.get_job(id).await?)
    }

    /// Marks an active job cancelled; a finished one is answered as it is. The file's
    /// processing stops at its next step (between batches of chunks) and the file ends in
    /// `error`, without the passages it had stored.
    pub async fn cancel_job(&self, id: JobId) -> Result<Job> {
        let job = self
            .store
            .update_job(
                id,
                Box::new(|j| {
                    if j.status.is_active() {
                        j.status = JobStatus::Cancelled;
                        j.completed_at = Some(time::now());
                    }
                    Ok(())
                }),
            )
            .await?;
        Ok(job)
    }

    /// Deletes the job and answers it as it was.
    pub async fn delete_job(&self, id: JobId) -> Result<Job> {
        let job = self.store.get_job(id).await?;
        self.store.delete_job(id).await?;
        Ok(job)
    }
}
