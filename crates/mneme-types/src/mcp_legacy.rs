//! Letta's older, name-keyed MCP API under `/v1/tools/mcp/...`: a server is addressed by its
//! name and shown as its config (`SSEServerConfig`, `StdioServerConfig`,
//! `StreamableHTTPServerConfig`: `server_name`, `type`, then the transport's fields), a server's
//! tools as the server lists them (`MCPTool`), and the connection test's event stream.
//!
//! The servers are the same ones `/v1/mcp-servers/` serves by id; only the shapes differ.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::{McpServerConfig, McpServerType};

/// A server as Letta's config types show it: `{"server_name", "type", ...fields}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedMcpServerConfig {
    pub server_name: String,
    pub config: McpServerConfig,
}

impl Serialize for NamedMcpServerConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a, C> {
            server_name: &'a str,
            #[serde(rename = "type")]
            kind: McpServerType,
            #[serde(flatten)]
            config: &'a C,
        }
        let name = &self.server_name;
        let kind = self.config.server_type();
        match &self.config {
            McpServerConfig::Stdio(c) => Wire {
                server_name: name,
                kind,
                config: c,
            }
            .serialize(s),
            McpServerConfig::Sse(c) | McpServerConfig::StreamableHttp(c) => Wire {
                server_name: name,
                kind,
                config: c,
            }
            .serialize(s),
        }
    }
}

/// `type` may be left out, as Letta's request union allows: a body with a `command` is a stdio
/// server, any other an SSE server (the first URL type of Letta's union).
impl<'de> Deserialize<'de> for NamedMcpServerConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(d)?;
        let server_name = match map.remove("server_name") {
            Some(Value::String(name)) => name,
            Some(_) => return Err(D::Error::custom("server_name must be a string")),
            None => return Err(D::Error::missing_field("server_name")),
        };
        let kind = match map.remove("type") {
            Some(Value::Null) | None if map.contains_key("command") => McpServerType::Stdio,
            Some(Value::Null) | None => McpServerType::Sse,
            Some(kind) => McpServerType::deserialize(kind).map_err(D::Error::custom)?,
        };
        map.insert(
            "mcp_server_type".into(),
            Value::String(kind.as_str().into()),
        );
        let config = McpServerConfig::deserialize(Value::Object(map)).map_err(D::Error::custom)?;
        Ok(NamedMcpServerConfig {
            server_name,
            config,
        })
    }
}

/// `GET /v1/tools/mcp/servers`: every server's config keyed by its name, in the order given
/// (oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamedMcpServerConfigs(pub Vec<NamedMcpServerConfig>);

impl Serialize for NamedMcpServerConfigs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for server in &self.0 {
            map.serialize_entry(&server.server_name, server)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for NamedMcpServerConfigs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        let servers = map
            .into_values()
            .map(NamedMcpServerConfig::deserialize)
            .collect::<Result<_, _>>()
            .map_err(D::Error::custom)?;
        Ok(NamedMcpServerConfigs(servers))
    }
}

/// `PATCH /v1/tools/mcp/servers/{name}`: Letta's `UpdateStdioMCPServer | UpdateSSEMCPServer |
/// UpdateStreamableHTTPMCPServer` read as one body. A stdio server changes through a whole
/// `stdio_config`; a URL server through its fields, `token` being the bearer token of SSE
/// updates (sent as `Authorization: Bearer <token>`). Present, non-null fields change.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct NamedMcpServerUpdate {
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub stdio_config: Option<NamedMcpServerConfig>,
    #[serde(default)]
    pub server_url: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub auth_header: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
    #[serde(default)]
    pub custom_headers: Option<BTreeMap<String, String>>,
}

