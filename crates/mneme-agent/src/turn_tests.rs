//! The step loop end to end, in process: real turns over SQLite in a temporary directory with
//! the scripted model (`testing.rs`), no server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mneme_llm::{ChatDelta, ChatMessage, Content, LlmError};
use mneme_store::{Message, Page, Role};
use mneme_types::{AgentId, AgentType, StopReason, Tool};
use serde_json::{Value, json};

use crate::approval::{ApprovalAnswer, Decision};
use crate::testing::{AgentSpec, Harness, Scripted, calls_reply};
use crate::tools::ToolOutcome;
use crate::{AgentError, ClientTool, Invocation, ToolExecutor, TurnEvent};

fn memgpt(rules: Value) -> AgentSpec {
    AgentSpec {
        agent_type: AgentType::MemgptAgent,
        tools: &["send_message", "core_memory_append"],
        rules,
        ..AgentSpec::default()
    }
}

fn roles(messages: &[Message]) -> Vec<Role> {
    messages.iter().map(|m| m.role).collect()
}

/// The last message the model saw in request `i`.
fn last_sent(h: &Harness, i: usize) -> ChatMessage {
    h.llm.requests()[i].messages.last().cloned().unwrap()
}

async fn block(h: &Harness, agent: AgentId, label: &str) -> String {
    let ctx = h.store.agent_context(agent).await.unwrap();
    ctx.blocks
        .into_iter()
        .find(|b| b.label.as_deref() == Some(label))
        .map(|b| b.value)
        .unwrap()
}

fn approval_answer(agent: AgentId, decision: Decision) -> ApprovalAnswer {
    ApprovalAnswer {
        decisions: vec![decision],
        all: None,
        message: Message::new(agent, Role::Approval, "", mneme_types::time::now()),
    }
}

