//! MCP servers: the three server kinds Letta knows (stdio, SSE, streamable HTTP), their create
//! and update requests, and the server as the API returns it.
//!
//! The wire shape is flat: `{"mcp_server_type": "stdio", "command": ..., "args": ..., "env": ...,
//! "id": ..., "server_name": ...}`, so a server is its config (tagged by `mcp_server_type`)
//! flattened beside its id and name.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::McpServerId;

/// `MCPServerType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum McpServerType {
    Stdio,
    Sse,
    StreamableHttp,
}

impl McpServerType {
    pub fn as_str(self) -> &'static str {
        match self {
            McpServerType::Stdio => "stdio",
            McpServerType::Sse => "sse",
            McpServerType::StreamableHttp => "streamable_http",
        }
    }
}

impl fmt::Display for McpServerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to reach a server: a command to spawn, or a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "mcp_server_type", rename_all = "snake_case")]
pub enum McpServerConfig {
    Stdio(StdioServerConfig),
    /// The legacy HTTP+SSE transport (protocol 2024-11-05): `GET` an event stream, `POST`
    /// messages to the endpoint it names.
    Sse(HttpServerConfig),
    StreamableHttp(HttpServerConfig),
}

impl McpServerConfig {
    pub fn server_type(&self) -> McpServerType {
        match self {
            McpServerConfig::Stdio(_) => McpServerType::Stdio,
            McpServerConfig::Sse(_) => McpServerType::Sse,
            McpServerConfig::StreamableHttp(_) => McpServerType::StreamableHttp,
        }
    }
}

/// `CreateStdioMCPServer` without its tag: a local process speaking MCP on stdin/stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StdioServerConfig {
    pub command: String,
    pub args: Vec<String>,
    /// The child's whole environment besides `PATH`, `HOME` and `LANG`.
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
}

/// `CreateSSEMCPServer` / `CreateStreamableHTTPMCPServer` without their tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HttpServerConfig {
    pub server_url: String,
    /// The header that carries `auth_token` (e.g. `Authorization`).
    #[serde(default)]
    pub auth_header: Option<String>,
    /// The header's whole value (e.g. `Bearer sk-...`).
    #[serde(default)]
    pub auth_token: Option<String>,
    #[serde(default)]
    pub custom_headers: Option<BTreeMap<String, String>>,
}

/// `StdioMCPServer | SSEMCPServer | StreamableHTTPMCPServer`, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct McpServer {
    #[serde(flatten)]
    pub config: McpServerConfig,
    pub id: McpServerId,
    pub server_name: String,
}

/// `CreateMCPServerRequest`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct CreateMcpServer {
    pub server_name: String,
    pub config: McpServerConfig,
}

/// `ToolExecuteRequest` of `POST /v1/mcp-servers/{id}/tools/{tool_id}/run`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct McpToolRun {
    #[serde(default)]
    pub args: serde_json::Map<String, serde_json::Value>,
}

/// `UpdateMCPServerRequest`: present, non-null fields change.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct UpdateMcpServer {
    #[serde(default)]
    pub server_name: Option<String>,
    pub config: McpServerConfigUpdate,
}

/// `UpdateStdioMCPServer | UpdateSSEMCPServer | UpdateStreamableHTTPMCPServer`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(tag = "mcp_server_type", rename_all = "snake_case")]
pub enum McpServerConfigUpdate {
    Stdio {
        #[serde(default)]
        command: Option<String>,
        #[serde(default)]
        args: Option<Vec<String>>,
        #[serde(default)]
        env: Option<BTreeMap<String, String>>,
    },
    Sse(HttpServerConfigUpdate),
    StreamableHttp(HttpServerConfigUpdate),
}

/// The URL servers' update fields.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct HttpServerConfigUpdate {
    #[serde(default)]
    pub server_url: Option<String>,
    #[serde(default)]
    pub auth_header: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
    #[serde(default)]
    pub custom_headers: Option<BTreeMap<String, String>>,
}

impl McpServerConfigUpdate {
    pub fn server_type(&self) -> McpServerType {
        match self {
            McpServerConfigUpdate::Stdio { .. } => McpServerType::Stdio,
            McpServerConfigUpdate::Sse(_) => McpServerType::Sse,
            McpServerConfigUpdate::StreamableHttp(_) => McpServerType::StreamableHttp,
        }
    }

