//! Opening a connection for a server config: spawning a stdio child or reaching a URL, then the
//! MCP handshake.

use std::process::Stdio;

use mneme_types::{HttpServerConfig, McpServerConfig, StdioServerConfig};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Url};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::sse::{SseTransport, describe};
use crate::{McpError, McpOptions};

/// A live MCP session.
pub(crate) type Session = RunningService<RoleClient, ClientConfig>;

/// Headers the transports set themselves; a config may not override them.
const RESERVED_HEADERS: &[&str] = &["accept", "content-type", "mcp-session-id", "last-event-id"];

/// Checks what can be checked without connecting: URLs and header names and values.
pub fn check_config(config: &McpServerConfig) -> Result<(), McpError> {
    match config {
        McpServerConfig::Stdio(c) if c.command.trim().is_empty() => {
            Err(McpError::Config("command must not be empty".into()))
        }
        McpServerConfig::Stdio(_) => Ok(()),
        McpServerConfig::Sse(c) | McpServerConfig::StreamableHttp(c) => {
            url(c)?;
            headers(c)?;
            Ok(())
        }
    }
}

/// What a config points at, for messages: the URL or the command.
pub(crate) fn target(config: &McpServerConfig) -> String {
    match config {
        McpServerConfig::Stdio(c) => format!("command '{}'", c.command),
        McpServerConfig::Sse(c) | McpServerConfig::StreamableHttp(c) => {
            format!("at {}", c.server_url)
        }
    }
}

/// Connects and completes the handshake (no timeout here: the caller bounds it).
pub(crate) async fn connect(
    config: &McpServerConfig,
    options: &McpOptions,
    http: &Client,
) -> Result<Session, McpError> {
    let failed = |e: rmcp::service::ClientInitializeError| McpError::Connect {
        target: target(config),
        message: describe(&e),
    };
    match config {
        McpServerConfig::Stdio(c) => client().serve(spawn(c, options)?).await.map_err(failed),
        McpServerConfig::StreamableHttp(c) => {
            let custom = headers(c)?.into_iter().filter_map(|(k, v)| Some((k?, v)));
            let transport = StreamableHttpClientTransport::with_client(
                http.clone(),
                StreamableHttpClientTransportConfig::with_uri(url(c)?.as_str())
                    .custom_headers(custom.collect()),
            );
            client().serve(transport).await.map_err(failed)
        }
        McpServerConfig::Sse(c) => {
            let (url, headers) = (url(c)?, headers(c)?);
            let transport =
                SseTransport::connect(http.clone(), url, headers, options.call_timeout).await?;
            client().serve(transport).await.map_err(failed)
        }
    }
}

/// Who we say we are in the handshake. We answer no server requests (sampling, roots).
fn client() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("mneme", env!("CARGO_PKG_VERSION")),
    )
}

/// Starts the server's command with only the configured environment (plus `PATH`, `HOME` and
/// `LANG`): the server's own secrets never reach a user's MCP server.
fn spawn(c: &StdioServerConfig, options: &McpOptions) -> Result<TokioChildProcess, McpError> {
    let mut cmd = tokio::process::Command::new(&c.command);
    cmd.args(&c.args)
        .env_clear()
        .envs(options.stdio_env.iter().map(|(k, v)| (k, v)))
        .envs(c.env.iter().flatten())
        .kill_on_drop(true);
    let (child, stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| McpError::Spawn {
            command: c.command.clone(),
            message: e.to_string(),
        })?;
    if let Some(stderr) = stderr {
        // The child's log goes to ours at debug level; a full pipe would block the child.
        let command = c.command.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(command = %command, "mcp server: {line}");
            }
        });
    }
    Ok(child)
}

fn url(c: &HttpServerConfig) -> Result<Url, McpError> {
    let url = Url::parse(c.server_url.trim()).map_err(|e| {
        McpError::Config(format!("server_url '{}' is not a URL: {e}", c.server_url))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(McpError::Config(format!(
            "server_url must start with 'http://' or 'https://' and name a host, got '{}'",
            c.server_url
        )));
    }
    Ok(url)
}

/// The custom headers plus `auth_header: auth_token`, as Letta sends them.
fn headers(c: &HttpServerConfig) -> Result<HeaderMap, McpError> {
    let auth = match (&c.auth_header, &c.auth_token) {
        (Some(name), Some(token)) => Some((name, token)),
        _ => None,
    };
    let mut map = HeaderMap::new();
    for (name, value) in c.custom_headers.iter().flatten().chain(auth) {
        let bad = |what: &str| McpError::Config(format!("header '{name}' has an invalid {what}"));
        let header = HeaderName::try_from(name.as_str()).map_err(|_| bad("name"))?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            return Err(McpError::Config(format!(
                "header '{name}' is set by the MCP transport itself"
            )));
        }
        let mut value = HeaderValue::try_from(value.as_str()).map_err(|_| bad("value"))?;
        value.set_sensitive(true);
        map.insert(header, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(url: &str, headers: &[(&str, &str)]) -> McpServerConfig {
        McpServerConfig::StreamableHttp(HttpServerConfig {
            server_url: url.into(),
            auth_header: Some("Authorization".into()),
            auth_token: Some("Bearer t".into()),
            custom_headers: Some(
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        })
    }

    #[test]
    fn configs_are_checked_before_connecting() {
        assert!(check_config(&http("http://127.0.0.1:9/mcp", &[("X-Team", "a")])).is_ok());
        assert!(check_config(&http("ftp://host/mcp", &[])).is_err());
        assert!(check_config(&http("not a url", &[])).is_err());
        assert!(check_config(&http("http://h/mcp", &[("Accept", "x")])).is_err());
        assert!(check_config(&http("http://h/mcp", &[("bad name", "x")])).is_err());
        assert!(check_config(&http("http://h/mcp", &[("X-A", "line\nbreak")])).is_err());
    }

    #[test]
    fn the_auth_header_joins_the_custom_ones() {
        let McpServerConfig::StreamableHttp(c) = http("http://h/mcp", &[("X-Team", "a")]) else {
            unreachable!()
        };
        let map = headers(&c).unwrap();
        assert_eq!(map["authorization"], "Bearer t");
        assert_eq!(map["x-team"], "a");
    }
}
