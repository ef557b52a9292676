//! One step's handling of the model's answer: which tools run, what is stored, whether the
//! turn goes on, following Letta's two loop families.

use mneme_llm::{ChatResponse, FinishReason};
use mneme_store::{AgentContext, Message, Passage, Role, ToolCallRecord, ToolReturnRecord};
use mneme_types::{MessageId, RunId, StepId, StopReason, time};
use serde_json::{Value, json};

use crate::LazySandbox;
use crate::context::Flavor;
use crate::recall::MemorySearch;
use crate::system::local_time;
use crate::tool_rules::{Allowed, Solver};
use crate::tools::{Args, DEFAULT_RETURN_CHAR_LIMIT, ToolOutcome, WorkingMemory, execute_builtin};
use mneme_tools::{RunRequest, RunStatus};
use mneme_types::Tool;

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

/// What the step knows besides the model's answer.
pub(crate) struct StepScope<'a> {
    pub(crate) ctx: &'a AgentContext,
    pub(crate) flavor: Flavor,
    pub(crate) sandbox: &'a LazySandbox,
    pub(crate) mcp: &'a dyn crate::McpTools,
    pub(crate) search: &'a dyn MemorySearch,
    pub(crate) allowed: &'a Allowed,
    /// (step, run, pre-generated assistant message id)
    pub(crate) ids: (StepId, RunId, MessageId),
}

