//! Compaction in whole turns over SQLite with the scripted model: each trigger, the retry
//! after "context length exceeded", a failing summarizer, the summarize route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mneme_llm::tokens::TokenCounter;
use mneme_llm::{ChatMessage, ChatRequest, ChatResponse, LlmError, ToolChoice, Usage};
use mneme_store::{Message, MessageQuery, Role};
use mneme_types::{AgentId, CompactionMode, CompactionSettings, StopReason, time};
use serde_json::json;

use crate::testing::{AgentSpec, Harness, Scripted, calls_reply, text_reply};
use crate::{AgentError, MemoryStats, TurnEvent, compile_system_message};

/// Words of about one token each, `n` of them.
fn words(n: usize) -> String {
    "lorem ipsum dolor sit amet ".repeat(n / 5)
}

/// An answer that reports `tokens` of context used.
fn using(text: &str, tokens: u64) -> Scripted {
    Scripted::Reply(ChatResponse {
        usage: Usage {
            prompt_tokens: tokens,
            total_tokens: tokens,
            ..Usage::default()
        },
        ..text_reply(text)
    })
}

fn is_summarizer(r: &ChatRequest) -> bool {
    r.tools.is_empty()
        && r.system
            .as_deref()
            .is_some_and(|s| s.starts_with("You write"))
}

/// An agent with a short base prompt (so that sizes are about the history), `conversation_search`
/// as its only tool, and `window` tokens of context.
async fn agent(h: &Harness, window: u32) -> AgentId {
    let id = h
        .agent(AgentSpec {
            tools: &["conversation_search"],
            ..AgentSpec::default()
        })
        .await;
    edit(h, id, move |a| {
        a.system = "You are a test agent.".into();
        a.llm_config.context_window = window;
    })
    .await;
    let ctx = h.store.agent_context(id).await.unwrap();
    // Counts are made with the tokenizer, not the estimate used while it loads.
    TokenCounter::for_config_blocking(&ctx.agent.llm_config);
    let text = compile_system_message(
        &ctx.agent,
        &ctx.blocks,
        &ctx.files,
        MemoryStats::default(),
        time::now(),
    );
    h.store
        .set_message_text(ctx.agent.message_ids[0], text)
        .await
        .unwrap();
    id
}

async fn edit(h: &Harness, id: AgentId, f: impl FnOnce(&mut mneme_store::Agent) + Send + 'static) {
    let edit: mneme_store::AgentEdit = Box::new(move |a| {
        f(a);
        Ok(())
    });
    h.store.update_agent(id, edit, None).await.unwrap();
}

/// Compaction settings in `mode`, the others at their defaults.
fn in_mode(mode: CompactionMode) -> CompactionSettings {
    CompactionSettings {
        mode,
        ..CompactionSettings::default()
    }
}

/// Gives the agent compaction settings in `mode`.
async fn set_mode(h: &Harness, id: AgentId, mode: CompactionMode) {
    let s = in_mode(mode);
    edit(h, id, move |a| a.settings.compaction_settings = Some(s)).await;
}

/// `n` exchanges of `size` words each way, without compaction.
async fn seed(h: &Harness, id: AgentId, n: usize, size: usize) {
    for i in 0..n {
        h.llm.text(&format!("reply {i} {}", words(size)));
        let out = h
            .run(h.input(id, &format!("message {i} {}", words(size))).await)
            .await;
        assert_eq!(out.stop_reason, StopReason::EndTurn);
        assert!(out.compactions.is_empty());
    }
}

async fn all_messages(h: &Harness, id: AgentId) -> Vec<Message> {
    let q = MessageQuery {
        limit: 1000,
        ..MessageQuery::default()
    };
    h.store.list_messages(id, &q).await.unwrap()
}

/// Every tool message in `context` follows the call it answers.
fn pairs_intact(context: &[Message]) {
    for (i, m) in context.iter().enumerate() {
        for r in &m.tool_returns {
            let called = context[..i]
                .iter()
                .any(|c| c.tool_calls.iter().any(|t| t.id == r.tool_call_id));
            assert!(called, "the return at {i} lost its call");
        }
    }
}

