//! What can go wrong talking to an MCP server, in the client's words.

use std::time::Duration;

/// A failure to reach or use an MCP server. A tool that ran and failed is not an error here:
/// it is an `McpCallResult` with `is_error`.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The configuration cannot work (bad URL, bad header); nothing was attempted.
    #[error("{0}")]
    Config(String),
    /// The stdio server's command could not be started.
    #[error("cannot start MCP server command '{command}': {message}")]
    Spawn { command: String, message: String },
    /// The server did not complete the MCP handshake.
    #[error("failed to connect to MCP server {target}: {message}")]
    Connect { target: String, message: String },
    #[error("MCP server {target} did not answer within {} s ({what})", .after.as_secs())]
    Timeout {
        target: String,
        what: String,
        after: Duration,
    },
    /// The connection broke while a request was in flight.
    #[error("the connection to MCP server {target} was lost: {message}")]
    Closed { target: String, message: String },
    /// The server answered the request with a JSON-RPC error.
    #[error("MCP server {target} refused the request: {message}")]
    Protocol { target: String, message: String },
}

impl McpError {
    /// The server could not be reached or stopped answering (as opposed to a bad config or a
    /// refused request).
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            McpError::Spawn { .. } | McpError::Connect { .. } | McpError::Closed { .. }
        )
    }

    /// The server refused the connection for want of authorization (HTTP 401): it expects an
    /// OAuth flow or a token. The transports report the status only in their message, so this
    /// reads it there, as Letta does.
    pub fn needs_authorization(&self) -> bool {
        match self {
            McpError::Connect { message, .. } | McpError::Closed { message, .. } => [
                "401",
                "Unauthorized",
                "Auth required",
                "authorization required",
            ]
            .iter()
            .any(|sign| message.contains(sign)),
            _ => false,
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, McpError::Timeout { .. })
    }
}
