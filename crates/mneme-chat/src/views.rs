//! What the chat's commands print: the memory blocks (`/memory`), the context window
//! (`/context`), the agent list (`/agents`, and the choice at start) and the help.

use std::io::{self, Write};

use mneme_types::{AgentId, Block};

use crate::api::{AgentSummary, ContextCounts};
use crate::text::{Style, bar, thousands};

/// Cells of a `/context` bar.
const BAR_WIDTH: usize = 24;

pub(crate) const HELP: &[(&str, &str)] = &[
    ("/help", "this list"),
    ("/memory", "the agent's memory blocks"),
    ("/context", "what fills the agent's context window"),
    ("/reset", "clear the agent's messages (memory blocks stay)"),
    ("/agents", "the server's agents"),
    ("/agent NAME|ID", "chat with another agent"),
    (
        "/export [FILE]",
        "save the agent as an Agent File (default: <name>.af)",
    ),
    ("/quit", "leave (or Ctrl-D); Ctrl-C stops a reply"),
];

pub(crate) fn help(style: Style, out: &mut impl Write) -> io::Result<()> {
    for (command, what) in HELP {
        writeln!(out, "  {}  {}", style.bold(&format!("{command:<16}")), what)?;
    }
    Ok(())
}

/// Each block: its label, how full it is, and its value indented under it.
pub(crate) fn memory(blocks: &[Block], style: Style, out: &mut impl Write) -> io::Result<()> {
    if blocks.is_empty() {
        return writeln!(out, "  {}", style.dim("(no memory blocks)"));
    }
    for block in blocks {
        let label = block.label.as_deref().unwrap_or("(no label)");
        let size = format!(
            "{}/{} chars{}",
            thousands(block.value.chars().count() as u64),
            thousands(block.limit as u64),
            if block.read_only { ", read-only" } else { "" }
        );
        writeln!(out, "{}  {}", style.bold(label), style.dim(&size))?;
        if block.value.trim().is_empty() {
            writeln!(out, "  {}", style.dim("(empty)"))?;
        }
        for line in block.value.trim_end().lines() {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}

/// The window's fill, then one bar per part, each against what the window holds now.
pub(crate) fn context(c: &ContextCounts, style: Style, out: &mut impl Write) -> io::Result<()> {
    let current = c.context_window_size_current;
    let max = c.context_window_size_max;
    let percent = match max {
        0 => 0.0,
        _ => current as f64 * 100.0 / max as f64,
    };
    writeln!(
        out,
        "{}  {} / {} tokens ({percent:.1}%)  {}",
        style.bold("context window"),
        thousands(current),
        thousands(max),
        bar(current, max, BAR_WIDTH)
    )?;
    let summary = c.num_tokens_summary_memory + c.num_tokens_external_memory_summary;
    let rows = [
        ("system prompt", c.num_tokens_system, true),
        ("core memory", c.num_tokens_core_memory, true),
        ("tools", c.num_tokens_functions_definitions, true),
        ("tool rules", c.num_tokens_tool_usage_rules, false),
        ("files", c.num_tokens_memory_filesystem, false),
        ("directories", c.num_tokens_directories, false),
        ("summary", summary, true),
        ("messages", c.num_tokens_messages, true),
    ];
    for (name, tokens, always) in rows {
        if always || tokens > 0 {
            let count = format!("{:>9}", thousands(tokens));
            let cells = style.cyan(&bar(tokens, current, BAR_WIDTH));
            writeln!(out, "  {name:<14}{count}  {cells}")?;
        }
    }
    let messages = format!("{} messages in context", thousands(c.num_messages));
    writeln!(out, "  {}", style.dim(&messages))
}

/// A numbered list: name, id, model; the current agent marked `*`.
pub(crate) fn agents(
    list: &[AgentSummary],
    current: Option<&AgentId>,
    style: Style,
    out: &mut impl Write,
) -> io::Result<()> {
    let width = list
        .iter()
        .map(|a| a.name.chars().count())
        .max()
        .unwrap_or(0);
    for (i, a) in list.iter().enumerate() {
        let mark = if current == Some(&a.id) { "*" } else { " " };
        let name = format!("{:<width$}", a.name);
        writeln!(
            out,
            "{mark} {:>2}. {}  {}  {}",
            i + 1,
            style.bold(&name),
            style.dim(&a.id.to_string()),
            a.model()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLAIN: Style = Style { color: false };

    fn block(label: &str, value: &str) -> Block {
        serde_json::from_value(json!({
            "id": "block-00000000-0000-4000-8000-000000000001", "label": label, "value": value,
            "limit": 5000, "read_only": false, "is_template": false
        }))
        .unwrap()
    }

    fn shown(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn memory_lists_label_size_and_value() {
        let blocks = [block("human", "Name: Ann\nLikes tea"), block("persona", "")];
        assert_eq!(
            shown(|o| memory(&blocks, PLAIN, o)),
            "human  19/5,000 chars\n  Name: Ann\n  Likes tea\npersona  0/5,000 chars\n  (empty)\n"
        );
    }

    #[test]
    fn context_shows_each_part_with_a_bar() {
        let c = ContextCounts {
            context_window_size_max: 10_000,
            context_window_size_current: 2_000,
            num_messages: 4,
            num_tokens_system: 1_000,
            num_tokens_core_memory: 500,
            num_tokens_functions_definitions: 400,
            num_tokens_messages: 100,
            ..ContextCounts::default()
        };
        let text = shown(|o| context(&c, PLAIN, o));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("context window  2,000 / 10,000 tokens (20.0%)  █████░"));
        assert_eq!(
            lines[1],
            format!(
                "  system prompt     1,000  {}{}",
                "█".repeat(12),
                "░".repeat(12)
            )
        );
        assert!(lines[3].starts_with("  tools               400  █████░"));
        assert!(
            !text.contains("tool rules"),
            "zero optional parts are left out"
        );
        assert!(lines[4].starts_with("  summary               0  ░░░"));
        assert_eq!(lines[6], "  4 messages in context");
    }

    #[test]
    fn agents_are_numbered_and_the_current_one_marked() {
        let list: Vec<AgentSummary> = serde_json::from_value(json!([
            {"id": "agent-00000000-0000-4000-8000-000000000001", "name": "chat", "model": "openai/gpt-4o-mini"},
            {"id": "agent-00000000-0000-4000-8000-000000000002", "name": "helper", "model": "openai/gpt-4o"},
        ]))
        .unwrap();
        let text = shown(|o| agents(&list, Some(&list[1].id), PLAIN, o));
        assert_eq!(
            text,
            "   1. chat    agent-00000000-0000-4000-8000-000000000001  openai/gpt-4o-mini\n\
             *  2. helper  agent-00000000-0000-4000-8000-000000000002  openai/gpt-4o\n"
        );
    }
}
