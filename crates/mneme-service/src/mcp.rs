//! MCP server use cases: registering servers, their tools in the tool registry (as Letta does:
//! `external_mcp` tools tagged `mcp:<server name>`, the server in `metadata_.mcp`), running them
//! directly, and the runtime's side of calling them from agents (`McpRuntime`).

use std::sync::Arc;

use mneme_agent::McpTools;
use mneme_agent::tools::ToolOutcome;
use mneme_mcp::schema::{SchemaHealth, letta_schema};
use mneme_mcp::{McpError, McpManager, McpTool};
use mneme_store::{McpToolSync, Store, StoreError};
use mneme_types::{
    CreateMcpServer, McpResyncResult, McpServer, McpServerConfig, McpServerId, McpToolRun, Tool,
    ToolExecutionResult, ToolExecutionStatus, ToolId, UpdateMcpServer,
};
use serde_json::{Map, Value};

use crate::{Result, Service, ServiceError};

impl Service {
    /// `POST /v1/mcp-servers/`: stores the server, then registers its tools if it answers (a
    /// server that does not is still created, as in Letta; listing its tools retries).
    pub async fn create_mcp_server(&self, req: CreateMcpServer) -> Result<McpServer> {
        let name = check_name(&req.server_name)?;
        mneme_mcp::check_config(&req.config).map_err(mcp_error)?;
        let server = McpServer {
            config: req.config,
            id: McpServerId::new(),
            server_name: name,
        };
        let server = self.store.create_mcp_server(server).await?;
        if let Err(e) = self.sync_mcp_tools(&server, false).await {
            tracing::warn!(server = %server.id, error = %e, "could not register the MCP server's tools");
        }
        Ok(server)
    }

    pub async fn list_mcp_servers(&self) -> Result<Vec<McpServer>> {
        Ok(self.store.list_mcp_servers().await?)
    }

    pub async fn get_mcp_server(&self, id: McpServerId) -> Result<McpServer> {
        Ok(self.store.get_mcp_server(id).await?)
    }

    /// `PATCH /v1/mcp-servers/{id}`: present, non-null fields change; a new server type needs a
    /// complete config. The open connection, made for the old config, is closed.
    pub async fn update_mcp_server(
        &self,
        id: McpServerId,
        req: UpdateMcpServer,
    ) -> Result<McpServer> {
        let current = self.store.get_mcp_server(id).await?;
        let config = req
            .config
            .apply(&current.config)
            .map_err(ServiceError::Unprocessable)?;
        self.write_mcp_server(id, req.server_name, config).await
    }

    /// Stores a server's new config (and name, if given), then closes its connection, which
    /// was made for the old config.
    pub(crate) async fn write_mcp_server(
        &self,
        id: McpServerId,
        name: Option<String>,
        config: McpServerConfig,
    ) -> Result<McpServer> {
        let name = name.as_deref().map(check_name).transpose()?;
        mneme_mcp::check_config(&config).map_err(mcp_error)?;
        let edit = Box::new(move |s: &mut McpServer| {
            s.config = config;
            if let Some(name) = name {
                s.server_name = name;
            }
            Ok(())
        });
        let server = self.store.update_mcp_server(id, edit).await?;
        self.mcp.close(id).await;
        Ok(server)
    }

    /// Deletes the server and its registered tools (detached from every agent), and ends its
    /// connection.
    pub async fn delete_mcp_server(&self, id: McpServerId) -> Result<()> {
        self.store.delete_mcp_server(id).await?;
        self.mcp.close(id).await;
        Ok(())
    }

    /// `GET /v1/mcp-servers/{id}/tools`: the registered tools; a server none were registered
    /// from (it did not answer at creation) is asked for them first.
    pub async fn mcp_server_tools(&self, id: McpServerId) -> Result<Vec<Tool>> {
        let tools = self.store.mcp_server_tools(id).await?;
        if !tools.is_empty() {
            return Ok(tools);
        }
        let server = self.store.get_mcp_server(id).await?;
        self.sync_mcp_tools(&server, false).await?;
        Ok(self.store.mcp_server_tools(id).await?)
    }

    pub async fn mcp_server_tool(&self, id: McpServerId, tool: ToolId) -> Result<Tool> {
        let found = self.store.get_tool(tool).await?;
        if found.mcp_server_id() != Some(id) {
            return Err(StoreError::not_found("Tool", format!("{tool} on MCP server {id}")).into());
        }
        Ok(found)
    }

