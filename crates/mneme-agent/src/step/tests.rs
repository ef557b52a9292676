//! Unit tests of the pure decision: `decide` and `conclude` without IO.

use super::*;
use crate::testing::{calls_reply, text_reply};
use mneme_types::ToolRule;

fn solver(rules: Value) -> Solver {
    Solver::new(serde_json::from_value::<Vec<ToolRule>>(rules).unwrap())
}

fn allowed(tools: &[&str]) -> Allowed {
    Allowed {
        tools: tools.iter().map(|t| (*t).to_owned()).collect(),
        must_call: false,
    }
}

fn view<'a>(flavor: Flavor, allowed: &'a Allowed) -> StepView<'a> {
    StepView {
        agent: AgentId::new(),
        flavor,
        parallel: false,
        tools: &[],
        allowed,
        step: (StepId::new(), RunId::new()),
        message_id: MessageId::new(),
        model: "test-model",
    }
}

fn done(plan: StepPlan) -> StepOutcome {
    match plan {
        StepPlan::Done(outcome) => outcome,
        StepPlan::Run(plan) => panic!("expected a settled step, got calls {:?}", plan.calls),
    }
}

fn run(plan: StepPlan) -> CallPlan {
    match plan {
        StepPlan::Run(plan) => *plan,
        StepPlan::Done(outcome) => panic!("expected calls, got {outcome:?}"),
    }
}

fn ok(text: &str) -> ToolOutcome {
    ToolOutcome::from_value(json!(text))
}

/// The `reason` of a heartbeat message.
fn heartbeat_reason(m: &Message) -> String {
    assert_eq!(m.role, Role::User);
    let v: Value = serde_json::from_str(&m.text).unwrap();
    assert_eq!(v["type"], "heartbeat");
    v["reason"]
        .as_str()
        .unwrap()
        .trim_start_matches(HIDDEN_PREFIX)
        .to_owned()
}

#[test]
fn native_text_ends_the_turn_under_the_streamed_id() {
    let allowed = allowed(&["a"]);
    let view = view(Flavor::Native, &allowed);
    let out = done(decide(&view, &solver(json!([])), &text_reply("hello")));
    assert_eq!(out.stop_reason, Some(StopReason::EndTurn));
    assert!(!out.continues);
    let [m] = &out.messages[..] else {
        panic!("{:?}", out.messages)
    };
    assert_eq!(
        (m.role, m.text.as_str(), m.id),
        (Role::Assistant, "hello", view.message_id)
    );
    assert_eq!(
        (m.step_id, m.run_id),
        (Some(view.step.0), Some(view.step.1))
    );
}

#[test]
fn an_empty_answer_stores_nothing_and_a_cut_one_says_why() {
    let allowed = allowed(&["a"]);
    let view = view(Flavor::Native, &allowed);
    let out = done(decide(&view, &solver(json!([])), &text_reply("  ")));
    assert!(out.messages.is_empty());
    let mut cut = text_reply("half a sent");
    cut.finish_reason = Some(mneme_llm::FinishReason::Length);
    let out = done(decide(&view, &solver(json!([])), &cut));
    assert_eq!(out.stop_reason, Some(StopReason::MaxTokensExceeded));
    let out = done(decide(&view, &solver(json!([])), &text_reply("x")));
    assert_eq!(out.stop_reason, Some(StopReason::EndTurn));
}

#[test]
fn a_heartbeat_agent_without_a_call_stops_with_no_tool_call() {
    let allowed = allowed(&["send_message"]);
    let view = view(Flavor::Heartbeat, &allowed);
    let out = done(decide(
        &view,
        &solver(json!([])),
        &text_reply("thinking aloud"),
    ));
    assert_eq!(out.stop_reason, Some(StopReason::NoToolCall));
}

#[test]
fn a_required_tool_keeps_a_text_answer_going() {
    let allowed = allowed(&["a", "b"]);
    let rules = solver(json!([{"type": "required_before_exit", "tool_name": "b"}]));
    let out = done(decide(
        &view(Flavor::Native, &allowed),
        &rules,
        &text_reply("done?"),
    ));
    assert!(out.continues);
    assert_eq!(out.stop_reason, None);
    assert_eq!(out.messages.len(), 2);
    assert_eq!(
        heartbeat_reason(&out.messages[1]),
        "ToolRuleViolated: You must call b at least once to exit the loop."
    );
}

