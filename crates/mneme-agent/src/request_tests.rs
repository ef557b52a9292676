//! What a request changes for itself only, end to end in process: `override_system`,
//! `client_skills`, and the preview of a turn's first request (the scripted model of
//! `testing.rs`, real SQLite).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mneme_llm::ChatRequest;
use mneme_store::{Message, Role};
use mneme_types::{AgentId, ClientSkill, StopReason};
use serde_json::json;

use crate::testing::{AgentSpec, Harness};
use crate::{ClientTool, PreviewInput, SystemOverrides, TurnInput};

/// The agent's stored system message.
async fn stored_system(h: &Harness, agent: AgentId) -> Message {
    let ctx = h.store.agent_context(agent).await.unwrap();
    ctx.messages.into_iter().next().unwrap()
}

fn skills() -> Vec<ClientSkill> {
    vec![ClientSkill {
        name: "pdf".into(),
        description: Some("Read PDFs.".into()),
        location: Some("/skills/pdf/SKILL.md".into()),
    }]
}

const SKILLS_SECTION: &str =
    "<available_skills>\n/skills\n└── pdf/\n    └── SKILL.md (Read PDFs.)\n</available_skills>";

async fn with_system(
    h: &Harness,
    agent: AgentId,
    text: &str,
    system: SystemOverrides,
) -> TurnInput {
    let mut input = h.input(agent, text).await;
    input.system = system;
    input
}

#[tokio::test]
async fn an_override_is_sent_by_every_call_of_the_turn_and_never_stored() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    let before = stored_system(&h, agent).await;
    let args = json!({"label": "human", "new_string": "Likes tea."});
    h.llm.call("memory_insert", args);
    h.llm.text("Noted.");
    let system = SystemOverrides {
        system: Some("You are terse.".into()),
        client_skills: skills(),
    };
    let out = h
        .run(with_system(&h, agent, "I like tea", system).await)
        .await;
    assert_eq!(out.stop_reason, StopReason::EndTurn);
    let sent: Vec<_> = h.llm.requests().into_iter().map(|r| r.system).collect();
    // Verbatim, skills not added, in both calls.
    assert_eq!(
        sent,
        [
            Some("You are terse.".to_owned()),
            Some("You are terse.".to_owned())
        ]
    );
    // The stored message is the agent's own, recompiled for the memory edit as ever.
    let after = stored_system(&h, agent).await;
    assert_eq!(after.id, before.id);
    assert!(after.text.contains("Likes tea."), "{}", after.text);
    assert!(!after.text.contains("You are terse."));

    h.llm.text("Hello.");
    h.run(h.input(agent, "hi").await).await;
    assert_eq!(
        h.llm.requests()[2].system.as_deref(),
        Some(after.text.as_str())
    );
}

#[tokio::test]
async fn client_skills_follow_the_stored_prompt_and_are_never_stored() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    let stored = stored_system(&h, agent).await.text;
    for (i, text) in ["one", "two"].into_iter().enumerate() {
        h.llm.text("ok");
        let system = SystemOverrides {
            system: None,
            client_skills: skills(),
        };
        h.run(with_system(&h, agent, text, system).await).await;
        let sent = h.llm.requests()[i].system.clone().unwrap();
        assert_eq!(sent, format!("{}\n\n{SKILLS_SECTION}", stored.trim_end()));
        assert_eq!(stored_system(&h, agent).await.text, stored, "byte for byte");
    }
}

fn preview_input(agent: AgentId, text: &str) -> PreviewInput {
    PreviewInput {
        agent_id: agent,
        conversation_id: None,
        inputs: vec![Message::new(
            agent,
            Role::User,
            text,
            mneme_types::time::now(),
        )],
        client_tools: vec![ClientTool {
            name: "open_file".into(),
            description: Some("Opens a file on the client.".into()),
            parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        }],
        llm_config: None,
        system: SystemOverrides {
            system: None,
            client_skills: skills(),
        },
    }
}

