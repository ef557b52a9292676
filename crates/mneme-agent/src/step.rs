//! One step's handling of the model's answer, without IO: `decide` says which calls run, which
//! the tool rules refuse, or that the answer waits for approval; `conclude` turns the calls'
//! outcomes into the step's messages, stop reason and continuation. Letta's two loop families
//! (`Flavor`) differ only here; the executor in `turn.rs` runs what was decided.

use chrono::{DateTime, Utc};
use mneme_llm::{ChatResponse, FinishReason, ReasoningBlock, ToolCall};
use mneme_store::{Message, Passage, ReasoningRecord, Role, ToolCallRecord, ToolReturnRecord};
use mneme_types::{AgentId, MessageId, RunId, StepId, StopReason, Tool, time};
use serde_json::{Value, json};

use crate::context::Flavor;
use crate::system::local_time;
use crate::tool_rules::{Allowed, Solver};
use crate::tools::{Args, DEFAULT_RETURN_CHAR_LIMIT, ToolOutcome};

#[cfg(test)]
mod tests;

/// The hidden-from-user prefix of server-written continuation reasons.
const HIDDEN_PREFIX: &str = "[This is an automated system message hidden from the user] ";

/// What one step produced and decided.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepOutcome {
    /// New messages of this step (assistant, tool, heartbeat), in order.
    pub messages: Vec<Message>,
    pub passages: Vec<Passage>,
    pub memory_changed: bool,
    pub continues: bool,
    pub stop_reason: Option<StopReason>,
}

/// What the decision reads besides the model's answer and the rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepView<'a> {
    pub agent: AgentId,
    pub flavor: Flavor,
    /// The model config allows parallel tool calls.
    pub parallel: bool,
    /// The agent's tools (their return limits).
    pub tools: &'a [Tool],
    /// What the rules offered the model in this step.
    pub allowed: &'a Allowed,
    /// The step and run every new message is stamped with.
    pub step: (StepId, RunId),
    /// The id the assistant message is stored under: streamed chunks carried it already.
    pub message_id: MessageId,
    /// The model that answered: signed reasoning is sent back only to it.
    pub model: &'a str,
}

/// What to do with the model's answer.
#[derive(Debug)]
pub(crate) enum StepPlan {
    /// Nothing runs: the outcome is known (a text answer, an approval request).
    Done(StepOutcome),
    /// Calls to run, whose outcomes `conclude` turns into the step's outcome.
    Run(Box<CallPlan>),
}

/// The calls of one answer, in the model's order.
#[derive(Debug)]
pub(crate) struct CallPlan {
    flavor: Flavor,
    step: (StepId, RunId),
    /// The assistant message; its stored tool calls are added by `conclude`.
    assistant: Message,
    pub calls: Vec<PlannedCall>,
    /// The assistant message was stored before the calls ran (`answer`): `conclude` leaves it
    /// out of the step's messages.
    answered: bool,
}

/// One call, as decided before anything runs.
#[derive(Debug)]
pub(crate) struct PlannedCall {
    /// The provider's call id, or a generated one.
    pub id: String,
    pub name: String,
    /// What the tool gets: without `request_heartbeat` and `thinking`, with the rules' prefills.
    pub args: Args,
    /// The rules refuse the call with this error return; it never runs.
    pub refused: Option<String>,
    /// The model set `request_heartbeat`.
    heartbeat: bool,
    /// An exit rule ends the turn after this call.
    terminal: bool,
    /// A rule continues the turn after this call.
    ruled_on: bool,
    /// The tool's `return_char_limit`.
    limit: usize,
}

/// Decides what the model's answer does, before anything runs.
pub(crate) fn decide(view: &StepView<'_>, solver: &Solver, response: &ChatResponse) -> StepPlan {
    let text = response.content.clone().unwrap_or_default();
    let mut assistant = Message::new(view.agent, Role::Assistant, text, time::now());
    assistant.id = view.message_id;
    assistant.reasoning = response.reasoning.iter().map(reasoning_record).collect();
    assistant.model = Some(view.model.to_owned());
    // Parallel calls only when the model config allows them and no rule constrains the order.
    let parallel = view.flavor == Flavor::Native && view.parallel && solver.allows_parallel_calls();
    let all = &response.tool_calls;
    let calls = &all[..if parallel {
        all.len()
    } else {
        all.len().min(1)
    }];
    if calls.is_empty() {
        let cut_short = hit_token_limit(response);
        return StepPlan::Done(answer_without_calls(view, solver, assistant, cut_short));
    }
    if calls.iter().any(|c| solver.requires_approval(&c.name)) {
        return StepPlan::Done(approval_request(view, solver, assistant, calls));
    }
    StepPlan::Run(Box::new(CallPlan {
        flavor: view.flavor,
        step: view.step,
        assistant,
        calls: calls.iter().map(|c| plan_call(view, solver, c)).collect(),
        answered: false,
    }))
}

