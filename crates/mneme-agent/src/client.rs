//! Client-side tools (`client_tools` of a request): offered to the model for one request, never
//! stored, and run by the caller: a call to one always takes the approval path, and the
//! caller's answer carries the tool's return.

use async_trait::async_trait;
use mneme_store::AgentContext;
use mneme_types::ToolRule;
use serde_json::Value;

use crate::executor::{Invocation, ToolExecutor};
use crate::tools::ToolOutcome;

/// The `tool_type` of a request's client-side tools (never stored).
pub(crate) const CLIENT_TOOL_TYPE: &str = "client";

/// A client-side tool: `{name, description, parameters}` as the request gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientTool {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Value,
}

/// Offers the request's client-side tools (hiding attached tools of the same name, as Letta
/// does) and routes every call to one through the approval path.
pub(crate) fn add_client_tools(
    ctx: &mut AgentContext,
    rules: &mut Vec<ToolRule>,
    tools: &[ClientTool],
) {
    for t in tools {
        ctx.tools.retain(|attached| attached.name != t.name);
        ctx.tools.push(mneme_types::Tool {
            id: mneme_types::ToolId::new(),
            tool_type: CLIENT_TOOL_TYPE.into(),
            name: t.name.clone(),
            description: t.description.clone(),
            source_type: None,
            source_code: None,
            json_schema: Some(serde_json::json!({
                "name": t.name, "description": t.description, "parameters": t.parameters,
            })),
            args_json_schema: None,
            tags: Vec::new(),
            return_char_limit: crate::tools::DEFAULT_RETURN_CHAR_LIMIT,
            pip_requirements: None,
            npm_requirements: None,
            default_requires_approval: Some(true),
            enable_parallel_execution: None,
            created_by_id: None,
            last_updated_by_id: None,
            metadata_: None,
            project_id: None,
        });
        rules.push(ToolRule::RequiresApproval {
            tool_name: t.name.clone(),
        });
    }
}

/// The executor of client-side tools, reached only when a caller approves a call instead of
/// answering it with a tool return.
pub(crate) struct ClientTools;

#[async_trait]
impl ToolExecutor for ClientTools {
    async fn execute(&self, call: Invocation<'_>) -> ToolOutcome {
        // Approving a client-side call cannot run it here: the client owns the code.
        ToolOutcome::failed(format!(
            "Error: '{}' is a client-side tool; answer its approval request with a tool return",
            call.tool.name
        ))
    }

    fn durable_calls(&self) -> bool {
        false
    }
}