pub(crate) async fn handle_response(
    scope: StepScope<'_>,
    memory: &mut WorkingMemory,
    solver: &mut Solver,
    response: ChatResponse,
) -> StepOutcome {
    let StepScope {
        ctx, flavor, ids, ..
    } = scope;
    let mut out = StepOutcome::default();
    let agent = ctx.agent.id;
    let stamp = |mut m: Message| {
        m.step_id = Some(ids.0);
        m.run_id = Some(ids.1);
        m
    };
    let now = time::now();
    let text = response.content.clone().unwrap_or_default();
    let mut assistant = Message::new(agent, Role::Assistant, text.clone(), now);
    // Streamed chunks already carried this id; the stored message must have it too.
    assistant.id = ids.2;
    assistant.reasoning = response.reasoning_text();

    let mut calls = response.tool_calls.clone();
    // Parallel calls only when the model config allows them and no rule constrains the order.
    let parallel = flavor == Flavor::Native
        && ctx.agent.llm_config.parallel_tool_calls == Some(true)
        && solver.allows_parallel_calls();
    if !parallel {
        calls.truncate(1);
    }
    if calls.is_empty() {
        let has_text = !text.trim().is_empty() || assistant.reasoning.is_some();
        if has_text {
            out.messages.push(stamp(assistant));
        }
        let required = solver.uncalled_required();
        if !required.is_empty() {
            // The turn may not end yet: tell the model why, and go on.
            let reason = format!(
                "ToolRuleViolated: You must call {} at least once to exit the loop.",
                required.join(", ")
            );
            out.messages.push(stamp(heartbeat(agent, &reason)));
            out.continues = true;
            return out;
        }
        out.stop_reason = Some(match flavor {
            Flavor::Heartbeat => StopReason::NoToolCall,
            Flavor::Native if response.finish_reason == Some(FinishReason::Length) => {
                StopReason::MaxTokensExceeded
            }
            Flavor::Native => StopReason::EndTurn,
        });
        return out;
    }

    if calls.iter().any(|c| solver.requires_approval(&c.name)) {
        // Nothing runs until a human answers: the calls wait in an approval request.
        let mut request = assistant;
        request.role = Role::Approval;
        request.tool_calls = calls
            .iter()
            .map(|c| ToolCallRecord {
                id: if c.id.is_empty() {
                    new_call_id()
                } else {
                    c.id.clone()
                },
                name: c.name.clone(),
                arguments: c.arguments.clone(),
            })
            .collect();
        out.messages.push(stamp(request));
        out.stop_reason = Some(StopReason::RequiresApproval);
        return out;
    }

    let mut returns = Vec::new();
    let mut continues = false;
    let mut terminal = false;
    let mut heartbeat_asked = false;
    let mut stored_calls = Vec::new();
    for call in &calls {
        let id = if call.id.is_empty() {
            new_call_id()
        } else {
            call.id.clone()
        };
        let mut args = Args::parse(&call.arguments);
        let heartbeat = args.take("request_heartbeat").is_some_and(|v| {
            v.as_bool()
                .unwrap_or_else(|| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true")))
        });
        heartbeat_asked |= heartbeat;
        args.take("thinking");
        let permitted = scope.allowed.tools.contains(&call.name);
        let outcome = if permitted {
            args.merge(solver.prefilled(&call.name));
            let outcome = run_tool(&scope, memory, &call.name, &args).await;
            solver.record(&call.name, outcome.value.clone());
            outcome
        } else {
            ToolOutcome::failed(solver.violation(&call.name, &scope.allowed.tools))
        };
        out.memory_changed |= outcome.memory_changed;
        out.passages.extend(outcome.passage.clone());
        let tool_terminal = permitted && solver.is_terminal(&call.name);
        terminal |= tool_terminal;
        let ruled_on = permitted && solver.continues_after(&call.name);
        let this_continues = match flavor {
            // The contract (and original MemGPT): a failed tool wakes the agent again;
            // rule violations and continue/child rules do too.
            Flavor::Heartbeat => !tool_terminal && (heartbeat || !outcome.ok || ruled_on),
            Flavor::Native => !tool_terminal,
        };
        continues |= this_continues;
        let mut stored_args = args.to_value();
        if let Some(obj) = stored_args
            .as_object_mut()
            .filter(|_| flavor == Flavor::Heartbeat && !tool_terminal)
        {
            // Stored as decided, as Letta does, so the history shows why the agent went on.
            obj.insert("request_heartbeat".into(), json!(this_continues));
        }
        stored_calls.push(ToolCallRecord {
            id: id.clone(),
            name: call.name.clone(),
            arguments: serde_json::to_string(&stored_args).unwrap_or_else(|_| "{}".into()),
        });
        let limit = tool_limit(ctx, &call.name);
        returns.push(ToolReturnRecord {
            tool_call_id: id,
            status: if outcome.ok { "success" } else { "error" }.into(),
            func_response: pack_return(&outcome, limit),
            stdout: None,
            stderr: None,
        });
    }
    assistant.tool_calls = stored_calls;
    out.messages.push(stamp(assistant));
    let mut tool_msg = Message::new(agent, Role::Tool, returns[0].func_response.clone(), now);
    tool_msg.tool_call_id = Some(returns[0].tool_call_id.clone());
    tool_msg.name = calls.first().map(|c| c.name.clone());
    tool_msg.tool_returns = returns.clone();
    out.messages.push(stamp(tool_msg));

    // Native agents go on after tool calls unless one of them ends the turn.
    let mut go_on = match flavor {
        Flavor::Native => !terminal,
        Flavor::Heartbeat => continues,
    };
    let required = solver.uncalled_required();
    let must_go_on = !go_on && !required.is_empty();
    go_on |= must_go_on;
    if flavor == Flavor::Heartbeat && go_on {
        let failed = returns.iter().any(|r| r.status == "error");
        let reason = if must_go_on {
            format!(
                "Continuing, user expects these tools: [{}] to be called still.",
                required.join(", ")
            )
        } else if failed {
            "Function call failed, returning control".to_owned()
        } else {
            "Function called using request_heartbeat=true, returning control".to_owned()
        };
        out.messages.push(stamp(heartbeat(agent, &reason)));
    }
    out.continues = go_on;
    if !out.continues {
        let by_rule = terminal && (flavor == Flavor::Native || heartbeat_asked);
        out.stop_reason = Some(if by_rule {
            StopReason::ToolRule
        } else {
            StopReason::EndTurn
        });
    }
    out
}

/// A tool-call id for providers that send none.
fn new_call_id() -> String {
    format!("call_{}", &uuid::Uuid::new_v4().simple().to_string()[..24])
}

/// Runs one approved call and packs its return (the answer step of an approval).
pub(crate) async fn run_approved(
    scope: &StepScope<'_>,
    memory: &mut WorkingMemory,
    solver: &mut Solver,
    call: &ToolCallRecord,
) -> (ToolReturnRecord, ToolOutcome) {
    let mut args = Args::parse(&call.arguments);
    args.take("request_heartbeat");
    args.take("thinking");
    let outcome = run_tool(scope, memory, &call.name, &args).await;
    solver.record(&call.name, outcome.value.clone());
    let ret = ToolReturnRecord {
        tool_call_id: call.id.clone(),
        status: if outcome.ok { "success" } else { "error" }.into(),
        func_response: pack_return(&outcome, tool_limit(scope.ctx, &call.name)),
        stdout: None,
        stderr: None,
    };
    (ret, outcome)
}

async fn run_tool(
    scope: &StepScope<'_>,
    memory: &mut WorkingMemory,
    name: &str,
    args: &Args,
) -> ToolOutcome {
    let ctx = scope.ctx;
    let Some(tool) = ctx.tools.iter().find(|t| t.name == name) else {
        let available: Vec<&str> = ctx.tools.iter().map(|t| t.name.as_str()).collect();
        return ToolOutcome::failed(format!(
            "Error: tool '{name}' is not attached to this agent; available tools: {}",
            available.join(", ")
        ));
    };
    match tool.tool_type.as_str() {
        "custom" => return run_custom(scope, tool, args).await,
        "external_mcp" => {
            let args = args.to_value().as_object().cloned().unwrap_or_default();
            return scope.mcp.call(tool, args).await;
        }
        crate::turn::CLIENT_TOOL_TYPE => {
            // Approving a client-side call cannot run it here: the client owns the code.
            return ToolOutcome::failed(format!(
                "Error: '{name}' is a client-side tool; answer its approval request with a tool return"
            ));
        }
        _ => {}
    }
    execute_builtin(name, args, &ctx.agent, memory, scope.search).await
}

/// A user's Python tool, in the sandbox, with the agent's variables as its environment.
async fn run_custom(scope: &StepScope<'_>, tool: &Tool, args: &Args) -> ToolOutcome {
    let settings = &scope.ctx.agent.settings;
    let env = settings
        .tool_exec_environment_variables
        .iter()
        .chain(settings.secrets.iter())
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect();
    let req = RunRequest {
        source: tool.source_code.clone().unwrap_or_default(),
        function: tool.name.clone(),
        args: args.to_value().as_object().cloned().unwrap_or_default(),
        env,
    };
    match scope.sandbox.get().await.run(req).await {
        Ok(out) if out.status == RunStatus::Success => {
            // Letta keeps strings and dicts as they are and shows anything else as str().
            let value = match (&out.result, out.result_str) {
                (Value::String(_) | Value::Object(_), _) => out.result,
                (_, Some(text)) => Value::String(text),
                (other, None) => Value::String(other.to_string()),
            };
            ToolOutcome::from_value(value)
        }
        Ok(out) => ToolOutcome::failed(format!(
            "Error executing function {}: {}",
            tool.name,
            out.error.unwrap_or_else(|| "the tool failed".into())
        )),
        Err(e) => ToolOutcome::failed(format!("Error executing function {}: {e}", tool.name)),
    }
}

fn tool_limit(ctx: &AgentContext, name: &str) -> usize {
    ctx.tools
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
fn heartbeat(agent: mneme_types::AgentId, reason: &str) -> Message {
    let text = serde_json::to_string_pretty(&json!({
        "type": "heartbeat",
        "reason": format!("{HIDDEN_PREFIX}{reason}"),
        "time": local_time(chrono::Utc::now()),
    }))
    .unwrap_or_default();
    Message::new(agent, Role::User, text, time::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_returns_truncate_once() {
        let outcome = ToolOutcome {
            ok: true,
            value: Value::String("x".repeat(20)),
            memory_changed: false,
            passage: None,
        };
        let packed: Value = serde_json::from_str(&pack_return(&outcome, 5)).unwrap();
        assert_eq!(packed["status"], "OK");
        let msg = packed["message"].as_str().unwrap();
        assert!(msg.starts_with("xxxxx... [NOTE: function output was truncated"));
        assert_eq!(msg.matches("NOTE").count(), 1);
    }
}
