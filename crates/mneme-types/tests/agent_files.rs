//! Agent Files: every real file in `tests/fixtures/agent-files` parses, its counts and
//! references survive, a parsed file writes back what the spec's schema declares, and bad
//! input is a named error, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use mneme_types::agent_file::{
    AgentFileError, AgentFileWarning, ContentPart, Generation, MessageRole, read_agent_file,
};
use serde_json::{Map, Value};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/agent-files")
}

/// Every `.af` fixture: (name, bytes).
fn files() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in [fixtures(), fixtures().join("agent-file-repo")] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "af"))
            .collect();
        paths.sort();
        for p in paths {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read(&p).unwrap()));
        }
    }
    assert_eq!(out.len(), 24, "fixtures missing");
    out
}

/// The document as plain JSON, string encodings removed.
fn json(bytes: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(bytes).unwrap();
    while let Value::String(s) = v {
        v = serde_json::from_str(&s).unwrap();
    }
    v
}

fn len(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

#[test]
fn every_file_parses_with_the_counts_its_json_holds() {
    let mut legacy = 0;
    for (name, bytes) in files() {
        let parsed = read_agent_file(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (f, doc) = (&parsed.file, json(&bytes));
        if doc.get("agents").is_some() {
            assert_eq!(parsed.generation, Generation::Current, "{name}");
            assert_eq!(f.agents.len(), len(&doc["agents"]), "{name}");
            assert_eq!(f.blocks.len(), len(&doc["blocks"]), "{name}");
            assert_eq!(f.tools.len(), len(&doc["tools"]), "{name}");
            assert_eq!(f.groups.len(), len(&doc["groups"]), "{name}");
            assert_eq!(f.files.len(), len(&doc["files"]), "{name}");
            for (a, agent) in f.agents.iter().enumerate() {
                let d = &doc["agents"][a];
                assert_eq!(agent.messages.len(), len(&d["messages"]), "{name}");
                let ctx = len(&d["in_context_message_ids"]);
                assert_eq!(agent.in_context_message_ids.len(), ctx, "{name}");
                assert_eq!(
                    agent.block_ids.as_ref().map_or(0, Vec::len),
                    len(&d["block_ids"])
                );
                assert_eq!(
                    agent.tool_ids.as_ref().map_or(0, Vec::len),
                    len(&d["tool_ids"])
                );
            }
        } else {
            legacy += 1;
            let version = doc["version"].as_str().map(str::to_owned);
            assert_eq!(parsed.generation, Generation::Legacy { version }, "{name}");
            assert_eq!(f.agents.len(), 1, "{name}");
            assert_eq!(f.blocks.len(), len(&doc["core_memory"]), "{name}");
            assert_eq!(f.tools.len(), len(&doc["tools"]), "{name}");
            let agent = &f.agents[0];
            assert_eq!(agent.messages.len(), len(&doc["messages"]), "{name}");
            let ctx = len(&doc["in_context_message_indices"]);
            assert_eq!(agent.in_context_message_ids.len(), ctx, "{name}");
            assert_eq!(agent.block_ids.as_ref().map(Vec::len), Some(f.blocks.len()));
            assert_eq!(agent.tool_ids.as_ref().map(Vec::len), Some(f.tools.len()));
            assert_eq!(agent.system.as_deref(), doc["system"].as_str(), "{name}");
        }
    }
    assert_eq!(legacy, 9);
}

#[test]
fn double_encoded_files_are_read_through_their_string() {
    let (_, bytes) = files()
        .into_iter()
        .find(|(n, _)| n == "memgpt_agent_memgpt_agent.af")
        .unwrap();
    let parsed = read_agent_file(&bytes).unwrap();
    assert_eq!(parsed.encodings, 1);
    assert_eq!(
        parsed.file.agents[0].name.as_deref(),
        json(&bytes)["agents"][0]["name"].as_str()
    );
}

#[test]
fn legacy_context_follows_in_context_message_indices_in_their_order() {
    let bytes = std::fs::read(fixtures().join("memgpt_agent_with_convo.af")).unwrap();
    let doc = json(&bytes);
    let agent = &read_agent_file(&bytes).unwrap().file.agents[0];
    let indices: Vec<u64> = doc["in_context_message_indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect();
    // The file lists its system message last but puts it first in the context.
    assert_eq!(indices[0], 89);
    let want: Vec<String> = indices.iter().map(|i| format!("message-{i}")).collect();
    assert_eq!(agent.in_context_message_ids, want);
    let first = agent.messages.iter().find(|m| m.id == want[0]).unwrap();
    assert_eq!(first.role, MessageRole::System);
    let text = doc["messages"][89]["content"][0]["text"].as_str().unwrap();
    assert_eq!(first.content, vec![ContentPart::text(text)]);
}

#[test]
fn every_reference_in_a_parsed_file_resolves() {
    for (name, bytes) in files() {
        let f = read_agent_file(&bytes).unwrap().file;
        let has = |ids: Vec<&String>, id: &String| ids.contains(&id);
        for agent in &f.agents {
            let msgs: Vec<&String> = agent.messages.iter().map(|m| &m.id).collect();
            for id in &agent.in_context_message_ids {
                assert!(has(msgs.clone(), id), "{name}: in-context {id}");
            }
            for id in agent.block_ids.iter().flatten() {
                assert!(
                    has(f.blocks.iter().map(|b| &b.id).collect(), id),
                    "{name}: {id}"
                );
            }
            for id in agent.tool_ids.iter().flatten() {
                assert!(
                    has(f.tools.iter().map(|t| &t.id).collect(), id),
                    "{name}: {id}"
                );
            }
            for id in agent.source_ids.iter().flatten() {
                assert!(
                    has(f.sources.iter().map(|s| &s.id).collect(), id),
                    "{name}: {id}"
                );
            }
            for fa in &agent.files_agents {
                assert!(
                    has(f.files.iter().map(|x| &x.id).collect(), &fa.file_id),
                    "{name}"
                );
            }
        }
        for g in &f.groups {
            for id in &g.agent_ids {
                assert!(
                    has(f.agents.iter().map(|a| &a.id).collect(), id),
                    "{name}: {id}"
                );
            }
        }
    }
}

#[test]
fn a_parsed_file_written_and_read_again_is_equal() {
    for (name, bytes) in files() {
        let first = read_agent_file(&bytes).unwrap().file;
        let written = serde_json::to_vec_pretty(&first).unwrap();
        let again = read_agent_file(&written).unwrap();
        assert_eq!(again.generation, Generation::Current, "{name}");
        assert_eq!(again.file, first, "{name}");
    }
}

// ---- the spec's schema ----------------------------------------------------------------------

/// Schemas whose every property an export writes (Letta's `model_dump()` writes them all).
const COMPLETE: &[&str] = &[
    "AgentFileSchema",
    "letta__schemas__agent_file__AgentSchema",
    "letta__schemas__agent_file__MessageSchema",
    "letta__schemas__agent_file__ToolSchema",
    "BlockSchema",
    "GroupSchema",
    "FileSchema",
    "SourceSchema",
    "FileAgentSchema",
    "MCPServerSchema",
    "SkillSchema",
];

struct Spec(Map<String, Value>);

impl Spec {
    fn load() -> Spec {
        let path = fixtures().join("agent-file-schema.json");
        let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        Spec(v["components"]["schemas"].as_object().unwrap().clone())
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> (&'a Value, Option<&'a str>) {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap();
                (&self.0[name], Some(name))
            }
            None => (schema, None),
        }
    }

    /// Checks `v` against `schema`: types, required and known property names, recursively.
    fn check(&self, v: &Value, schema: &Value, path: &str) {
        let (schema, name) = self.resolve(schema);
        if let Some(alts) = schema.get("anyOf").or(schema.get("oneOf")) {
            let fits = alts.as_array().unwrap().iter().find(|a| self.fits(v, a));
            let alt = fits.unwrap_or_else(|| panic!("{path}: {v} fits no alternative"));
            return self.check(v, alt, path);
        }
        match (schema.get("type").and_then(Value::as_str), v) {
            (Some("object"), Value::Object(o)) => self.check_object(o, schema, name, path),
            (Some("array"), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.check(item, &schema["items"], &format!("{path}[{i}]"));
                }
            }
            (Some(t), _) => assert!(type_fits(t, v), "{path}: {v} is not {t}"),
            (None, _) => {}
        }
    }

    fn check_object(&self, o: &Map<String, Value>, schema: &Value, name: Option<&str>, path: &str) {
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        for req in schema["required"].as_array().into_iter().flatten() {
            assert!(o.contains_key(req.as_str().unwrap()), "{path}: no {req}");
        }
        if name.is_some_and(|n| COMPLETE.contains(&n)) {
            let mut want: Vec<&String> = props.keys().collect();
            let mut got: Vec<&String> = o.keys().collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "{path}: property names of {name:?}");
        }
        for (k, val) in o {
            match props.get(k) {
                Some(s) => self.check(val, s, &format!("{path}.{k}")),
                None => assert!(
                    schema.get("additionalProperties") == Some(&Value::Bool(true)),
                    "{path}: {k} is no property of {name:?}"
                ),
            }
        }
    }

    /// Whether `v` is of the alternative's type, and of its constant `type` tag if any.
    fn fits(&self, v: &Value, alt: &Value) -> bool {
        let (alt, _) = self.resolve(alt);
        if let Some(alts) = alt.get("anyOf").or(alt.get("oneOf")) {
            return alts.as_array().unwrap().iter().any(|a| self.fits(v, a));
        }
        let Some(t) = alt.get("type").and_then(Value::as_str) else {
            return !v.is_null();
        };
        if !type_fits(t, v) {
            return false;
        }
        let required = alt.get("required").and_then(Value::as_array);
        if !required
            .into_iter()
            .flatten()
            .all(|r| v.get(r.as_str().unwrap()).is_some())
        {
            return false;
        }
        let props = alt.get("properties").and_then(Value::as_object);
        props
            .into_iter()
            .flatten()
            .all(|(k, p)| match p.get("const") {
                Some(c) => v.get(k).is_none_or(|x| x == c),
                None => true,
            })
    }
}