    /// Applies the update to `current`. A different server type replaces the config, so the
    /// update must then be complete; `Err` names what is missing.
    pub fn apply(self, current: &McpServerConfig) -> Result<McpServerConfig, String> {
        use McpServerConfig as C;
        use McpServerConfigUpdate as U;
        let missing = |field: &str| {
            format!(
                "changing the server to {} needs '{field}'",
                self.server_type()
            )
        };
        Ok(match (&self, current) {
            (U::Stdio { command, args, env }, C::Stdio(cur)) => C::Stdio(StdioServerConfig {
                command: command.clone().unwrap_or_else(|| cur.command.clone()),
                args: args.clone().unwrap_or_else(|| cur.args.clone()),
                env: env.clone().or_else(|| cur.env.clone()),
            }),
            (U::Stdio { command, args, env }, _) => C::Stdio(StdioServerConfig {
                command: command.clone().ok_or_else(|| missing("command"))?,
                args: args.clone().unwrap_or_default(),
                env: env.clone(),
            }),
            (U::Sse(u), C::Sse(cur)) => C::Sse(u.apply(cur)),
            (U::StreamableHttp(u), C::StreamableHttp(cur)) => C::StreamableHttp(u.apply(cur)),
            (U::Sse(u) | U::StreamableHttp(u), _) => {
                let fresh = HttpServerConfig {
                    server_url: u.server_url.clone().ok_or_else(|| missing("server_url"))?,
                    auth_header: None,
                    auth_token: None,
                    custom_headers: None,
                };
                let config = u.apply(&fresh);
                match self {
                    U::Sse(_) => C::Sse(config),
                    _ => C::StreamableHttp(config),
                }
            }
        })
    }
}

impl HttpServerConfigUpdate {
    fn apply(&self, cur: &HttpServerConfig) -> HttpServerConfig {
        HttpServerConfig {
            server_url: self
                .server_url
                .clone()
                .unwrap_or_else(|| cur.server_url.clone()),
            auth_header: self.auth_header.clone().or_else(|| cur.auth_header.clone()),
            auth_token: self.auth_token.clone().or_else(|| cur.auth_token.clone()),
            custom_headers: self
                .custom_headers
                .clone()
                .or_else(|| cur.custom_headers.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn servers_are_flat_with_their_tag_first() {
        let server = McpServer {
            config: McpServerConfig::Stdio(StdioServerConfig {
                command: "python".into(),
                args: vec!["server.py".into()],
                env: None,
            }),
            id: McpServerId::new(),
            server_name: "calc".into(),
        };
        let v = serde_json::to_value(&server).unwrap();
        assert_eq!(v["mcp_server_type"], "stdio");
        assert_eq!(v["command"], "python");
        assert_eq!(v["env"], json!(null));
        assert!(v["id"].as_str().unwrap().starts_with("mcp_server-"));
        let text = serde_json::to_string(&server).unwrap();
        assert!(text.starts_with(r#"{"mcp_server_type":"stdio""#), "{text}");
        assert_eq!(serde_json::from_value::<McpServer>(v).unwrap(), server);
    }

    #[test]
    fn create_requests_need_their_tag() {
        let ok: CreateMcpServer = serde_json::from_value(json!({
            "server_name": "web",
            "config": {"mcp_server_type": "streamable_http", "server_url": "http://127.0.0.1:1/mcp"}
        }))
        .unwrap();
        assert_eq!(ok.config.server_type(), McpServerType::StreamableHttp);
        let untagged = serde_json::from_value::<CreateMcpServer>(json!({
            "server_name": "x", "config": {"command": "python", "args": []}
        }));
        assert!(untagged.is_err());
    }

    #[test]
    fn updates_keep_what_they_do_not_name() {
        let cur = McpServerConfig::Sse(HttpServerConfig {
            server_url: "http://a/sse".into(),
            auth_header: Some("Authorization".into()),
            auth_token: Some("Bearer x".into()),
            custom_headers: None,
        });
        let u: McpServerConfigUpdate = serde_json::from_value(
            json!({"mcp_server_type": "sse", "server_url": "http://b/sse", "auth_token": null}),
        )
        .unwrap();
        let McpServerConfig::Sse(new) = u.apply(&cur).unwrap() else {
            panic!("type changed")
        };
        assert_eq!(new.server_url, "http://b/sse");
        assert_eq!(new.auth_token.as_deref(), Some("Bearer x"));

        let to_stdio: McpServerConfigUpdate =
            serde_json::from_value(json!({"mcp_server_type": "stdio", "args": ["a"]})).unwrap();
        assert!(to_stdio.apply(&cur).unwrap_err().contains("command"));
    }
}

/// `PATCH /v1/mcp-servers/{id}/refresh` (Letta's `MCPServerResyncResult`): the tools, by name,
/// deleted because the server no longer lists them, updated, and added.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct McpResyncResult {
    pub deleted: Vec<String>,
    pub updated: Vec<String>,
    pub added: Vec<String>,
}
