//! `preview-raw-payload`: what the provider would receive for the first model call of a turn,
//! with nothing stored and nothing sent.

use mneme_agent::PreviewInput;
use mneme_types::{AgentId, LettaRequest};
use serde_json::Value;

use crate::messages::{approval_answer, client_tools, input_messages, system_overrides};
use crate::streaming::Target;
use crate::{Result, Service, ServiceError};

impl Service {
    /// `POST /v1/agents/{id}/messages/preview-raw-payload`: the request body, as the provider
    /// would get it, of the first model call of a turn with `req`. It is the provider's JSON,
    /// not a Letta type, so it stays a JSON value. Checked as a send is checked: an unknown
    /// agent is a 404, no messages a 422, new input while an approval is pending a 409.
    pub async fn preview_request(&self, agent_id: AgentId, req: LettaRequest) -> Result<Value> {
        self.preview_in(Target::agent(agent_id), req).await
    }

    /// The preview of a turn in `target`'s thread, with its model unless the request names one.
    pub(crate) async fn preview_in(&self, target: Target, req: LettaRequest) -> Result<Value> {
        let agent_id = target.thread.agent;
        // Letta's route takes the streaming request shape too: its flags are no error here.
        let inputs = input_messages(agent_id, &req, true)?;
        let client_tools = client_tools(&req)?;
        if approval_answer(agent_id, &req)?.is_some() {
            return Err(ServiceError::Unprocessable(
                "A preview takes new messages, not an approval answer: answering an approval \
                 runs tools before the model is called"
                    .into(),
            ));
        }
        self.store.get_agent(agent_id).await?;
        let llm_config = self.override_config(&req).await?.or(target.model);
        let (ids, _) = self.scheduler.context_ids(target.thread).await?;
        self.refuse_while_pending(&ids).await?;
        let input = PreviewInput {
            agent_id,
            conversation_id: target.thread.conversation,
            inputs,
            client_tools,
            llm_config,
            system: system_overrides(&req),
        };
        Ok(self.runtime.preview(&input).await?)
    }
}
