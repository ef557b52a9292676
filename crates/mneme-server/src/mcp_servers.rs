//! `/v1/mcp-servers/...`: MCP servers and the tools registered from them.

use axum::Json;
use axum::extract::State;
use mneme_service::Service;
use mneme_types::{
    CreateMcpServer, McpResyncResult, McpServer, McpServerId, McpToolRun, Tool,
    ToolExecutionResult, ToolId, UpdateMcpServer,
};
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) async fn create(
    State(app): State<Service>,
    ApiJson(req): ApiJson<CreateMcpServer>,
) -> ApiResult<McpServer> {
    Ok(Json(app.create_mcp_server(req).await?))
}

pub(crate) async fn list(State(app): State<Service>) -> ApiResult<Vec<McpServer>> {
    Ok(Json(app.list_mcp_servers().await?))
}

pub(crate) async fn retrieve(
    State(app): State<Service>,
    ApiPath(id): ApiPath<McpServerId>,
) -> ApiResult<McpServer> {
    Ok(Json(app.get_mcp_server(id).await?))
}

pub(crate) async fn modify(
    State(app): State<Service>,
    ApiPath(id): ApiPath<McpServerId>,
    ApiJson(req): ApiJson<UpdateMcpServer>,
) -> ApiResult<McpServer> {
    Ok(Json(app.update_mcp_server(id, req).await?))
}

/// Answers JSON `null`, like the other deletes.
pub(crate) async fn delete(
    State(app): State<Service>,
    ApiPath(id): ApiPath<McpServerId>,
) -> ApiResult<Value> {
    app.delete_mcp_server(id).await?;
    Ok(Json(Value::Null))
}

pub(crate) async fn tools(
    State(app): State<Service>,
    ApiPath(id): ApiPath<McpServerId>,
) -> ApiResult<Vec<Tool>> {
    Ok(Json(app.mcp_server_tools(id).await?))
}

pub(crate) async fn tool(
    State(app): State<Service>,
    ApiPath((id, tool)): ApiPath<(McpServerId, ToolId)>,
) -> ApiResult<Tool> {
    Ok(Json(app.mcp_server_tool(id, tool).await?))
}

/// An empty body means no arguments, as in Letta.
pub(crate) async fn run(
    State(app): State<Service>,
    ApiPath((id, tool)): ApiPath<(McpServerId, ToolId)>,
    ApiJson(req): ApiJson<McpToolRun>,
) -> ApiResult<ToolExecutionResult> {
    Ok(Json(app.run_mcp_tool(id, tool, req).await?))
}

/// Letta's `agent_id` query parameter is accepted and not needed: a server's tools do not
/// depend on the agent asking.
pub(crate) async fn refresh(
    State(app): State<Service>,
    ApiPath(id): ApiPath<McpServerId>,
) -> ApiResult<McpResyncResult> {
    Ok(Json(app.refresh_mcp_server(id).await?))
}
