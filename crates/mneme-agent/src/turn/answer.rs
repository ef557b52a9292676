//! The answer to a pending approval request: its calls run (or are denied, or take the
//! client's return) in a step of their own, without a model call.

use std::time::Instant;

use mneme_llm::ChatResponse;
use mneme_store::{Message, ToolCallRecord, ToolReturnRecord};
use mneme_types::StepId;

use super::clock::StepClock;
use super::{AgentError, Runtime, Turn, TurnEvent, TurnInput, emit};
use crate::approval::{
    ApprovalAnswer, Decision, client_return, decisions_for, denied_return, pending_calls,
    pending_request,
};
use crate::step::{StepOutcome, approved_args, stamp, tool_limit, tool_message, tool_return};

impl Runtime {
    /// Runs (or denies) the calls of the pending approval request in a step of their own, with
    /// no model call. The request's follow-up messages are stored in that step too, so they
    /// are never lost, whatever happens next (Letta drops them when the step ends the turn).
    pub(super) async fn answer_approval(
        &self,
        turn: &mut Turn,
        input: &TurnInput,
        answer: ApprovalAnswer,
    ) -> Result<(), AgentError> {
        let pending = pending_request(&turn.ctx.messages)
            .cloned()
            .ok_or_else(|| {
                AgentError::BadRequest("No tool call is currently awaiting approval".into())
            })?;
        let decided = decisions_for(&pending, &answer).map_err(AgentError::BadRequest)?;
        let free = pending_calls(&turn.ctx.messages, &pending).to_vec();
        self.approval_step(turn, input, StepId::new(), (&free, decided), answer.message)
            .await
    }

    /// The approval's own step: the decided calls, their tool message, the request's inputs.
    #[tracing::instrument(skip_all, fields(agent_id = %input.agent_id, run_id = %input.run_id, step_id = %step_id))]
    async fn approval_step(
        &self,
        turn: &mut Turn,
        input: &TurnInput,
        step_id: StepId,
        (free, decided): (&[ToolCallRecord], Vec<(&ToolCallRecord, Decision)>),
        answer: Message,
    ) -> Result<(), AgentError> {
        let mut clock = StepClock::start();
        let mut outcome = StepOutcome {
            continues: true,
            ..StepOutcome::default()
        };
        let name = free
            .first()
            .or(decided.first().map(|(call, _)| *call))
            .map(|call| call.name.clone());
        let mut returns = Vec::with_capacity(free.len() + decided.len());
        let started = Instant::now();
        // The calls that needed no approval come first, as they do in the history.
        for call in free {
            returns.push(self.run_approved(turn, call, &mut outcome).await);
        }
        for (call, decision) in decided {
            returns.push(match decision {
                Decision::Approve { .. } => self.run_approved(turn, call, &mut outcome).await,
                Decision::Deny { reason, .. } => denied_return(&call.id, reason.as_deref()),
                Decision::Return {
                    status,
                    tool_return,
                    parts,
                    ..
                } => client_return(&call.id, &status, tool_return, parts),
            });
        }
        clock.tools_ran(started);
        let tool = tool_message(input.agent_id, mneme_types::time::now(), name, returns);
        let step = (step_id, input.run_id);
        outcome.messages = [answer, tool]
            .into_iter()
            .chain(turn.pending_inputs.drain(..))
            .map(|m| stamp(m, step))
            .collect();
        let response = ChatResponse::default();
        let timings = clock.timings(true);
        self.commit(turn, input, (step_id, &response), &outcome, timings)
            .await?;
        emit(
            input,
            TurnEvent::StepCommitted {
                messages: outcome.messages.clone(),
            },
        );
        Ok(())
    }

    /// Runs one approved call; what it changed goes into `outcome`.
    async fn run_approved(
        &self,
        turn: &mut Turn,
        call: &ToolCallRecord,
        outcome: &mut StepOutcome,
    ) -> ToolReturnRecord {
        let args = approved_args(call);
        let id = (call.id.as_str(), call.name.as_str());
        let mut result = self.tools.run(&turn.ctx, &mut turn.memory, id, &args).await;
        turn.solver.record(&call.name, result.value.clone());
        outcome.memory_changed |= result.memory_changed;
        outcome.passages.extend(result.passage.take());
        tool_return(
            call.id.clone(),
            &result,
            tool_limit(&turn.ctx.tools, &call.name),
        )
    }
}
