//! Tool rules: constraints on which tool an agent may call next and when its turn ends.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One rule, discriminated by `type` as Letta spells it: the form requests send, the store
/// keeps and `AgentState.tool_rules` shows. `prompt_template` and other unknown keys are
/// accepted and ignored (not kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolRule {
    /// The first call of a request must be one of the `run_first` tools.
    RunFirst {
        tool_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        args: Option<Map<String, Value>>,
    },
    /// Calling the tool ends the turn.
    ExitLoop { tool_name: String },
    /// Calling the tool keeps the turn going.
    ContinueLoop { tool_name: String },
    /// Right after `tool_name`, only `children` may be called.
    ConstrainChildTools {
        tool_name: String,
        children: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        child_arg_nodes: Option<Vec<ChildArgNode>>,
    },
    /// After `tool_name`, its output picks the next tool.
    Conditional {
        tool_name: String,
        child_output_mapping: Map<String, Value>,
        #[serde(default)]
        default_child: Option<String>,
        #[serde(default)]
        require_output_mapping: bool,
    },
    /// The tool may be called at most `max_count_limit` times per request.
    MaxCountPerStep {
        tool_name: String,
        max_count_limit: u32,
    },
    /// `children` may only be called right after `tool_name`.
    ParentLastTool {
        tool_name: String,
        children: Vec<String>,
    },
    /// The turn may not end before the tool has been called.
    RequiredBeforeExit { tool_name: String },
    /// Calls need a human's approval.
    RequiresApproval { tool_name: String },
}

/// Prefilled arguments for one child of a `constrain_child_tools` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChildArgNode {
    pub name: String,
    #[serde(default)]
    pub args: Option<Map<String, Value>>,
}

impl ToolRule {
    pub fn tool_name(&self) -> &str {
        match self {
            ToolRule::RunFirst { tool_name, .. }
            | ToolRule::ExitLoop { tool_name }
            | ToolRule::ContinueLoop { tool_name }
            | ToolRule::ConstrainChildTools { tool_name, .. }
            | ToolRule::Conditional { tool_name, .. }
            | ToolRule::MaxCountPerStep { tool_name, .. }
            | ToolRule::ParentLastTool { tool_name, .. }
            | ToolRule::RequiredBeforeExit { tool_name }
            | ToolRule::RequiresApproval { tool_name } => tool_name,
        }
    }
}
