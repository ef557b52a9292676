//! Property test of the tool-schema parser: whatever source a user sends (Python-like text built
//! from a tool's own pieces, or any text at all), the answer is a schema or `InvalidSource`,
//! never a helper crash (`Io`). Each case starts the interpreter, so the count is small.

use mneme_tools::ToolError;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::Value;

use crate::sandbox;

/// Annotations, valid and not: nested generics, unions, strings, calls, subscripts of numbers.
fn annotation() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "str",
        "int",
        "float",
        "bool",
        "dict",
        "list",
        "None",
        "Any",
        "\"AgentState\"",
        "bytes",
        "typing.Optional[int]",
        "1",
        "'x'",
        "...",
        "Literal",
        "Optional",
        "x.y.z",
        "f()",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec![
                    "list", "dict", "Optional", "Union", "Literal", "tuple", "List", "Dict", "set"
                ]),
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(g, args)| format!("{g}[{}]", args.join(", "))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} | {b}")),
            prop::collection::vec(
                prop::sample::select(vec!["\"a\"", "1", "None", "True", "-2.5", "b'x'"]),
                0..3
            )
            .prop_map(|vals| format!("Literal[{}]", vals.join(", "))),
        ]
    })
}

/// One parameter: plain, annotated, defaulted, starred, reserved.
fn parameter() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "a",
            "b",
            "query",
            "self",
            "agent_state",
            "*args",
            "**kw",
            "*",
            "x",
        ]),
        prop::option::of(annotation()),
        prop::option::of(prop::sample::select(vec![
            "None", "1", "'d'", "[]", "{}", "f()",
        ])),
    )
        .prop_map(|(name, ann, default)| {
            let mut p = name.to_owned();
            if let Some(ann) = ann {
                p.push_str(&format!(": {ann}"));
            }
            if let Some(default) = default {
                p.push_str(&format!(" = {default}"));
            }
            p
        })
}

/// A Google-style docstring body: sections with entries, stray lines, odd indentation.
fn docstring() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "Does a thing.",
            "",
            "Args:",
            "Arguments:",
            "Returns:",
            "Raises:",
            "Examples:",
            "    a: The a.",
            "    b (int): The b.",
            "    query (str, optional): Words.",
            "        continued here.",
            "a: at the margin",
            "    x (",
            "    : nothing",
            "Args: ",
            "    agent_state: reserved.",
            "\t\ttabs",
            "    **kw: more",
            "\\",
            "é ünïcödé",
        ]),
        0..10,
    )
    .prop_map(|lines| lines.join("\n    "))
}

/// A source shaped like a tool: optional imports and decorators, one or two functions.
fn tool_source() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "",
            "from typing import Literal, Optional\n",
            "import typing\n",
            "class A:\n    pass\n",
        ]),
        prop::sample::select(vec!["", "@decorator\n", "async "]),
        prop::sample::select(vec!["tool", "f", "_x", "class"]),
        prop::collection::vec(parameter(), 0..4),
        prop::option::of(annotation()),
        prop::option::of(docstring()),
        prop::sample::select(vec![
            "    return 1\n",
            "    pass\n",
            "",
            "    def inner(): pass\n",
        ]),
    )
        .prop_map(|(head, prefix, name, params, ret, doc, body)| {
            let ret = ret.map(|r| format!(" -> {r}")).unwrap_or_default();
            let doc = doc
                .map(|d| format!("    \"\"\"{d}\n    \"\"\"\n"))
                .unwrap_or_default();
            format!(
                "{head}{prefix}def {name}({}){ret}:\n{doc}{body}",
                params.join(", ")
            )
        })
}

/// Any source at all: tool-shaped, tool-shaped with a splice of noise, or any text.
fn source() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => tool_source(),
        1 => (tool_source(), any::<usize>(), "\\PC{0,6}").prop_map(|(s, at, noise)| {
            let at = (0..=at % (s.len() + 1)).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
            format!("{}{noise}{}", &s[..at], &s[at..])
        }),
        1 => any::<String>(),
    ]
}

#[test]
fn any_source_gives_a_schema_or_invalid_source() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sandbox = rt.block_on(sandbox());
    let config = Config {
        cases: 48,
        rng_seed: RngSeed::Fixed(32),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let schemas = std::cell::Cell::new(0);
    runner
        .run(&source(), |source| {
            match rt.block_on(sandbox.schema_from_source(&source, None)) {
                Ok(schema) => {
                    schemas.set(schemas.get() + 1);
                    // A schema always names its function and has an object of parameters.
                    prop_assert!(schema["name"].is_string(), "{schema}");
                    prop_assert_eq!(&schema["parameters"]["type"], &Value::from("object"));
                }
                Err(ToolError::InvalidSource(message)) => prop_assert!(!message.is_empty()),
                Err(other) => {
                    return Err(TestCaseError::fail(format!("{other:?} for {source:?}")));
                }
            }
            Ok(())
        })
        .unwrap();
    // The generator reaches past the syntax check: some cases are real tools.
    assert!(schemas.get() > 0, "no generated source gave a schema");
}