#[tokio::test]
async fn large_reported_usage_compacts_after_the_step_and_keeps_history() {
    let h = Harness::new().await;
    let id = agent(&h, 100_000).await;
    seed(&h, id, 6, 20).await;
    h.llm.push(using("Sure.", 95_000));
    h.llm.text("They talked about lorem ipsum.");
    let out = h.run(h.input(id, "and now?").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    assert_eq!(out.compactions.len(), 1);
    let requests = h.llm.requests();
    let summarizer = requests.last().unwrap();
    assert!(is_summarizer(summarizer));
    let ChatMessage::User { content } = &summarizer.messages[0] else {
        panic!("{:?}", summarizer.messages)
    };
    assert!(content.text().contains("[user] message 0"));
    // The summary is the context's second message, a user message (no compaction messages
    // asked for) holding Letta's packed alert with the stats.
    let ctx = h.store.agent_context(id).await.unwrap();
    let summary = &ctx.messages[1];
    assert_eq!(summary.role, Role::User);
    let packed: serde_json::Value = serde_json::from_str(&summary.text).unwrap();
    assert_eq!(packed["type"], "system_alert");
    assert!(
        packed["message"]
            .as_str()
            .unwrap()
            .ends_with(" They talked about lorem ipsum.")
    );
    assert_eq!(
        packed["compaction_stats"]["trigger"],
        "post_step_context_check"
    );
    assert_eq!(packed["compaction_stats"]["context_tokens_before"], 95_000);
    assert_eq!(packed["compaction_stats"]["messages_count_before"], 15);
    let after = packed["compaction_stats"]["messages_count_after"]
        .as_u64()
        .unwrap();
    assert_eq!(after as usize, ctx.messages.len());
    // The newest turn stayed; nothing was deleted; the system message has the new counts.
    let kept: Vec<&str> = ctx.messages.iter().map(|m| m.text.as_str()).collect();
    assert!(kept.contains(&"and now?") && kept.contains(&"Sure."));
    let stored = all_messages(&h, id).await;
    assert_eq!(stored.len(), 1 + 14 + 1);
    let hidden = stored.len() - ctx.messages.len();
    let line = format!("- {hidden} previous messages between you and the user");
    assert!(
        ctx.messages[0].text.contains(&line),
        "{}",
        ctx.messages[0].text
    );
    assert_eq!(out.messages.last().unwrap().id, summary.id);

    // The next request carries the summary right after the system prompt.
    h.llm.text("Fine.");
    h.run(h.input(id, "next").await).await;
    let next = h.llm.requests().pop().unwrap();
    let ChatMessage::User { content } = &next.messages[0] else {
        panic!()
    };
    assert_eq!(content.text(), summary.text);
}

#[tokio::test]
async fn a_context_over_the_threshold_is_compacted_before_the_call() {
    let h = Harness::new().await;
    let id = agent(&h, 100_000).await;
    seed(&h, id, 12, 900).await;
    edit(&h, id, |a| a.llm_config.context_window = 20_000).await;
    h.llm.text("Summary of the early talk.");
    h.llm.text("Answered.");
    let out = h.run(h.input(id, "question").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    let requests = h.llm.requests();
    let n = requests.len();
    assert!(is_summarizer(&requests[n - 2]));
    let answered = &requests[n - 1];
    assert!(!is_summarizer(answered));
    assert_eq!(
        answered.messages.last().unwrap(),
        &ChatMessage::user("question")
    );
    let stats = &out.compactions[0].stats;
    assert_eq!(stats.trigger, "pre_step_context_check");
    assert!(stats.context_tokens_before.unwrap() > 18_000, "{stats:?}");
    assert!(stats.context_tokens_after.unwrap() < 18_000, "{stats:?}");
    // The request's input is stored after the summary, with the step.
    let ctx = h.store.agent_context(id).await.unwrap();
    let texts: Vec<&str> = ctx.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(&texts[texts.len() - 2..], ["question", "Answered."]);
}

#[tokio::test]
async fn a_context_length_error_compacts_and_retries_the_step() {
    let h = Harness::new().await;
    let id = agent(&h, 100_000).await;
    seed(&h, id, 4, 20).await;
    h.llm.push(Scripted::Fail(LlmError::ContextWindowExceeded(
        "too long".into(),
    )));
    h.llm.text("Summary.");
    h.llm.text("Fits now.");
    let before = h.llm.requests().len();
    let out = h.run(h.input(id, "hi").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    assert_eq!(out.usage.step_count, 1);
    let requests = &h.llm.requests()[before..];
    assert_eq!(requests.len(), 3);
    assert!(is_summarizer(&requests[1]));
    // The retry sends the summary, then what was kept, then the input.
    assert!(requests[2].messages.len() < requests[0].messages.len());
    assert_eq!(out.compactions[0].stats.trigger, "context_window_exceeded");
    assert_eq!(out.messages.last().unwrap().text, "Fits now.");
}

#[tokio::test]
async fn repeated_context_length_errors_end_the_turn() {
    let h = Harness::new().await;
    let id = agent(&h, 100_000).await;
    seed(&h, id, 6, 20).await;
    for _ in 0..3 {
        h.llm.push(Scripted::Fail(LlmError::ContextWindowExceeded(
            "too long".into(),
        )));
        h.llm.text("Summary.");
    }
    let out = h.run(h.input(id, "hi").await).await;
    assert_eq!(out.stop_reason, StopReason::LlmApiError);
    assert!(matches!(
        out.error,
        Some(LlmError::ContextWindowExceeded(_))
    ));
    assert_eq!(out.compactions.len(), 2);
}

#[tokio::test]
async fn a_system_prompt_that_alone_overflows_stops_the_turn() {
    let h = Harness::new().await;
    let id = agent(&h, 100_000).await;
    h.llm.push(Scripted::Fail(LlmError::ContextWindowExceeded(
        "too long".into(),
    )));
    let out = h.run(h.input(id, "hi").await).await;
    assert_eq!(
        out.stop_reason,
        StopReason::ContextWindowOverflowInSystemPrompt
    );
    assert_eq!(
        h.llm.requests().len(),
        1,
        "nothing to summarise, no summarizer call"
    );
    assert!(h.context(id).await.is_empty());
}

#[tokio::test]
async fn tool_calls_stay_with_their_returns() {
    let h = Harness::new().await;
    let id = agent(&h, 100_000).await;
    for i in 0..6 {
        h.llm.push(Scripted::Reply(calls_reply(&[(
            "conversation_search",
            json!({"query": format!("q{i}")}),
        )])));
        h.llm.text(&format!("found {i}"));
        h.run(h.input(id, &format!("search {i}")).await).await;
    }
    h.llm.push(using("Done.", 99_000));
    h.llm.text("Searches happened.");
    let out = h.run(h.input(id, "last").await).await;
    assert_eq!(out.compactions.len(), 1);
    let ctx = h.store.agent_context(id).await.unwrap();
    pairs_intact(&ctx.messages);
    // What the model gets next has every return after its call too.
    h.llm.text("ok");
    h.run(h.input(id, "again").await).await;
    let sent = h.llm.requests().pop().unwrap();
    let mut calls = Vec::new();
    for m in &sent.messages {
        match m {
            ChatMessage::Assistant { tool_calls, .. } => {
                calls.extend(tool_calls.iter().map(|c| c.id.clone()))
            }
            ChatMessage::Tool { tool_call_id, .. } => {
                assert_eq!(
                    calls.pop().as_ref(),
                    Some(tool_call_id),
                    "{:?}",
                    sent.messages
                )
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_failing_summarizer_leaves_the_history_and_the_next_turn_works() {
    let h = Harness::new().await;
    let id = agent(&h, 100_000).await;
    seed(&h, id, 4, 20).await;
    let before = h.store.agent_context(id).await.unwrap();
    h.llm.push(using("Sure.", 95_000));
    h.llm.push(Scripted::Fail(LlmError::Unavailable {
        status: 503,
        message: "down".into(),
    }));
    let out = h.run(h.input(id, "hi").await).await;
    assert_eq!(out.stop_reason, StopReason::LlmApiError);
    assert!(matches!(out.error, Some(LlmError::Unavailable { .. })));
    assert!(out.compactions.is_empty());
    // The step that triggered it stays; nothing left the context, nothing was summarised.
    let after = h.store.agent_context(id).await.unwrap();
    let ids = |ms: &[Message]| ms.iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(after.messages.len(), before.messages.len() + 2);
    assert_eq!(
        ids(&after.messages[..before.messages.len()]),
        ids(&before.messages)
    );
    assert_eq!(after.message_count, before.message_count + 2);
    assert_eq!(after.messages[0].text, before.messages[0].text);

    // The model is back: the next turn compacts and answers.
    h.llm.push(using("Back.", 95_000));
    h.llm.text("A summary at last.");
    let out = h.run(h.input(id, "still there?").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    assert_eq!(out.compactions.len(), 1);
}

#[tokio::test]
async fn compaction_messages_are_announced_and_stored_as_summaries() {
    let h = Harness::new().await;
    let id = agent(&h, 100_000).await;
    seed(&h, id, 4, 20).await;
    h.llm.push(using("Sure.", 95_000));
    h.llm.text("Short summary.");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut input = h.input(id, "hi").await;
    input.events = Some(tx);
    input.compaction.include_messages = true;
    let out = h.run(input).await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            TurnEvent::StepCommitted { .. } => "step",
            TurnEvent::CompactionStarted(_) => "started",
            TurnEvent::Compacted(_) => "compacted",
            TurnEvent::Delta { .. } => "delta",
        })
        .collect();
    assert_eq!(kinds, ["step", "started", "compacted"]);
    let TurnEvent::Compacted(done) = &events[2] else {
        panic!()
    };
    assert_eq!(done.summary_text, "Short summary.");
    assert_eq!(done.summary.role, Role::Summary);
    assert_eq!(done.start.data.context_token_estimate, Some(95_000));
    assert_eq!(out.compactions[0].summary.id, done.summary.id);
    let ctx = h.store.agent_context(id).await.unwrap();
    assert_eq!(ctx.messages[1].role, Role::Summary);
}

#[tokio::test]
async fn a_second_compaction_summarises_the_first_summary_again() {
    let h = Harness::new().await;
    let id = agent(&h, 100_000).await;
    set_mode(&h, id, CompactionMode::All).await;
    seed(&h, id, 3, 20).await;
    h.llm.push(using("One.", 95_000));
    h.llm.text("First summary.");
    h.run(h.input(id, "first").await).await;
    h.llm.push(using("Two.", 95_000));
    h.llm.text("Second summary.");
    h.run(h.input(id, "second").await).await;
    let summarizer = h.llm.requests().pop().unwrap();
    let ChatMessage::User { content } = &summarizer.messages[0] else {
        panic!()
    };
    let transcript = content.text();
    assert!(
        transcript.contains("[summary of earlier messages] Note:"),
        "{transcript}"
    );
    assert!(transcript.contains("First summary."));
    // Mode `all` keeps only the newest turn after the new summary.
    let ctx = h.store.agent_context(id).await.unwrap();
    let texts: Vec<&str> = ctx.messages[2..].iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["second", "Two."]);
}

#[tokio::test]
async fn self_compaction_asks_the_agents_own_model_with_its_tools() {
    let h = Harness::new().await;
    let id = agent(&h, 100_000).await;
    set_mode(&h, id, CompactionMode::SelfCompactSlidingWindow).await;
    seed(&h, id, 4, 20).await;
    h.llm.push(using("Sure.", 95_000));
    h.llm.text("I remember it all.");
    let out = h.run(h.input(id, "hi").await).await;
    assert_eq!(out.compactions[0].summary_text, "I remember it all.");
    let request = h.llm.requests().pop().unwrap();
    assert!(!request.tools.is_empty());
    assert_eq!(request.tool_choice, ToolChoice::None);
    assert!(request.system.unwrap().starts_with("You are a test agent."));
    let ChatMessage::User { content } = request.messages.last().unwrap() else {
        panic!()
    };
    assert!(content.text().starts_with("Your context window is full."));
}

#[tokio::test]
async fn the_summarize_route_compacts_on_demand() {
    let h = Harness::new().await;
    let id = agent(&h, 100_000).await;
    // Nothing but the system message: nothing to do, the same count before and after.
    let s = CompactionSettings::default();
    let done = h
        .runtime
        .summarize(mneme_types::Thread::default_of(id), &s, None)
        .await
        .unwrap();
    assert_eq!(
        (
            done.messages_before,
            done.messages_after,
            done.summary.as_str()
        ),
        (1, 1, "")
    );

    seed(&h, id, 5, 20).await;
    h.llm.text("On demand.");
    let all = in_mode(CompactionMode::All);
    let done = h
        .runtime
        .summarize(mneme_types::Thread::default_of(id), &all, None)
        .await
        .unwrap();
    assert_eq!(done.summary, "On demand.");
    assert_eq!(done.messages_before, 11);
    // `all` keeps the last exchange (from the last user message).
    assert_eq!(done.messages_after, 4);
    let ctx = h.store.agent_context(id).await.unwrap();
    assert_eq!(ctx.messages.len(), 4);
    assert_eq!(ctx.messages[1].role, Role::Summary);
    assert!(
        ctx.messages[0].text.contains("- 8 previous messages"),
        "{}",
        ctx.messages[0].text
    );

    // Only the system message, the summary and one exchange: `all` still compacts it.
    h.llm.text("Again.");
    let done = h
        .runtime
        .summarize(mneme_types::Thread::default_of(id), &all, None)
        .await
        .unwrap();
    assert_eq!((done.messages_before, done.messages_after), (4, 2));
    // Now only summaries: the existing one is answered, nothing changes.
    let done = h
        .runtime
        .summarize(mneme_types::Thread::default_of(id), &all, None)
        .await
        .unwrap();
    assert_eq!((done.messages_before, done.messages_after), (2, 2));
    assert!(done.summary.ends_with(" Again."), "{}", done.summary);

    // A summarizer failure is the model's error, and changes nothing.
    h.llm.text("x");
    h.run(h.input(id, "one more").await).await;
    h.llm.push(Scripted::Fail(LlmError::Timeout));
    let err = h
        .runtime
        .summarize(mneme_types::Thread::default_of(id), &all, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::Llm(LlmError::Timeout)), "{err:?}");
    assert_eq!(h.store.agent_context(id).await.unwrap().messages.len(), 4);
}
