//! The wire output types against JSON shaped as Letta 0.16.7 sends it: every example reads into
//! the type and writes back byte for byte (key order and `null`s included).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mneme_types::{
    ApprovalItem, LettaMessage, LettaResponse, LettaStreamingResponse, LettaUsageStatistics,
    MessageBody, MessageContent, ReasoningSource, StopReason, ToolCallOrDelta, ToolCalls,
    ToolReturnStatus, ToolRule, UsageStatistics,
};
use serde_json::{Value, json};

#[path = "letta_wire/resources.rs"]
mod resources;

const ID: &str = "message-9a1f0c2e-5b3d-4e6f-8a7b-1c2d3e4f5a6b";
const STEP: &str = "step-0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
const RUN: &str = "run-2f3e4d5c-6b7a-4980-9a1b-2c3d4e5f6a7b";

/// The common fields as Letta writes them, `message_type` in its place, then `own`.
fn message_json(kind: &str, own: &str) -> String {
    format!(
        r#"{{"id":"{ID}","date":"2025-05-14T17:00:01+00:00","name":null,"message_type":"{kind}","otid":"9a1f0c2e-5b3d-4e6f-8a7b-1c2d3e4f5a00","sender_id":null,"step_id":"{STEP}","is_err":null,"seq_id":null,"run_id":"{RUN}",{own}}}"#
    )
}

/// Reads `text` as `T` and writes it back: the same bytes.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(text: &str) -> T {
    let parsed: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(serde_json::to_string(&parsed).unwrap(), text);
    parsed
}