impl CallPlan {
    /// The assistant message with its calls, to store before they run (calls that may take
    /// long, or run outside the process). A heartbeat agent's stored `request_heartbeat` then
    /// says whether the turn goes on if the call succeeds, the only outcome known beforehand.
    pub(crate) fn answer(&mut self) -> Message {
        self.answered = true;
        let mut assistant = self.assistant.clone();
        assistant.tool_calls = self
            .calls
            .iter()
            .map(|c| {
                stored_call(
                    self.flavor,
                    c,
                    c.continues(self.flavor, c.refused.is_none()),
                )
            })
            .collect();
        stamp(assistant, self.step)
    }
}

/// The step's outcome once its calls ran: `outcomes[i]` is what `plan.calls[i]` returned (the
/// refusal for a refused call). Records the calls that ran in `solver`.
pub(crate) fn conclude(
    plan: CallPlan,
    solver: &mut Solver,
    outcomes: Vec<ToolOutcome>,
) -> StepOutcome {
    let CallPlan {
        flavor,
        step,
        mut assistant,
        calls,
        answered,
    } = plan;
    let mut out = StepOutcome::default();
    let mut tally = Tally::default();
    let mut returns = Vec::with_capacity(calls.len());
    let first_name = calls.first().map(|c| c.name.clone());
    for (call, mut outcome) in calls.into_iter().zip(outcomes) {
        if call.refused.is_none() {
            solver.record(&call.name, outcome.value.clone());
        }
        out.memory_changed |= outcome.memory_changed;
        out.passages.extend(outcome.passage.take());
        let continues = call.continues(flavor, outcome.ok);
        tally.add(&call, continues);
        assistant
            .tool_calls
            .push(stored_call(flavor, &call, continues));
        returns.push(tool_return(call.id, &outcome, call.limit));
    }
    let failed = returns.iter().any(|r| r.status == "error");
    let (agent, at) = (assistant.agent_id, assistant.created_at);
    if !answered {
        out.messages.push(stamp(assistant, step));
    }
    let tool = tool_message(agent, at, first_name, returns);
    out.messages.push(stamp(tool, step));
    match after_calls(flavor, &tally, failed, &solver.uncalled_required()) {
        After::Continue { reason } => {
            if let Some(reason) = reason {
                out.messages.push(stamp(heartbeat(agent, &reason), step));
            }
            out.continues = true;
        }
        After::Stop(reason) => out.stop_reason = Some(reason),
    }
    out
}

/// The arguments an approved call runs with (the model's, without the loop's own flags).
pub(crate) fn approved_args(call: &ToolCallRecord) -> Args {
    let mut args = Args::parse(&call.arguments);
    take_loop_flags(&mut args);
    args
}

/// Removes the loop's own arguments (`request_heartbeat`, `thinking`) from a call's; whether
/// a heartbeat was asked for.
fn take_loop_flags(args: &mut Args) -> bool {
    let heartbeat = args.take("request_heartbeat").is_some_and(|v| {
        v.as_bool()
            .unwrap_or_else(|| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true")))
    });
    args.take("thinking");
    heartbeat
}

/// A call's stored return: Letta's packed text, cut to `limit` characters.
pub(crate) fn tool_return(id: String, outcome: &ToolOutcome, limit: usize) -> ToolReturnRecord {
    ToolReturnRecord {
        tool_call_id: id,
        status: if outcome.ok { "success" } else { "error" }.into(),
        func_response: pack_return(outcome, limit),
        stdout: None,
        stderr: None,
        content: None,
    }
}

/// The tool message of a step: every return, the first one also as its text.
pub(crate) fn tool_message(
    agent: AgentId,
    at: DateTime<Utc>,
    name: Option<String>,
    returns: Vec<ToolReturnRecord>,
) -> Message {
    let first = returns.first();
    let text = first.map(|r| r.func_response.clone()).unwrap_or_default();
    let mut m = Message::new(agent, Role::Tool, text, at);
    m.tool_call_id = first.map(|r| r.tool_call_id.clone());
    m.name = name;
    m.tool_returns = returns;
    m
}

/// Marks a message as written by this step of this run.
pub(crate) fn stamp(mut m: Message, (step, run): (StepId, RunId)) -> Message {
    m.step_id = Some(step);
    m.run_id = Some(run);
    m
}

/// The tool's `return_char_limit`, Letta's default for tools not attached.
pub(crate) fn tool_limit(tools: &[Tool], name: &str) -> usize {
    tools
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.return_char_limit)
        .unwrap_or(DEFAULT_RETURN_CHAR_LIMIT) as usize
}

