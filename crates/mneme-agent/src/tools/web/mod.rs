//! The web built-ins Letta ships as `letta_builtin` tools: `web_search` (Exa, Tavily or a
//! self-hosted SearXNG, whichever is configured) and `fetch_webpage` (a page as readable text,
//! refused for addresses inside the server's network unless allowed).
//!
//! Failures are tool errors the model reads, never request failures: an unconfigured backend,
//! a refused address or a slow site end the call, not the turn.

mod fetch;
mod search;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::executor::{Invocation, ToolExecutor};
use crate::tools::ToolOutcome;

pub use fetch::is_public;

/// Letta's `tool_type` of the web tools: that of every server-side built-in (`run_code` has
/// the same type and its own executor, registered by name).
pub const WEB_TOOL_TYPE: &str = super::SERVER_TOOL_TYPE;

/// Where `web_search` sends its queries. Base URLs are settings so that a deployment can use a
/// proxy and tests a scripted server.
#[derive(Clone, PartialEq, Eq)]
pub enum SearchBackend {
    Exa { api_key: String, base_url: String },
    Tavily { api_key: String, base_url: String },
    Searxng { base_url: String },
}

/// Keys stay out of logs.
impl std::fmt::Debug for SearchBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SearchBackend::Exa { base_url, .. } => write!(f, "Exa({base_url})"),
            SearchBackend::Tavily { base_url, .. } => write!(f, "Tavily({base_url})"),
            SearchBackend::Searxng { base_url } => write!(f, "Searxng({base_url})"),
        }
    }
}

/// The web tools' settings, resolved by the binary.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// `None`: `web_search` answers a tool error saying how to configure one.
    pub search: Option<SearchBackend>,
    /// Lets `fetch_webpage` reach loopback, private and link-local addresses (tests, trusted
    /// intranets). Off by default: a model told to fetch `http://169.254.169.254/` must not
    /// read the cloud's metadata service.
    pub fetch_private: bool,
    /// Wall-clock limit of one fetch or search, redirects included.
    pub timeout: Duration,
    /// Most bytes of a page body read; the rest is dropped.
    pub max_page_bytes: usize,
    /// Most characters of page text returned.
    pub max_text_chars: usize,
}

impl Default for WebOptions {
    fn default() -> WebOptions {
        WebOptions {
            search: None,
            fetch_private: false,
            timeout: Duration::from_secs(30),
            max_page_bytes: 5 * 1024 * 1024,
            max_text_chars: 100_000,
        }
    }
}

/// The executor of `letta_builtin` tools.
pub struct WebTools {
    options: WebOptions,
}

impl WebTools {
    pub fn new(options: WebOptions) -> WebTools {
        WebTools { options }
    }
}

#[async_trait]
impl ToolExecutor for WebTools {
    async fn execute(&self, call: Invocation<'_>) -> ToolOutcome {
        let result = match call.tool.name.as_str() {
            "web_search" => search::web_search(&self.options, call.args).await,
            "fetch_webpage" => match call.args.string("url") {
                Ok(url) => fetch::fetch_webpage(&self.options, &url).await,
                Err(e) => Err(e),
            },
            other => Err(format!(
                "Error: tool '{other}' is not available on this server"
            )),
        };
        match result {
            Ok(text) => ToolOutcome::from_value(Value::String(text)),
            Err(e) => ToolOutcome::failed(e),
        }
    }
}
