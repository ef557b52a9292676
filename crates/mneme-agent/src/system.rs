//! The compiled system message: base prompt + core memory + memory metadata.

use chrono::{DateTime, Utc};
use mneme_store::{Agent, AgentFiles};
use mneme_types::{Block, ConversationId, ToolRule};

use crate::files::{FileLimits, render_directories};
use crate::render_memory;
use crate::tool_rules::Solver;

/// Counts shown in `<memory_metadata>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryStats {
    /// Every stored message of the agent, in context or not.
    pub messages_total: u64,
    /// Messages currently in the context window (including the system message).
    pub in_context: u64,
    /// Archival passages.
    pub passages: u64,
    /// The conversation the message is compiled for; `None` for the agent's default one.
    pub conversation: Option<ConversationId>,
}

/// Compiles the system message text. `compiled_at` is the "last recompiled" time shown to the
/// model; mneme moves it whenever the text changes (Letta often leaves it at creation time).
pub fn compile_system_message(
    agent: &Agent,
    blocks: &[Block],
    files: &AgentFiles,
    stats: MemoryStats,
    compiled_at: DateTime<Utc>,
) -> String {
    let memory = memory_section(agent, blocks, files);
    let metadata = render_metadata(agent, stats, compiled_at);
    let compiled = format!("{memory}\n\n{metadata}");
    if agent.system.contains("{CORE_MEMORY}") {
        agent.system.replace("{CORE_MEMORY}", &compiled)
    } else {
        format!("{}\n\n{compiled}", agent.system)
    }
}

/// Whether `text`, a stored system message, is what `compile_system_message` makes of this
/// agent, blocks and files now, up to the metadata (whose counts and time move on their own):
/// the base prompt and every section, matched at both ends, so that a section removed is
/// seen as well as one changed.
pub fn is_current(agent: &Agent, blocks: &[Block], files: &AgentFiles, text: &str) -> bool {
    let memory = memory_section(agent, blocks, files);
    let compiled = format!("{memory}\n\n<memory_metadata>");
    match agent.system.split_once("{CORE_MEMORY}") {
        Some((before, _)) => text
            .strip_prefix(before)
            .is_some_and(|rest| rest.starts_with(&compiled)),
        None => text
            .strip_prefix(agent.system.as_str())
            .and_then(|rest| rest.strip_prefix("\n\n"))
            .is_some_and(|rest| rest.starts_with(&compiled)),
    }
}

/// The part of a compiled system message that changes when memory, rules or open files
/// change (blocks, the tool rules section, the directories).
pub fn memory_section(agent: &Agent, blocks: &[Block], files: &AgentFiles) -> String {
    let mut out = render_memory(agent.agent_type, &agent.llm_config, blocks);
    let rules = Solver::new(tool_rules(agent)).render_prompt();
    let directories = render_directories(agent.agent_type, files, FileLimits::of(agent));
    for part in rules.into_iter().chain(Some(directories)) {
        if !part.is_empty() {
            out.push_str("\n\n");
            out.push_str(&part);
        }
    }
    out
}

/// The agent's tool rules (the store skips stored rules it cannot read).
pub fn tool_rules(agent: &Agent) -> Vec<ToolRule> {
    agent.tool_rules.clone().unwrap_or_default()
}

fn render_metadata(agent: &Agent, stats: MemoryStats, compiled_at: DateTime<Utc>) -> String {
    let recall = stats.messages_total as i64 - stats.in_context as i64;
    let mut out = format!(
        "<memory_metadata>\n- AGENT_ID: {}\n- CONVERSATION_ID: {}\n\
         - System prompt last recompiled: {}\n\
         - {recall} previous messages between you and the user are stored in recall memory\n",
        agent.id,
        stats
            .conversation
            .map_or_else(|| "default".to_owned(), |c| c.to_string()),
        local_time(compiled_at),
    );
    if stats.passages > 0 {
        out.push_str(&format!(
            "- {} total memories you created are stored in archival memory (use tools to access them)\n",
            stats.passages
        ));
    }
    out.push_str("</memory_metadata>");
    out
}

/// Letta's local time string, `2025-01-15 09:00:00 AM UTC+0000`. Agents' timezones are rendered
/// as UTC until timezone support lands.
pub fn local_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %I:%M:%S %p UTC%z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tests::{block, llm};

    fn agent(system: &str) -> Agent {
        let mut agent = mneme_store::conformance::new_agent("a", vec![]).agent;
        agent.system = system.into();
        agent.llm_config = llm("openai");
        agent.message_ids.clear();
        agent.tags.clear();
        agent
    }

    #[test]
    fn appends_memory_and_metadata_to_the_base_prompt() {
        let a = agent("Base.");
        let at = DateTime::from_timestamp(1_736_931_600, 0).unwrap();
        let stats = MemoryStats {
            messages_total: 5,
            in_context: 2,
            passages: 0,
            conversation: None,
        };
        let text = compile_system_message(
            &a,
            &[block("human", "Ada")],
            &AgentFiles::default(),
            stats,
            at,
        );
        assert!(text.starts_with("Base.\n\n<memory_blocks>\n"));
        assert!(
            text.contains("- System prompt last recompiled: 2025-01-15 09:00:00 AM UTC+0000\n")
        );
        assert!(text.contains("- 3 previous messages between you and the user"));
        assert!(!text.contains("archival memory (use tools"));
        assert!(text.ends_with("</memory_metadata>"));
    }

    #[test]
    fn a_removed_section_makes_the_stored_text_stale() {
        let mut a = agent("Base.");
        a.tool_rules = Some(vec![ToolRule::ExitLoop {
            tool_name: "send_message".into(),
        }]);
        let files = AgentFiles::default();
        let blocks = [block("human", "Ada")];
        let text = compile_system_message(&a, &blocks, &files, MemoryStats::default(), Utc::now());
        assert!(is_current(&a, &blocks, &files, &text));
        a.tool_rules = None;
        assert!(
            !is_current(&a, &blocks, &files, &text),
            "the rules section went away"
        );
        a.system = "Other base.".into();
        let text = compile_system_message(&a, &blocks, &files, MemoryStats::default(), Utc::now());
        assert!(is_current(&a, &blocks, &files, &text));
        a.system = "Base.".into();
        assert!(
            !is_current(&a, &blocks, &files, &text),
            "the base prompt changed"
        );
    }

    #[test]
    fn core_memory_placeholder_is_replaced_in_place() {
        let a = agent("Start {CORE_MEMORY} End");
        let text = compile_system_message(
            &a,
            &[],
            &AgentFiles::default(),
            MemoryStats::default(),
            Utc::now(),
        );
        assert!(text.starts_with("Start \n\n<memory_metadata>"));
        assert!(text.ends_with("</memory_metadata> End"));
    }
}
