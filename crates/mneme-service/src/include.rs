//! Which relationships of an agent a response carries (`include=agent.blocks`, ...).

/// Relationships to load. Letta answers 1.x SDK reads with none unless asked, and everything
/// to older clients and to writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Include {
    pub blocks: bool,
    pub tags: bool,
    pub tools: bool,
    pub secrets: bool,
    /// The group the agent manages (`managed_group`, and `multi_agent_group` its old name).
    pub groups: bool,
    /// `identity_ids` and `identities`, which Letta loads together.
    pub identities: bool,
    /// `sources`: the folders attached to the agent.
    pub sources: bool,
}

impl Include {
    pub const ALL: Include = Include {
        blocks: true,
        tags: true,
        tools: true,
        secrets: true,
        groups: true,
        identities: true,
        sources: true,
    };
    pub const NONE: Include = Include {
        blocks: false,
        tags: false,
        tools: false,
        secrets: false,
        groups: false,
        identities: false,
        sources: false,
    };

    /// Reads Letta's `include` values; unknown ones are ignored, as Letta does. `agent.blocks`
    /// also fills tags.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Include {
        let mut inc = Include::NONE;
        for name in names {
            match name.trim() {
                "agent.blocks" | "memory" | "blocks" => {
                    inc.blocks = true;
                    inc.tags = true;
                }
                "agent.tags" | "tags" => inc.tags = true,
                "agent.tools" | "tools" => inc.tools = true,
                "agent.secrets" => inc.secrets = true,
                "agent.managed_group" | "agent.multi_agent_group" => inc.groups = true,
                "agent.identities" | "identity_ids" => inc.identities = true,
                "agent.sources" | "sources" => inc.sources = true,
                _ => {}
            }
        }
        inc
    }
}
