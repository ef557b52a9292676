//! Built-in tools: their catalogue, argument parsing, and execution against the agent's state.

mod args;
mod catalog;
pub mod files;
mod memory;
mod multi_agent;
mod rebase;
mod search;
pub mod web;

use std::sync::Arc;

use async_trait::async_trait;
use mneme_store::{Agent, Passage};
use serde_json::Value;

use crate::executor::{Invocation, ToolExecutor};
use crate::recall::MemorySearch;

pub use args::Args;
pub use catalog::{
    BUILTIN_TOOL_TYPES, DEFAULT_RETURN_CHAR_LIMIT, MULTI_AGENT_TOOL_NAMES, MULTI_AGENT_TOOL_TYPE,
    SERVER_TOOL_TYPE, base_tool_rules, builtin_tools, default_tool_names,
};
pub use files::{FILE_TOOL_NAMES, FILES_TOOL_TYPE, FilePassage, FileReader, FileText, FileTools};
pub use memory::WorkingMemory;
pub use multi_agent::MultiAgentTools;
pub use search::recall_text;
pub use web::{SearchBackend, WEB_TOOL_TYPE, WebOptions, WebTools};

/// What a tool call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    pub ok: bool,
    /// A string, or a JSON object kept as an object in the packed return.
    pub value: Value,
    /// Whether the agent's memory changed (the system prompt must be recompiled).
    pub memory_changed: bool,
    pub passage: Option<Passage>,
}

impl ToolOutcome {
    /// A success carrying `value`.
    pub fn from_value(value: Value) -> ToolOutcome {
        ToolOutcome::ok(value)
    }

    /// A failure the model sees as an error return.
    pub fn failed(message: String) -> ToolOutcome {
        ToolOutcome::from(Err(message))
    }

    fn ok(value: Value) -> ToolOutcome {
        ToolOutcome {
            ok: true,
            value,
            memory_changed: false,
            passage: None,
        }
    }

    fn from(result: Result<Value, String>) -> ToolOutcome {
        match result {
            Ok(v) => ToolOutcome::ok(v),
            Err(e) => ToolOutcome {
                ok: false,
                value: Value::String(e),
                memory_changed: false,
                passage: None,
            },
        }
    }
}

/// The executor of the built-in tools (`BUILTIN_TOOL_TYPES`): memory edits on the request's
/// working memory, archival and recall search through `MemorySearch`.
pub(crate) struct BuiltinTools {
    search: Arc<dyn MemorySearch>,
}

impl BuiltinTools {
    pub(crate) fn new(search: Arc<dyn MemorySearch>) -> BuiltinTools {
        BuiltinTools { search }
    }
}

#[async_trait]
impl ToolExecutor for BuiltinTools {
    async fn execute(&self, call: Invocation<'_>) -> ToolOutcome {
        let name = call.tool.name.as_str();
        execute_builtin(
            name,
            call.args,
            call.agent,
            call.memory,
            self.search.as_ref(),
        )
        .await
    }

    /// Built-ins run in the process and return quickly: one commit per step (the hot path).
    fn durable_calls(&self) -> bool {
        false
    }
}

/// Runs built-in tool `name`. Errors become failed outcomes the model sees; nothing here fails
/// the request.
pub async fn execute_builtin(
    name: &str,
    args: &Args,
    agent: &Agent,
    mem: &mut WorkingMemory,
    search: &dyn MemorySearch,
) -> ToolOutcome {
    let text = |r: Result<String, String>| r.map(Value::String);
    let edit = |f: fn(&mut WorkingMemory, &Args) -> Result<String, String>,
                mem: &mut WorkingMemory| {
        let mut out = ToolOutcome::from(text(f(mem, args)));
        out.memory_changed = out.ok;
        out
    };
    match name {
        // A structured response format makes `message` an object (or any JSON value).
        "send_message" => ToolOutcome::from(match args.value("message") {
            Some(Value::Null) | None => Err("Error: missing required argument 'message'".into()),
            Some(_) => Ok(Value::String("Sent message successfully.".into())),
        }),
        "conversation_search" => {
            ToolOutcome::from(search::conversation_search(search, agent, args).await)
        }
        "archival_memory_search" => ToolOutcome::from(text(
            search::archival_memory_search(search, agent, args).await,
        )),
        "archival_memory_insert" => match search::archival_memory_insert(search, agent, args).await
        {
            Ok(p) => ToolOutcome {
                ok: true,
                value: Value::String("None".into()),
                memory_changed: true,
                passage: Some(p),
            },
            Err(e) => ToolOutcome::from(Err(e)),
        },
        "core_memory_append" => edit(memory::core_memory_append, mem),
        "core_memory_replace" => edit(memory::core_memory_replace, mem),
        "memory_replace" => edit(memory::memory_replace, mem),
        "memory_insert" => edit(memory::memory_insert, mem),
        "memory_rethink" => edit(memory::memory_rethink, mem),
        "memory" => edit(memory::memory, mem),
        "memory_finish_edits" => ToolOutcome::ok(Value::String("None".into())),
        other => ToolOutcome::from(Err(format!(
            "Error: tool '{other}' is not available on this server"
        ))),
    }
}

/// Python's `repr` of JSON-like data, which is how Letta shows lists to the model.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// Python quotes with `'` unless the text has `'` and no `"`.
fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_repr_of_results() {
        let v = json!([{"id": "p-1", "content": "it's here", "tags": ["a"], "n": null}]);
        assert_eq!(
            py_repr(&v),
            r#"[{'id': 'p-1', 'content': "it's here", 'tags': ['a'], 'n': None}]"#
        );
    }
}