impl NamedMcpServerUpdate {
    /// The server's config after the update; `Err` says why the update cannot apply.
    pub fn apply(self, current: &McpServerConfig) -> Result<McpServerConfig, String> {
        let url_fields = self.server_url.is_some()
            || self.token.is_some()
            || self.auth_header.is_some()
            || self.auth_token.is_some()
            || self.custom_headers.is_some();
        if let Some(stdio) = self.stdio_config {
            if url_fields {
                return Err("stdio_config cannot be combined with URL server fields".into());
            }
            return match stdio.config {
                McpServerConfig::Stdio(c) => Ok(McpServerConfig::Stdio(c)),
                other => Err(format!(
                    "stdio_config must be a stdio config, got type '{}'",
                    other.server_type()
                )),
            };
        }
        let http = match current {
            McpServerConfig::Stdio(_) if url_fields => {
                return Err("this is a stdio server: change it with stdio_config".into());
            }
            McpServerConfig::Stdio(_) => return Ok(current.clone()),
            McpServerConfig::Sse(c) | McpServerConfig::StreamableHttp(c) => c,
        };
        let mut next = http.clone();
        if let Some(url) = self.server_url {
            next.server_url = url;
        }
        if let Some(headers) = self.custom_headers {
            next.custom_headers = Some(headers);
        }
        if let Some(token) = self.token {
            let token = token.strip_prefix("Bearer ").unwrap_or(&token);
            next.auth_header = Some("Authorization".into());
            next.auth_token = Some(format!("Bearer {token}"));
        }
        if let Some(header) = self.auth_header {
            next.auth_header = Some(header);
        }
        if let Some(token) = self.auth_token {
            next.auth_token = Some(token);
        }
        Ok(match current {
            McpServerConfig::Sse(_) => McpServerConfig::Sse(next),
            _ => McpServerConfig::StreamableHttp(next),
        })
    }
}

/// An MCP tool as its server lists it (MCP's `Tool`, in MCP's camelCase keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct McpToolDefinition {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "inputSchema")]
    pub input_schema: Map<String, Value>,
    #[serde(rename = "outputSchema", default)]
    pub output_schema: Option<Map<String, Value>>,
    #[serde(default)]
    pub icons: Option<Value>,
    #[serde(default)]
    pub annotations: Option<Value>,
    #[serde(rename = "_meta", default)]
    pub meta: Option<Map<String, Value>>,
}

/// `MCPToolHealth`: whether OpenAI's strict mode takes the tool's schema, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct McpToolHealth {
    /// `STRICT_COMPLIANT`, `NON_STRICT_ONLY` or `INVALID`.
    pub status: String,
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// `MCPTool` of `GET /v1/tools/mcp/servers/{name}/tools`: the definition, its input schema
/// repaired as Letta repairs it, and the schema's health (`null` for an empty schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListedMcpTool {
    #[serde(flatten)]
    pub tool: McpToolDefinition,
    #[serde(default)]
    pub health: Option<McpToolHealth>,
}

/// `POST /v1/tools/mcp/servers/test`: `{"status": "success", "tools": [...]}` (a failure is
/// an error response, not a status).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct McpServerTestResult {
    pub status: String,
    pub tools: Vec<McpToolDefinition>,
}

/// `POST /v1/tools/mcp/servers/{name}/tools/{tool}/execute`: the tool's text and whether it
/// succeeded (`false` for the tool's own error or the server refusing the call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct McpToolExecution {
    pub result: String,
    pub success: bool,
}

/// One event of the connect streams (`POST /v1/tools/mcp/servers/connect`,
/// `GET /v1/mcp-servers/connect/{id}`), each an unnamed SSE `data:` frame. mneme runs no OAuth
/// flow, so Letta's `oauth_required`, `authorization_url` and `waiting_for_auth` never occur.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum McpConnectEvent {
    ConnectionAttempt { server_name: String },
    Success { tools: Vec<McpToolDefinition> },
    Error { message: String },
}

impl McpConnectEvent {
    /// The SSE frame: `data: <json>` and a blank line.
    pub fn frame(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{}".into());
        format!("data: {json}\n\n")
    }
}