#[tokio::test]
async fn request_heartbeat_chains_steps_until_send_message() {
    let h = Harness::new().await;
    let agent = h
        .agent(memgpt(
            json!([{"type": "exit_loop", "tool_name": "send_message"}]),
        ))
        .await;
    h.llm.call(
        "core_memory_append",
        json!({"label": "human", "content": "Likes tea.", "request_heartbeat": true}),
    );
    h.llm.call("send_message", json!({"message": "Noted."}));
    let out = h.run(h.input(agent, "I like tea").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    assert_eq!(out.usage.step_count, 2);
    let ChatMessage::User {
        content: Content::Text(content),
    } = last_sent(&h, 1)
    else {
        panic!("{:?}", last_sent(&h, 1))
    };
    assert!(
        content.contains("Function called using request_heartbeat=true"),
        "{content}"
    );
    use Role::{Assistant, Tool, User};
    let stored = h.context(agent).await;
    assert_eq!(
        roles(&stored),
        [User, Assistant, Tool, User, Assistant, Tool]
    );
    assert_eq!(
        roles(&out.messages),
        [Assistant, Tool, User, Assistant, Tool]
    );
    assert_eq!(block(&h, agent, "human").await, "Name: Ada\nLikes tea.");
    // The stored system message was recompiled in the step that changed memory.
    let ctx = h.store.agent_context(agent).await.unwrap();
    assert!(ctx.messages[0].text.contains("Likes tea."));
}

#[tokio::test]
async fn a_heartbeat_agent_stops_when_no_heartbeat_is_asked() {
    let h = Harness::new().await;
    let agent = h.agent(memgpt(json!([]))).await;
    h.llm.call(
        "core_memory_append",
        json!({"label": "human", "content": "x", "request_heartbeat": false}),
    );
    let out = h.run(h.input(agent, "hi").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    assert_eq!(h.llm.requests().len(), 1);
    // A failed call wakes the agent again, whatever it asked.
    h.llm.call(
        "core_memory_append",
        json!({"label": "nope", "content": "x"}),
    );
    h.llm.call("send_message", json!({"message": "sorry"}));
    let out = h.run(h.input(agent, "again").await).await;
    assert_eq!(out.usage.step_count, 2);
    assert_eq!(out.messages[1].tool_returns[0].status, "error");
}

#[tokio::test]
async fn native_text_ends_the_turn_and_a_tool_call_continues_it() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    h.llm.call(
        "memory_insert",
        json!({"label": "human", "new_string": "Has a cat."}),
    );
    h.llm.text("Got it.");
    let out = h.run(h.input(agent, "I have a cat").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    let ChatMessage::Tool {
        tool_call_id,
        content,
    } = last_sent(&h, 1)
    else {
        panic!("{:?}", last_sent(&h, 1))
    };
    assert_eq!(tool_call_id, "call-0");
    let content = content.text();
    assert!(content.contains("\"status\": \"OK\""), "{content}");
    use Role::{Assistant, Tool, User};
    assert_eq!(
        roles(&h.context(agent).await),
        [User, Assistant, Tool, Assistant]
    );
    assert_eq!(block(&h, agent, "human").await, "Name: Ada\nHas a cat.");
}

#[tokio::test]
async fn tool_rules_refuse_require_and_exit() {
    let h = Harness::new().await;
    let agent = h
        .agent(AgentSpec {
            rules: json!([
                {"type": "run_first", "tool_name": "conversation_search"},
                {"type": "required_before_exit", "tool_name": "memory_insert"},
                {"type": "exit_loop", "tool_name": "memory_insert"},
            ]),
            ..AgentSpec::default()
        })
        .await;
    h.llm.call(
        "memory_replace",
        json!({"label": "human", "old_string": "Ada", "new_string": "Bob"}),
    );
    h.llm.call("conversation_search", json!({"query": "tea"}));
    h.llm.text("All done.");
    h.llm.call(
        "memory_insert",
        json!({"label": "human", "new_string": "Asked."}),
    );
    let out = h.run(h.input(agent, "go").await).await;
    assert_eq!(out.stop_reason, StopReason::ToolRule);
    let requests = h.llm.requests();
    assert_eq!(requests.len(), 4);
    let offered: Vec<&str> = requests[0].tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(offered, ["conversation_search"]);
    // The refused call never ran; the model was told why.
    let refusal = &out.messages[1].tool_returns[0];
    assert_eq!(refusal.status, "error");
    assert!(
        refusal
            .func_response
            .contains("[ToolConstraintError] Cannot call memory_replace")
    );
    assert_eq!(block(&h, agent, "human").await, "Name: Ada\nAsked.");
    // The text answer did not end the turn: a required tool was still uncalled.
    let ChatMessage::User {
        content: Content::Text(content),
    } = last_sent(&h, 3)
    else {
        panic!("{:?}", last_sent(&h, 3))
    };
    assert!(
        content.contains("You must call memory_insert at least once"),
        "{content}"
    );
}

#[tokio::test]
async fn an_approval_stops_the_turn_and_the_answer_runs_the_call() {
    let h = Harness::new().await;
    let agent = approval_agent(&h).await;
    h.llm.call(
        "memory_insert",
        json!({"label": "human", "new_string": "Approved."}),
    );
    let out = h.run(h.input(agent, "note it").await).await;
    assert_eq!(out.stop_reason, StopReason::RequiresApproval);
    assert_eq!(roles(&out.messages), [Role::Approval]);
    assert_eq!(block(&h, agent, "human").await, "Name: Ada");

    // An answer for another call is refused, and nothing runs.
    let mut wrong = h.input(agent, "").await;
    wrong.inputs.clear();
    wrong.approval = Some(approval_answer(
        agent,
        Decision::Approve {
            tool_call_id: "call-9".into(),
        },
    ));
    let err = h.runtime.run_turn(wrong).await.unwrap_err();
    assert!(matches!(err, AgentError::BadRequest(_)), "{err:?}");

    h.llm.text("Inserted.");
    let mut input = h.input(agent, "").await;
    input.inputs.clear();
    input.approval = Some(approval_answer(
        agent,
        Decision::Approve {
            tool_call_id: "call-0".into(),
        },
    ));
    let out = h.run(input).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    assert_eq!(h.llm.requests().len(), 2);
    assert_eq!(block(&h, agent, "human").await, "Name: Ada\nApproved.");
    use Role::{Approval, Assistant, Tool, User};
    assert_eq!(
        roles(&h.context(agent).await),
        [User, Approval, Approval, Tool, Assistant]
    );
    assert_eq!(out.messages[1].tool_returns[0].status, "success");
}

#[tokio::test]
async fn a_denied_call_returns_the_reason_and_never_runs() {
    let h = Harness::new().await;
    let agent = approval_agent(&h).await;
    h.llm.call(
        "memory_insert",
        json!({"label": "human", "new_string": "Denied."}),
    );
    h.run(h.input(agent, "note it").await).await;
    h.llm.text("OK, I won't.");
    let mut input = h.input(agent, "no").await;
    input.approval = Some(approval_answer(
        agent,
        Decision::Deny {
            tool_call_id: "call-0".into(),
            reason: Some("not now".into()),
        },
    ));
    let out = h.run(input).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    let ret = &out.messages[1].tool_returns[0];
    assert_eq!(ret.status, "error");
    assert!(
        ret.func_response
            .contains("request to call tool denied. User reason: not now")
    );
    assert_eq!(block(&h, agent, "human").await, "Name: Ada");
    // The follow-up input was stored in the approval's step, before the model saw it.
    assert_eq!(out.messages[2].role, Role::User);
    assert_eq!(out.messages[2].step_id, out.messages[1].step_id);
}

#[tokio::test]
async fn a_client_tool_call_waits_for_the_callers_return() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    h.llm.call("get_weather", json!({"city": "Oslo"}));
    let mut input = h.input(agent, "weather?").await;
    input.client_tools = vec![ClientTool {
        name: "get_weather".into(),
        description: Some("Weather".into()),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    }];
    let out = h.run(input).await;
    assert_eq!(out.stop_reason, StopReason::RequiresApproval);
    h.llm.text("Sunny in Oslo.");
    let mut input = h.input(agent, "").await;
    input.inputs.clear();
    input.approval = Some(approval_answer(
        agent,
        Decision::Return {
            tool_call_id: "call-0".into(),
            status: "success".into(),
            tool_return: "sunny".into(),
            parts: None,
        },
    ));
    let out = h.run(input).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    assert_eq!(out.messages[1].tool_returns[0].func_response, "sunny");
}

#[tokio::test]
async fn a_model_error_stores_nothing_of_its_step() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    h.llm.push(Scripted::Fail(LlmError::Timeout));
    let out = h.run(h.input(agent, "hi").await).await;
    assert_eq!(out.stop_reason, StopReason::LlmApiError);
    assert_eq!(out.error, Some(LlmError::Timeout));
    assert!(
        h.context(agent).await.is_empty(),
        "the input waits for a step"
    );

    h.llm.call(
        "memory_insert",
        json!({"label": "human", "new_string": "One."}),
    );
    h.llm
        .push(Scripted::Fail(LlmError::InvalidResponse("garbled".into())));
    let input = h.input(agent, "hi again").await;
    let run = input.run_id;
    let out = h.run(input).await;
    assert_eq!(out.stop_reason, StopReason::InvalidLlmResponse);
    use Role::{Assistant, Tool, User};
    assert_eq!(roles(&h.context(agent).await), [User, Assistant, Tool]);
    let page = Page {
        limit: 100,
        ..Page::default()
    };
    assert_eq!(
        h.store
            .list_steps(
                &mneme_store::StepFilter {
                    run: Some(run),
                    ..Default::default()
                },
                &page
            )
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn max_steps_ends_a_chain() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    for _ in 0..3 {
        h.llm.call("conversation_search", json!({"query": "x"}));
    }
    let mut input = h.input(agent, "search").await;
    input.max_steps = 2;
    let out = h.run(input).await;
    assert_eq!(out.stop_reason, StopReason::MaxSteps);
    assert_eq!(h.llm.requests().len(), 2);
    assert_eq!(out.usage.step_count, 2);
}

#[tokio::test]
async fn cancellation_stops_before_and_during_a_model_call() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    let input = h.input(agent, "hi").await;
    input.cancel.cancel();
    assert_eq!(h.run(input).await.stop_reason, StopReason::Cancelled);
    assert!(h.llm.requests().is_empty());

    h.llm.push(Scripted::Hang);
    let input = h.input(agent, "hi").await;
    let cancel = input.cancel.clone();
    let runtime = h.runtime.clone();
    let turn = tokio::spawn(async move { runtime.run_turn(input).await });
    let llm = h.llm.clone();
    tokio::time::timeout(Duration::from_secs(10), async {
        while llm.requests().is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    cancel.cancel();
    let out = turn.await.unwrap().unwrap();
    assert_eq!(out.stop_reason, StopReason::Cancelled);
    assert!(h.context(agent).await.is_empty());
}

#[tokio::test]
async fn streamed_deltas_carry_the_stored_message_id() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    h.llm.text("Streamed.");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut input = h.input(agent, "hi").await;
    input.events = Some(tx);
    input.stream_tokens = true;
    let out = h.run(input).await;
    let stored = out.messages[0].id;
    let mut deltas = 0;
    let mut committed = 0;
    while let Ok(event) = rx.try_recv() {
        match event {
            TurnEvent::Delta { message_id, .. } => {
                assert_eq!(message_id, stored);
                deltas += 1;
            }
            TurnEvent::StepCommitted { messages } => {
                assert_eq!(messages[0].id, stored);
                committed += 1;
            }
            other => panic!("no compaction here: {other:?}"),
        }
    }
    assert_eq!((deltas, committed), (2, 1));
    assert_eq!(out.messages[0].text, "Streamed.");
}

#[tokio::test]
async fn a_stream_that_breaks_stores_nothing_of_its_step() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    h.llm.push(Scripted::Deltas(vec![
        Ok(ChatDelta::Content("Hal".into())),
        Err(LlmError::Connection("reset".into())),
    ]));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut input = h.input(agent, "hi").await;
    input.events = Some(tx);
    input.stream_tokens = true;
    let out = h.run(input).await;
    assert_eq!(out.stop_reason, StopReason::LlmApiError);
    assert!(out.messages.is_empty());
    assert!(matches!(rx.try_recv(), Ok(TurnEvent::Delta { .. })));
    assert!(rx.try_recv().is_err(), "no step was committed");
    assert!(h.context(agent).await.is_empty());
}

