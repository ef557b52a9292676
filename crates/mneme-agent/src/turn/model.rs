//! One model call of a step, blocking or streamed token by token, abandoned on cancellation.

use std::time::Instant;

use futures_util::StreamExt;
use mneme_llm::{ChatDelta, ChatRequest, ChatResponse, ChatResponseBuilder, LlmError};
use mneme_types::{MessageId, StepId};

use super::{Runtime, Turn, TurnEvent, TurnInput};

/// The model's answer to one call.
pub(super) struct Answered {
    pub response: ChatResponse,
    /// When the answer began to arrive: its first streamed chunk, else the whole answer (the
    /// run's time to first token counts to the first of these).
    pub first_chunk_at: Instant,
}

impl Runtime {
    /// One model call; `Ok(None)` when the turn was cancelled meanwhile. Token streaming
    /// forwards every delta as it arrives.
    #[tracing::instrument(
        name = "model_call",
        skip_all,
        fields(model = %turn.ctx.agent.llm_config.model, streamed = input.stream_tokens)
    )]
    pub(super) async fn call_model(
        &self,
        turn: &Turn,
        input: &TurnInput,
        request: &ChatRequest,
        (step_id, message_id): (StepId, MessageId),
    ) -> Result<Option<Answered>, LlmError> {
        let config = &turn.ctx.agent.llm_config;
        let events = match (&input.events, input.stream_tokens) {
            (Some(events), true) => events,
            _ => {
                let response = tokio::select! {
                    r = self.llm.chat(config, request) => r?,
                    _ = input.cancel.cancelled() => return Ok(None),
                };
                return Ok(Some(Answered {
                    response,
                    first_chunk_at: Instant::now(),
                }));
            }
        };
        let mut stream = tokio::select! {
            s = self.llm.chat_stream(config, request) => s?,
            _ = input.cancel.cancelled() => return Ok(None),
        };
        let mut builder = ChatResponseBuilder::new();
        let mut first_chunk_at = None;
        loop {
            let next = tokio::select! {
                d = stream.next() => d,
                _ = input.cancel.cancelled() => return Ok(None),
            };
            let Some(delta) = next else { break };
            let delta = delta?;
            // The call's bodies are for the step's trace, not for clients.
            if !matches!(delta, ChatDelta::Exchange(_)) {
                first_chunk_at.get_or_insert_with(Instant::now);
                let _ = events.send(TurnEvent::Delta {
                    step_id,
                    message_id,
                    delta: delta.clone(),
                });
            }
            builder.push(delta);
        }
        Ok(Some(Answered {
            response: builder.finish(),
            first_chunk_at: first_chunk_at.unwrap_or_else(Instant::now),
        }))
    }
}