/// Letta's packed tool return: `{"status", "message", "time"}`, 2-space indented, the message
/// cut to the tool's `return_char_limit` with one note.
pub fn pack_return(outcome: &ToolOutcome, limit: usize) -> String {
    let message = match &outcome.value {
        Value::String(s) => Value::String(truncate(s, limit)),
        Value::Object(_) => {
            let text = outcome.value.to_string();
            if text.chars().count() > limit {
                Value::String(truncate(&text, limit))
            } else {
                outcome.value.clone()
            }
        }
        other => Value::String(truncate(&other.to_string(), limit)),
    };
    let packed = json!({
        "status": if outcome.ok { "OK" } else { "Failed" },
        "message": message,
        "time": local_time(chrono::Utc::now()),
    });
    serde_json::to_string_pretty(&packed).unwrap_or_default()
}

/// A reasoning block as stored, signature and redacted data kept.
fn reasoning_record(block: &ReasoningBlock) -> ReasoningRecord {
    match block {
        ReasoningBlock::Text { text, signature } => ReasoningRecord::Reasoning {
            text: text.clone(),
            signature: signature.clone(),
        },
        ReasoningBlock::Redacted { data } => ReasoningRecord::Redacted { data: data.clone() },
    }
}

/// The provider stopped the answer at its token limit.
fn hit_token_limit(response: &ChatResponse) -> bool {
    response.finish_reason == Some(FinishReason::Length)
}

/// A text answer (or an empty one): the turn ends, unless a required tool was not called yet.
fn answer_without_calls(
    view: &StepView<'_>,
    solver: &Solver,
    assistant: Message,
    cut_short: bool,
) -> StepOutcome {
    let mut out = StepOutcome::default();
    if !assistant.text.trim().is_empty() || !assistant.reasoning.is_empty() {
        out.messages.push(stamp(assistant, view.step));
    }
    let required = solver.uncalled_required();
    if !required.is_empty() {
        // The turn may not end yet: tell the model why, and go on.
        let reason = format!(
            "ToolRuleViolated: You must call {} at least once to exit the loop.",
            required.join(", ")
        );
        out.messages
            .push(stamp(heartbeat(view.agent, &reason), view.step));
        out.continues = true;
        return out;
    }
    out.stop_reason = Some(match view.flavor {
        Flavor::Heartbeat => StopReason::NoToolCall,
        Flavor::Native if cut_short => StopReason::MaxTokensExceeded,
        Flavor::Native => StopReason::EndTurn,
    });
    out
}

/// Nothing runs until a human answers: the calls needing approval wait in an approval request.
/// As in Letta, parallel calls that need none are stored before it in an assistant message of
/// their own, and run with the approved ones when the answer comes (`pending_calls`).
fn approval_request(
    view: &StepView<'_>,
    solver: &Solver,
    assistant: Message,
    calls: &[ToolCall],
) -> StepOutcome {
    let record = |c: &ToolCall| ToolCallRecord {
        id: call_id(c),
        name: c.name.clone(),
        arguments: c.arguments.clone(),
    };
    let (asked, free): (Vec<&ToolCall>, Vec<&ToolCall>) = calls
        .iter()
        .partition(|c| solver.requires_approval(&c.name));
    let mut messages = Vec::with_capacity(2);
    let mut request = Message::new(view.agent, Role::Approval, "", assistant.created_at);
    if free.is_empty() {
        // The request is the model's message itself: its text and reasoning stay on it.
        request = assistant;
        request.role = Role::Approval;
    } else {
        let mut first = assistant;
        first.tool_calls = free.into_iter().map(record).collect();
        messages.push(stamp(first, view.step));
    }
    request.tool_calls = asked.into_iter().map(record).collect();
    messages.push(stamp(request, view.step));
    StepOutcome {
        messages,
        stop_reason: Some(StopReason::RequiresApproval),
        ..StepOutcome::default()
    }
}