/// Shouts its `text` argument: a tool type the runtime does not know by itself.
struct Shout;

#[async_trait]
impl ToolExecutor for Shout {
    async fn execute(&self, call: Invocation<'_>) -> ToolOutcome {
        let text = call.args.string("text").unwrap_or_default();
        ToolOutcome::from_value(json!(text.to_uppercase()))
    }
}

#[tokio::test]
async fn parallel_calls_run_through_their_registered_executors() {
    let mut h = Harness::new().await;
    h.runtime = h.runtime.clone().with_executor("shouting", Arc::new(Shout));
    let mut shout: Tool = crate::tools::builtin_tools().remove(0);
    shout.name = "shout".into();
    shout.tool_type = "shouting".into();
    h.store.upsert_tools(vec![shout]).await.unwrap();
    let agent = h
        .agent(AgentSpec {
            tools: &["shout", "conversation_search"],
            parallel: true,
            ..AgentSpec::default()
        })
        .await;
    h.llm.push(Scripted::Reply(calls_reply(&[
        ("shout", json!({"text": "hey"})),
        ("conversation_search", json!({"query": "x"})),
    ])));
    h.llm.text("Done.");
    let out = h.run(h.input(agent, "go").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    let returns = &out.messages[1].tool_returns;
    assert_eq!(returns.len(), 2);
    assert!(returns[0].func_response.contains("\"message\": \"HEY\""));
    assert_eq!(returns[1].status, "success");
}

/// An agent whose `memory_insert` calls wait for approval.
async fn approval_agent(h: &Harness) -> AgentId {
    h.agent(AgentSpec {
        rules: json!([{"type": "requires_approval", "tool_name": "memory_insert"}]),
        ..AgentSpec::default()
    })
    .await
}

/// The text of every message the model got in request `i`, the system prompt first.
fn sent_texts(h: &Harness, i: usize) -> Vec<String> {
    let request = &h.llm.requests()[i];
    let mut out = vec![request.system.clone().unwrap_or_default()];
    out.extend(request.messages.iter().map(|m| format!("{m:?}")));
    out
}

#[tokio::test]
async fn turns_see_every_change_made_between_them() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    h.llm.text("first answer");
    h.run(h.input(agent, "one").await).await;
    // Between turns: a message edited, and a block edited with its system message
    // recompiled, as the API does.
    let answer = h.context(agent).await.pop().unwrap();
    h.store
        .update_message(
            answer.id,
            Box::new(|m| {
                m.text = "edited answer".into();
                Ok(())
            }),
        )
        .await
        .unwrap();
    let ctx = h.store.agent_context(agent).await.unwrap();
    let human = ctx
        .blocks
        .iter()
        .find(|b| b.label.as_deref() == Some("human"))
        .unwrap();
    let edit: mneme_store::BlockEdit = Box::new(|b| {
        b.value = "Name: Grace".into();
        Ok(())
    });
    h.store.update_block(human.id, edit).await.unwrap();
    let blocks = h.store.agent_blocks(agent).await.unwrap();
    let system = crate::compile_system_message(
        &ctx.agent,
        &blocks,
        &ctx.files,
        crate::MemoryStats::default(),
        chrono::Utc::now(),
    );
    h.store
        .set_message_text(ctx.agent.message_ids[0], system)
        .await
        .unwrap();
    h.llm.text("second answer");
    h.run(h.input(agent, "two").await).await;
    let sent = sent_texts(&h, 1);
    assert!(sent[0].contains("Name: Grace"), "{}", sent[0]);
    assert!(sent.iter().any(|t| t.contains("edited answer")), "{sent:?}");
    assert!(!sent.iter().any(|t| t.contains("first answer")), "{sent:?}");
    // A third turn with nothing changed in between sees the second one's messages.
    h.llm.text("third answer");
    h.run(h.input(agent, "three").await).await;
    let sent = sent_texts(&h, 2);
    assert!(sent.iter().any(|t| t.contains("second answer")), "{sent:?}");
    assert_eq!(
        h.llm.requests()[2].messages.len(),
        h.context(agent).await.len() - 1,
        "everything stored before this turn's answer"
    );
}

