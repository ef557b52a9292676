//! The built-in tools: names and parameters as Letta defines them, descriptions of our own.

use mneme_types::{AgentType, Tool, ToolId};
use serde_json::{Value, json};

/// Every built-in tool, as rows for the tool registry (ids are replaced by stored ones).
pub fn builtin_tools() -> Vec<Tool> {
    BUILTINS
        .iter()
        .map(|(name, tool_type, description, params, parallel)| {
            let parameters = params();
            Tool {
                id: ToolId::new(),
                tool_type: (*tool_type).into(),
                name: (*name).into(),
                description: Some((*description).into()),
                source_type: Some("python".into()),
                source_code: None,
                json_schema: Some(json!({
                    "name": name, "description": description, "parameters": parameters
                })),
                args_json_schema: None,
                tags: vec![(*tool_type).into()],
                return_char_limit: DEFAULT_RETURN_CHAR_LIMIT,
                pip_requirements: None,
                npm_requirements: None,
                default_requires_approval: None,
                enable_parallel_execution: Some(*parallel),
                created_by_id: None,
                last_updated_by_id: None,
                metadata_: None,
                project_id: None,
            }
        })
        .collect()
}

/// The `tool_type`s of the built-in tools, each run by the built-in executor.
pub const BUILTIN_TOOL_TYPES: &[&str] =
    &["letta_core", "letta_memory_core", "letta_sleeptime_core"];

/// The `tool_type` of the multi-agent tools, run by the executor the service registers (they
/// run other agents' turns, which only the service can schedule).
pub const MULTI_AGENT_TOOL_TYPE: &str = "letta_multi_agent_core";

/// The `tool_type` of Letta's server-side built-ins (`web_search`, `fetch_webpage`,
/// `run_code`), each run by the executor registered for its name or the type.
pub const SERVER_TOOL_TYPE: &str = "letta_builtin";

/// Letta's default cap on a tool's return, in characters.
pub const DEFAULT_RETURN_CHAR_LIMIT: u32 = 50_000;

/// The tools an agent of `agent_type` gets with `include_base_tools`.
pub fn default_tool_names(agent_type: AgentType) -> &'static [&'static str] {
    match agent_type {
        AgentType::LettaV1Agent => &["conversation_search", "memory_replace", "memory_insert"],
        AgentType::MemgptV2Agent => &[
            "send_message",
            "conversation_search",
            "memory_replace",
            "memory_insert",
        ],
        AgentType::MemgptAgent => &[
            "send_message",
            "conversation_search",
            "core_memory_append",
            "core_memory_replace",
            "memory",
        ],
        AgentType::SleeptimeAgent => &[
            "memory_replace",
            "memory_insert",
            "memory_rethink",
            "memory_finish_edits",
        ],
        AgentType::VoiceConvoAgent => &["send_message"],
        AgentType::ReactAgent
        | AgentType::WorkflowAgent
        | AgentType::SplitThreadAgent
        | AgentType::VoiceSleeptimeAgent => &[],
    }
}

/// Letta's base tool rules for an agent's attached built-in tools: the reply, finish and
/// one-way notification tools end the turn; the other built-ins continue it, but for the
/// multi-agent tools that wait for replies, which get no rule (as in Letta).
pub fn base_tool_rules(attached: &[String]) -> Vec<mneme_types::ToolRule> {
    use mneme_types::ToolRule;
    attached
        .iter()
        .filter_map(|name| {
            let builtin = BUILTINS.iter().find(|b| b.0 == name.as_str())?;
            let tool_name = name.clone();
            match (name.as_str(), builtin.1) {
                ("send_message" | "memory_finish_edits" | "send_message_to_agent_async", _) => {
                    Some(ToolRule::ExitLoop { tool_name })
                }
                (
                    _,
                    MULTI_AGENT_TOOL_TYPE
                    | super::files::FILES_TOOL_TYPE
                    | super::web::WEB_TOOL_TYPE,
                ) => None,
                _ => Some(ToolRule::ContinueLoop { tool_name }),
            }
        })
        .collect()
}

/// The multi-agent tools `include_multi_agent_tools` attaches at creation, as Letta does
/// outside its cloud (the supervisor's group tool comes with a supervisor group instead).
pub const MULTI_AGENT_TOOL_NAMES: &[&str] = &[
    "send_message_to_agent_and_wait_for_reply",
    "send_message_to_agents_matching_tags",
    "send_message_to_agent_async",
];

type Params = fn() -> Value;

