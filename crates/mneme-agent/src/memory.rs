//! Core memory rendered into the system message: the `<memory_blocks>` section.
//!
//! The layout (tags, metadata lines, blank-line separation) is Letta's, because prompts and
//! fine-tuned models expect it; the header sentence is ours.

use std::fmt::Write;

use mneme_types::{AgentType, Block, LlmConfig, ProviderKind};

/// What the line-numbered rendering tells the model about the `N→ ` prefixes; text copied
/// with it is refused by the memory tools, like the prefixes themselves.
pub(crate) const LINE_NUMBER_WARNING: &str = "The `N→ ` prefixes on the lines below only show line numbers. They are not part of the value: never include them in text you pass to memory tools.";

const HEADER: &str =
    "The following memory blocks are part of your core memory and are always in your context:";

/// Renders `blocks` for an agent of `agent_type` on `llm`. Empty when there are no blocks,
/// except in the line-numbered variant, which always writes its wrapper.
pub fn render_memory(agent_type: AgentType, llm: &LlmConfig, blocks: &[Block]) -> String {
    if matches!(agent_type, AgentType::ReactAgent | AgentType::WorkflowAgent) {
        return String::new();
    }
    let numbered = line_numbered(agent_type, llm);
    if blocks.is_empty() && !numbered {
        return String::new();
    }
    let mut out = format!("<memory_blocks>\n{HEADER}\n\n");
    for (i, block) in blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_block(&mut out, block, numbered);
    }
    out.push_str("\n</memory_blocks>");
    out
}

/// Anthropic models get numbered lines so that they can point at them; Letta does the same for
/// these agent types.
fn line_numbered(agent_type: AgentType, llm: &LlmConfig) -> bool {
    ProviderKind::from_endpoint_type(&llm.model_endpoint_type) == Some(ProviderKind::Anthropic)
        && matches!(
            agent_type,
            AgentType::LettaV1Agent | AgentType::MemgptV2Agent | AgentType::SleeptimeAgent
        )
}

fn render_block(out: &mut String, block: &Block, numbered: bool) {
    let label = block.label.as_deref().unwrap_or("");
    let description = block.description.as_deref().unwrap_or("");
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "<{label}>\n<description>\n{description}\n</description>\n<metadata>\n"
    );
    if block.read_only {
        out.push_str("- read_only=true\n");
    }
    let _ = write!(
        out,
        "- chars_current={}\n- chars_limit={}\n</metadata>\n",
        block.value.chars().count(),
        block.limit
    );
    if numbered {
        let _ = write!(out, "<warning>\n{LINE_NUMBER_WARNING}\n</warning>\n");
    }
    out.push_str("<value>\n");
    if numbered {
        if !block.value.is_empty() {
            for (n, line) in block.value.split('\n').enumerate() {
                let _ = writeln!(out, "{}→ {line}", n + 1);
            }
        }
    } else {
        out.push_str(&block.value);
        out.push('\n');
    }
    let _ = writeln!(out, "</value>\n</{label}>");
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use mneme_types::BlockId;

    pub(crate) fn block(label: &str, value: &str) -> Block {
        Block {
            id: BlockId::new(),
            label: Some(label.into()),
            value: value.into(),
            limit: 5000,
            description: Some(format!("About {label}.")),
            read_only: false,
            metadata: None,
            tags: None,
            hidden: None,
            is_template: false,
            template_name: None,
            template_id: None,
            base_template_id: None,
            deployment_id: None,
            entity_id: None,
            project_id: None,
            preserve_on_migration: None,
            created_by_id: None,
            last_updated_by_id: None,
        }
    }

    pub(crate) fn llm(endpoint: &str) -> LlmConfig {
        serde_json::from_value(serde_json::json!({
            "model": "m", "model_endpoint_type": endpoint, "context_window": 8000
        }))
        .unwrap()
    }

    #[test]
    fn renders_blocks_in_order_with_metadata() {
        let mut persona = block("persona", "I am terse.");
        persona.read_only = true;
        let text = render_memory(
            AgentType::LettaV1Agent,
            &llm("openai"),
            &[block("human", "Name: Ada"), persona],
        );
        let expected = format!(
            "<memory_blocks>\n{HEADER}\n\n<human>\n<description>\nAbout human.\n</description>\n\
             <metadata>\n- chars_current=9\n- chars_limit=5000\n</metadata>\n<value>\nName: Ada\n\
             </value>\n</human>\n\n<persona>\n<description>\nAbout persona.\n</description>\n\
             <metadata>\n- read_only=true\n- chars_current=11\n- chars_limit=5000\n</metadata>\n\
             <value>\nI am terse.\n</value>\n</persona>\n\n</memory_blocks>"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn no_blocks_render_nothing_unless_numbered() {
        assert_eq!(
            render_memory(AgentType::LettaV1Agent, &llm("openai"), &[]),
            ""
        );
        let numbered = render_memory(AgentType::LettaV1Agent, &llm("anthropic"), &[]);
        assert!(numbered.starts_with("<memory_blocks>"));
    }

    #[test]
    fn anthropic_values_are_line_numbered_and_counted_in_chars() {
        let text = render_memory(
            AgentType::MemgptV2Agent,
            &llm("anthropic"),
            &[block("human", "héllo\nworld")],
        );
        assert!(text.contains("<value>\n1→ héllo\n2→ world\n</value>"));
        assert!(text.contains("- chars_current=11\n"));
        assert!(text.contains("<warning>"));
    }

    #[test]
    fn react_agents_render_no_memory() {
        let text = render_memory(AgentType::ReactAgent, &llm("openai"), &[block("a", "b")]);
        assert_eq!(text, "");
    }
}