    /// `POST /v1/mcp-servers/{id}/tools/{tool_id}/run`: a `ToolExecutionResult`. The tool's
    /// failure (or the server refusing the call) is `status: error`; an unreachable server is
    /// an error of the request.
    pub async fn run_mcp_tool(
        &self,
        id: McpServerId,
        tool: ToolId,
        req: McpToolRun,
    ) -> Result<ToolExecutionResult> {
        let tool = self.mcp_server_tool(id, tool).await?;
        let server = self.store.get_mcp_server(id).await?;
        let (ok, text) = match self
            .mcp
            .call_tool(id, &server.config, &tool.name, req.args)
            .await
        {
            Ok(r) => (!r.is_error, r.text),
            Err(e @ McpError::Protocol { .. }) => (false, e.to_string()),
            Err(e) => return Err(mcp_error(e)),
        };
        Ok(ToolExecutionResult {
            status: if ok {
                ToolExecutionStatus::Success
            } else {
                ToolExecutionStatus::Error
            },
            func_return: Value::String(text),
            agent_state: None,
            stdout: None,
            stderr: None,
            sandbox_config_fingerprint: None,
        })
    }

    /// `PATCH /v1/mcp-servers/{id}/refresh`: Letta's resync — tools gone from the server are
    /// deleted, changed ones updated, new ones added.
    pub async fn refresh_mcp_server(&self, id: McpServerId) -> Result<McpResyncResult> {
        let server = self.store.get_mcp_server(id).await?;
        let sync = self.sync_mcp_tools(&server, true).await?;
        Ok(McpResyncResult {
            deleted: sync.deleted,
            updated: sync.updated,
            added: sync.added,
        })
    }

    /// Lists the server's tools and registers those whose schema function calling can take.
    async fn sync_mcp_tools(&self, server: &McpServer, prune: bool) -> Result<McpToolSync> {
        let listed = self
            .mcp
            .list_tools(server.id, &server.config)
            .await
            .map_err(mcp_error)?;
        let mut tools = Vec::with_capacity(listed.len());
        for t in &listed {
            let (schema, health) = letta_schema(t);
            if health == SchemaHealth::Invalid {
                tracing::warn!(server = %server.id, tool = %t.name, schema = %schema,
                    "skipping an MCP tool whose input schema is invalid");
                continue;
            }
            tools.push(registered_tool(t, schema));
        }
        let sync = self.store.sync_mcp_tools(server.id, tools, prune).await?;
        if !sync.skipped.is_empty() {
            tracing::warn!(server = %server.id, tools = ?sync.skipped,
                "MCP tools not registered: their names belong to other tools");
        }
        Ok(sync)
    }
}

/// The runtime's MCP calls: the tool's server from the store, the call through the manager.
pub(crate) struct McpRuntime {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) manager: Arc<McpManager>,
}

#[async_trait::async_trait]
impl McpTools for McpRuntime {
    async fn call(&self, tool: &Tool, args: Map<String, Value>) -> ToolOutcome {
        let failed = |e: &dyn std::fmt::Display| {
            ToolOutcome::failed(format!("Error executing function {}: {e}", tool.name))
        };
        let server = match tool.mcp_server_id() {
            Some(id) => self.store.get_mcp_server(id).await,
            // Letta finds the server by the tool's `mcp:<name>` tag.
            None => match tool.tags.iter().find_map(|t| t.strip_prefix("mcp:")) {
                Some(name) => self.store.mcp_server_by_name(name).await,
                None => Err(StoreError::not_found("MCP server of tool", &tool.name)),
            },
        };
        let server = match server {
            Ok(s) => s,
            Err(e) => return failed(&e),
        };
        match self
            .manager
            .call_tool(server.id, &server.config, &tool.name, args)
            .await
        {
            Ok(r) if r.is_error => ToolOutcome::failed(r.text),
            Ok(r) => ToolOutcome::from_value(Value::String(r.text)),
            Err(e) => failed(&e),
        }
    }
}

pub(crate) fn registered_tool(t: &McpTool, schema: Value) -> Tool {
    Tool {
        id: ToolId::new(),
        tool_type: "external_mcp".into(),
        name: t.name.clone(),
        description: t.description.clone(),
        source_type: Some("python".into()),
        source_code: None,
        json_schema: Some(schema),
        args_json_schema: None,
        tags: Vec::new(),
        return_char_limit: 50_000,
        pip_requirements: None,
        npm_requirements: None,
        default_requires_approval: None,
        enable_parallel_execution: Some(false),
        created_by_id: None,
        last_updated_by_id: None,
        metadata_: None,
        project_id: None,
    }
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ServiceError::Unprocessable(
            "server_name must not be empty".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Configs that cannot work are the caller's to fix (422); unreachable or silent servers are
/// Letta's 502 and 408.
pub(crate) fn mcp_error(e: McpError) -> ServiceError {
    match e {
        McpError::Config(m) => ServiceError::Unprocessable(m),
        e @ McpError::Timeout { .. } => ServiceError::McpTimeout(e.to_string()),
        e => ServiceError::McpConnection(e.to_string()),
    }
}
