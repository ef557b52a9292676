//! Steps across runs (`GET /v1/steps/`), their feedback, messages and metrics, and the tag list.

use mneme_store::{Page, StepEdit, StepFilter, TagQuery};
use mneme_types::{LettaMessage, ModifyFeedbackRequest, Step, StepId, StepMetrics};

use crate::render::{RenderOptions, letta_messages};
use crate::{Result, Service};

impl Service {
    pub async fn list_steps(&self, filter: &StepFilter, page: &Page) -> Result<Vec<Step>> {
        Ok(self.store.list_steps(filter, page).await?)
    }

    /// Stores a user's feedback on a step: `feedback` replaces the stored one (null clears
    /// it); tags replace the step's only when some are given, as Letta does.
    pub async fn step_feedback(&self, id: StepId, req: ModifyFeedbackRequest) -> Result<Step> {
        let edit: StepEdit = Box::new(move |s| {
            s.feedback = req.feedback.map(|f| f.as_str().to_owned());
            if let Some(tags) = req.tags.filter(|t| !t.is_empty()) {
                s.tags = tags;
            }
        });
        Ok(self.store.update_step(id, edit).await?)
    }

    /// The messages a step wrote, rendered as its agent's messages are.
    pub async fn step_messages(&self, id: StepId, page: &Page) -> Result<Vec<LettaMessage>> {
        let step = self.store.get_step(id).await?;
        let native = match step.agent_id {
            Some(agent) => {
                let agent = self.store.get_agent(agent).await?;
                mneme_agent::Flavor::of(agent.agent_type) == mneme_agent::Flavor::Native
            }
            None => true,
        };
        let opts = RenderOptions::new(native);
        let stored = self.store.step_messages(id, page).await?;
        Ok(stored
            .iter()
            .flat_map(|m| letta_messages(m, &opts))
            .collect())
    }

    /// A step's metrics: mneme keeps no per-step timings, so only the ids are filled.
    pub async fn step_metrics(&self, id: StepId) -> Result<StepMetrics> {
        let step = self.store.get_step(id).await?;
        Ok(StepMetrics {
            id: step.id,
            organization_id: None,
            provider_id: None,
            run_id: step.run_id,
            agent_id: step.agent_id,
            step_start_ns: None,
            llm_request_start_ns: None,
            llm_request_ns: None,
            tool_execution_ns: None,
            step_ns: None,
            base_template_id: None,
            template_id: None,
            project_id: step.project_id,
        })
    }

    /// Distinct tags of agents and blocks (`GET /v1/tags/`).
    pub async fn list_tags(&self, query: &TagQuery) -> Result<Vec<String>> {
        Ok(self.store.list_tags(query).await?)
    }
}
