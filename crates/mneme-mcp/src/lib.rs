//! The MCP client: live connections to the MCP servers users register, listing their tools and
//! calling them. `McpManager` keeps one connection per server (opened on first use, reopened
//! once when it broke, closed when the server is deleted or changed); `schema` turns an MCP
//! tool's input schema into the function schema Letta stores.
//!
//! Transports: stdio children and streamable HTTP come from rmcp, the official Rust SDK; the
//! legacy HTTP+SSE transport, which rmcp no longer has, is `sse.rs`.

mod error;
mod manager;
pub mod schema;
mod sse;
mod transport;

pub use error::McpError;
pub use manager::{McpCallResult, McpManager, McpOptions, McpTool};
pub use transport::check_config;
