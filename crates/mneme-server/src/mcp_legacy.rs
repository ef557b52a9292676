//! `/v1/tools/mcp/...`: Letta's older, name-keyed MCP routes, and the connection test of a
//! stored server (`/v1/mcp-servers/connect/{id}`). The same servers as `/v1/mcp-servers/`.
//!
//! The static segments `test`, `connect` and `tools` also take the methods of the name routes
//! they shadow, so that a server named `test` (or a tool named `tools`) is served as Letta
//! serves it: its router tries the next route when only the method differs.

use std::convert::Infallible;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use futures_util::{FutureExt, StreamExt, stream};
use mneme_service::{McpConnect, Service};
use mneme_types::{
    ListedMcpTool, McpConnectEvent, McpOAuthCallback, McpResyncResult, McpServerId,
    McpServerTestResult, McpToolExecution, McpToolRun, NamedMcpServerConfig, NamedMcpServerConfigs,
    NamedMcpServerUpdate, Tool,
};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::{Route, op, route};
use crate::sse::event_stream;

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        route("/v1/tools/mcp/servers")
            .get(list, op("list_mcp_servers", "List MCP servers by name"))
            .put(add, op("add_mcp_server", "Add an MCP server")),
        // A server named like a fixed route (`test`, `connect`) is still modified and deleted
        // by name, as under Letta's fall-through router; those methods are the by-name ones.
        route("/v1/tools/mcp/servers/test")
            .post(
                test,
                op("test_mcp_server", "Test an MCP server configuration"),
            )
            .with(|r| {
                r.patch(|s: State<Service>, b: ApiJson<NamedMcpServerUpdate>| {
                    update_fixed("test", s, b)
                })
                .delete(|s: State<Service>| remove_fixed("test", s))
            }),
        route("/v1/tools/mcp/servers/connect")
            .post(
                connect,
                op(
                    "connect_mcp_server",
                    "Connect to an MCP server configuration",
                )
                .sse_of::<McpConnectEvent>(),
            )
            .with(|r| {
                r.patch(|s: State<Service>, b: ApiJson<NamedMcpServerUpdate>| {
                    update_fixed("connect", s, b)
                })
                .delete(|s: State<Service>| remove_fixed("connect", s))
            }),
        route("/v1/tools/mcp/servers/{mcp_server_name}")
            .delete(
                remove,
                op("delete_mcp_server", "Delete an MCP server by name"),
            )
            .patch(
                update,
                op("update_mcp_server", "Modify an MCP server by name"),
            ),
        route("/v1/tools/mcp/servers/{mcp_server_name}/tools")
            .get(
                tools,
                op("list_mcp_tools_by_server", "List an MCP server's tools"),
            )
            .with(|r| r.post(add_tool_named_tools)),
        route("/v1/tools/mcp/servers/{mcp_server_name}/resync").post(
            resync,
            op("resync_mcp_server_tools", "Resync an MCP server's tools"),
        ),
        route("/v1/tools/mcp/servers/{mcp_server_name}/{mcp_tool_name}").post(
            add_tool,
            op("add_mcp_tool", "Register an MCP tool as a tool"),
        ),
        route("/v1/tools/mcp/servers/{mcp_server_name}/tools/{tool_name}/execute")
            .post(execute, op("execute_mcp_tool", "Execute an MCP tool")),
        route("/v1/tools/mcp/oauth/callback").get(
            oauth_callback,
            op(
                "mcp_oauth_callback",
                "MCP OAuth callback (refused: no OAuth flow)",
            ),
        ),
        route("/v1/mcp-servers/connect/{mcp_server_id}").get(
            connect_stored,
            op("mcp_connect_mcp_server", "Connect to a stored MCP server")
                .sse_of::<McpConnectEvent>(),
        ),
    ]
}

async fn list(State(app): State<Service>) -> ApiResult<NamedMcpServerConfigs> {
    Ok(Json(app.list_named_mcp_servers().await?))
}

async fn add(
    State(app): State<Service>,
    ApiJson(req): ApiJson<NamedMcpServerConfig>,
) -> ApiResult<Vec<NamedMcpServerConfig>> {
    Ok(Json(app.add_named_mcp_server(req).await?))
}

async fn update(
    State(app): State<Service>,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<NamedMcpServerUpdate>,
) -> ApiResult<NamedMcpServerConfig> {
    Ok(Json(app.update_named_mcp_server(&name, req).await?))
}

async fn update_fixed(
    name: &'static str,
    State(app): State<Service>,
    ApiJson(req): ApiJson<NamedMcpServerUpdate>,
) -> ApiResult<NamedMcpServerConfig> {
    Ok(Json(app.update_named_mcp_server(name, req).await?))
}

async fn remove(
    State(app): State<Service>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Vec<NamedMcpServerConfig>> {
    Ok(Json(app.delete_named_mcp_server(&name).await?))
}

async fn remove_fixed(
    name: &'static str,
    State(app): State<Service>,
) -> ApiResult<Vec<NamedMcpServerConfig>> {
    Ok(Json(app.delete_named_mcp_server(name).await?))
}

async fn tools(
    State(app): State<Service>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Vec<ListedMcpTool>> {
    Ok(Json(app.list_named_mcp_tools(&name).await?))
}

/// Letta's `agent_id` query parameter is accepted and not needed (see the id route's refresh).
async fn resync(
    State(app): State<Service>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<McpResyncResult> {
    Ok(Json(app.resync_named_mcp_server(&name).await?))
}

async fn add_tool(
    State(app): State<Service>,
    ApiPath((name, tool)): ApiPath<(String, String)>,
) -> ApiResult<Tool> {
    Ok(Json(app.add_named_mcp_tool(&name, &tool).await?))
}

async fn add_tool_named_tools(
    State(app): State<Service>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Tool> {
    Ok(Json(app.add_named_mcp_tool(&name, "tools").await?))
}

/// An empty body means no arguments.
async fn execute(
    State(app): State<Service>,
    ApiPath((name, tool)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<McpToolRun>,
) -> ApiResult<McpToolExecution> {
    Ok(Json(
        app.execute_named_mcp_tool(&name, &tool, req.args).await?,
    ))
}

async fn test(
    State(app): State<Service>,
    ApiJson(req): ApiJson<NamedMcpServerConfig>,
) -> ApiResult<McpServerTestResult> {
    Ok(Json(app.test_mcp_config(req).await?))
}

async fn connect(
    State(app): State<Service>,
    ApiJson(req): ApiJson<NamedMcpServerConfig>,
) -> Response {
    connect_response(app.connect_mcp_config(req))
}

async fn connect_stored(
    State(app): State<Service>,
    ApiPath(id): ApiPath<McpServerId>,
) -> Result<Response, ApiError> {
    Ok(connect_response(app.connect_mcp_server(id).await?))
}

/// The attempt goes out at once, the outcome when the connection ends; then the stream closes
/// (Letta sends no `[DONE]` here).
fn connect_response(c: McpConnect) -> Response {
    let first = stream::once(std::future::ready(c.attempt.frame()));
    let last = c.outcome.map(|event| event.frame()).into_stream();
    let frames = first
        .chain(last)
        .map(|frame| Ok::<_, Infallible>(Bytes::from(frame)));
    event_stream(Body::from_stream(frames))
}

/// Letta's OAuth callback parameters; none of them can complete anything here.
async fn oauth_callback(
    State(app): State<Service>,
    ApiQuery(q): ApiQuery<McpOAuthCallback>,
) -> Result<Json<()>, ApiError> {
    app.mcp_oauth_callback(q)?;
    Ok(Json(()))
}
