//! Letta's older MCP API under `/v1/tools/mcp/...`: the servers of `/v1/mcp-servers/` addressed
//! by name and shown as configs, their tools listed live from the server, one tool registered
//! on request, tools executed by name, and connection tests (one answer, or a stream of
//! events) of configs that are not stored.
//!
//! mneme runs no OAuth flow: a server that demands authorization ends a connection test with
//! an error that says how to give it a token instead.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use mneme_mcp::schema::{SchemaHealth, letta_schema, listed_schema};
use mneme_mcp::{McpError, McpManager, McpTool};
use mneme_store::StoreError;
use mneme_types::{
    CreateMcpServer, ListedMcpTool, McpConnectEvent, McpOAuthCallback, McpResyncResult, McpServer,
    McpServerId, McpServerTestResult, McpToolDefinition, McpToolExecution, McpToolHealth,
    NamedMcpServerConfig, NamedMcpServerConfigs, NamedMcpServerUpdate, Tool,
};
use serde_json::{Map, Value};

use crate::mcp::{mcp_error, registered_tool};
use crate::{Result, Service, ServiceError};

/// A connection test as a stream: the attempt, announced at once, then how it ended.
pub struct McpConnect {
    pub attempt: McpConnectEvent,
    pub outcome: BoxFuture<'static, McpConnectEvent>,
}

impl Service {
    /// `GET /v1/tools/mcp/servers`: every server, oldest first, keyed by name.
    pub async fn list_named_mcp_servers(&self) -> Result<NamedMcpServerConfigs> {
        let servers = self.store.list_mcp_servers().await?;
        Ok(NamedMcpServerConfigs(
            servers.into_iter().map(named).collect(),
        ))
    }

    /// `PUT /v1/tools/mcp/servers`: creates the server (registering its tools if it answers)
    /// and answers every server's config, as Letta does.
    pub async fn add_named_mcp_server(
        &self,
        req: NamedMcpServerConfig,
    ) -> Result<Vec<NamedMcpServerConfig>> {
        let create = CreateMcpServer {
            server_name: req.server_name,
            config: req.config,
        };
        self.create_mcp_server(create).await?;
        Ok(self.list_named_mcp_servers().await?.0)
    }

    /// `PATCH /v1/tools/mcp/servers/{name}`.
    pub async fn update_named_mcp_server(
        &self,
        name: &str,
        req: NamedMcpServerUpdate,
    ) -> Result<NamedMcpServerConfig> {
        let server = self.store.mcp_server_by_name(name).await?;
        let new_name = req.server_name.clone();
        let config = req
            .apply(&server.config)
            .map_err(ServiceError::Unprocessable)?;
        let updated = self.write_mcp_server(server.id, new_name, config).await?;
        Ok(named(updated))
    }

    /// `DELETE /v1/tools/mcp/servers/{name}`: the configs of the servers left.
    pub async fn delete_named_mcp_server(&self, name: &str) -> Result<Vec<NamedMcpServerConfig>> {
        let server = self.store.mcp_server_by_name(name).await?;
        self.delete_mcp_server(server.id).await?;
        Ok(self.list_named_mcp_servers().await?.0)
    }

    /// `GET /v1/tools/mcp/servers/{name}/tools`: the tools the server lists now, their schemas
    /// repaired and judged as Letta does (registered or not).
    pub async fn list_named_mcp_tools(&self, name: &str) -> Result<Vec<ListedMcpTool>> {
        let server = self.store.mcp_server_by_name(name).await?;
        let tools = self.live_tools(&server).await?;
        Ok(tools.iter().map(listed).collect())
    }

    /// `POST /v1/tools/mcp/servers/{name}/resync`: the id route's refresh.
    pub async fn resync_named_mcp_server(&self, name: &str) -> Result<McpResyncResult> {
        let server = self.store.mcp_server_by_name(name).await?;
        self.refresh_mcp_server(server.id).await
    }

    /// `POST /v1/tools/mcp/servers/{name}/{tool}`: registers one of the server's tools (or
    /// updates its registration). As in Letta, a tool whose schema is invalid is registered
    /// anyway when asked for by name; only the automatic registration skips it.
    pub async fn add_named_mcp_tool(&self, name: &str, tool_name: &str) -> Result<Tool> {
        let server = self.store.mcp_server_by_name(name).await?;
        let tools = self.live_tools(&server).await?;
        let Some(tool) = tools.iter().find(|t| t.name == tool_name) else {
            let available: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            return Err(ServiceError::BadRequest(format!(
                "Tool {tool_name} not found in MCP server {name} - available tools: {}",
                available.join(", ")
            )));
        };
        let (schema, health) = letta_schema(tool);
        if health == SchemaHealth::Invalid {
            tracing::warn!(server = %server.id, tool = %tool_name,
                "registering an MCP tool whose input schema is invalid, as asked");
        }
        let sync = (self.store)
            .sync_mcp_tools(server.id, vec![registered_tool(tool, schema)], false)
            .await?;
        if !sync.skipped.is_empty() {
            return Err(StoreError::Conflict(format!(
                "a tool named '{tool_name}' already exists and is not a tool of an MCP server"
            ))
            .into());
        }
        let registered = self.store.mcp_server_tools(server.id).await?;
        registered
            .into_iter()
            .find(|t| t.name == tool_name)
            .ok_or_else(|| StoreError::not_found("Tool", tool_name).into())
    }