fn type_fits(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => true,
    }
}

#[test]
fn written_files_have_the_spec_schema_property_names_and_types() {
    let spec = Spec::load();
    let root = serde_json::json!({"$ref": "#/components/schemas/AgentFileSchema"});
    for (name, bytes) in files() {
        let f = read_agent_file(&bytes).unwrap().file;
        let written = serde_json::to_value(&f).unwrap();
        spec.check(&written, &root, &name);
    }
}

// ---- bad input ------------------------------------------------------------------------------

fn test_agent() -> Value {
    json(&std::fs::read(fixtures().join("test_agent.af")).unwrap())
}

fn err(doc: &Value) -> AgentFileError {
    read_agent_file(&serde_json::to_vec(doc).unwrap()).unwrap_err()
}

#[test]
fn empty_truncated_and_non_object_input_are_each_their_own_error() {
    assert_eq!(read_agent_file(b""), Err(AgentFileError::Empty));
    assert_eq!(read_agent_file(b" \n\t"), Err(AgentFileError::Empty));
    let bytes = std::fs::read(fixtures().join("test_agent.af")).unwrap();
    let cut = read_agent_file(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(
        matches!(cut, AgentFileError::Truncated { line, .. } if line > 1),
        "{cut}"
    );
    let found = |b: &[u8]| match read_agent_file(b) {
        Err(AgentFileError::NotAnObject { found }) => found,
        other => panic!("{other:?}"),
    };
    assert_eq!(found(b"[{\"agents\": []}]"), "an array");
    assert_eq!(found(b"42"), "a number");
    assert_eq!(found(b"null"), "null");
    assert_eq!(
        found(serde_json::to_string("42").unwrap().as_bytes()),
        "a number"
    );
    let mut deep = "\"x\"".to_owned();
    for _ in 0..3 {
        deep = serde_json::to_string(&deep).unwrap();
    }
    assert_eq!(found(deep.as_bytes()), "a string");
    assert_eq!(read_agent_file(b"{}"), Err(AgentFileError::UnknownLayout));
    let syntax = read_agent_file(b"{\n  \"agents\": [,]\n}").unwrap_err();
    assert!(
        matches!(
            syntax,
            AgentFileError::Syntax {
                line: 2,
                column: 14,
                ..
            }
        ),
        "{syntax}"
    );
    let trailing = read_agent_file(b"{\"agents\": []} x").unwrap_err();
    assert!(
        matches!(trailing, AgentFileError::Syntax { line: 1, .. }),
        "{trailing}"
    );
}

#[test]
fn a_value_of_the_wrong_type_is_named_by_its_path() {
    let mut doc = test_agent();
    doc["agents"][0]["messages"][3]["role"] = Value::from(5);
    let e = err(&doc);
    let AgentFileError::Invalid { path, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(path, "agents[0].messages[3].role");
    let mut doc = test_agent();
    doc["blocks"][1]["limit"] = Value::from("big");
    assert!(
        err(&doc).to_string().starts_with("blocks[1].limit: "),
        "{}",
        err(&doc)
    );
}

#[test]
fn a_reference_to_an_id_the_file_does_not_define_is_an_error() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit); 6] = [
        ("agents[0].in_context_message_ids[0]", |d| {
            d["agents"][0]["in_context_message_ids"][0] = "message-999".into()
        }),
        ("agents[0].block_ids[1]", |d| {
            d["agents"][0]["block_ids"][1] = "block-99".into()
        }),
        ("agents[0].tool_ids[0]", |d| {
            d["agents"][0]["tool_ids"][0] = "tool-99".into()
        }),
        ("groups[0].agent_ids[0]", |d| {
            d["groups"] = serde_json::json!([{"id": "group-0", "description": "g",
                "agent_ids": ["agent-7"]}])
        }),
        (
            "files[0].source_id",
            |d| d["files"] = serde_json::json!([{"id": "file-0", "source_id": "source-3"}]),
        ),
        ("blocks[1].id", |d| {
            d["blocks"][1]["id"] = d["blocks"][0]["id"].clone()
        }),
    ];
    for (want, edit) in cases {
        let mut doc = test_agent();
        edit(&mut doc);
        let e = err(&doc);
        let path = match &e {
            AgentFileError::DanglingReference { path, .. }
            | AgentFileError::DuplicateId { path, .. } => path,
            _ => panic!("{want}: {e:?}"),
        };
        assert_eq!(path, want, "{e}");
    }
}

