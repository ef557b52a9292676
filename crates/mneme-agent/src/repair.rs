//! Self-healing: whatever in an agent's stored context would make its next model request fail
//! is fixed at the start of every turn, before the first model call, in one transaction, so
//! that no request (and no crash) leaves an agent that cannot take its next message. `plan`
//! decides on the stored context alone (no IO, unit-tested below); `heal` reads what it needs
//! besides (the run of a pending approval request) and `apply` writes the repair;
//! `heal_in_memory` makes the same repair without writing it (a preview of a turn's request).
//!
//! The repairs, as DESIGN.md lists them: in-context ids that name no stored message leave the
//! context; a context without its system message gets a freshly compiled one; tool calls
//! without a return (the server stopped while they ran) get an error return where the return
//! belongs, and a step record left `pending` by the crash ends `failed`; tool returns whose call
//! is not in context leave the context; an approval request whose run ended without waiting
//! for the answer is denied when new input comes.

use chrono::{DateTime, Utc};
use mneme_store::{AgentContext, Message, Role, StepCommit, Store, StoreError, ToolCallRecord};
use mneme_types::{MessageId, RunId, Step, StepId, StopReason};
use serde_json::json;

use crate::AgentError;
use crate::approval::{self, ABANDONED_REASON, denial, pending_request};
use crate::step::{tool_message, tool_return};
use crate::system::{MemoryStats, compile_system_message};
use crate::tools::ToolOutcome;

/// The error return of a call whose result was never recorded.
pub(crate) const NO_RESULT: &str = "Error: no result was recorded for this tool call (the server \
     stopped while it ran, or its result left the context), so whether it took effect is unknown.";

/// Error returns are short; this only bounds the packing.
const RETURN_LIMIT: usize = 50_000;

/// What becomes of an approval request that ends the context.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Tail {
    /// It stays: it waits for its answer, or this request brings the answer.
    Keep,
    /// Nobody will answer it: its calls are denied with this reason.
    Deny(&'static str),
}

/// One kind of repair, with how many messages it concerned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fix {
    UnknownIds(usize),
    NoSystemMessage,
    UnansweredCalls(usize),
    OrphanReturns(usize),
    DeniedApproval,
}

/// A repaired context and what storing it takes.
#[derive(Debug)]
pub(crate) struct Repair {
    /// The context after the repair, its system message first.
    pub(crate) context: Vec<Message>,
    /// New messages to store, in order; all of them are in `context`.
    pub(crate) added: Vec<Message>,
    pub(crate) fixes: Vec<Fix>,
    /// Steps whose calls got error returns.
    pub(crate) interrupted: Vec<StepId>,
}

/// Repairs `ctx` before a turn of `run`; `answering` when the turn brings the answer to the
/// pending approval request. A live request without its answer is refused, as the scheduler
/// refuses it before the turn starts.
pub(crate) async fn heal(
    store: &dyn Store,
    ctx: &mut AgentContext,
    answering: bool,
    run: RunId,
) -> Result<(), AgentError> {
    let Some(repair) = diagnose(store, ctx, answering).await? else {
        return Ok(());
    };
    tracing::warn!(agent = %ctx.agent.id, fixes = ?repair.fixes, "repaired the agent's context");
    apply(store, ctx, repair, run).await?;
    Ok(())
}

/// Makes in `ctx` the repair that `heal` would store before a turn bringing new input, and
/// stores nothing (a preview of the turn's request).
pub(crate) async fn heal_in_memory(
    store: &dyn Store,
    ctx: &mut AgentContext,
) -> Result<(), AgentError> {
    if let Some(repair) = diagnose(store, ctx, false).await? {
        adopt(ctx, repair);
    }
    Ok(())
}

/// The repair `ctx` needs before a turn, if any (see `heal`).
async fn diagnose(
    store: &dyn Store,
    ctx: &AgentContext,
    answering: bool,
) -> Result<Option<Repair>, AgentError> {
    let tail = match pending_request(&ctx.messages) {
        Some(request) if !answering => {
            if !approval::is_abandoned(store, request).await? {
                return Err(AgentError::BadRequest(format!(
                    "Cannot send a new message: approval request {} waits for an answer",
                    request.id
                )));
            }
            Tail::Deny(ABANDONED_REASON)
        }
        _ => Tail::Keep,
    };
    Ok(plan(ctx, tail, mneme_types::time::now()))
}