/// A tool that runs until released, as a long call outside the process would: the test sees
/// when it started and decides when it ends (or drops the turn meanwhile, as a crash does).
struct Blocking {
    started: tokio::sync::Notify,
    release: tokio::sync::Semaphore,
}

impl Default for Blocking {
    fn default() -> Blocking {
        Blocking {
            started: tokio::sync::Notify::new(),
            release: tokio::sync::Semaphore::new(0),
        }
    }
}

#[async_trait]
impl ToolExecutor for Blocking {
    async fn execute(&self, _: Invocation<'_>) -> ToolOutcome {
        self.started.notify_one();
        if let Ok(permit) = self.release.acquire().await {
            permit.forget();
        }
        ToolOutcome::from_value(json!("rested"))
    }
}

/// An agent with a `nap` tool run by a `Blocking` executor.
async fn napping_agent(h: &mut Harness) -> (AgentId, Arc<Blocking>) {
    let blocking = Arc::new(Blocking::default());
    h.runtime = h.runtime.clone().with_executor("napping", blocking.clone());
    let mut nap: Tool = crate::tools::builtin_tools().remove(0);
    nap.name = "nap".into();
    nap.tool_type = "napping".into();
    h.store.upsert_tools(vec![nap]).await.unwrap();
    let agent = h
        .agent(AgentSpec {
            tools: &["nap", "conversation_search"],
            ..AgentSpec::default()
        })
        .await;
    (agent, blocking)
}

