//! Property tests of the parsers that read untrusted bytes: the SSE parser (a provider's or a
//! server's stream) and the Agent File parser (a user's upload). Case counts are small and the
//! seed fixed, so a run takes seconds and finds the same cases every time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use mneme_types::agent_file::{parse_agent_file, read_agent_file};
use mneme_types::sse::{SseEvent, SseParser};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Map, Value};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(32),
        // A failure prints its shrunk input; with a fixed seed it comes back on every run.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---- SSE -------------------------------------------------------------------------------------

/// Pieces an SSE stream is made of, so that generated streams hold events, not only noise.
fn sse_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "data:", "data: ", "event:", "event: ", ": ping", "id: 7", "retry: 10", "\n", "\r",
            "\r\n", "\n\n", "\r\n\r\n", "{\"a\":1}", "[DONE]", "é", ":", " ", "x",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ]
}

fn sse_stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(sse_piece(), 0..40).prop_map(|pieces| pieces.concat())
}

/// The events of `bytes` fed in reads that end at `cuts` (positions, any order, any range).
fn parse_split(bytes: &[u8], cuts: &[usize]) -> Vec<SseEvent> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.push(bytes.len());
    cuts.sort_unstable();
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    let mut start = 0;
    for cut in cuts {
        events.extend(parser.push(&bytes[start..cut]));
        start = cut;
    }
    events.extend(parser.finish());
    events
}

proptest! {
    #![proptest_config(config(512))]

    /// However the network splits a stream, the same events come out (and nothing panics).
    #[test]
    fn sse_any_split_gives_the_events_of_the_whole(
        bytes in sse_stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = parse_split(&bytes, &[]);
        prop_assert_eq!(parse_split(&bytes, &cuts), whole);
    }

    /// Arbitrary bytes, read one byte at a time or whole: the same events.
    #[test]
    fn sse_arbitrary_bytes_byte_by_byte(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let every: Vec<usize> = (0..bytes.len()).collect();
        prop_assert_eq!(parse_split(&bytes, &every), parse_split(&bytes, &[]));
    }

    /// What is dispatched is exactly the `data:` lines written, joined by `\n`.
    #[test]
    fn sse_events_carry_the_data_lines_written(
        events in prop::collection::vec(
            (prop::option::of("[a-z]{1,8}"), prop::collection::vec("[^\r\n]{0,12}", 1..4)),
            0..6,
        ),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut body = String::new();
        for (name, lines) in &events {
            if let Some(name) = name {
                body.push_str(&format!("event: {name}{eol}"));
            }
            for line in lines {
                body.push_str(&format!("data: {line}{eol}"));
            }
            body.push_str(eol);
        }
        let want: Vec<SseEvent> = events
            .iter()
            .map(|(name, lines)| SseEvent {
                event: name.clone(),
                // `data: ` written above: the one space is the separator, a line's own
                // leading spaces are kept.
                data: lines.join("\n"),
            })
            .collect();
        prop_assert_eq!(parse_split(body.as_bytes(), &cuts), want);
    }
}

// ---- Agent Files ------------------------------------------------------------------------------

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/agent-files")
}

/// The smaller real files of both generations (the large ones add time, not shapes).
fn small_fixtures() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in [fixtures(), fixtures().join("agent-file-repo")] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "af"))
            .filter(|p| std::fs::metadata(p).unwrap().len() < 60_000)
            .collect();
        paths.sort();
        out.extend(paths.iter().map(|p| std::fs::read(p).unwrap()));
    }
    assert!(out.len() >= 8, "fixtures missing");
    out
}