/// What `ctx` needs repaired, if anything.
pub(crate) fn plan(ctx: &AgentContext, tail: Tail, now: DateTime<Utc>) -> Option<Repair> {
    let mut fixes = Vec::new();
    let unknown = ctx
        .agent
        .message_ids
        .len()
        .saturating_sub(ctx.messages.len());
    if unknown > 0 {
        fixes.push(Fix::UnknownIds(unknown));
    }
    let mut walk = Walk::new(now);
    let history = match ctx.messages.split_first() {
        Some((system, rest)) if system.role == Role::System => {
            walk.out.push(Slot::Kept(system));
            rest
        }
        _ => {
            walk.add(fresh_system(ctx, now));
            fixes.push(Fix::NoSystemMessage);
            &ctx.messages[..]
        }
    };
    for m in history {
        walk.visit(m);
    }
    walk.finish(tail);
    fixes.extend(walk.fixes());
    if fixes.is_empty() {
        return None;
    }
    // Only a context that needs repair is copied: the check runs before every turn.
    let context = walk
        .out
        .iter()
        .map(|slot| match slot {
            Slot::Kept(m) => (*m).clone(),
            Slot::Added(i) => walk.added[*i].clone(),
        })
        .collect();
    Some(Repair {
        context,
        added: walk.added,
        fixes,
        interrupted: walk.interrupted,
    })
}

/// Writes `repair` in one transaction, with the record of the step it interrupted ended
/// `failed` when a crash left it `pending`, and moves `ctx` to the repaired context. `run` is
/// the run the commit is made for (that step's run, when there is such a record).
pub(crate) async fn apply(
    store: &dyn Store,
    ctx: &mut AgentContext,
    repair: Repair,
    run: RunId,
) -> Result<(), StoreError> {
    let step = failed_step(store, &repair.interrupted).await?;
    let ids: Vec<MessageId> = repair.context.iter().map(|m| m.id).collect();
    store
        .commit_step(StepCommit {
            agent_id: ctx.agent.id,
            conversation_id: ctx.conversation,
            run_id: step.as_ref().and_then(|s| s.run_id).unwrap_or(run),
            step,
            timings: None,
            messages: repair.added.clone(),
            message_ids: ids,
            message_ids_version: ctx.agent.message_ids_version,
            block_changes: Vec::new(),
            system_text: None,
            passages: Vec::new(),
            file_changes: Vec::new(),
            trace: None,
            created_at: mneme_types::time::now(),
        })
        .await?;
    ctx.agent.message_ids_version += 1;
    adopt(ctx, repair);
    Ok(())
}

/// Moves `ctx` to the repaired context.
fn adopt(ctx: &mut AgentContext, repair: Repair) {
    ctx.agent.message_ids = repair.context.iter().map(|m| m.id).collect();
    ctx.message_count += repair.added.len() as u64;
    ctx.messages = repair.context;
}