/// Every tool call the model is sent is followed by the returns of all its calls, as
/// providers require (OpenAI answers 400 otherwise).
fn assert_paired(messages: &[ChatMessage]) {
    for (i, m) in messages.iter().enumerate() {
        let ChatMessage::Assistant { tool_calls, .. } = m else {
            continue;
        };
        let mut asked: Vec<&str> = tool_calls.iter().map(|c| c.id.as_str()).collect();
        let mut returned: Vec<&str> = messages[i + 1..]
            .iter()
            .map_while(|m| match m {
                ChatMessage::Tool { tool_call_id, .. } => Some(tool_call_id.as_str()),
                _ => None,
            })
            .collect();
        asked.sort_unstable();
        returned.sort_unstable();
        assert_eq!(asked, returned, "calls without their returns: {messages:?}");
    }
}

#[tokio::test]
async fn the_model_answer_is_stored_before_a_long_tool_call_finishes() {
    let mut h = Harness::new().await;
    let (agent, blocking) = napping_agent(&mut h).await;
    h.llm.call("nap", json!({}));
    h.llm.text("Rested.");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut input = h.input(agent, "take a nap").await;
    input.events = Some(tx);
    let run = input.run_id;
    let runtime = h.runtime.clone();
    let turn = tokio::spawn(async move { runtime.run_turn(input).await });
    blocking.started.notified().await;

    // The call runs: the input and the model's answer are stored, its step pending.
    use Role::{Assistant, Tool, User};
    let stored = h.context(agent).await;
    assert_eq!(roles(&stored), [User, Assistant]);
    assert_eq!(stored[1].tool_calls[0].name, "nap");
    let step = h.store.get_step(stored[1].step_id.unwrap()).await.unwrap();
    assert!(step.is_pending(), "{}", step.status);
    let Some(TurnEvent::StepCommitted { messages }) = rx.recv().await else {
        panic!("the answer was not reported")
    };
    assert_eq!(messages[0].id, stored[1].id);

    blocking.release.add_permits(1);
    let out = turn.await.unwrap().unwrap();
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    assert_eq!(roles(&out.messages), [Assistant, Tool, Assistant]);
    assert_eq!(out.messages[0].id, stored[1].id);
    assert_eq!(
        roles(&h.context(agent).await),
        [User, Assistant, Tool, Assistant]
    );
    let step = h.store.get_step(step.id).await.unwrap();
    assert_eq!(step.status, "success");
    let page = Page {
        limit: 100,
        ..Page::default()
    };
    assert_eq!(
        h.store
            .list_steps(
                &mneme_store::StepFilter {
                    run: Some(run),
                    ..Default::default()
                },
                &page
            )
            .await
            .unwrap()
            .len(),
        2
    );
    let usage = h.store.get_run(run).await.unwrap().data.usage;
    assert_eq!(usage.step_count, 2, "the step is counted once");
    let mut reports = 1;
    while let Ok(TurnEvent::StepCommitted { .. }) = rx.try_recv() {
        reports += 1;
    }
    assert_eq!(reports, 3, "answer, returns, then the text step");
}

