//! Multi-agent groups: agents that answer together (round robin, a supervisor, a dynamic
//! manager) or a primary agent with its sleep-time companions.

use serde::{Deserialize, Serialize};

use crate::{AgentId, BlockId, GroupId, MessageId};

/// How a group's agents take turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ManagerType {
    RoundRobin,
    Supervisor,
    Dynamic,
    Sleeptime,
    VoiceSleeptime,
    Swarm,
}

impl ManagerType {
    pub fn as_str(self) -> &'static str {
        match self {
            ManagerType::RoundRobin => "round_robin",
            ManagerType::Supervisor => "supervisor",
            ManagerType::Dynamic => "dynamic",
            ManagerType::Sleeptime => "sleeptime",
            ManagerType::VoiceSleeptime => "voice_sleeptime",
            ManagerType::Swarm => "swarm",
        }
    }
}

impl std::str::FromStr for ManagerType {
    type Err = String;

    fn from_str(s: &str) -> Result<ManagerType, String> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| format!("unknown manager type '{s}'"))
    }
}

/// `Group`, in Letta's field order; stored and wire shapes are the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Group {
    pub id: GroupId,
    pub manager_type: ManagerType,
    /// The participants (round robin, supervisor, dynamic) or the sleep-time companions.
    pub agent_ids: Vec<AgentId>,
    pub description: String,
    pub project_id: Option<String>,
    pub template_id: Option<String>,
    pub base_template_id: Option<String>,
    pub deployment_id: Option<String>,
    /// Blocks given to every participant and the manager when the group was made.
    #[serde(default)]
    pub shared_block_ids: Vec<BlockId>,
    /// The supervisor, the dynamic manager, or the primary agent of a sleep-time group.
    pub manager_agent_id: Option<AgentId>,
    pub termination_token: Option<String>,
    pub max_turns: Option<u32>,
    pub sleeptime_agent_frequency: Option<u32>,
    /// Sleep-time groups: turns of the primary since the companions last ran, modulo the
    /// frequency (starts at -1, so the first turn triggers them).
    pub turns_counter: Option<i64>,
    /// Sleep-time groups: the last message of the primary the companions were given.
    pub last_processed_message_id: Option<MessageId>,
    pub max_message_buffer_length: Option<u32>,
    pub min_message_buffer_length: Option<u32>,
    pub hidden: Option<bool>,
}

impl Group {
    /// A group of `manager`'s kind over `agent_ids`, its settings from `manager`.
    pub fn new(agent_ids: Vec<AgentId>, description: String, manager: &ManagerConfig) -> Group {
        let mut group = Group {
            id: GroupId::new(),
            manager_type: manager.manager_type(),
            agent_ids,
            description,
            project_id: None,
            template_id: None,
            base_template_id: None,
            deployment_id: None,
            shared_block_ids: Vec::new(),
            manager_agent_id: None,
            termination_token: None,
            max_turns: None,
            sleeptime_agent_frequency: None,
            turns_counter: None,
            last_processed_message_id: None,
            max_message_buffer_length: None,
            min_message_buffer_length: None,
            hidden: None,
        };
        manager.apply(&mut group);
        group
    }
}

/// The `termination_token` a dynamic group gets when the request names none.
pub const DEFAULT_TERMINATION_TOKEN: &str = "DONE!";

fn default_termination_token() -> Option<String> {
    Some(DEFAULT_TERMINATION_TOKEN.to_owned())
}

/// `GroupCreate.manager_config`: one variant per `manager_type`.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(tag = "manager_type", rename_all = "snake_case")]
pub enum ManagerConfig {
    RoundRobin {
        max_turns: Option<u32>,
    },
    Supervisor {
        manager_agent_id: AgentId,
    },
    Dynamic {
        manager_agent_id: AgentId,
        #[serde(default = "default_termination_token")]
        termination_token: Option<String>,
        max_turns: Option<u32>,
    },
    Sleeptime {
        manager_agent_id: AgentId,
        sleeptime_agent_frequency: Option<u32>,
    },
    VoiceSleeptime {
        manager_agent_id: AgentId,
        max_message_buffer_length: Option<u32>,
        min_message_buffer_length: Option<u32>,
    },
}