#[tokio::test]
async fn a_preview_is_the_first_request_of_the_turn_and_stores_nothing() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    h.llm.call("conversation_search", json!({"query": "x"}));
    h.llm.text("Found nothing.");
    h.run(h.input(agent, "earlier").await).await;
    let before = h.store.get_agent(agent).await.unwrap();
    let preview = preview_input(agent, "now");
    let body = h.runtime.preview(&preview).await.unwrap();
    let previewed: ChatRequest = serde_json::from_value(body).unwrap();
    assert_eq!(h.llm.requests().len(), 2, "nothing was sent");
    let after = h.store.get_agent(agent).await.unwrap();
    assert_eq!(after.message_ids, before.message_ids);
    assert_eq!(after.message_ids_version, before.message_ids_version);
    assert_eq!(after.messages_edited, before.messages_edited);

    h.llm.text("ok");
    let mut input = h.input(agent, "now").await;
    input.inputs = preview.inputs.clone();
    input.client_tools = preview.client_tools.clone();
    input.system = preview.system.clone();
    h.run(input).await;
    assert_eq!(previewed, h.llm.requests()[2]);
    assert!(previewed.tools.iter().any(|t| t.name == "open_file"));
    assert!(previewed.system.unwrap().ends_with(SKILLS_SECTION));
}

#[tokio::test]
async fn a_preview_repairs_what_a_turn_would_repair_in_memory_only() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    // An in-context id naming no message, and a block edited without its recompile: both
    // repaired (and stored) by the next turn.
    let ghost = mneme_types::MessageId::new();
    let edit = Box::new(move |a: &mut mneme_store::Agent| {
        a.message_ids.push(ghost);
        Ok(())
    });
    h.store.update_agent(agent, edit, None).await.unwrap();
    let ctx = h.store.agent_context(agent).await.unwrap();
    let human = ctx
        .blocks
        .iter()
        .find(|b| b.label.as_deref() == Some("human"));
    let edit: mneme_store::BlockEdit = Box::new(|b| {
        b.value = "Name: Grace".into();
        Ok(())
    });
    h.store.update_block(human.unwrap().id, edit).await.unwrap();
    let system = stored_system(&h, agent).await;

    let body = h
        .runtime
        .preview(&preview_input(agent, "hi"))
        .await
        .unwrap();
    let previewed: ChatRequest = serde_json::from_value(body).unwrap();
    assert!(previewed.system.unwrap().contains("Name: Grace"));
    assert_eq!(previewed.messages.len(), 1, "the ghost is not sent");
    let stored = h.store.get_agent(agent).await.unwrap();
    assert!(
        stored.message_ids.contains(&ghost),
        "nothing repaired in the store"
    );
    assert_eq!(stored_system(&h, agent).await.text, system.text);

    h.llm.text("Hello.");
    h.run(h.input(agent, "hi").await).await;
    assert!(
        !h.store
            .get_agent(agent)
            .await
            .unwrap()
            .message_ids
            .contains(&ghost)
    );
    assert!(stored_system(&h, agent).await.text.contains("Name: Grace"));
}

#[tokio::test]
async fn a_preview_of_an_agent_waiting_for_an_approval_is_refused() {
    let h = Harness::new().await;
    let rules = json!([{"type": "requires_approval", "tool_name": "conversation_search"}]);
    let agent = h
        .agent(AgentSpec {
            rules,
            ..AgentSpec::default()
        })
        .await;
    h.llm.call("conversation_search", json!({"query": "x"}));
    let out = h.run(h.input(agent, "look").await).await;
    assert_eq!(out.stop_reason, StopReason::RequiresApproval);
    let refused = h.runtime.preview(&preview_input(agent, "hi")).await;
    assert!(
        matches!(refused, Err(crate::AgentError::BadRequest(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn skills_are_listed_after_the_prompt_a_compaction_rebuilds() {
    let h = Harness::new().await;
    let agent = h.agent(AgentSpec::default()).await;
    for i in 0..4 {
        h.llm.text(&format!("reply {i}"));
        h.run(h.input(agent, &format!("message {i}")).await).await;
    }
    let overflow = mneme_llm::LlmError::ContextWindowExceeded("too long".into());
    h.llm.push(crate::testing::Scripted::Fail(overflow));
    h.llm.text("Summary.");
    h.llm.text("Fits now.");
    let system = SystemOverrides {
        system: None,
        client_skills: skills(),
    };
    let out = h.run(with_system(&h, agent, "hi", system).await).await;
    assert_eq!(out.compactions.len(), 1);
    let rebuilt = stored_system(&h, agent).await.text;
    assert!(!rebuilt.contains("available_skills"));
    let retry = h.llm.requests().pop().unwrap();
    let expected = format!("{}\n\n{SKILLS_SECTION}", rebuilt.trim_end());
    assert_eq!(retry.system.as_deref(), Some(expected.as_str()));
}