#[tokio::test]
async fn built_in_calls_commit_their_step_once() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    h.llm.call("conversation_search", json!({"query": "x"}));
    h.llm.text("Nothing.");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut input = h.input(agent, "search").await;
    input.events = Some(tx);
    h.run(input).await;
    let mut reports = Vec::new();
    while let Ok(TurnEvent::StepCommitted { messages }) = rx.try_recv() {
        reports.push(roles(&messages));
    }
    use Role::{Assistant, Tool};
    assert_eq!(reports, [vec![Assistant, Tool], vec![Assistant]]);
}

#[tokio::test]
async fn a_call_cut_off_by_a_crash_gets_an_error_return_and_the_next_turn_goes_on() {
    let mut h = Harness::new().await;
    let (agent, blocking) = napping_agent(&mut h).await;
    h.llm.call("nap", json!({}));
    let input = h.input(agent, "take a nap").await;
    let runtime = h.runtime.clone();
    let turn = tokio::spawn(async move { runtime.run_turn(input).await });
    blocking.started.notified().await;
    // The process dies while the tool runs: the turn is dropped where it stands.
    turn.abort();
    assert!(turn.await.unwrap_err().is_cancelled());
    let cut = h.context(agent).await[1].clone();

    h.llm.text("I am back.");
    let out = h.run(h.input(agent, "still there?").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    let sent = &h.llm.requests()[1].messages;
    assert_paired(sent);
    let ChatMessage::Tool { content, .. } = &sent[2] else {
        panic!("{sent:?}")
    };
    assert!(
        content.text().contains("no result was recorded"),
        "{content:?}"
    );
    use Role::{Assistant, Tool, User};
    let stored = h.context(agent).await;
    assert_eq!(roles(&stored), [User, Assistant, Tool, User, Assistant]);
    let repaired = &stored[2];
    assert_eq!(repaired.tool_returns[0].tool_call_id, cut.tool_calls[0].id);
    assert_eq!(repaired.tool_returns[0].status, "error");
    assert_eq!(
        repaired.step_id, cut.step_id,
        "the repair belongs to the cut step"
    );
    let step = h.store.get_step(cut.step_id.unwrap()).await.unwrap();
    assert_eq!(
        (step.status.as_str(), step.stop_reason),
        ("failed", Some(StopReason::Error))
    );
    // The repair is stored once: the turn after sees the same history.
    h.llm.text("Still here.");
    h.run(h.input(agent, "good").await).await;
    assert_paired(&h.llm.requests()[2].messages);
    assert_eq!(h.context(agent).await.len(), 7);
}

/// Raises an approval request in a turn whose run then ends with `status`.
async fn ask_and_end(h: &Harness, agent: AgentId, status: mneme_types::RunStatus) -> Message {
    h.llm.call(
        "memory_insert",
        json!({"label": "human", "new_string": "Asked."}),
    );
    let input = h.input(agent, "note it").await;
    let run = input.run_id;
    assert_eq!(h.run(input).await.stop_reason, StopReason::RequiresApproval);
    let edit = Box::new(move |r: &mut mneme_store::RunRecord| r.status = status);
    h.store.update_run(run, edit).await.unwrap();
    h.context(agent).await.pop().unwrap()
}

#[tokio::test]
async fn new_input_clears_an_abandoned_approval_and_is_refused_by_a_live_one() {
    use mneme_types::RunStatus;
    let h = Harness::new().await;
    let agent = approval_agent(&h).await;
    ask_and_end(&h, agent, RunStatus::Completed).await;
    let err = h
        .runtime
        .run_turn(h.input(agent, "hello?").await)
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::BadRequest(_)), "{err:?}");

    let h = Harness::new().await;
    let agent = approval_agent(&h).await;
    let request = ask_and_end(&h, agent, RunStatus::Failed).await;
    h.llm.text("Never mind then.");
    let out = h.run(h.input(agent, "hello?").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    assert_paired(&h.llm.requests()[1].messages);
    use Role::{Approval, Assistant, Tool, User};
    let stored = h.context(agent).await;
    assert_eq!(
        roles(&stored),
        [User, Approval, Approval, Tool, User, Assistant]
    );
    let answer = stored[2].content.clone().unwrap();
    assert_eq!(answer["approvals"][0]["approve"], false);
    assert_eq!(answer["approval_request_id"], request.id.to_string());
    assert_eq!(stored[3].tool_returns[0].status, "error");
    assert!(
        stored[3].tool_returns[0]
            .func_response
            .contains("abandoned")
    );
    assert_eq!(block(&h, agent, "human").await, "Name: Ada", "nothing ran");
}