    /// `POST /v1/tools/mcp/servers/{name}/tools/{tool}/execute`: runs a tool by its MCP name,
    /// registered or not. The tool's failure, or the server refusing the call, is
    /// `success: false`; an unreachable server is an error of the request.
    pub async fn execute_named_mcp_tool(
        &self,
        name: &str,
        tool_name: &str,
        args: Map<String, Value>,
    ) -> Result<McpToolExecution> {
        let server = self.store.mcp_server_by_name(name).await?;
        let call = self
            .mcp
            .call_tool(server.id, &server.config, tool_name, args)
            .await;
        match call {
            Ok(r) => Ok(McpToolExecution {
                result: r.text,
                success: !r.is_error,
            }),
            Err(e @ McpError::Protocol { .. }) => Ok(McpToolExecution {
                result: e.to_string(),
                success: false,
            }),
            Err(e) => Err(mcp_error(e)),
        }
    }

    /// `POST /v1/tools/mcp/servers/test`: connects to a config that is not stored and lists
    /// its tools; nothing is kept.
    pub async fn test_mcp_config(&self, req: NamedMcpServerConfig) -> Result<McpServerTestResult> {
        mneme_mcp::check_config(&req.config).map_err(mcp_error)?;
        let tools = self.mcp.probe(&req.config).await.map_err(mcp_error)?;
        Ok(McpServerTestResult {
            status: "success".into(),
            tools: tools.into_iter().map(definition).collect(),
        })
    }

    /// `POST /v1/tools/mcp/servers/connect`: the connection test as Letta's event stream.
    pub fn connect_mcp_config(&self, req: NamedMcpServerConfig) -> McpConnect {
        connect(self.mcp.clone(), req)
    }

    /// `GET /v1/mcp-servers/connect/{id}`: the same for a stored server (an unknown id is a
    /// 404 before any event).
    pub async fn connect_mcp_server(&self, id: McpServerId) -> Result<McpConnect> {
        let server = self.store.get_mcp_server(id).await?;
        Ok(connect(self.mcp.clone(), named(server)))
    }

    /// `GET /v1/tools/mcp/oauth/callback`: always a 400, since mneme starts no OAuth flow and
    /// so has no session this callback could complete.
    pub fn mcp_oauth_callback(&self, q: McpOAuthCallback) -> Result<()> {
        let mut msg = "mneme does not run MCP OAuth flows, so there is no authorization to \
                       complete here; give the MCP server a token through auth_header and \
                       auth_token (or custom_headers) instead"
            .to_owned();
        if let Some(error) = q.error {
            let more = q.error_description.map(|d| format!(" - {d}"));
            msg.push_str(&format!(
                " (the authorization server reported: {error}{})",
                more.unwrap_or_default()
            ));
        }
        Err(ServiceError::BadRequest(msg))
    }

    async fn live_tools(&self, server: &McpServer) -> Result<Vec<McpTool>> {
        self.mcp
            .list_tools(server.id, &server.config)
            .await
            .map_err(mcp_error)
    }
}

fn connect(mcp: Arc<McpManager>, req: NamedMcpServerConfig) -> McpConnect {
    let attempt = McpConnectEvent::ConnectionAttempt {
        server_name: req.server_name.clone(),
    };
    let outcome = Box::pin(async move {
        if let Err(e) = mneme_mcp::check_config(&req.config) {
            return McpConnectEvent::Error {
                message: e.to_string(),
            };
        }
        match mcp.probe(&req.config).await {
            Ok(tools) => McpConnectEvent::Success {
                tools: tools.into_iter().map(definition).collect(),
            },
            Err(e) if e.needs_authorization() => McpConnectEvent::Error {
                message: format!(
                    "{e}. The server asks for OAuth authorization, which mneme does not \
                     perform: give it a token through auth_header and auth_token (or \
                     custom_headers) instead"
                ),
            },
            Err(e) => McpConnectEvent::Error {
                message: format!("Connection failed: {e}"),
            },
        }
    });
    McpConnect { attempt, outcome }
}

fn named(server: McpServer) -> NamedMcpServerConfig {
    NamedMcpServerConfig {
        server_name: server.server_name,
        config: server.config,
    }
}

fn definition(t: McpTool) -> McpToolDefinition {
    McpToolDefinition {
        name: t.name,
        title: t.title,
        description: t.description,
        input_schema: t.input_schema,
        output_schema: t.output_schema,
        icons: t.icons,
        annotations: t.annotations,
        meta: t.meta,
    }
}

fn listed(t: &McpTool) -> ListedMcpTool {
    let (schema, verdict) = listed_schema(&t.input_schema);
    let health = verdict.map(|(status, reasons)| McpToolHealth {
        status: status.as_str().into(),
        reasons,
    });
    let mut tool = definition(t.clone());
    tool.input_schema = schema;
    ListedMcpTool { tool, health }
}