impl Default for ManagerConfig {
    fn default() -> ManagerConfig {
        ManagerConfig::RoundRobin { max_turns: None }
    }
}

impl ManagerConfig {
    pub fn manager_type(&self) -> ManagerType {
        match self {
            ManagerConfig::RoundRobin { .. } => ManagerType::RoundRobin,
            ManagerConfig::Supervisor { .. } => ManagerType::Supervisor,
            ManagerConfig::Dynamic { .. } => ManagerType::Dynamic,
            ManagerConfig::Sleeptime { .. } => ManagerType::Sleeptime,
            ManagerConfig::VoiceSleeptime { .. } => ManagerType::VoiceSleeptime,
        }
    }

    /// Writes this configuration's fields onto a new group.
    fn apply(&self, g: &mut Group) {
        match self.clone() {
            ManagerConfig::RoundRobin { max_turns } => g.max_turns = max_turns,
            ManagerConfig::Supervisor { manager_agent_id } => {
                g.manager_agent_id = Some(manager_agent_id)
            }
            ManagerConfig::Dynamic {
                manager_agent_id,
                termination_token,
                max_turns,
            } => {
                g.manager_agent_id = Some(manager_agent_id);
                g.termination_token = termination_token;
                g.max_turns = max_turns;
            }
            ManagerConfig::Sleeptime {
                manager_agent_id,
                sleeptime_agent_frequency,
            } => {
                g.manager_agent_id = Some(manager_agent_id);
                g.sleeptime_agent_frequency = sleeptime_agent_frequency;
                g.turns_counter = sleeptime_agent_frequency.map(|_| -1);
            }
            ManagerConfig::VoiceSleeptime {
                manager_agent_id,
                max_message_buffer_length,
                min_message_buffer_length,
            } => {
                g.manager_agent_id = Some(manager_agent_id);
                g.max_message_buffer_length = max_message_buffer_length;
                g.min_message_buffer_length = min_message_buffer_length;
            }
        }
    }
}

/// `GroupUpdate.manager_config`: the fields to change of a group's own kind (absent and `null`
/// leave a field as it is, as in Letta).
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(tag = "manager_type", rename_all = "snake_case")]
pub enum ManagerConfigUpdate {
    RoundRobin {
        max_turns: Option<u32>,
    },
    Supervisor {
        manager_agent_id: Option<AgentId>,
    },
    Dynamic {
        manager_agent_id: Option<AgentId>,
        termination_token: Option<String>,
        max_turns: Option<u32>,
    },
    Sleeptime {
        manager_agent_id: Option<AgentId>,
        sleeptime_agent_frequency: Option<u32>,
    },
    VoiceSleeptime {
        manager_agent_id: Option<AgentId>,
        max_message_buffer_length: Option<u32>,
        min_message_buffer_length: Option<u32>,
    },
}

impl ManagerConfigUpdate {
    pub fn manager_type(&self) -> ManagerType {
        match self {
            ManagerConfigUpdate::RoundRobin { .. } => ManagerType::RoundRobin,
            ManagerConfigUpdate::Supervisor { .. } => ManagerType::Supervisor,
            ManagerConfigUpdate::Dynamic { .. } => ManagerType::Dynamic,
            ManagerConfigUpdate::Sleeptime { .. } => ManagerType::Sleeptime,
            ManagerConfigUpdate::VoiceSleeptime { .. } => ManagerType::VoiceSleeptime,
        }
    }