/// The record of an interrupted step that a crash left `pending`, ended `failed`. Only an
/// agent's last step can be cut in half, and the next turn repairs it first, so there is at
/// most one.
async fn failed_step(store: &dyn Store, steps: &[StepId]) -> Result<Option<Step>, StoreError> {
    for id in steps.iter().rev() {
        match store.get_step(*id).await {
            Ok(mut step) if step.is_pending() && step.run_id.is_some() => {
                step.status = Step::FAILED.into();
                step.stop_reason = Some(StopReason::Error);
                step.error_type = Some("ToolCallInterrupted".into());
                step.error_data = Some(json!({ "message": NO_RESULT }));
                return Ok(Some(step));
            }
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// A system message compiled from the agent's current memory.
fn fresh_system(ctx: &AgentContext, now: DateTime<Utc>) -> Message {
    let stats = MemoryStats {
        messages_total: ctx.message_count,
        in_context: ctx.messages.len() as u64 + 1,
        passages: ctx.passage_count,
        conversation: ctx.conversation,
    };
    let text = compile_system_message(&ctx.agent, &ctx.blocks, &ctx.files, stats, now);
    Message::new(ctx.agent.id, Role::System, text, now)
}

/// The ids of the calls a tool message answers.
fn answered(m: &Message) -> Vec<&str> {
    if m.tool_returns.is_empty() {
        m.tool_call_id.as_deref().into_iter().collect()
    } else {
        m.tool_returns
            .iter()
            .map(|r| r.tool_call_id.as_str())
            .collect()
    }
}

/// A message of the repaired context: a stored one, or the `i`th added.
enum Slot<'a> {
    Kept(&'a Message),
    Added(usize),
}

/// One pass over the history, pairing every call with its return.
struct Walk<'a> {
    now: DateTime<Utc>,
    out: Vec<Slot<'a>>,
    added: Vec<Message>,
    /// Calls made and not answered yet, and the message that made the first of them.
    open: Vec<&'a ToolCallRecord>,
    opener: Option<&'a Message>,
    unanswered: usize,
    orphans: usize,
    denied: bool,
    interrupted: Vec<StepId>,
}

impl<'a> Walk<'a> {
    fn new(now: DateTime<Utc>) -> Walk<'a> {
        Walk {
            now,
            out: Vec::new(),
            added: Vec::new(),
            open: Vec::new(),
            opener: None,
            unanswered: 0,
            orphans: 0,
            denied: false,
            interrupted: Vec::new(),
        }
    }

    fn visit(&mut self, m: &'a Message) {
        match m.role {
            Role::Tool => {
                let ids = answered(m);
                if !self.open.iter().any(|c| ids.contains(&c.id.as_str())) {
                    // Providers refuse a return without its call.
                    self.orphans += 1;
                    return;
                }
                self.open.retain(|c| !ids.contains(&c.id.as_str()));
            }
            // A request joins the calls stored just before it; an answer is bookkeeping.
            Role::Approval => self.open_calls(m),
            Role::Assistant => {
                self.close();
                self.open_calls(m);
            }
            Role::User | Role::System | Role::Summary => self.close(),
        }
        self.out.push(Slot::Kept(m));
    }

    fn open_calls(&mut self, m: &'a Message) {
        if m.tool_calls.is_empty() {
            return;
        }
        if self.open.is_empty() {
            self.opener = Some(m);
        }
        self.open.extend(&m.tool_calls);
    }

    /// Answers the open calls with error returns, where their returns belong.
    fn close(&mut self) {
        let Some(opener) = self.opener.take() else {
            return;
        };
        if self.open.is_empty() {
            return;
        }
        let failed = ToolOutcome::failed(NO_RESULT.to_owned());
        let returns = self
            .open
            .iter()
            .map(|c| tool_return(c.id.clone(), &failed, RETURN_LIMIT))
            .collect();
        let name = self.open.first().map(|c| c.name.clone());
        let mut tool = tool_message(opener.agent_id, self.now, name, returns);
        tool.step_id = opener.step_id;
        tool.run_id = opener.run_id;
        self.unanswered += self.open.len();
        self.interrupted.extend(opener.step_id);
        self.open.clear();
        self.add(tool);
    }

    /// The end of the history: the open calls of a pending approval request wait for their
    /// answer or are denied; any other open calls get error returns.
    fn finish(&mut self, tail: Tail) {
        let pending = match self.out.last() {
            Some(Slot::Kept(last)) => pending_request(std::slice::from_ref(*last)),
            _ => None,
        };
        match (pending, tail) {
            (Some(_), Tail::Keep) => {}
            (Some(request), Tail::Deny(reason)) => {
                for m in denial(request, &self.open, reason, self.now) {
                    self.add(m);
                }
                self.open.clear();
                self.opener = None;
                self.denied = true;
            }
            (None, _) => self.close(),
        }
    }

    fn add(&mut self, m: Message) {
        self.out.push(Slot::Added(self.added.len()));
        self.added.push(m);
    }

    fn fixes(&self) -> Vec<Fix> {
        let mut fixes = Vec::new();
        if self.unanswered > 0 {
            fixes.push(Fix::UnansweredCalls(self.unanswered));
        }
        if self.orphans > 0 {
            fixes.push(Fix::OrphanReturns(self.orphans));
        }
        if self.denied {
            fixes.push(Fix::DeniedApproval);
        }
        fixes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_store::ToolReturnRecord;
    use mneme_types::AgentId;

    fn msg(role: Role, text: &str) -> Message {
        Message::new(AgentId::new(), role, text, mneme_types::time::now())
    }

    fn calling(role: Role, ids: &[&str]) -> Message {
        let mut m = msg(role, "");
        m.step_id = Some(StepId::new());
        m.run_id = Some(RunId::new());
        m.tool_calls = ids
            .iter()
            .map(|id| ToolCallRecord {
                id: (*id).into(),
                name: format!("tool_{id}"),
                arguments: "{}".into(),
            })
            .collect();
        m
    }

    fn returning(ids: &[&str]) -> Message {
        let mut m = msg(Role::Tool, "");
        m.tool_returns = ids
            .iter()
            .map(|id| ToolReturnRecord {
                tool_call_id: (*id).into(),
                status: "success".into(),
                func_response: "ok".into(),
                stdout: None,
                stderr: None,
                content: None,
            })
            .collect();
        m
    }

    fn context(history: Vec<Message>) -> AgentContext {
        let mut ctx = crate::testing::context();
        let system = msg(Role::System, "system");
        ctx.messages = std::iter::once(system).chain(history).collect();
        ctx.agent.message_ids = ctx.messages.iter().map(|m| m.id).collect();
        ctx
    }

    fn roles(messages: &[Message]) -> Vec<Role> {
        messages.iter().map(|m| m.role).collect()
    }

    #[test]
    fn a_sound_context_needs_no_repair() {
        let ctx = context(vec![
            msg(Role::User, "hi"),
            calling(Role::Assistant, &["a", "b"]),
            returning(&["a", "b"]),
            msg(Role::Assistant, "done"),
            msg(Role::User, "more"),
            calling(Role::Assistant, &["c"]),
            calling(Role::Approval, &["d"]),
        ]);
        assert!(plan(&ctx, Tail::Keep, mneme_types::time::now()).is_none());
    }

    #[test]
    fn calls_without_returns_get_error_returns_where_the_returns_belong() {
        let cut = calling(Role::Assistant, &["a", "b"]);
        let last = calling(Role::Assistant, &["c"]);
        let ctx = context(vec![
            msg(Role::User, "hi"),
            cut.clone(),
            returning(&["a"]),
            msg(Role::User, "again"),
            last.clone(),
        ]);
        let repair = plan(&ctx, Tail::Keep, mneme_types::time::now()).unwrap();
        use Role::{Assistant, System, Tool, User};
        assert_eq!(
            roles(&repair.context),
            [System, User, Assistant, Tool, Tool, User, Assistant, Tool]
        );
        assert_eq!(repair.fixes, [Fix::UnansweredCalls(2)]);
        let [b, c] = &repair.added[..] else {
            panic!("{:?}", repair.added)
        };
        assert_eq!(b.tool_returns[0].tool_call_id, "b");
        assert_eq!(b.tool_returns[0].status, "error");
        assert!(
            b.tool_returns[0]
                .func_response
                .contains("no result was recorded")
        );
        assert_eq!((b.step_id, b.run_id), (cut.step_id, cut.run_id));
        assert_eq!(c.tool_returns[0].tool_call_id, "c");
        assert_eq!(
            repair.interrupted,
            [cut.step_id.unwrap(), last.step_id.unwrap()]
        );
    }

    #[test]
    fn returns_without_calls_and_unknown_ids_leave_the_context() {
        let mut ctx = context(vec![
            msg(Role::User, "hi"),
            returning(&["ghost"]),
            msg(Role::Assistant, "hello"),
        ]);
        ctx.agent.message_ids.push(MessageId::new());
        let repair = plan(&ctx, Tail::Keep, mneme_types::time::now()).unwrap();
        assert_eq!(repair.fixes, [Fix::UnknownIds(1), Fix::OrphanReturns(1)]);
        assert_eq!(
            roles(&repair.context),
            [Role::System, Role::User, Role::Assistant]
        );
        assert!(repair.added.is_empty());
    }

    #[test]
    fn a_context_without_its_system_message_gets_a_fresh_one() {
        let mut ctx = context(vec![msg(Role::User, "hi")]);
        ctx.messages.remove(0);
        ctx.agent.message_ids.remove(0);
        let repair = plan(&ctx, Tail::Keep, mneme_types::time::now()).unwrap();
        assert_eq!(repair.fixes, [Fix::NoSystemMessage]);
        assert_eq!(repair.context[0].role, Role::System);
        assert!(
            repair.context[0].text.contains("<memory_blocks>"),
            "{}",
            repair.context[0].text
        );
        assert_eq!(repair.added[0].id, repair.context[0].id);
    }

    #[test]
    fn an_abandoned_approval_is_denied_with_every_call_of_its_step() {
        let free = calling(Role::Assistant, &["free"]);
        let mut request = calling(Role::Approval, &["asked"]);
        request.step_id = free.step_id;
        let ctx = context(vec![msg(Role::User, "hi"), free, request.clone()]);
        // A live request stays as it is.
        assert!(plan(&ctx, Tail::Keep, mneme_types::time::now()).is_none());

        let repair = plan(&ctx, Tail::Deny("gone"), mneme_types::time::now()).unwrap();
        assert_eq!(repair.fixes, [Fix::DeniedApproval]);
        let [answer, tool] = &repair.added[..] else {
            panic!("{:?}", repair.added)
        };
        assert_eq!(answer.role, Role::Approval);
        let content = answer.content.clone().unwrap();
        assert_eq!(content["approval_request_id"], request.id.to_string());
        assert_eq!(content["approvals"][0]["tool_call_id"], "asked");
        assert_eq!(content["approvals"][0]["approve"], false);
        assert_eq!(content["approvals"][0]["reason"], "gone");
        let ids: Vec<&str> = tool
            .tool_returns
            .iter()
            .map(|r| r.tool_call_id.as_str())
            .collect();
        assert_eq!(ids, ["free", "asked"]);
        assert!(
            tool.tool_returns[1]
                .func_response
                .contains("User reason: gone")
        );
        assert_eq!(tool.run_id, request.run_id);
        assert!(repair.interrupted.is_empty());
    }
}
