//! The renderer's output for each kind of stream chunk, colours off and on.

use super::*;
use serde_json::{Value, json};

const M1: &str = "message-00000000-0000-4000-8000-000000000001";
const M2: &str = "message-00000000-0000-4000-8000-000000000002";
const RUN: &str = "run-00000000-0000-4000-8000-000000000009";

fn msg(id: &str, kind: &str, fields: Value) -> StreamEvent {
    let mut v = json!({"id": id, "date": "2025-01-01T00:00:00+00:00", "message_type": kind,
        "run_id": RUN});
    for (k, x) in fields.as_object().unwrap() {
        v[k] = x.clone();
    }
    StreamEvent::Message(Box::new(serde_json::from_value(v).unwrap()))
}

fn usage(steps: u64, tokens: u64) -> StreamEvent {
    StreamEvent::Usage(LettaUsageStatistics {
        step_count: steps,
        total_tokens: tokens,
        ..LettaUsageStatistics::default()
    })
}

fn render_with(style: Style, events: Vec<StreamEvent>) -> String {
    let mut r = Renderer::new(style);
    let mut out = Vec::new();
    for e in events {
        r.on_event(e, &mut out).unwrap();
    }
    r.finish(Duration::from_millis(800), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn render(events: Vec<StreamEvent>) -> String {
    render_with(Style { color: false }, events)
}

fn end() -> Vec<StreamEvent> {
    vec![
        StreamEvent::Stop("end_turn".into()),
        usage(3, 1234),
        StreamEvent::Done,
    ]
}

fn with_end(mut events: Vec<StreamEvent>) -> Vec<StreamEvent> {
    events.extend(end());
    events
}

#[test]
fn assistant_text_streams_on_one_line_then_the_usage() {
    let events = with_end(vec![
        msg(M1, "assistant_message", json!({"content": "Hel"})),
        msg(M1, "assistant_message", json!({"content": "lo, "})),
        msg(M1, "assistant_message", json!({"content": "Ann."})),
    ]);
    assert_eq!(
        render(events),
        "Hello, Ann.\n  3 steps · 1,234 tokens · 0.8 s\n"
    );
}

#[test]
fn a_second_assistant_message_starts_a_new_line() {
    let events = with_end(vec![
        msg(M1, "assistant_message", json!({"content": "one"})),
        msg(
            M2,
            "assistant_message",
            json!({"content": [{"type": "text", "text": "two"}]}),
        ),
    ]);
    assert!(render(events).starts_with("one\ntwo\n"));
}

#[test]
fn reasoning_is_one_compact_line_before_the_reply() {
    let long = "word ".repeat(60);
    let events = with_end(vec![
        msg(
            M1,
            "reasoning_message",
            json!({"reasoning": "The user\ngreets ", "signature": null}),
        ),
        msg(
            M1,
            "reasoning_message",
            json!({"reasoning": long, "signature": null}),
        ),
        msg(M2, "assistant_message", json!({"content": "Hi!"})),
    ]);
    let text = render(events);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("  thinking: The user greets word word"),
        "{first}"
    );
    assert!(first.ends_with('…'), "{first}");
    assert_eq!(first.chars().count(), "  thinking: ".len() + REASONING_MAX);
    assert_eq!(text.lines().nth(1), Some("Hi!"));
}

#[test]
fn blanks_split_across_fragments_show_as_one_space() {
    let events = with_end(
        ["Ada ", " shares", "\n", "\n a view."]
            .into_iter()
            .map(|r| {
                msg(
                    M1,
                    "reasoning_message",
                    json!({"reasoning": r, "signature": null}),
                )
            })
            .collect(),
    );
    assert!(
        render(events).starts_with("  thinking: Ada shares a view.\n"),
        "blanks are collapsed across fragments"
    );
}

#[test]
fn a_whole_tool_call_and_its_return_are_one_line_each() {
    let call = json!({"name": "web_search", "arguments": "{\"query\": \"tea\", \"request_heartbeat\": true}", "tool_call_id": "call-1"});
    let events = with_end(vec![
        msg(
            M1,
            "tool_call_message",
            json!({"tool_call": call, "tool_calls": [call]}),
        ),
        msg(
            M2,
            "tool_return_message",
            json!({"tool_return": "Green tea is good\nmore", "status": "success",
            "tool_call_id": "call-1", "stdout": null, "stderr": null, "tool_returns": null}),
        ),
    ]);
    let text = render(events);
    assert!(
        text.starts_with("  → web_search(query=\"tea\")\n  ← success: Green tea is good…\n"),
        "{text}"
    );
}

#[test]
fn streamed_call_fragments_show_as_one_line_when_complete() {
    let frag = |name: Option<&str>, args: &str| {
        let d = json!({"name": name, "arguments": args, "tool_call_id": "call-7"});
        msg(
            M1,
            "tool_call_message",
            json!({"tool_call": d, "tool_calls": d}),
        )
    };
    let events = with_end(vec![
        frag(Some("conversation_search"), "{\"que"),
        frag(None, "ry\": \"ju"),
        frag(None, "ne\"}"),
        msg(
            M2,
            "tool_return_message",
            json!({"tool_return": "Nothing found", "status": "error",
            "tool_call_id": "call-7", "stdout": null, "stderr": null, "tool_returns": null}),
        ),
    ]);
    let text = render(events);
    assert!(
        text.starts_with("  → conversation_search(query=\"june\")\n  ← error: Nothing found\n"),
        "{text}"
    );
}

#[test]
fn packed_returns_show_their_message() {
    let call = json!({"name": "core_memory_append", "arguments": "{\"label\": \"human\"}",
        "tool_call_id": "c1"});
    let packed = "{\n  \"status\": \"Failed\",\n  \"message\": \"[ToolConstraintError] Cannot call it\",\n  \"time\": \"now\"\n}";
    let events = with_end(vec![
        msg(
            M1,
            "tool_call_message",
            json!({"tool_call": call, "tool_calls": [call]}),
        ),
        msg(
            M2,
            "tool_return_message",
            json!({"tool_return": packed, "status": "error",
            "tool_call_id": "c1", "stdout": null, "stderr": null, "tool_returns": null}),
        ),
    ]);
    let text = render(events);
    assert_eq!(
        text.lines().nth(1),
        Some("  ← error: [ToolConstraintError] Cannot call it")
    );
}

#[test]
fn a_memory_edit_that_succeeded_names_the_block() {
    let call = json!({"name": "core_memory_append",
        "arguments": "{\"label\": \"human\", \"content\": \"Likes tea\"}", "tool_call_id": "c1"});
    let path = json!({"name": "memory",
        "arguments": "{\"command\": \"create\", \"path\": \"/memories/notes\", \"description\": \"d\"}",
        "tool_call_id": "c2"});
    let ret = |id: &str| {
        msg(
            M2,
            "tool_return_message",
            json!({"tool_return": "None", "status": "success",
            "tool_call_id": id, "stdout": null, "stderr": null, "tool_returns": null}),
        )
    };
    let events = with_end(vec![
        msg(
            M1,
            "tool_call_message",
            json!({"tool_call": call, "tool_calls": [call]}),
        ),
        ret("c1"),
        msg(
            M1,
            "tool_call_message",
            json!({"tool_call": path, "tool_calls": [path]}),
        ),
        ret("c2"),
    ]);
    let text = render(events);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "  → core_memory_append(label=\"human\", content=\"Likes tea\")"
    );
    assert_eq!(lines[1], "  ✎ memory human updated");
    assert_eq!(lines[3], "  ✎ memory notes created");
}