#[tokio::test]
async fn cancelling_a_pending_approval_denies_it_and_unblocks_the_agent() {
    use mneme_types::RunStatus;
    let h = Harness::new().await;
    let agent = approval_agent(&h).await;
    assert!(
        crate::approval::cancel(&*h.store, mneme_types::Thread::default_of(agent))
            .await
            .unwrap()
            .is_none()
    );
    let request = ask_and_end(&h, agent, RunStatus::Completed).await;
    let (cleared, run) = crate::approval::cancel(&*h.store, mneme_types::Thread::default_of(agent))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((cleared.id, Some(run)), (request.id, request.run_id));
    let stored = h.context(agent).await;
    let denial = &stored[3].tool_returns[0];
    assert!(
        denial
            .func_response
            .contains(crate::approval::CANCEL_REASON),
        "{denial:?}"
    );
    assert_eq!(stored[3].run_id, request.run_id);
    h.llm.text("Cancelled, then.");
    let out = h.run(h.input(agent, "hi").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    assert_paired(&h.llm.requests()[1].messages);
}

#[tokio::test]
async fn in_context_ids_naming_no_message_are_dropped_by_the_next_turn() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    let ghost = mneme_types::MessageId::new();
    let edit = Box::new(move |a: &mut mneme_store::Agent| {
        a.message_ids.push(ghost);
        Ok(())
    });
    h.store.update_agent(agent, edit, None).await.unwrap();
    h.llm.text("Hello.");
    let out = h.run(h.input(agent, "hi").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    let stored = h.store.get_agent(agent).await.unwrap();
    assert!(!stored.message_ids.contains(&ghost));
    assert_eq!(stored.message_ids.len(), 3);
}
