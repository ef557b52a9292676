//! Tools of users' MCP servers (`tool_type` `external_mcp`). The runtime only knows this trait;
//! the service implements it with its MCP client, so the step loop needs no MCP library.

use async_trait::async_trait;
use mneme_types::Tool;
use serde_json::{Map, Value};

use crate::tools::ToolOutcome;

/// Runs a registered MCP tool on the server it came from.
#[async_trait]
pub trait McpTools: Send + Sync {
    /// The call's outcome as the model sees it: the tool's text, or a failure (the tool's own
    /// `isError`, or a server that cannot be reached) that the turn carries on from.
    async fn call(&self, tool: &Tool, args: Map<String, Value>) -> ToolOutcome;
}