/// (name, tool_type, description, parameters, parallel-safe)
const BUILTINS: &[(&str, &str, &str, Params, bool)] = &[
    (
        "send_message",
        "letta_core",
        "Send a message to the user. This is the only way the user sees what you say.",
        || {
            object(
                json!({"message": string("The text to show the user.")}),
                &["message"],
            )
        },
        false,
    ),
    (
        "conversation_search",
        "letta_core",
        "Search your full conversation history (recall memory), including messages no longer in \
         your context. Matches text case-insensitively; without a query, lists the most recent \
         messages.",
        || {
            object(
                json!({
                    "query": string("Text to look for."),
                    "roles": {"type": "array", "items": {"type": "string", "enum": ["assistant", "user", "tool"]},
                              "description": "Only messages from these roles."},
                    "limit": {"type": "integer", "description": "Maximum number of results (default 5)."},
                    "start_date": string("Only messages on or after this date (ISO 8601, e.g. 2025-01-31 or 2025-01-31T14:00)."),
                    "end_date": string("Only messages on or before this date (ISO 8601)."),
                }),
                &[],
            )
        },
        true,
    ),
    (
        "archival_memory_insert",
        "letta_core",
        "Store a passage in archival memory, your unlimited long-term store, for later search.",
        || {
            object(
                json!({
                    "content": string("The text to store. Make it self-contained."),
                    "tags": {"type": "array", "items": {"type": "string"}, "description": "Labels to filter by later."},
                }),
                &["content"],
            )
        },
        false,
    ),
    (
        "archival_memory_search",
        "letta_core",
        "Search archival memory for passages matching a query, optionally filtered by tags and \
         creation time.",
        || {
            object(
                json!({
                    "query": string("What to look for."),
                    "tags": {"type": "array", "items": {"type": "string"}, "description": "Only passages with these tags."},
                    "tag_match_mode": {"type": "string", "enum": ["any", "all"], "description": "Whether a passage needs any or all of the tags (default any)."},
                    "top_k": {"type": "integer", "description": "Maximum number of results (default 5)."},
                    "start_datetime": string("Only passages created at or after this time (ISO 8601)."),
                    "end_datetime": string("Only passages created at or before this time (ISO 8601)."),
                }),
                &["query"],
            )
        },
        true,
    ),
    (
        "core_memory_append",
        "letta_memory_core",
        "Append text to a memory block, on a new line.",
        || {
            object(
                json!({"label": string("The block to edit."), "content": string("The text to append.")}),
                &["label", "content"],
            )
        },
        false,
    ),
    (
        "core_memory_replace",
        "letta_memory_core",
        "Replace every occurrence of some text in a memory block. An empty new_content deletes it.",
        || {
            object(
                json!({
                    "label": string("The block to edit."),
                    "old_content": string("The exact text to replace."),
                    "new_content": string("The replacement text."),
                }),
                &["label", "old_content", "new_content"],
            )
        },
        false,
    ),
    (
        "memory_replace",
        "letta_sleeptime_core",
        "Replace one exact, unique occurrence of text in a memory block. Do not include line \
         number prefixes.",
        || {
            object(
                json!({
                    "label": string("The block to edit."),
                    "old_string": string("The exact text to replace; it must occur exactly once."),
                    "new_string": string("The replacement text; empty to delete."),
                }),
                &["label", "old_string", "new_string"],
            )
        },
        false,
    ),
    (
        "memory_insert",
        "letta_sleeptime_core",
        "Insert text into a memory block at a given line, or at the end.",
        || {
            object(
                json!({
                    "label": string("The block to edit."),
                    "new_string": string("The text to insert."),
                    "insert_line": {"type": "integer", "description": "Line number after which to insert (0 = at the top, -1 = at the end, the default)."},
                }),
                &["label", "new_string"],
            )
        },
        false,
    ),
    (
        "memory_rethink",
        "letta_sleeptime_core",
        "Rewrite a memory block completely, for reorganising it.",
        || {
            object(
                json!({"label": string("The block to rewrite."), "new_memory": string("The block's new full value.")}),
                &["label", "new_memory"],
            )
        },
        false,
    ),
    (
        "memory_finish_edits",
        "letta_sleeptime_core",
        "Call when you have finished editing memory.",
        || object(json!({}), &[]),
        false,
    ),
    (
        "memory",
        "letta_memory_core",
        "Manage memory blocks as files under /memories/<label>. Commands: create (path, \
         description, optional file_text), str_replace (path, old_string, new_string), insert \
         (path, insert_text, optional insert_line), delete (path), rename (path and description \
         to change the description, or old_path and new_path to relabel).",
        || {
            object(
                json!({
                    "command": string("One of create, str_replace, insert, delete, rename."),
                    "path": string("The block's path, /memories/<label>."),
                    "file_text": string("Initial value for create."),
                    "description": string("Description for create or rename."),
                    "old_string": string("Text to replace (str_replace)."),
                    "new_string": string("Replacement text (str_replace)."),
                    "insert_line": {"type": "integer", "description": "Line after which to insert (insert; -1 = end)."},
                    "insert_text": string("Text to insert (insert)."),
                    "old_path": string("Current path (rename)."),
                    "new_path": string("New path (rename)."),
                }),
                &["command"],
            )
        },
        false,
    ),
    (
        "send_message_to_agent_and_wait_for_reply",
        "letta_multi_agent_core",
        "Send a message to another agent and wait for its reply. The other agent learns that the \
         message comes from you; its reply is returned to you.",
        || {
            object(
                json!({
                    "message": string("What to tell the other agent."),
                    "other_agent_id": string("The id of the agent to message (agent-...)."),
                }),
                &["message", "other_agent_id"],
            )
        },
        false,
    ),
    (
        "send_message_to_agent_async",
        "letta_multi_agent_core",
        "Send a message to another agent without waiting for a reply (a notification). The other \
         agent learns that the message comes from you.",
        || {
            object(
                json!({
                    "message": string("What to tell the other agent."),
                    "other_agent_id": string("The id of the agent to message (agent-...)."),
                }),
                &["message", "other_agent_id"],
            )
        },
        false,
    ),
    (
        "send_message_to_agents_matching_tags",
        "letta_multi_agent_core",
        "Send a message to every other agent that has all of the tags in match_all and at least \
         one of the tags in match_some, and collect their replies.",
        || {
            object(
                json!({
                    "message": string("What to tell the agents."),
                    "match_all": {"type": "array", "items": {"type": "string"},
                                  "description": "Tags an agent must all have."},
                    "match_some": {"type": "array", "items": {"type": "string"},
                                   "description": "Tags of which an agent must have at least one."},
                }),
                &["message", "match_all", "match_some"],
            )
        },
        false,
    ),
    (
        "send_message_to_all_agents_in_group",
        "letta_multi_agent_core",
        "Send a message to every agent of the group you supervise and collect their replies.",
        || {
            object(
                json!({"message": string("What to tell the group's agents.")}),
                &["message"],
            )
        },
        false,
    ),
    (
        "web_search",
        super::web::WEB_TOOL_TYPE,
        "Search the web and return the most relevant pages as JSON: title, URL, publication \
         date, author, short highlights and a summary of each, and the full text on request.",
        || {
            object(
                json!({
                    "query": string("What to search the web for."),
                    "num_results": {"type": "integer", "description": "How many results to return, 1 to 100 (default 10)."},
                    "category": {"type": "string", "enum": WEB_CATEGORIES,
                                 "description": "Only results of this kind of content (default any)."},
                    "include_text": {"type": "boolean", "description": "Also return each page's full text (default false; it can fill the context)."},
                    "include_domains": {"type": "array", "items": {"type": "string"}, "description": "Only results from these domains."},
                    "exclude_domains": {"type": "array", "items": {"type": "string"}, "description": "No results from these domains."},
                    "start_published_date": string("Only pages published after this date (ISO 8601)."),
                    "end_published_date": string("Only pages published before this date (ISO 8601)."),
                    "user_location": string("Two-letter country code to localise results, e.g. \"US\"."),
                }),
                &["query"],
            )
        },
        true,
    ),
    (
        "fetch_webpage",
        super::web::WEB_TOOL_TYPE,
        "Fetch a web page and return its readable text.",
        || {
            object(
                json!({"url": string("The http or https address of the page.")}),
                &["url"],
            )
        },
        true,
    ),
    (
        "open_files",
        "letta_files_core",
        "Open one or more files of your folders and show their contents in the files section of \
         your context (whole, or a window of lines). Opening more files than the limit closes \
         those you used least recently. Give offset (0-based line) and length to see part of a \
         long file.",
        || {
            object(
                json!({
                    "file_requests": {
                        "type": "array",
                        "description": "The files to open, each with an optional window of lines.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "file_name": string("The file's name as listed in your directories, e.g. folder/notes.txt."),
                                "offset": {"type": "integer", "description": "First line to show, counted from 0."},
                                "length": {"type": "integer", "description": "How many lines to show."},
                            },
                            "required": ["file_name"],
                        },
                    },
                    "close_all_others": {"type": "boolean", "description": "Close every other open file first (default false)."},
                }),
                &["file_requests"],
            )
        },
        false,
    ),
    (
        "grep_files",
        "letta_files_core",
        "Search the text of your files for a keyword or regular expression (case-insensitive). \
         Shows 20 matches at a time with the lines around them; call again with the offset it \
         gives to see more.",
        || {
            object(
                json!({
                    "pattern": string("The keyword or regular expression to look for."),
                    "include": string("Only files whose names match this glob (e.g. *.md) or regular expression."),
                    "context_lines": {"type": "integer", "description": "Lines shown before and after each match (default 1)."},
                    "offset": {"type": "integer", "description": "How many matches to skip, for the next page."},
                }),
                &["pattern"],
            )
        },
        false,
    ),
    (
        "semantic_search_files",
        "letta_files_core",
        "Find the passages of your files closest in meaning to a query, when you do not know the \
         exact words.",
        || {
            object(
                json!({
                    "query": string("What you are looking for, in your own words."),
                    "limit": {"type": "integer", "description": "Most passages to return (default 5, at most 50)."},
                }),
                &["query"],
            )
        },
        false,
    ),
    (
        "open_file",
        "letta_files_core",
        "Open a file of your folders in your context (an older form of open_files).",
        || {
            object(
                json!({
                    "file_name": string("The file's name as listed in your directories."),
                    "view_range": {"type": "array", "items": {"type": "integer"},
                                   "description": "Optional [start, end) lines, counted from 0."},
                }),
                &["file_name"],
            )
        },
        false,
    ),
    (
        "close_file",
        "letta_files_core",
        "Close an open file so that it no longer takes room in your context.",
        || {
            object(
                json!({"file_name": string("The file's name as listed in your directories.")}),
                &["file_name"],
            )
        },
        false,
    ),
    (
        "grep",
        "letta_files_core",
        "Search the text of your files for a keyword or regular expression (an older form of \
         grep_files).",
        || {
            object(
                json!({
                    "pattern": string("The keyword or regular expression to look for."),
                    "include": string("Only files whose names match this glob or regular expression."),
                }),
                &["pattern"],
            )
        },
        false,
    ),
    (
        "search_files",
        "letta_files_core",
        "Find the passages of your files closest in meaning to a query (an older form of \
         semantic_search_files).",
        || {
            object(
                json!({
                    "query": string("What you are looking for."),
                    "limit": {"type": "integer", "description": "Most passages to return (default 10)."},
                }),
                &["query"],
            )
        },
        false,
    ),
    (
        "run_code",
        SERVER_TOOL_TYPE,
        "Run a piece of code in an isolated sandbox and see its results, printed output and \
         errors. Python always works; JavaScript (js), TypeScript (ts), R (r) and Java (java) \
         work when this server has their interpreter.",
        || {
            object(
                json!({
                    "code": string("The code to run."),
                    "language": {
                        "type": "string",
                        "enum": ["python", "js", "ts", "r", "java"],
                        "description": "The language the code is written in.",
                    },
                }),
                &["code", "language"],
            )
        },
        false,
    ),
];

