//! Request features end to end in process: response formats, parallel calls, images, cached
//! usage, line-numbered memory (the scripted model of `testing.rs`, real SQLite).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mneme_llm::ResponseFormat;
use mneme_types::{AgentType, StopReason};
use serde_json::json;

use crate::testing::{AgentSpec, Harness};

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