fn plan_call(view: &StepView<'_>, solver: &Solver, call: &ToolCall) -> PlannedCall {
    let mut args = Args::parse(&call.arguments);
    let heartbeat = take_loop_flags(&mut args);
    let permitted = view.allowed.tools.contains(&call.name);
    let refused = if permitted {
        args.merge(solver.prefilled(&call.name));
        None
    } else {
        Some(solver.violation(&call.name, &view.allowed.tools))
    };
    PlannedCall {
        id: call_id(call),
        name: call.name.clone(),
        args,
        refused,
        heartbeat,
        terminal: permitted && solver.is_terminal(&call.name),
        ruled_on: permitted && solver.continues_after(&call.name),
        limit: tool_limit(view.tools, &call.name),
    }
}

impl PlannedCall {
    /// Whether the turn goes on after this call, given whether it succeeded.
    fn continues(&self, flavor: Flavor, ok: bool) -> bool {
        match flavor {
            // The contract (and original MemGPT): a failed tool wakes the agent again;
            // rule violations and continue/child rules do too.
            Flavor::Heartbeat => !self.terminal && (self.heartbeat || !ok || self.ruled_on),
            Flavor::Native => !self.terminal,
        }
    }
}

/// The provider's call id, or a new one for providers that send none.
fn call_id(call: &ToolCall) -> String {
    if call.id.is_empty() {
        format!("call_{}", &uuid::Uuid::new_v4().simple().to_string()[..24])
    } else {
        call.id.clone()
    }
}

/// What the calls of a step said about going on.
#[derive(Debug, Default)]
struct Tally {
    /// Some call continues the turn.
    continues: bool,
    /// Some call ends it by rule.
    terminal: bool,
    /// The model asked for a heartbeat on some call.
    heartbeat_asked: bool,
}

impl Tally {
    fn add(&mut self, call: &PlannedCall, continues: bool) {
        self.continues |= continues;
        self.terminal |= call.terminal;
        self.heartbeat_asked |= call.heartbeat;
    }
}

/// What follows a step's calls.
#[derive(Debug, PartialEq)]
enum After {
    /// Another step; heartbeat agents are told why.
    Continue {
        reason: Option<String>,
    },
    Stop(StopReason),
}

fn after_calls(flavor: Flavor, tally: &Tally, failed: bool, required: &[String]) -> After {
    // Native agents go on after tool calls unless one of them ends the turn.
    let go_on = match flavor {
        Flavor::Native => !tally.terminal,
        Flavor::Heartbeat => tally.continues,
    };
    if !go_on && required.is_empty() {
        let by_rule = tally.terminal && (flavor == Flavor::Native || tally.heartbeat_asked);
        return After::Stop(if by_rule {
            StopReason::ToolRule
        } else {
            StopReason::EndTurn
        });
    }
    let reason = (flavor == Flavor::Heartbeat).then(|| {
        if !go_on {
            format!(
                "Continuing, user expects these tools: [{}] to be called still.",
                required.join(", ")
            )
        } else if failed {
            "Function call failed, returning control".to_owned()
        } else {
            "Function called using request_heartbeat=true, returning control".to_owned()
        }
    });
    After::Continue { reason }
}

/// The call as stored: heartbeat agents' arguments say whether the turn went on, as Letta
/// stores them, so the history shows why the agent continued.
fn stored_call(flavor: Flavor, call: &PlannedCall, continues: bool) -> ToolCallRecord {
    let mut args = call.args.to_value();
    if let Some(obj) = args
        .as_object_mut()
        .filter(|_| flavor == Flavor::Heartbeat && !call.terminal)
    {
        obj.insert("request_heartbeat".into(), json!(continues));
    }
    ToolCallRecord {
        id: call.id.clone(),
        name: call.name.clone(),
        arguments: serde_json::to_string(&args).unwrap_or_else(|_| "{}".into()),
    }
}

fn truncate(s: &str, limit: usize) -> String {
    let n = s.chars().count();
    if n <= limit {
        return s.to_owned();
    }
    let head: String = s.chars().take(limit).collect();
    format!(
        "{head}... [NOTE: function output was truncated since it exceeded the character limit ({n} > {limit})]"
    )
}

/// The user-role message that wakes a heartbeat agent again.
fn heartbeat(agent: AgentId, reason: &str) -> Message {
    let text = serde_json::to_string_pretty(&json!({
        "type": "heartbeat",
        "reason": format!("{HIDDEN_PREFIX}{reason}"),
        "time": local_time(chrono::Utc::now()),
    }))
    .unwrap_or_default();
    Message::new(agent, Role::User, text, time::now())
}