#[test]
fn a_tool_return_answering_no_call_is_a_warning_not_an_error() {
    let mut doc = test_agent();
    let messages = doc["agents"][0]["messages"].as_array_mut().unwrap();
    let m = messages.iter_mut().find(|m| m["role"] == "tool").unwrap();
    m["tool_call_id"] = "call-gone".into();
    let parsed = read_agent_file(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert!(parsed.warnings.iter().any(|w| matches!(w,
        AgentFileWarning::UnansweredToolReturn { tool_call_id, .. } if tool_call_id == "call-gone")));
}

#[test]
fn a_source_id_the_file_does_not_hold_is_a_warning_not_an_error() {
    let mut doc = test_agent();
    doc["agents"][0]["source_ids"] = serde_json::json!(["source-7"]);
    let parsed = read_agent_file(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert!(parsed.warnings.iter().any(|w| matches!(w,
        AgentFileWarning::SourceNotInFile { source_id, .. } if source_id == "source-7")));
}

#[test]
fn legacy_index_past_the_messages_is_an_error() {
    let mut doc = json(&std::fs::read(fixtures().join("customer_service.af")).unwrap());
    doc["in_context_message_indices"][1] = Value::from(40);
    let e = err(&doc);
    assert!(
        e.to_string().starts_with("in_context_message_indices[1]: "),
        "{e}"
    );
}

/// Deterministic pseudo-random numbers (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn truncated_or_damaged_real_files_are_errors_never_panics() {
    let mut rng = Rng(0x5eed_af01);
    for (name, bytes) in files() {
        let end = bytes
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .unwrap();
        for _ in 0..40 {
            let cut = rng.below(end);
            assert!(
                read_agent_file(&bytes[..cut]).is_err(),
                "{name} cut at {cut}"
            );
            let mut damaged = bytes.clone();
            let at = rng.below(damaged.len());
            damaged[at] = b"{}[]\",:0an\\"[rng.below(11)];
            let _ = read_agent_file(&damaged);
        }
    }
}

// ---- older message shapes -------------------------------------------------------------------

#[test]
fn old_message_shapes_are_upgraded_to_the_current_one() {
    let mut doc = json(&std::fs::read(fixtures().join("customer_service.af")).unwrap());
    doc["messages"] = serde_json::json!([
        {"role": "system", "text": "You are helpful.", "user_id": "user-1",
         "created_at": "2024-10-01T12:00:00"},
        {"role": "user", "content": "hi", "created_at": "2024-10-01T12:00:01.250000"},
        {"role": "assistant", "text": "thinking", "created_at": "2024-10-01T12:00:02+00:00",
         "function_call": {"name": "send_message", "arguments": "{\"message\": \"hello\"}"}},
        {"role": "function", "name": "send_message", "text": "{\"status\": \"OK\"}",
         "created_at": "2024-10-01T12:00:03"},
        {"role": "assistant", "content": [{"type": "text", "text": "again"}],
         "tool_calls": [{"function": {"name": "archival_memory_search",
                                      "arguments": {"query": "x"}}}],
         "created_at": "2024-10-01T12:00:04"}
    ]);
    doc["in_context_message_indices"] = serde_json::json!([0, 1, 2, 3, 4]);
    let f = read_agent_file(&serde_json::to_vec(&doc).unwrap())
        .unwrap()
        .file;
    let m = &f.agents[0].messages;
    assert_eq!(m[0].content, vec![ContentPart::text("You are helpful.")]);
    assert_eq!(m[0].created_at.to_rfc3339(), "2024-10-01T12:00:00+00:00");
    assert_eq!(m[1].content, vec![ContentPart::text("hi")]);
    let call = &m[2].tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "message-2-call-0");
    assert_eq!(call.function.name, "send_message");
    assert_eq!(m[3].role, MessageRole::Tool);
    assert_eq!(m[3].tool_call_id.as_deref(), Some("message-2-call-0"));
    let call = &m[4].tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.arguments, r#"{"query":"x"}"#);
    let ids: Vec<&str> = m.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "message-0",
            "message-1",
            "message-2",
            "message-3",
            "message-4"
        ]
    );
    assert_eq!(f.agents[0].id, "agent-0");
    assert_eq!(f.blocks[0].id, "block-0");
    assert_eq!(f.tools[0].id, "tool-0");
}