/// The query of `GET /v1/tools/mcp/oauth/callback`, as an authorization server sends it.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct McpOAuthCallback {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// `{"server_name", "type", ...}` and the fields of the server's type (hand-written serde).
impl schemars::JsonSchema for NamedMcpServerConfig {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NamedMcpServerConfig".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let kind = generator.subschema_for::<McpServerType>();
        schemars::json_schema!({
            "type": "object",
            "description": "A server's config under its name: `server_name`, `type` and the fields of that type (`command`, `args`, `env` for stdio; `server_url`, `auth_header`, `auth_token`, `custom_headers` for SSE and streamable HTTP).",
            "properties": { "server_name": { "type": "string" }, "type": kind },
            "required": ["server_name"],
        })
    }
}

/// Every server's config keyed by its name.
impl schemars::JsonSchema for NamedMcpServerConfigs {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NamedMcpServerConfigs".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let config = generator.subschema_for::<NamedMcpServerConfig>();
        schemars::json_schema!({ "type": "object", "additionalProperties": config })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HttpServerConfig, StdioServerConfig};
    use serde_json::json;

    #[test]
    fn configs_show_name_and_type_first_and_read_back() {
        let sse = NamedMcpServerConfig {
            server_name: "web".into(),
            config: McpServerConfig::Sse(HttpServerConfig {
                server_url: "http://h/sse".into(),
                auth_header: None,
                auth_token: None,
                custom_headers: None,
            }),
        };
        let text = serde_json::to_string(&sse).unwrap();
        assert!(
            text.starts_with(r#"{"server_name":"web","type":"sse","server_url":"#),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<NamedMcpServerConfig>(&text).unwrap(),
            sse
        );
        let listed = serde_json::to_value(NamedMcpServerConfigs(vec![sse])).unwrap();
        assert_eq!(listed["web"]["type"], "sse");
    }

    #[test]
    fn a_missing_type_is_inferred_from_the_fields() {
        let stdio: NamedMcpServerConfig =
            serde_json::from_value(json!({"server_name": "s", "command": "py", "args": []}))
                .unwrap();
        assert_eq!(stdio.config.server_type(), McpServerType::Stdio);
        let url: NamedMcpServerConfig =
            serde_json::from_value(json!({"server_name": "u", "server_url": "http://h/"})).unwrap();
        assert_eq!(url.config.server_type(), McpServerType::Sse);
        let bad = serde_json::from_value::<NamedMcpServerConfig>(
            json!({"server_name": "u", "type": "stdio", "server_url": "http://h/"}),
        );
        assert!(bad.is_err());
    }

    #[test]
    fn an_sse_token_becomes_a_bearer_header() {
        let current = McpServerConfig::Sse(HttpServerConfig {
            server_url: "http://h/sse".into(),
            auth_header: None,
            auth_token: None,
            custom_headers: None,
        });
        let update: NamedMcpServerUpdate = serde_json::from_value(json!({"token": "t0"})).unwrap();
        let McpServerConfig::Sse(next) = update.apply(&current).unwrap() else {
            panic!("type changed")
        };
        assert_eq!(next.auth_header.as_deref(), Some("Authorization"));
        assert_eq!(next.auth_token.as_deref(), Some("Bearer t0"));
        let to_stdio: NamedMcpServerUpdate =
            serde_json::from_value(json!({"server_url": "http://x/"})).unwrap();
        let stdio = McpServerConfig::Stdio(StdioServerConfig {
            command: "py".into(),
            args: vec![],
            env: None,
        });
        assert!(to_stdio.apply(&stdio).is_err());
    }

    #[test]
    fn connect_events_are_tagged_data_frames() {
        let frame = McpConnectEvent::Error {
            message: "no".into(),
        }
        .frame();
        assert_eq!(frame, "data: {\"event\":\"error\",\"message\":\"no\"}\n\n");
    }
}
