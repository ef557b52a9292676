//! Letta's JSON schema from a tool's Python source.

use mneme_tools::ToolError;
use serde_json::json;

use crate::sandbox;

async fn invalid(source: &str) -> String {
    match sandbox().await.schema_from_source(source, None).await {
        Err(ToolError::InvalidSource(message)) => message,
        other => panic!("expected InvalidSource, got {other:?}"),
    }
}

const TYPICAL: &str = r#"
from typing import Literal, Optional

def helper(x: int) -> int:
    """Not the tool: an earlier function."""
    return x

def search_notes(
    query: str,
    exact: bool,
    limit: int = 10,
    tags: Optional[list[str]] = None,
    order: Literal["newest", "oldest"] = "newest",
    agent_state: "AgentState" = None,
) -> str:
    """Search the user's notes.

    Args:
        query: Words to look for.
        exact: Whether the words must appear exactly as given.
        limit: How many notes to return at most.
        tags: Only notes carrying all of these tags.
        order: Which notes come first.

    Returns:
        str: The matching notes, one per line.
    """
    return ""
"#;

#[tokio::test]
async fn typical_tool_gives_lettas_schema() {
    let schema = sandbox()
        .await
        .schema_from_source(TYPICAL, None)
        .await
        .unwrap();
    let expected = json!({
        "name": "search_notes",
        "description": "Search the user's notes.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Words to look for."},
                "exact": {
                    "type": "boolean",
                    "description": "Whether the words must appear exactly as given."
                },
                "limit": {"type": "integer", "description": "How many notes to return at most."},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Only notes carrying all of these tags."
                },
                "order": {
                    "type": "string",
                    "enum": ["newest", "oldest"],
                    "description": "Which notes come first."
                }
            },
            "required": ["query", "exact"]
        }
    });
    assert_eq!(schema, expected);
    // Key order matters to snapshot-comparing clients: Letta writes "type" first.
    let keys: Vec<_> = schema["parameters"]["properties"]["tags"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["type", "items", "description"]);
}

#[tokio::test]
async fn docstring_sections_fill_descriptions() {
    let source = r#"
import typing

class Helper:
    def method(self, y: int) -> int:
        """A method, never the tool."""
        return y

def roll(self, sides: int, count: typing.Optional[int] = None, label: str = "d", *, seed: float | None) -> str:
    """Roll dice.

    Rolls `count` dice with `sides` sides
    and sums them.

    Args:
        sides (int): Faces per die,
            at least two.
        count (int, optional): How many dice. Defaults to 1.
        label: Shown before the total.
        seed: Fixes the outcome.

    Examples:
        roll(6) -> "d: 4"
    """
"#;
    let schema = sandbox()
        .await
        .schema_from_source(source, None)
        .await
        .unwrap();
    assert_eq!(schema["name"], "roll");
    assert_eq!(
        schema["description"],
        "Roll dice.\n\nRolls `count` dice with `sides` sides\nand sums them.\n\nroll(6) -> \"d: 4\""
    );
    let props = &schema["parameters"]["properties"];
    assert_eq!(
        props["sides"]["description"],
        "Faces per die,\nat least two."
    );
    assert_eq!(
        props["count"],
        json!({"type": "integer", "description": "How many dice. Defaults to 1."})
    );
    assert_eq!(props["label"]["description"], "Shown before the total.");
    assert_eq!(
        props["seed"],
        json!({"type": "number", "description": "Fixes the outcome."})
    );
    assert!(props.get("self").is_none());
    // `seed` has no default but is Optional: not required, as in Letta.
    assert_eq!(schema["parameters"]["required"], json!(["sides"]));
}

#[tokio::test]
async fn name_selects_the_function() {
    let sandbox = sandbox().await;
    let schema = sandbox.schema_from_source(TYPICAL, Some("helper")).await;
    assert!(
        matches!(schema, Err(ToolError::InvalidSource(m)) if m.contains("parameter 'x' of function 'helper' lacks a description"))
    );
    let missing = sandbox.schema_from_source(TYPICAL, Some("nope")).await;
    assert_eq!(
        missing,
        Err(ToolError::InvalidSource(
            "the source defines no top-level function named 'nope' (found: helper, search_notes)"
                .into()
        ))
    );
}

