//! A preview of a turn's first model request (Letta's `preview-raw-payload`): opened as a turn
//! opens (the same context loading, repairs, system prompt and tool offering) and built by the
//! provider client's own code, but nothing is stored and nothing is sent.

use mneme_store::Message;
use mneme_types::{AgentId, ConversationId, LlmConfig, Thread};
use serde_json::Value;

use super::{AgentError, Opening, Runtime, Writes};
use crate::client::ClientTool;
use crate::overrides::SystemOverrides;

/// What a preview needs: a turn's request without its run.
#[derive(Debug, Clone)]
pub struct PreviewInput {
    pub agent_id: AgentId,
    /// The conversation the turn would run in; `None` for the agent's default one.
    pub conversation_id: Option<ConversationId>,
    /// The caller's messages, as a turn would get them.
    pub inputs: Vec<Message>,
    pub client_tools: Vec<ClientTool>,
    /// The model of this request only (`override_model`), in place of the agent's.
    pub llm_config: Option<LlmConfig>,
    pub system: SystemOverrides,
}

impl Runtime {
    /// The body the provider would receive for the first model call of a turn with `input`.
    /// Repairs the turn would store are made in memory only; the compaction a turn may make
    /// before its first call is not (it would need a model call and a write).
    pub async fn preview(&self, input: &PreviewInput) -> Result<Value, AgentError> {
        let opening = Opening {
            thread: Thread {
                agent: input.agent_id,
                conversation: input.conversation_id,
            },
            inputs: &input.inputs,
            client_tools: &input.client_tools,
            llm_config: input.llm_config.as_ref(),
            system: &input.system,
            first_input: input.inputs.first().map(|m| m.id),
            writes: Writes::InMemory,
        };
        let turn = self.open(opening).await?;
        let request = turn.request(&turn.allowed());
        self.llm
            .request_body(&turn.ctx.agent.llm_config, &request)
            .map_err(AgentError::Llm)
    }
}