#[test]
fn every_member_of_the_union_round_trips_in_letta_field_order() {
    let cases = [
        ("system_message", r#""content":"You are helpful.""#),
        ("user_message", r#""content":"hi""#),
        (
            "user_message",
            r#""content":[{"type":"text","text":"look"},{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]"#,
        ),
        (
            "reasoning_message",
            r#""reasoning":"User wants a greeting.","source":"reasoner_model","signature":null"#,
        ),
        (
            "hidden_reasoning_message",
            r#""state":"redacted","hidden_reasoning":null"#,
        ),
        ("assistant_message", r#""content":"Hello Ada!""#),
        (
            "tool_call_message",
            r#""tool_call":{"name":"web_search","arguments":"{\"q\": \"tea\"}","tool_call_id":"call_1"},"tool_calls":[{"name":"web_search","arguments":"{\"q\": \"tea\"}","tool_call_id":"call_1"}]"#,
        ),
        (
            "tool_return_message",
            r#""tool_return":"{\"status\": \"OK\"}","status":"success","tool_call_id":"call_1","stdout":null,"stderr":["warn"],"tool_returns":[{"type":"tool","tool_call_id":"call_1","status":"success","tool_return":"{\"status\": \"OK\"}","stdout":null,"stderr":["warn"]}]"#,
        ),
        (
            "approval_request_message",
            r#""tool_call":{"name":"memory_insert","arguments":"{}","tool_call_id":"call_2"},"tool_calls":[{"name":"memory_insert","arguments":"{}","tool_call_id":"call_2"}]"#,
        ),
        (
            "approval_response_message",
            r#""approvals":[{"type":"approval","tool_call_id":"call_2","approve":false,"reason":"not now"},{"type":"tool","tool_call_id":"call_3","status":"error","tool_return":"boom","stdout":null,"stderr":null}],"approve":null,"approval_request_id":null,"reason":null"#,
        ),
        (
            "summary_message",
            r#""summary":"We talked about tea.","compaction_stats":null"#,
        ),
        (
            "event_message",
            r#""event_type":"compaction","event_data":{"messages_evicted":4}"#,
        ),
    ];
    for (kind, own) in cases {
        let m: LettaMessage = round_trip(&message_json(kind, own));
        assert_eq!(m.message_type(), kind);
        assert_eq!(m.id.to_string(), ID);
        assert_eq!(m.run_id.map(|r| r.to_string()).as_deref(), Some(RUN));
    }
}

#[test]
fn fields_read_into_their_types() {
    let m: LettaMessage = serde_json::from_str(&message_json(
        "reasoning_message",
        r#""reasoning":"hmm","source":"non_reasoner_model","signature":null"#,
    ))
    .unwrap();
    let MessageBody::Reasoning(r) = &m.body else {
        panic!("{m:?}")
    };
    assert_eq!(r.source, ReasoningSource::NonReasonerModel);
    assert_eq!(
        m.otid.as_deref(),
        Some("9a1f0c2e-5b3d-4e6f-8a7b-1c2d3e4f5a00")
    );
    assert_eq!(m.is_err, None);

    let m: LettaMessage = serde_json::from_str(&message_json(
        "tool_return_message",
        r#""tool_return":"x","status":"error","tool_call_id":"c","stdout":null,"stderr":null,"tool_returns":null"#,
    ))
    .unwrap();
    let MessageBody::ToolReturn(t) = &m.body else {
        panic!("{m:?}")
    };
    assert_eq!(t.status, ToolReturnStatus::Error);
    assert_eq!(t.tool_returns, None);
}

#[test]
fn token_stream_tool_calls_are_deltas_in_both_fields() {
    let own = r#""tool_call":{"name":null,"arguments":"{\"q\": ","tool_call_id":"call_1"},"tool_calls":{"name":null,"arguments":"{\"q\": ","tool_call_id":"call_1"}"#;
    let m: LettaMessage = round_trip(&message_json("tool_call_message", own));
    let MessageBody::ToolCall(call) = &m.body else {
        panic!("{m:?}")
    };
    assert!(matches!(&call.tool_call, ToolCallOrDelta::Delta(d) if d.name.is_none()));
    assert!(matches!(&call.tool_calls, Some(ToolCalls::Delta(_))));
}

#[test]
fn optional_common_fields_may_be_absent_and_dates_may_use_z() {
    let m: LettaMessage = serde_json::from_value(json!({
        "id": ID, "date": "2025-05-14T17:00:01.123456Z", "message_type": "assistant_message",
        "content": [{"type": "text", "text": "Hello"}],
    }))
    .unwrap();
    assert_eq!(m.step_id, None);
    assert!(
        matches!(&m.body, MessageBody::Assistant(a) if matches!(&a.content, MessageContent::Parts(p) if p.len() == 1))
    );
    let back = serde_json::to_value(&m).unwrap();
    assert_eq!(back["date"], "2025-05-14T17:00:01+00:00");
    assert_eq!(back["seq_id"], Value::Null);
}

#[test]
fn unknown_message_types_and_missing_fields_are_refused() {
    let unknown = message_json("telepathy_message", r#""content":"x""#);
    assert!(serde_json::from_str::<LettaMessage>(&unknown).is_err());
    let no_reasoning = message_json("reasoning_message", r#""source":"reasoner_model""#);
    assert!(serde_json::from_str::<LettaMessage>(&no_reasoning).is_err());
    let bad_id = message_json("assistant_message", r#""content":"x""#).replace("message-", "msg-");
    assert!(serde_json::from_str::<LettaMessage>(&bad_id).is_err());
}

#[test]
fn approval_items_without_type_are_approvals() {
    let item: ApprovalItem =
        serde_json::from_value(json!({"tool_call_id": "c", "approve": true})).unwrap();
    assert_eq!(
        serde_json::to_value(&item).unwrap(),
        json!({"type": "approval", "tool_call_id": "c", "approve": true, "reason": null})
    );
    let tool: ApprovalItem = serde_json::from_value(
        json!({"type": "tool", "tool_call_id": "c", "status": "success", "tool_return": [{"type": "text", "text": "42"}]}),
    )
    .unwrap();
    assert!(
        matches!(tool, ApprovalItem::Tool(t) if matches!(t.tool_return, MessageContent::Parts(_)))
    );
    assert!(
        serde_json::from_value::<ApprovalItem>(json!({"type": "vote", "tool_call_id": "c"}))
            .is_err()
    );
}

#[test]
fn a_letta_response_round_trips() {
    let text = format!(
        r#"{{"messages":[{},{}],"stop_reason":{{"message_type":"stop_reason","stop_reason":"end_turn"}},"usage":{{"message_type":"usage_statistics","completion_tokens":12,"prompt_tokens":2210,"total_tokens":2222,"step_count":1,"run_ids":null,"cached_input_tokens":null,"cache_write_tokens":null,"reasoning_tokens":null,"context_tokens":2210}}}}"#,
        message_json(
            "reasoning_message",
            r#""reasoning":"User wants a greeting.","source":"reasoner_model","signature":null"#
        ),
        message_json("assistant_message", r#""content":"Hello Ada!""#),
    );
    let r: LettaResponse = round_trip(&text);
    assert_eq!(r.messages.len(), 2);
    assert_eq!(r.stop_reason.stop_reason, StopReason::EndTurn);
    assert_eq!(r.usage.context_tokens, Some(2210));
}

#[test]
fn usage_comes_from_the_runs_counts() {
    let usage = UsageStatistics {
        completion_tokens: 3,
        prompt_tokens: 5,
        total_tokens: 8,
        step_count: 2,
        cached_input_tokens: Some(1),
        cache_write_tokens: Some(2),
        reasoning_tokens: None,
        context_tokens: Some(5),
    };
    let wire = serde_json::to_value(LettaUsageStatistics::from(&usage)).unwrap();
    assert_eq!(
        wire,
        json!({"message_type": "usage_statistics", "completion_tokens": 3, "prompt_tokens": 5,
               "total_tokens": 8, "step_count": 2, "run_ids": null, "cached_input_tokens": 1,
               "cache_write_tokens": 2, "reasoning_tokens": null, "context_tokens": 5})
    );
}

#[test]
fn stream_chunks_round_trip_by_message_type() {
    let chunks = [
        format!(
            r#"{{"id":"ping-6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f","date":"2025-05-14T17:00:00+00:00","name":null,"message_type":"ping","otid":null,"sender_id":null,"step_id":null,"is_err":null,"seq_id":1,"run_id":"{RUN}"}}"#
        ),
        message_json("assistant_message", r#""content":"Hello Ada!""#),
        r#"{"message_type":"stop_reason","stop_reason":"llm_api_error"}"#.to_owned(),
        r#"{"message_type":"usage_statistics","completion_tokens":0,"prompt_tokens":0,"total_tokens":0,"step_count":1,"run_ids":null,"cached_input_tokens":null,"cache_write_tokens":null,"reasoning_tokens":null,"context_tokens":null}"#.to_owned(),
        format!(
            r#"{{"message_type":"error_message","run_id":"{RUN}","error_type":"llm_timeout","message":"The LLM request timed out.","detail":"The LLM request timed out.","seq_id":null}}"#
        ),
    ];
    let kinds = [
        "ping",
        "assistant_message",
        "stop_reason",
        "usage_statistics",
        "error_message",
    ];
    for (text, kind) in chunks.iter().zip(kinds) {
        let chunk: LettaStreamingResponse = round_trip(text);
        assert_eq!(chunk.message_type(), kind);
    }
}

#[test]
fn every_tool_rule_round_trips_and_unknown_keys_are_ignored() {
    let rules = [
        r#"{"type":"run_first","tool_name":"a","args":{"q":"x"}}"#,
        r#"{"type":"exit_loop","tool_name":"send_message"}"#,
        r#"{"type":"continue_loop","tool_name":"conversation_search"}"#,
        r#"{"type":"constrain_child_tools","tool_name":"a","children":["b","c"]}"#,
        r#"{"type":"conditional","tool_name":"a","child_output_mapping":{"yes":"b"},"default_child":null,"require_output_mapping":false}"#,
        r#"{"type":"max_count_per_step","tool_name":"a","max_count_limit":2}"#,
        r#"{"type":"parent_last_tool","tool_name":"a","children":["b"]}"#,
        r#"{"type":"required_before_exit","tool_name":"a"}"#,
        r#"{"type":"requires_approval","tool_name":"a"}"#,
    ];
    for text in rules {
        round_trip::<ToolRule>(text);
    }
    let with_template: ToolRule = serde_json::from_value(
        json!({"tool_name": "a", "type": "exit_loop", "prompt_template": null}),
    )
    .unwrap();
    assert_eq!(
        with_template,
        ToolRule::ExitLoop {
            tool_name: "a".into()
        }
    );
    assert!(
        serde_json::from_value::<ToolRule>(json!({"type": "no_such_rule", "tool_name": "a"}))
            .is_err()
    );
}
