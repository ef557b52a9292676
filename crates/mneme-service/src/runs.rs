//! Runs and steps as the API shows them.

use mneme_store::{Page, RunFilter, RunRecord};
use mneme_types::{LettaMessage, LettaUsageStatistics, Run, RunId, Step, StepId};

use crate::render::{RenderOptions, letta_messages};
use crate::{Result, Service};

impl Service {
    pub async fn get_run(&self, id: RunId) -> Result<Run> {
        Ok(run(self.store.get_run(id).await?))
    }

    pub async fn list_runs(&self, filter: &RunFilter, page: &Page) -> Result<Vec<Run>> {
        Ok(self
            .store
            .list_runs(filter, page)
            .await?
            .into_iter()
            .map(run)
            .collect())
    }

    /// The run's messages, rendered with the options the run was started with.
    pub async fn run_messages(&self, id: RunId, page: &Page) -> Result<Vec<LettaMessage>> {
        let record = self.store.get_run(id).await?;
        let agent = self.store.get_agent(record.agent_id).await?;
        let native = mneme_agent::Flavor::of(agent.agent_type) == mneme_agent::Flavor::Native;
        let mut opts = RenderOptions::new(native);
        let config = record.data.request_config.as_ref();
        if let Some(v) = config.and_then(|c| c["use_assistant_message"].as_bool()) {
            opts.use_assistant_message = v;
        }
        let stored = self.store.run_messages(id, page).await?;
        Ok(stored
            .iter()
            .flat_map(|m| letta_messages(m, &opts))
            .collect())
    }

    pub async fn run_steps(&self, id: RunId, page: &Page) -> Result<Vec<Step>> {
        self.store.get_run(id).await?;
        Ok(self.store.list_steps(id, page).await?)
    }

    pub async fn run_usage(&self, id: RunId) -> Result<LettaUsageStatistics> {
        Ok(LettaUsageStatistics::from(
            &self.store.get_run(id).await?.data.usage,
        ))
    }

    pub async fn get_step(&self, id: StepId) -> Result<Step> {
        Ok(self.store.get_step(id).await?)
    }
}

fn run(r: RunRecord) -> Run {
    Run {
        id: r.id,
        agent_id: r.agent_id,
        status: r.status,
        stop_reason: r.stop_reason,
        background: Some(r.background),
        metadata: r.data.metadata,
        request_config: r.data.request_config,
        conversation_id: r.conversation_id.map(|c| c.to_string()),
        base_template_id: None,
        callback_url: r.data.callback_url,
        callback_sent_at: None,
        callback_status_code: None,
        callback_error: None,
        ttft_ns: r.data.ttft_ns,
        total_duration_ns: r.data.total_duration_ns,
        created_at: Some(r.created_at),
        completed_at: r.completed_at,
        usage: r.data.usage,
    }
}
