//! Runs and steps as the API shows them.

use mneme_store::{Order, Page, RunFilter, RunRecord, StepFilter};
use mneme_types::{LettaMessage, LettaUsageStatistics, Run, RunId, RunMetrics, Step, StepId};

use crate::render::{RenderOptions, letta_messages};
use crate::{Result, Service, ServiceError};

/// How many of a run's messages `run_metrics` reads for the tools it called.
const RUN_MESSAGES_SCANNED: u32 = 10_000;

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
        let filter = StepFilter {
            run: Some(id),
            ..StepFilter::default()
        };
        Ok(self.store.list_steps(&filter, page).await?)
    }

    /// When the run started, how long it took, its steps and the ids of the tools it called.
    pub async fn run_metrics(&self, id: RunId) -> Result<RunMetrics> {
        let r = self.store.get_run(id).await?;
        let tools = self.run_tools(id).await?;
        Ok(RunMetrics {
            id: r.id,
            organization_id: None,
            agent_id: Some(r.agent_id),
            project_id: None,
            run_start_ns: r.created_at.timestamp_nanos_opt(),
            run_ns: r.data.total_duration_ns.map(|ns| ns as i64),
            num_steps: Some(r.data.usage.step_count),
            tools_used: Some(tools),
            template_id: None,
            base_template_id: None,
        })
    }

    /// Ids of the tools the run's messages called, in first-call order, each once.
    async fn run_tools(&self, id: RunId) -> Result<Vec<String>> {
        let page = Page {
            limit: RUN_MESSAGES_SCANNED,
            order: Order::Asc,
            ..Page::default()
        };
        let mut names: Vec<String> = Vec::new();
        for m in self.store.run_messages(id, &page).await? {
            for call in m.tool_calls {
                if !names.contains(&call.name) {
                    names.push(call.name);
                }
            }
        }
        let tools = self.store.tools_by_name(&names).await?;
        Ok(names
            .iter()
            .filter_map(|n| tools.iter().find(|t| &t.name == n))
            .map(|t| t.id.to_string())
            .collect())
    }

    /// Deletes a finished run with its steps and answers it as it was; its messages stay. A run
    /// still going is refused: its turn would otherwise write into a run that no longer exists.
    pub async fn delete_run(&self, id: RunId) -> Result<Run> {
        let r = self.store.get_run(id).await?;
        if !r.status.is_terminal() {
            return Err(ServiceError::Conflict(format!(
                "Run {id} is still {}; cancel it before deleting it",
                r.status.as_str()
            )));
        }
        self.store.delete_run(id).await?;
        Ok(run(r))
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