    /// Writes the given fields onto `g`, whose kind the caller checked is this one. A
    /// sleep-time frequency set on a group without a counter starts it.
    pub fn apply(&self, g: &mut Group) {
        fn set<T: Clone>(field: &mut Option<T>, value: &Option<T>) {
            if value.is_some() {
                field.clone_from(value);
            }
        }
        match self {
            ManagerConfigUpdate::RoundRobin { max_turns } => set(&mut g.max_turns, max_turns),
            ManagerConfigUpdate::Supervisor { manager_agent_id } => {
                set(&mut g.manager_agent_id, manager_agent_id)
            }
            ManagerConfigUpdate::Dynamic {
                manager_agent_id,
                termination_token,
                max_turns,
            } => {
                set(&mut g.manager_agent_id, manager_agent_id);
                set(&mut g.termination_token, termination_token);
                set(&mut g.max_turns, max_turns);
            }
            ManagerConfigUpdate::Sleeptime {
                manager_agent_id,
                sleeptime_agent_frequency,
            } => {
                set(&mut g.manager_agent_id, manager_agent_id);
                set(&mut g.sleeptime_agent_frequency, sleeptime_agent_frequency);
                if sleeptime_agent_frequency.is_some() && g.turns_counter.is_none() {
                    g.turns_counter = Some(-1);
                }
            }
            ManagerConfigUpdate::VoiceSleeptime {
                manager_agent_id,
                max_message_buffer_length,
                min_message_buffer_length,
            } => {
                set(&mut g.manager_agent_id, manager_agent_id);
                set(&mut g.max_message_buffer_length, max_message_buffer_length);
                set(&mut g.min_message_buffer_length, min_message_buffer_length);
            }
        }
    }
}

/// `GroupCreate`. Unknown keys are ignored.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct GroupCreate {
    pub agent_ids: Vec<AgentId>,
    pub description: String,
    #[serde(default)]
    pub manager_config: ManagerConfig,
    pub project_id: Option<String>,
    #[serde(default)]
    pub shared_block_ids: Vec<BlockId>,
    pub hidden: Option<bool>,
}

/// `GroupUpdate`: absent and `null` both leave a field unchanged.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct GroupUpdate {
    pub agent_ids: Option<Vec<AgentId>>,
    pub description: Option<String>,
    pub manager_config: Option<ManagerConfigUpdate>,
    pub project_id: Option<String>,
    pub shared_block_ids: Option<Vec<BlockId>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manager_configs_default_as_letta_does() {
        let create: GroupCreate =
            serde_json::from_value(json!({"agent_ids": [], "description": "d"})).unwrap();
        assert_eq!(
            create.manager_config.manager_type(),
            ManagerType::RoundRobin
        );

        let manager = AgentId::new();
        let dynamic: ManagerConfig = serde_json::from_value(
            json!({"manager_type": "dynamic", "manager_agent_id": manager.to_string()}),
        )
        .unwrap();
        let g = Group::new(vec![], "d".into(), &dynamic);
        assert_eq!(g.termination_token.as_deref(), Some("DONE!"));
        assert_eq!(g.manager_agent_id, Some(manager));

        let sleeptime: ManagerConfig = serde_json::from_value(json!({
            "manager_type": "sleeptime", "manager_agent_id": manager.to_string(),
            "sleeptime_agent_frequency": 3
        }))
        .unwrap();
        let g = Group::new(vec![], "d".into(), &sleeptime);
        assert_eq!(g.turns_counter, Some(-1));
    }

    #[test]
    fn groups_serialize_in_letta_field_order() {
        let g = Group::new(vec![], "team".into(), &ManagerConfig::default());
        let text = serde_json::to_string(&g).unwrap();
        let keys: Vec<&str> = [
            "\"id\"",
            "\"manager_type\"",
            "\"agent_ids\"",
            "\"description\"",
            "\"shared_block_ids\"",
            "\"manager_agent_id\"",
            "\"hidden\"",
        ]
        .into();
        let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains("\"manager_type\":\"round_robin\""));
    }
}
