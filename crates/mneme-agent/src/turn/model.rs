//! One model call of a step, blocking or streamed token by token, abandoned on cancellation.

use futures_util::StreamExt;
use mneme_llm::{ChatDelta, ChatRequest, ChatResponse, ChatResponseBuilder, LlmError};
use mneme_types::{MessageId, StepId};

use super::{Runtime, Turn, TurnEvent, TurnInput};

impl Runtime {
    /// One model call; `Ok(None)` when the turn was cancelled meanwhile. Token streaming
    /// forwards every delta as it arrives.
    pub(super) async fn call_model(
        &self,
        turn: &Turn,
        input: &TurnInput,
        request: &ChatRequest,
        (step_id, message_id): (StepId, MessageId),
    ) -> Result<Option<ChatResponse>, LlmError> {
        let config = &turn.ctx.agent.llm_config;
        let events = match (&input.events, input.stream_tokens) {
            (Some(events), true) => events,
            _ => {
                return tokio::select! {
                    r = self.llm.chat(config, request) => r.map(Some),
                    _ = input.cancel.cancelled() => Ok(None),
                };
            }
        };
        let mut stream = tokio::select! {
            s = self.llm.chat_stream(config, request) => s?,
            _ = input.cancel.cancelled() => return Ok(None),
        };
        let mut builder = ChatResponseBuilder::new();
        loop {
            let next = tokio::select! {
                d = stream.next() => d,
                _ = input.cancel.cancelled() => return Ok(None),
            };
            let Some(delta) = next else { break };
            let delta = delta?;
            // The call's bodies are for the step's trace, not for clients.
            if !matches!(delta, ChatDelta::Exchange(_)) {
                let _ = events.send(TurnEvent::Delta {
                    step_id,
                    message_id,
                    delta: delta.clone(),
                });
            }
            builder.push(delta);
        }
        Ok(Some(builder.finish()))
    }
}
