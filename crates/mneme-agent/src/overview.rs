//! What the next model call of an agent would hold, section by section, with token counts made
//! by the model's tokenizer (`GET /v1/agents/{id}/context`).
//!
//! The sections are cut from the stored system message as Letta's context calculator cuts
//! them: the base prompt is what precedes the first section tag, then `<memory_blocks>`,
//! `<tool_usage_rules>` and `<memory_metadata>`; a compaction summary at index 1 is its own
//! section and not among the messages. A section tag counts only on a line of its own, as the
//! compiler writes it: prompts name `<memory_blocks>` in their prose (mneme's own do), and
//! that mention must not cut the base prompt short.

use mneme_llm::tokens::{MESSAGE_OVERHEAD, TokenCounter};
use mneme_store::{AgentContext, Message};

use crate::compaction::is_summary;
use crate::tokens::message_tokens;

/// A section's text and its tokens.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    pub text: String,
    pub tokens: u64,
}

/// The parts of an agent's context and what each costs.
#[derive(Debug, Clone, Default)]
pub struct ContextOverview {
    pub system_prompt: Section,
    pub core_memory: Section,
    pub tool_usage_rules: Option<Section>,
    pub memory_metadata: Section,
    pub summary: Option<Section>,
    /// The in-context messages after the system message and the summary.
    pub messages_tokens: u64,
    /// The tool schemas, as JSON.
    pub tools_tokens: u64,
}

impl ContextOverview {
    /// Every section's tokens together: the context's size.
    pub fn total(&self) -> u64 {
        self.system_prompt.tokens
            + self.core_memory.tokens
            + self.tool_usage_rules.as_ref().map_or(0, |s| s.tokens)
            + self.memory_metadata.tokens
            + self.summary.as_ref().map_or(0, |s| s.tokens)
            + self.messages_tokens
            + self.tools_tokens
    }
}

/// Section tags of a compiled system message, in the order they appear.
const SECTION_TAGS: [&str; 3] = ["memory_blocks", "tool_usage_rules", "memory_metadata"];

/// The overview of `ctx` counted with `counter`. Blocking: the first count of a process may
/// build the tokenizer's tables.
pub fn context_overview(ctx: &AgentContext, counter: &TokenCounter) -> ContextOverview {
    let system = ctx.messages.first().map_or("", |m| m.text.as_str());
    let section = |text: String| Section {
        tokens: counter.count(&text),
        text,
    };
    let base = base_prompt(system).unwrap_or_else(|| ctx.agent.system.trim().to_owned());
    let rest = ctx.messages.iter().skip(1);
    let (summary, history): (Option<&Message>, Vec<&Message>) = match ctx.messages.get(1) {
        Some(first) if is_summary(first) => (Some(first), rest.skip(1).collect()),
        _ => (None, rest.collect()),
    };
    let tools_tokens = ctx
        .tools
        .iter()
        .map(|t| {
            let schema = t
                .json_schema
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default();
            counter.count(&schema) + MESSAGE_OVERHEAD
        })
        .sum();
    ContextOverview {
        system_prompt: section(base),
        core_memory: section(tagged(system, "memory_blocks").unwrap_or_default()),
        tool_usage_rules: tagged(system, "tool_usage_rules").map(section),
        memory_metadata: section(tagged(system, "memory_metadata").unwrap_or_default()),
        summary: summary.map(|m| Section {
            text: m.text.clone(),
            tokens: message_tokens(counter, m),
        }),
        messages_tokens: history.iter().map(|m| message_tokens(counter, m)).sum(),
        tools_tokens,
    }
}

/// The text before the first section tag, if there is any.
fn base_prompt(system: &str) -> Option<String> {
    let first = SECTION_TAGS
        .iter()
        .filter_map(|tag| open_tag(system, tag))
        .min()
        .unwrap_or(system.len());
    let base = system[..first].trim();
    (!base.is_empty()).then(|| base.to_owned())
}

/// Where `<tag>` opens a section: at the start of `text` or of a line, alone on its line.
fn open_tag(text: &str, tag: &str) -> Option<usize> {
    let open = format!("<{tag}>");
    text.match_indices(&open).map(|(i, _)| i).find(|&i| {
        let line_start = i == 0 || text[..i].ends_with('\n');
        let rest = &text[i + open.len()..];
        line_start && (rest.is_empty() || rest.starts_with('\n'))
    })
}

/// `<tag>...</tag>` as it appears in `text`, tags included.
fn tagged(text: &str, tag: &str) -> Option<String> {
    let close = format!("</{tag}>");
    let start = open_tag(text, tag)?;
    let end = text[start..].find(&close)? + start + close.len();
    Some(text[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_cut_at_their_tags() {
        let system = "Base prompt.\n\n<memory_blocks>\n<human>Ada</human>\n</memory_blocks>\n\n\
                      <memory_metadata>\n- 3 previous messages\n</memory_metadata>";
        assert_eq!(base_prompt(system).as_deref(), Some("Base prompt."));
        assert_eq!(
            tagged(system, "memory_blocks").as_deref(),
            Some("<memory_blocks>\n<human>Ada</human>\n</memory_blocks>")
        );
        assert!(tagged(system, "tool_usage_rules").is_none());
        assert!(
            tagged(system, "memory_metadata")
                .unwrap()
                .contains("3 previous")
        );
        assert_eq!(base_prompt("<memory_blocks>\n</memory_blocks>"), None);
    }

    #[test]
    fn a_tag_named_in_the_prose_does_not_cut_the_base_prompt() {
        let system = "Memory is shown inside <memory_blocks>. Use it.\n\n<memory_blocks>\n\
                      <human>Ada</human>\n</memory_blocks>";
        assert_eq!(
            base_prompt(system).as_deref(),
            Some("Memory is shown inside <memory_blocks>. Use it.")
        );
        assert_eq!(
            tagged(system, "memory_blocks").as_deref(),
            Some("<memory_blocks>\n<human>Ada</human>\n</memory_blocks>")
        );
    }
}
