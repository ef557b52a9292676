//! The planner's promises: valid cuts, each mode, the sliding-window search, the estimate.

use mneme_store::{ToolCallRecord, ToolReturnRecord};
use mneme_types::{AgentId, StepId};

use super::*;

fn msg(role: Role) -> Message {
    Message::new(AgentId::new(), role, "x", mneme_types::time::now())
}

fn call(id: &str) -> Message {
    let mut m = msg(Role::Assistant);
    m.tool_calls.push(ToolCallRecord {
        id: id.into(),
        name: "t".into(),
        arguments: "{}".into(),
    });
    m
}

fn ret(id: &str) -> Message {
    let mut m = msg(Role::Tool);
    m.tool_returns.push(ToolReturnRecord {
        tool_call_id: id.into(),
        status: "success".into(),
        func_response: "r".into(),
        stdout: None,
        stderr: None,
        content: None,
    });
    m
}

/// sys | u a(c1) t(c1) a | u a(c2) t(c2) a
fn conversation() -> Vec<Message> {
    vec![
        msg(Role::System),
        msg(Role::User),
        call("c1"),
        ret("c1"),
        msg(Role::Assistant),
        msg(Role::User),
        call("c2"),
        ret("c2"),
        msg(Role::Assistant),
    ]
}

fn input<'a>(messages: &'a [Message], tokens: &'a [u64], newest_turn: usize) -> PlanInput<'a> {
    PlanInput {
        messages,
        tokens,
        fixed: 0,
        window: 1000,
        newest_turn,
        min_cut: 2,
    }
}

#[test]
fn cuts_never_separate_a_call_from_its_return() {
    let messages = conversation();
    // Not 3 (between c1 and its return), not 7 (likewise for c2); 9 summarises everything.
    assert_eq!(valid_cuts(&messages), [2, 4, 5, 6, 8, 9]);
    // A return that comes later (an approval answered in a later step) blocks every cut up to
    // it, and an approval answer never starts the kept part.
    let mut request = msg(Role::Approval);
    request.tool_calls = call("c3").tool_calls;
    let answer = msg(Role::Approval);
    let messages = vec![
        msg(Role::System),
        msg(Role::User),
        request,
        answer,
        ret("c3"),
        msg(Role::Assistant),
    ];
    assert_eq!(valid_cuts(&messages), [2, 5, 6]);
}

#[test]
fn a_pending_approval_stays_with_the_calls_of_its_step() {
    let step = Some(StepId::new());
    let mut free = call("c1");
    free.step_id = step;
    let mut request = msg(Role::Approval);
    request.tool_calls = call("c2").tool_calls;
    request.step_id = step;
    let messages = vec![
        msg(Role::System),
        msg(Role::User),
        msg(Role::Assistant),
        msg(Role::User),
        free,
        request,
    ];
    assert_eq!(valid_cuts(&messages), [2, 3, 4]);
    let tokens = [10; 6];
    let all = Strategy::All { goal: 1 };
    assert_eq!(plan(&input(&messages, &tokens, 6), all), Some(4));
}

#[test]
fn all_keeps_the_system_message_and_the_newest_turn() {
    let messages = conversation();
    let tokens = [10; 9];
    // The newest turn starts at 5: everything before it is summarised.
    let all = Strategy::All { goal: 900 };
    assert_eq!(plan(&input(&messages, &tokens, 5), all), Some(5));
    // Not stored yet (the request's inputs are pending): the whole history goes.
    assert_eq!(plan(&input(&messages, &tokens, 9), all), Some(9));
    // A newest turn that alone does not fit is summarised too.
    let big = [10, 10, 10, 10, 10, 10, 500, 500, 10];
    assert_eq!(plan(&input(&messages, &big, 5), all), Some(9));
    // Nothing to cut: only the system message and one message.
    let two = &conversation()[..2];
    assert_eq!(valid_cuts(two), [2]);
    assert_eq!(valid_cuts(&conversation()[..1]), Vec::<usize>::new());
    assert_eq!(plan(&input(&conversation()[..1], &[10], 1), all), None);
    // A cut that must shrink the count replaces two messages at least.
    let mut shrink = input(two, &[10, 10], 2);
    assert_eq!(plan(&shrink, all), Some(2));
    shrink.min_cut = 3;
    assert_eq!(plan(&shrink, all), None);
}

#[test]
fn the_sliding_window_evicts_the_fewest_oldest_messages_that_make_room() {
    let messages = conversation();
    // The oldest exchange is heavy: dropping it alone brings the rest under 70% of 1000.
    let tokens = [50, 300, 100, 100, 100, 50, 50, 50, 50];
    let sliding = Strategy::Sliding { percentage: 0.3 };
    // First try: 40% of 9 messages = a cut at or before 4 -> 4 (50 + 300 = 350 < 700).
    assert_eq!(plan(&input(&messages, &tokens, 5), sliding), Some(4));
    // When 40% is not enough the share grows ten points at a time: 50% -> 4, 60% -> 5, ...
    let tokens = [50, 100, 100, 100, 100, 200, 200, 200, 100];
    // after(4) = 50 + 800 = 850, after(5) = 750, after(6) = 550 < 700 at 70% (6.3 -> 6).
    assert_eq!(plan(&input(&messages, &tokens, 9), sliding), Some(6));
    // Keeping the newest turn (from 5) cannot reach the goal: no sliding plan.
    assert_eq!(plan(&input(&messages, &tokens, 5), sliding), None);
    // A goal that nothing reaches: none either.
    let huge = [800, 10, 10, 10, 10, 10, 10, 10, 10];
    assert_eq!(plan(&input(&messages, &huge, 9), sliding), None);
}

#[test]
fn the_estimate_counts_the_system_prompt_what_is_kept_and_the_fixed_part() {
    let messages = conversation();
    let tokens = [5, 1, 2, 3, 4, 5, 6, 7, 8];
    let mut i = input(&messages, &tokens, 9);
    i.fixed = 100;
    let e = Estimate::new(&i);
    assert_eq!(e.after(9), 105);
    assert_eq!(e.after(8), 113);
    assert_eq!(e.after(1), 105 + 36);
}