#[test]
fn an_approval_rule_turns_the_calls_into_a_request() {
    let allowed = allowed(&["a", "b"]);
    let rules = solver(json!([{"type": "requires_approval", "tool_name": "b"}]));
    let mut answer = calls_reply(&[("b", json!({"x": 1}))]);
    answer.tool_calls[0].id.clear();
    let out = done(decide(&view(Flavor::Native, &allowed), &rules, &answer));
    assert_eq!(out.stop_reason, Some(StopReason::RequiresApproval));
    let [request] = &out.messages[..] else {
        panic!("{:?}", out.messages)
    };
    assert_eq!(request.role, Role::Approval);
    let call = &request.tool_calls[0];
    assert!(
        call.id.starts_with("call_") && call.id.len() == 29,
        "{}",
        call.id
    );
    assert_eq!(
        (call.name.as_str(), call.arguments.as_str()),
        ("b", r#"{"x":1}"#)
    );
}

#[test]
fn only_the_first_call_runs_unless_parallel_calls_are_allowed() {
    let allowed = allowed(&["a", "b"]);
    let answer = calls_reply(&[("a", json!({})), ("b", json!({}))]);
    let mut view = view(Flavor::Native, &allowed);
    assert_eq!(
        run(decide(&view, &solver(json!([])), &answer)).calls.len(),
        1
    );
    view.parallel = true;
    assert_eq!(
        run(decide(&view, &solver(json!([])), &answer)).calls.len(),
        2
    );
    // Any rule but an approval one orders the calls: one at a time again.
    let ordered = solver(json!([{"type": "continue_loop", "tool_name": "a"}]));
    assert_eq!(run(decide(&view, &ordered, &answer)).calls.len(), 1);
    let mut heartbeat = view;
    heartbeat.flavor = Flavor::Heartbeat;
    assert_eq!(
        run(decide(&heartbeat, &solver(json!([])), &answer))
            .calls
            .len(),
        1
    );
}

#[test]
fn a_call_outside_the_rules_is_refused_and_never_recorded() {
    let allowed = allowed(&["b"]);
    let mut rules = solver(json!([
        {"type": "constrain_child_tools", "tool_name": "a", "children": ["b"]}
    ]));
    rules.record("a", json!(null));
    let plan = run(decide(
        &view(Flavor::Heartbeat, &allowed),
        &rules,
        &calls_reply(&[("c", json!({}))]),
    ));
    let refusal = plan.calls[0].refused.clone().unwrap();
    assert!(
        refusal.starts_with("[ToolConstraintError] Cannot call c, valid tools include: ['b'].")
    );
    let out = conclude(plan, &mut rules, vec![ToolOutcome::failed(refusal)]);
    // A heartbeat agent is woken again after a failed call.
    assert!(out.continues);
    let tool = &out.messages[1];
    assert_eq!(tool.tool_returns[0].status, "error");
    assert!(tool.text.contains("[ToolConstraintError]"));
    assert_eq!(
        heartbeat_reason(&out.messages[2]),
        "Function call failed, returning control"
    );
    // Still right after `a`: the refused call left no trace in the rules' history.
    assert_eq!(rules.allowed(&["b".into(), "c".into()]).tools, ["b"]);
}

#[test]
fn request_heartbeat_chains_and_is_stored_as_decided() {
    let allowed = allowed(&["note", "send_message"]);
    let mut rules = solver(json!([{"type": "exit_loop", "tool_name": "send_message"}]));
    let view = view(Flavor::Heartbeat, &allowed);
    let answer = calls_reply(&[(
        "note",
        json!({"x": 1, "request_heartbeat": "true", "thinking": "hm"}),
    )]);
    let plan = run(decide(&view, &rules, &answer));
    assert_eq!(plan.calls[0].args.to_value(), json!({"x": 1}));
    let out = conclude(plan, &mut rules, vec![ok("noted")]);
    assert!(out.continues);
    let stored: Value = serde_json::from_str(&out.messages[0].tool_calls[0].arguments).unwrap();
    assert_eq!(stored, json!({"x": 1, "request_heartbeat": true}));
    assert_eq!(
        heartbeat_reason(&out.messages[2]),
        "Function called using request_heartbeat=true, returning control"
    );
    // Without the flag the turn ends, and the stored call says so.
    let plan = run(decide(&view, &rules, &calls_reply(&[("note", json!({}))])));
    let out = conclude(plan, &mut rules, vec![ok("noted")]);
    assert_eq!(
        (out.continues, out.stop_reason),
        (false, Some(StopReason::EndTurn))
    );
    assert_eq!(
        out.messages[0].tool_calls[0].arguments,
        r#"{"request_heartbeat":false}"#
    );
    // The reply tool ends the turn; its stored arguments get no flag.
    let plan = run(decide(
        &view,
        &rules,
        &calls_reply(&[("send_message", json!({"message": "hi"}))]),
    ));
    let out = conclude(plan, &mut rules, vec![ok("Sent message successfully.")]);
    assert_eq!(out.stop_reason, Some(StopReason::EndTurn));
    assert_eq!(out.messages.len(), 2);
    assert_eq!(
        out.messages[0].tool_calls[0].arguments,
        r#"{"message":"hi"}"#
    );
}

#[test]
fn exit_rules_stop_native_agents_by_rule() {
    let allowed = allowed(&["a", "done"]);
    let mut rules = solver(json!([{"type": "exit_loop", "tool_name": "done"}]));
    let view = view(Flavor::Native, &allowed);
    let plan = run(decide(&view, &rules, &calls_reply(&[("a", json!({}))])));
    let out = conclude(plan, &mut rules, vec![ToolOutcome::failed("boom".into())]);
    // Native agents continue after any call that does not end the turn, and get no heartbeat.
    assert!(out.continues);
    assert_eq!(out.messages.len(), 2);
    let plan = run(decide(&view, &rules, &calls_reply(&[("done", json!({}))])));
    let out = conclude(plan, &mut rules, vec![ok("bye")]);
    assert_eq!(
        (out.continues, out.stop_reason),
        (false, Some(StopReason::ToolRule))
    );
}

#[test]
fn a_required_tool_overrides_an_exit() {
    let allowed = allowed(&["b", "send_message"]);
    let mut rules = solver(json!([
        {"type": "exit_loop", "tool_name": "send_message"},
        {"type": "required_before_exit", "tool_name": "b"},
    ]));
    let view = view(Flavor::Heartbeat, &allowed);
    let plan = run(decide(
        &view,
        &rules,
        &calls_reply(&[("send_message", json!({"message": "x"}))]),
    ));
    let out = conclude(plan, &mut rules, vec![ok("Sent message successfully.")]);
    assert!(out.continues);
    assert_eq!(
        heartbeat_reason(&out.messages[2]),
        "Continuing, user expects these tools: [b] to be called still."
    );
    let plan = run(decide(&view, &rules, &calls_reply(&[("b", json!({}))])));
    let out = conclude(plan, &mut rules, vec![ok("ok")]);
    assert_eq!(out.stop_reason, Some(StopReason::EndTurn));
}

#[test]
fn prefilled_arguments_win_and_parallel_returns_share_one_message() {
    let allowed = allowed(&["a", "b"]);
    let rules = solver(json!([{"type": "run_first", "tool_name": "a", "args": {"x": 2}}]));
    let plan = run(decide(
        &view(Flavor::Native, &allowed),
        &rules,
        &calls_reply(&[("a", json!({"x": 1}))]),
    ));
    assert_eq!(plan.calls[0].args.to_value(), json!({"x": 2}));

    let mut view = view(Flavor::Native, &allowed);
    view.parallel = true;
    let mut rules = solver(json!([]));
    let plan = run(decide(
        &view,
        &rules,
        &calls_reply(&[("a", json!({})), ("b", json!({}))]),
    ));
    let mut changed = ok("edited");
    changed.memory_changed = true;
    let out = conclude(
        plan,
        &mut rules,
        vec![changed, ToolOutcome::failed("no".into())],
    );
    assert!(out.memory_changed);
    let tool = &out.messages[1];
    let statuses: Vec<(&str, &str)> = tool
        .tool_returns
        .iter()
        .map(|r| (r.tool_call_id.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(statuses, [("call-0", "success"), ("call-1", "error")]);
    assert_eq!(
        (tool.tool_call_id.as_deref(), tool.name.as_deref()),
        (Some("call-0"), Some("a"))
    );
    assert_eq!(out.messages[0].tool_calls.len(), 2);
}

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
