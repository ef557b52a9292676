//! Default base system prompts, one per agent type. Written for mneme; they describe the same
//! mechanics Letta's prompts describe (memory blocks, recall and archival memory, tool use) in
//! our own words.

use mneme_types::AgentType;

const LETTA_V1: &str = include_str!("prompts/letta_v1.md");
const MEMGPT_CHAT: &str = include_str!("prompts/memgpt_chat.md");
const REACT: &str = include_str!("prompts/react.md");
const WORKFLOW: &str = include_str!("prompts/workflow.md");
const SLEEPTIME: &str = include_str!("prompts/sleeptime.md");
const VOICE: &str = include_str!("prompts/voice.md");

/// The base prompt stored as `agent.system` when the client sends none.
pub fn default_system_prompt(agent_type: AgentType) -> &'static str {
    match agent_type {
        AgentType::LettaV1Agent => LETTA_V1,
        AgentType::MemgptAgent | AgentType::MemgptV2Agent | AgentType::SplitThreadAgent => {
            MEMGPT_CHAT
        }
        AgentType::ReactAgent => REACT,
        AgentType::WorkflowAgent => WORKFLOW,
        AgentType::SleeptimeAgent | AgentType::VoiceSleeptimeAgent => SLEEPTIME,
        AgentType::VoiceConvoAgent => VOICE,
    }
    .trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_has_its_own_prompt() {
        let v1 = default_system_prompt(AgentType::LettaV1Agent);
        let v2 = default_system_prompt(AgentType::MemgptV2Agent);
        let react = default_system_prompt(AgentType::ReactAgent);
        assert_ne!(v1, v2);
        assert_ne!(v2, react);
        assert!(v1.contains("memory"));
        assert!(!v1.ends_with('\n'));
    }
}