#[test]
fn errors_and_unusual_stops_are_said() {
    let events = vec![
        msg(M1, "assistant_message", json!({"content": "partial"})),
        StreamEvent::Error("model failed (429)".into()),
        StreamEvent::Stop("llm_api_error".into()),
        StreamEvent::Done,
    ];
    assert_eq!(
        render(events),
        "partial\n  error: model failed (429)\n  stopped: llm_api_error (the model provider failed)\n  0.8 s\n"
    );
}

#[test]
fn a_stream_that_just_ends_is_flagged() {
    let text = render(vec![msg(
        M1,
        "assistant_message",
        json!({"content": "cut"}),
    )]);
    assert!(text.contains("the stream ended before"), "{text}");
}

#[test]
fn approval_requests_say_they_wait() {
    let call = json!({"name": "rm", "arguments": "{}", "tool_call_id": "c9"});
    let events = vec![
        msg(
            M1,
            "approval_request_message",
            json!({"tool_call": call, "tool_calls": [call]}),
        ),
        StreamEvent::Stop("requires_approval".into()),
        StreamEvent::Done,
    ];
    let text = render(events);
    assert!(text.starts_with("  ? rm()  waits for approval\n"), "{text}");
    assert!(text.contains("stopped: requires_approval (a tool call waits for approval)"));
}

#[test]
fn colours_only_when_asked() {
    let events = || {
        with_end(vec![msg(
            M1,
            "reasoning_message",
            json!({"reasoning": "hm", "signature": null}),
        )])
    };
    assert!(!render(events()).contains('\x1b'));
    let coloured = render_with(Style { color: true }, events());
    assert!(
        coloured.contains("\x1b[2m  thinking: \x1b[0m\x1b[2mhm\x1b[0m\n"),
        "{coloured:?}"
    );
    assert!(coloured.contains("\x1b[2m3 steps"), "{coloured:?}");
}

#[test]
fn the_run_id_is_kept_for_a_cancel() {
    let mut r = Renderer::new(Style { color: false });
    let mut out = Vec::new();
    r.on_event(
        StreamEvent::Ping {
            run_id: Some(RUN.into()),
        },
        &mut out,
    )
    .unwrap();
    r.on_event(
        msg(M1, "assistant_message", json!({"content": "x"})),
        &mut out,
    )
    .unwrap();
    assert_eq!(r.run_ids(), [RUN.to_owned()]);
    r.abort(&mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "x\n");
}
