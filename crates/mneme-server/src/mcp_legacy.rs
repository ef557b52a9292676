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
use axum::routing::{MethodRouter, delete, get, post};
use futures_util::{FutureExt, StreamExt, stream};
use mneme_service::{McpConnect, Service};
use mneme_types::{
    ListedMcpTool, McpOAuthCallback, McpResyncResult, McpServerId, McpServerTestResult,
    McpToolExecution, McpToolRun, NamedMcpServerConfig, NamedMcpServerConfigs,
    NamedMcpServerUpdate, Tool,
};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::sse::event_stream;

type ApiResult<T> = Result<Json<T>, ApiError>;

pub(crate) fn routes() -> Vec<(&'static str, MethodRouter<Service>)> {
    vec![
        ("/v1/tools/mcp/servers", get(list).put(add)),
        (
            "/v1/tools/mcp/servers/test",
            post(test)
                .patch(|s: State<Service>, b: ApiJson<NamedMcpServerUpdate>| {
                    update_fixed("test", s, b)
                })
                .delete(|s: State<Service>| remove_fixed("test", s)),
        ),
        (
            "/v1/tools/mcp/servers/connect",
            post(connect)
                .patch(|s: State<Service>, b: ApiJson<NamedMcpServerUpdate>| {
                    update_fixed("connect", s, b)
                })
                .delete(|s: State<Service>| remove_fixed("connect", s)),
        ),
        (
            "/v1/tools/mcp/servers/{mcp_server_name}",
            delete(remove).patch(update),
        ),
        (
            "/v1/tools/mcp/servers/{mcp_server_name}/tools",
            get(tools).post(add_tool_named_tools),
        ),
        (
            "/v1/tools/mcp/servers/{mcp_server_name}/resync",
            post(resync),
        ),
        (
            "/v1/tools/mcp/servers/{mcp_server_name}/{mcp_tool_name}",
            post(add_tool),
        ),
        (
            "/v1/tools/mcp/servers/{mcp_server_name}/tools/{tool_name}/execute",
            post(execute),
        ),
        ("/v1/tools/mcp/oauth/callback", get(oauth_callback)),
        (
            "/v1/mcp-servers/connect/{mcp_server_id}",
            get(connect_stored),
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