/// Keys an Agent File's objects use, so that generated JSON reaches past the layout check.
const KEYS: &[&str] = &[
    "agents",
    "blocks",
    "tools",
    "groups",
    "files",
    "sources",
    "mcp_servers",
    "skills",
    "core_memory",
    "in_context_message_indices",
    "messages",
    "id",
    "name",
    "label",
    "value",
    "role",
    "content",
    "text",
    "type",
    "tool_calls",
    "tool_call_id",
    "tool_ids",
    "block_ids",
    "agent_ids",
    "llm_config",
    "embedding_config",
    "created_at",
    "metadata",
    "tool_rules",
    "source_code",
    "json_schema",
    "memory",
    "in_context_message_ids",
    "version",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "agent-0",
            "block-0",
            "tool-0",
            "message-0",
            "user",
            "assistant",
            "tool",
            "2024-01-01T00:00:00Z",
            "0"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// Replaces the `n`-th node of `doc` (depth-first, modulo the node count) with `with`.
fn replace_node(doc: &mut Value, n: usize, with: Value) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(v: &mut Value, n: &mut usize, with: &mut Option<Value>) {
        if *n == 0 {
            if let Some(w) = with.take() {
                *v = w;
            }
            return;
        }
        *n -= 1;
        let children: Vec<&mut Value> = match v {
            Value::Array(a) => a.iter_mut().collect(),
            Value::Object(o) => o.values_mut().collect(),
            _ => Vec::new(),
        };
        for child in children {
            walk(child, n, with);
            if with.is_none() {
                return;
            }
        }
    }
    let mut n = n % count(doc);
    walk(doc, &mut n, &mut Some(with));
}

/// The document as plain JSON, string encodings removed.
fn plain(bytes: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(bytes).unwrap();
    while let Value::String(s) = v {
        v = serde_json::from_str(&s).unwrap();
    }
    v
}

/// A file mneme accepted writes back to a file that parses to the same thing, plain or wrapped
/// in a JSON string as the SDK saves it.
fn assert_round_trip(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(file) = parse_agent_file(bytes) else {
        return Ok(());
    };
    let written = serde_json::to_vec(&file).unwrap();
    let again = parse_agent_file(&written);
    prop_assert_eq!(again.as_ref(), Ok(&file));
    let wrapped = serde_json::to_vec(&Value::String(String::from_utf8(written).unwrap())).unwrap();
    let unwrapped = parse_agent_file(&wrapped);
    prop_assert_eq!(unwrapped.as_ref(), Ok(&file));
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    /// Any bytes at all: an error or a file, never a panic.
    #[test]
    fn agent_file_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = read_agent_file(&bytes);
    }

    /// Any JSON built from an Agent File's own keys: an error or a file that round-trips.
    #[test]
    fn agent_file_arbitrary_json_never_panics(doc in json_value(), wrap in any::<bool>()) {
        let mut bytes = serde_json::to_vec(&doc).unwrap();
        if wrap {
            bytes = serde_json::to_vec(&Value::String(String::from_utf8(bytes).unwrap())).unwrap();
        }
        let _ = read_agent_file(&bytes);
        assert_round_trip(&bytes)?;
    }

    /// Any prefix of a real file: an error (cut short), never a panic.
    #[test]
    fn agent_file_truncated_real_files_are_errors(which in any::<usize>(), cut in any::<usize>()) {
        let files = small_fixtures();
        let bytes = files[which % files.len()].trim_ascii_end();
        let cut = cut % bytes.len();
        prop_assert!(read_agent_file(&bytes[..cut]).is_err());
    }
}

proptest! {
    #![proptest_config(config(96))]

    /// A real file with one value anywhere replaced by arbitrary JSON: an error or a file that
    /// round-trips, never a panic.
    #[test]
    fn agent_file_mutated_real_files_never_panic(
        which in any::<usize>(),
        node in any::<usize>(),
        with in json_value(),
    ) {
        let files = small_fixtures();
        let mut doc = plain(&files[which % files.len()]);
        replace_node(&mut doc, node, with);
        let bytes = serde_json::to_vec(&doc).unwrap();
        let _ = read_agent_file(&bytes);
        assert_round_trip(&bytes)?;
    }
}

/// Every real file (both generations) round-trips once upgraded.
#[test]
fn agent_file_real_files_round_trip() {
    for bytes in small_fixtures() {
        assert!(parse_agent_file(&bytes).is_ok());
        assert_round_trip(&bytes).unwrap();
    }
}
