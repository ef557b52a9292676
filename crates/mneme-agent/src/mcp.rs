//! Tools of users' MCP servers (`tool_type` `external_mcp`). The runtime only knows this trait;
//! the service implements it with its MCP client, so the step loop needs no MCP library.

use std::sync::Arc;

use async_trait::async_trait;
use mneme_types::Tool;
use serde_json::{Map, Value};

use crate::executor::{Invocation, ToolExecutor};
use crate::tools::ToolOutcome;

/// The `tool_type` of tools registered from MCP servers.
pub(crate) const MCP_TOOL_TYPE: &str = "external_mcp";

/// Runs a registered MCP tool on the server it came from.
#[async_trait]
pub trait McpTools: Send + Sync {
    /// The call's outcome as the model sees it: the tool's text, or a failure (the tool's own
    /// `isError`, or a server that cannot be reached) that the turn carries on from.
    async fn call(&self, tool: &Tool, args: Map<String, Value>) -> ToolOutcome;
}

/// The executor of MCP tools, over the service's `McpTools`.
pub(crate) struct McpExecutor {
    mcp: Arc<dyn McpTools>,
}

impl McpExecutor {
    pub(crate) fn new(mcp: Arc<dyn McpTools>) -> McpExecutor {
        McpExecutor { mcp }
    }
}

#[async_trait]
impl ToolExecutor for McpExecutor {
    async fn execute(&self, call: Invocation<'_>) -> ToolOutcome {
        self.mcp.call(call.tool, call.args.to_map()).await
    }
}
