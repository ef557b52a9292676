//! Request features end to end in process: response formats, parallel calls, images, cached
//! usage, line-numbered memory (the scripted model of `testing.rs`, real SQLite).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mneme_llm::{ChatMessage, Content, ContentPart, IMAGE_PLACEHOLDER, ResponseFormat};
use mneme_store::Role;
use mneme_types::{AgentType, StopReason};
use serde_json::json;

use crate::approval::{ApprovalAnswer, Decision};
use crate::testing::{AgentSpec, Harness, Scripted, calls_reply};

fn schema_format() -> serde_json::Value {
    json!({"type": "json_schema", "json_schema": {
        "name": "city", "strict": true,
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}}
    }})
}

#[tokio::test]
async fn a_native_agents_response_format_goes_into_every_request() {
    let h = Harness::new().await;
    let agent = h
        .agent(AgentSpec {
            response_format: Some(schema_format()),
            ..AgentSpec::default()
        })
        .await;
    h.llm.call("conversation_search", json!({"query": "paris"}));
    h.llm.text(r#"{"city": "Paris"}"#);
    let out = h.run(h.input(agent, "where?").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    let requests = h.llm.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        let Some(ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        }) = &r.response_format
        else {
            panic!("{:?}", r.response_format)
        };
        assert_eq!((name.as_str(), *strict), ("city", true));
        assert_eq!(schema["properties"]["city"]["type"], "string");
    }
    assert_eq!(out.messages.last().unwrap().text, r#"{"city": "Paris"}"#);
}

#[tokio::test]
async fn a_heartbeat_agent_answers_in_the_format_through_send_message() {
    let h = Harness::new().await;
    let agent = h
        .agent(AgentSpec {
            agent_type: AgentType::MemgptAgent,
            tools: &["send_message"],
            rules: json!([{"type": "exit_loop", "tool_name": "send_message"}]),
            response_format: Some(schema_format()),
            ..AgentSpec::default()
        })
        .await;
    h.llm
        .call("send_message", json!({"message": {"city": "Paris"}}));
    let out = h.run(h.input(agent, "where?").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    let request = &h.llm.requests()[0];
    let send = request
        .tools
        .iter()
        .find(|t| t.name == "send_message")
        .unwrap();
    assert_eq!(
        send.parameters["properties"]["message"]["properties"]["city"]["type"],
        "string"
    );
    assert!(request.response_format.is_some());
    // The structured message is a successful call.
    assert_eq!(out.messages[1].tool_returns[0].status, "success");
}

#[tokio::test]
async fn without_a_format_requests_carry_none() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    h.llm.text("hi");
    h.run(h.input(agent, "hi").await).await;
    assert_eq!(h.llm.requests()[0].response_format, None);
}

fn roles(messages: &[mneme_store::Message]) -> Vec<Role> {
    messages.iter().map(|m| m.role).collect()
}

#[tokio::test]
async fn parallel_calls_all_run_in_one_step_with_returns_in_call_order() {
    let h = Harness::new().await;
    let agent = h
        .agent(AgentSpec {
            parallel: true,
            ..AgentSpec::default()
        })
        .await;
    h.llm.push(Scripted::Reply(calls_reply(&[
        (
            "memory_insert",
            json!({"label": "human", "new_string": "Has a cat."}),
        ),
        ("conversation_search", json!({"query": "cat"})),
        (
            "memory_insert",
            json!({"label": "human", "new_string": "Has a dog."}),
        ),
    ])));
    h.llm.text("Noted both.");
    let out = h.run(h.input(agent, "cat and dog").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    // One step for the three calls, one for the answer.
    assert_eq!(out.usage.step_count, 2);
    assert_eq!(
        roles(&out.messages),
        [Role::Assistant, Role::Tool, Role::Assistant]
    );
    let ids: Vec<&str> = out.messages[1]
        .tool_returns
        .iter()
        .map(|r| r.tool_call_id.as_str())
        .collect();
    assert_eq!(ids, ["call-0", "call-1", "call-2"]);
    assert_eq!(out.messages[0].step_id, out.messages[1].step_id);
    // The model saw one assistant turn with the three calls, then each result in order.
    let sent = &h.llm.requests()[1].messages;
    let n = sent.len();
    let ChatMessage::Assistant { tool_calls, .. } = &sent[n - 4] else {
        panic!("{:?}", sent[n - 4])
    };
    assert_eq!(tool_calls.len(), 3);
    let results: Vec<&str> = sent[n - 3..]
        .iter()
        .map(|m| match m {
            ChatMessage::Tool { tool_call_id, .. } => tool_call_id.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(results, ["call-0", "call-1", "call-2"]);
    let ctx = h.store.agent_context(agent).await.unwrap();
    let human = ctx
        .blocks
        .iter()
        .find(|b| b.label.as_deref() == Some("human"));
    assert_eq!(human.unwrap().value, "Name: Ada\nHas a cat.\nHas a dog.");
}

#[tokio::test]
async fn of_parallel_calls_only_those_needing_approval_wait_and_the_rest_run_with_them() {
    let h = Harness::new().await;
    let agent = h
        .agent(AgentSpec {
            parallel: true,
            rules: json!([{"type": "requires_approval", "tool_name": "memory_insert"}]),
            ..AgentSpec::default()
        })
        .await;
    h.llm.push(Scripted::Reply(calls_reply(&[
        ("conversation_search", json!({"query": "cat"})),
        (
            "memory_insert",
            json!({"label": "human", "new_string": "Has a cat."}),
        ),
    ])));
    let out = h.run(h.input(agent, "cat").await).await;
    assert_eq!(out.stop_reason, StopReason::RequiresApproval);
    assert_eq!(roles(&out.messages), [Role::Assistant, Role::Approval]);
    assert_eq!(out.messages[0].tool_calls[0].name, "conversation_search");
    assert_eq!(out.messages[1].tool_calls.len(), 1);
    assert_eq!(out.messages[1].tool_calls[0].name, "memory_insert");

    h.llm.text("Saved.");
    let mut input = h.input(agent, "").await;
    input.inputs.clear();
    input.approval = Some(ApprovalAnswer {
        decisions: vec![Decision::Approve {
            tool_call_id: "call-1".into(),
        }],
        all: None,
        message: mneme_store::Message::new(agent, Role::Approval, "", mneme_types::time::now()),
    });
    let out = h.run(input).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    let tool = out.messages.iter().find(|m| m.role == Role::Tool).unwrap();
    let ids: Vec<&str> = tool
        .tool_returns
        .iter()
        .map(|r| r.tool_call_id.as_str())
        .collect();
    assert_eq!(ids, ["call-0", "call-1"]);
    assert!(tool.tool_returns.iter().all(|r| r.status == "success"));
    // Both calls reach the model in one assistant turn, followed by both results.
    let sent = &h.llm.requests()[1].messages;
    let n = sent.len();
    let ChatMessage::Assistant { tool_calls, .. } = &sent[n - 3] else {
        panic!("{:?}", sent[n - 3])
    };
    let names: Vec<&str> = tool_calls.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["conversation_search", "memory_insert"]);
}

#[tokio::test]
async fn images_reach_models_that_take_them_and_placeholders_the_others() {
    let parts = json!([
        {"type": "text", "text": "see"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
    ]);
    for (endpoint, expect_image) in [("anthropic", true), ("openai", false)] {
        let h = Harness::new().await;
        // The scripted model's name is no vision family; Anthropic models all take images.
        let agent = h
            .agent(AgentSpec {
                endpoint,
                ..AgentSpec::default()
            })
            .await;
        h.llm.text("ok");
        let mut input = h.input(agent, "see").await;
        input.inputs[0].content = Some(parts.clone());
        h.run(input).await;
        let ChatMessage::User { content } = h.llm.requests()[0].messages.last().cloned().unwrap()
        else {
            panic!()
        };
        match content {
            Content::Parts(p) => {
                assert!(expect_image, "{endpoint}");
                assert!(matches!(p[1], ContentPart::Image { .. }));
            }
            Content::Text(t) => {
                assert!(!expect_image, "{endpoint}");
                assert_eq!(t, format!("see\n{IMAGE_PLACEHOLDER}"));
            }
        }
    }
}

#[tokio::test]
async fn cache_reads_and_writes_are_summed_over_the_turn_and_kept_per_step() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    let usage = |read, write| mneme_llm::Usage {
        prompt_tokens: 100,
        completion_tokens: 5,
        total_tokens: 105,
        cache_read_tokens: Some(read),
        cache_creation_tokens: Some(write),
        reasoning_tokens: None,
    };
    let mut first = calls_reply(&[("conversation_search", json!({"query": "x"}))]);
    first.usage = usage(0, 80);
    let mut second = crate::testing::text_reply("ok");
    second.usage = usage(80, 0);
    h.llm.push(Scripted::Reply(first));
    h.llm.push(Scripted::Reply(second));
    let input = h.input(agent, "go").await;
    let run = input.run_id;
    let out = h.run(input).await;
    assert_eq!(out.usage.cached_input_tokens, Some(80));
    assert_eq!(out.usage.cache_write_tokens, Some(80));
    let stored = h.store.get_run(run).await.unwrap();
    assert_eq!(stored.data.usage.cache_write_tokens, Some(80));
    let page = mneme_store::Page {
        limit: 10,
        order: mneme_store::Order::Asc,
        ..mneme_store::Page::default()
    };
    let steps = h
        .store
        .list_steps(
            &mneme_store::StepFilter {
                run: Some(run),
                ..Default::default()
            },
            &page,
        )
        .await
        .unwrap();
    let writes: Vec<_> = steps.iter().map(|s| s.cache_write_tokens).collect();
    assert_eq!(writes, [Some(80), Some(0)]);
}

#[tokio::test]
async fn anthropic_agents_see_numbered_lines_and_cannot_write_them_back() {
    let h = Harness::new().await;
    let agent = h
        .agent(AgentSpec {
            endpoint: "anthropic",
            ..AgentSpec::default()
        })
        .await;
    h.llm.call(
        "memory_replace",
        json!({"label": "human", "old_string": "1→ Name: Ada", "new_string": "Name: Ada L."}),
    );
    h.llm.call(
        "memory_replace",
        json!({"label": "human", "old_string": "Name: Ada", "new_string": "Name: Ada L."}),
    );
    h.llm.text("Fixed.");
    let out = h.run(h.input(agent, "my name is Ada L.").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    let system = h.llm.requests()[0].system.clone().unwrap();
    assert!(
        system.contains("<value>\n1→ Name: Ada\n</value>"),
        "{system}"
    );
    let first = &out.messages[1].tool_returns[0];
    assert_eq!(first.status, "error");
    assert!(first.func_response.contains("line number prefix"));
    assert_eq!(out.messages[3].tool_returns[0].status, "success");
    let ctx = h.store.agent_context(agent).await.unwrap();
    let human = ctx
        .blocks
        .iter()
        .find(|b| b.label.as_deref() == Some("human"));
    assert_eq!(human.unwrap().value, "Name: Ada L.");
    // Other families see the plain value.
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    h.llm.text("hi");
    h.run(h.input(agent, "hi").await).await;
    let system = h.llm.requests()[0].system.clone().unwrap();
    assert!(system.contains("<value>\nName: Ada\n</value>"), "{system}");
}

/// The agent's `human` block as stored.
async fn human_block(h: &Harness, agent: mneme_types::AgentId) -> mneme_types::Block {
    let blocks = h.store.agent_blocks(agent).await.unwrap();
    blocks
        .into_iter()
        .find(|b| b.label.as_deref() == Some("human"))
        .unwrap()
}

/// An agent whose model calls `tool` with `args` while another writer sets its `human` block to
/// `meanwhile`.
async fn edited_meanwhile(
    meanwhile: &str,
    tool: &str,
    args: serde_json::Value,
) -> (Harness, mneme_types::AgentId) {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    let human = human_block(&h, agent).await;
    h.llm.push(Scripted::EditedMeanwhile {
        store: h.store.clone(),
        block: human.id,
        value: meanwhile.into(),
        reply: calls_reply(&[(tool, args)]),
    });
    (h, agent)
}

#[tokio::test]
async fn a_memory_edit_is_replayed_on_a_block_another_writer_changed_meanwhile() {
    let args = json!({"label": "human", "new_string": "Likes tea."});
    let (h, agent) = edited_meanwhile("Name: Ada\nWorks at night.", "memory_insert", args).await;
    h.llm.text("Noted.");
    let out = h.run(h.input(agent, "I like tea").await).await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    // Both edits are kept: the other writer's, then this turn's.
    let stored = human_block(&h, agent).await;
    assert_eq!(stored.value, "Name: Ada\nWorks at night.\nLikes tea.");
    let system = h
        .store
        .agent_context(agent)
        .await
        .unwrap()
        .messages
        .remove(0);
    assert!(
        system.text.contains("Works at night.\nLikes tea."),
        "{}",
        system.text
    );
}

#[tokio::test]
async fn edits_of_the_same_text_by_two_writers_refuse_the_later_step() {
    let args = json!({"label": "human", "old_string": "Ada", "new_string": "Ada L."});
    let (h, agent) = edited_meanwhile("Name: Grace", "memory_replace", args).await;
    let input = h.input(agent, "my name").await;
    let refused = h.runtime.run_turn(input).await;
    assert!(
        matches!(
            refused,
            Err(crate::AgentError::Store(mneme_store::StoreError::Conflict(
                _
            )))
        ),
        "{refused:?}"
    );
    // The other writer's value stands; nothing of the refused step was written.
    assert_eq!(human_block(&h, agent).await.value, "Name: Grace");
}