#[tokio::test]
async fn more_types() {
    let source = r#"
from typing import List, Tuple, Literal
def f(a: List[int], b: dict, c: tuple[int, str], d: Literal[1, 2], e: list, g: "list[bool]") -> None:
    """Types.

    Args:
        a: a
        b: b
        c: c
        d: d
        e: e
        g: g
    """
"#;
    let schema = sandbox()
        .await
        .schema_from_source(source, None)
        .await
        .unwrap();
    let props = &schema["parameters"]["properties"];
    assert_eq!(
        props["a"],
        json!({"type": "array", "items": {"type": "integer"}, "description": "a"})
    );
    assert_eq!(props["b"], json!({"type": "object", "description": "b"}));
    assert_eq!(
        props["c"],
        json!({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}],
               "minItems": 2, "maxItems": 2, "description": "c"})
    );
    assert_eq!(
        props["d"],
        json!({"type": "integer", "enum": [1, 2], "description": "d"})
    );
    assert_eq!(
        props["e"],
        json!({"type": "array", "items": {"type": "string"}, "description": "e"})
    );
    assert_eq!(
        props["g"],
        json!({"type": "array", "items": {"type": "boolean"}, "description": "g"})
    );
}

#[tokio::test]
async fn syntax_error_names_the_line() {
    let message =
        invalid("def ok(x: int) -> int:\n    return x\n\ndef broken(y: str)\n    return y\n").await;
    assert!(
        message.starts_with("syntax error at line 4, column "),
        "{message}"
    );
    assert!(message.contains("def broken(y: str)"), "{message}");
}

#[tokio::test]
async fn missing_docstring_entry_is_an_error() {
    let message = invalid(
        "def greet(name: str, loud: bool = False) -> str:\n    \"\"\"Greets.\n\n    Args:\n        name: Who.\n    \"\"\"\n",
    )
    .await;
    assert_eq!(
        message,
        "parameter 'loud' of function 'greet' lacks a description in the docstring (an 'Args:' entry)"
    );
}

#[tokio::test]
async fn source_without_function_is_an_error() {
    assert_eq!(
        invalid("x = 1\nclass A:\n    def m(self): pass\n").await,
        "the source defines no top-level function"
    );
}

#[tokio::test]
async fn other_invalid_sources() {
    assert_eq!(
        invalid("def f(x: int):\n    return x\n").await,
        "function 'f' has no docstring"
    );
    assert_eq!(
        invalid("def f(x):\n    \"\"\"Doc.\n\n    Args:\n        x: X.\n    \"\"\"\n").await,
        "parameter 'x' of function 'f' lacks a type annotation"
    );
    let typed_dict = invalid(
        "def f(x: dict[str, int]):\n    \"\"\"Doc.\n\n    Args:\n        x: X.\n    \"\"\"\n",
    )
    .await;
    assert!(
        typed_dict
            .starts_with("parameter 'x' of function 'f' has type 'dict[str, int]': typed dicts"),
        "{typed_dict}"
    );
    let union =
        invalid("def f(x: int | str):\n    \"\"\"Doc.\n\n    Args:\n        x: X.\n    \"\"\"\n")
            .await;
    assert!(union.contains("only unions with None"), "{union}");
    let object =
        invalid("def f(x: Foo):\n    \"\"\"Doc.\n\n    Args:\n        x: X.\n    \"\"\"\n").await;
    assert!(
        object.contains("has type 'Foo', which has no JSON schema type"),
        "{object}"
    );
}

#[tokio::test]
async fn schema_source_is_never_executed() {
    let source = "import os\nos.makedirs('/tmp/mneme-schema-executed', exist_ok=True)\n\ndef f() -> str:\n    \"\"\"Doc.\"\"\"\n";
    sandbox()
        .await
        .schema_from_source(source, None)
        .await
        .unwrap();
    assert!(!std::path::Path::new("/tmp/mneme-schema-executed").exists());
}