/// The content kinds `web_search` can be narrowed to (Exa's categories, as Letta lists them).
const WEB_CATEGORIES: &[&str] = &[
    "company",
    "research paper",
    "news",
    "pdf",
    "github",
    "tweet",
    "personal site",
    "linkedin profile",
    "financial report",
];

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_name_existing_tools() {
        let names: Vec<String> = builtin_tools().into_iter().map(|t| t.name).collect();
        for agent_type in [
            AgentType::LettaV1Agent,
            AgentType::MemgptAgent,
            AgentType::SleeptimeAgent,
        ] {
            for name in default_tool_names(agent_type) {
                assert!(names.iter().any(|n| n == name), "{name}");
            }
        }
    }

    #[test]
    fn every_builtin_has_a_builtin_tool_type() {
        for tool in builtin_tools() {
            let t = tool.tool_type.as_str();
            assert!(
                BUILTIN_TOOL_TYPES.contains(&t)
                    || t == MULTI_AGENT_TOOL_TYPE
                    || t == super::super::files::FILES_TOOL_TYPE
                    || t == super::super::web::WEB_TOOL_TYPE,
                "{}",
                tool.name
            );
        }
    }

    #[test]
    fn base_rules_end_on_notifications_and_leave_waiting_calls_free() {
        use mneme_types::ToolRule;
        let names: Vec<String> = [
            "send_message",
            "conversation_search",
            "send_message_to_agent_async",
            "send_message_to_agent_and_wait_for_reply",
            "send_message_to_agents_matching_tags",
            "my_custom_tool",
        ]
        .map(String::from)
        .to_vec();
        let exit = |n: &str| ToolRule::ExitLoop {
            tool_name: n.into(),
        };
        let cont = |n: &str| ToolRule::ContinueLoop {
            tool_name: n.into(),
        };
        assert_eq!(
            base_tool_rules(&names),
            [
                exit("send_message"),
                cont("conversation_search"),
                exit("send_message_to_agent_async")
            ]
        );
        let names: Vec<String> = builtin_tools().into_iter().map(|t| t.name).collect();
        for name in MULTI_AGENT_TOOL_NAMES {
            assert!(names.iter().any(|n| n == name), "{name}");
        }
    }

    #[test]
    fn schemas_are_function_schemas() {
        for tool in builtin_tools() {
            let schema = tool.json_schema.unwrap();
            assert_eq!(schema["name"], tool.name.as_str());
            assert_eq!(schema["parameters"]["type"], "object");
        }
    }
}
