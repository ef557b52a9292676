//! `McpManager`: one live connection per server, opened on first use and reused by every list
//! and call after it.
//!
//! A connection found closed (a stdio child that exited, an event stream that ended) is
//! reopened before use; one that breaks under a request is reopened and the request sent once
//! more when that cannot run a tool twice (a listing, or a call that never left this process).
//! A changed config or `close` ends the old connection, which for stdio servers closes the
//! child's stdin, waits for it to exit and kills it if it does not.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mneme_types::{McpServerConfig, McpServerId};
use rmcp::RoleClient;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{Peer, ServiceError};
use serde_json::{Map, Value};

use crate::McpError;
use crate::transport::{self, Session};

/// Timeouts and the environment stdio servers inherit.
#[derive(Debug, Clone)]
pub struct McpOptions {
    /// Spawning or reaching a server and completing the handshake.
    pub connect_timeout: Duration,
    /// One `tools/list` or `tools/call`.
    pub call_timeout: Duration,
    /// Variables every stdio server gets besides its config's `env` (the binary passes `PATH`,
    /// `HOME` and `LANG`).
    pub stdio_env: Vec<(String, String)>,
}

impl Default for McpOptions {
    fn default() -> McpOptions {
        McpOptions {
            connect_timeout: Duration::from_secs(30),
            call_timeout: Duration::from_secs(60),
            stdio_env: Vec::new(),
        }
    }
}

/// A tool a server offers. Besides what registering it needs (name, description, input
/// schema), the rest of its MCP definition as the server sent it, for the routes that show it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct McpTool {
    pub name: String,
    pub description: Option<String>,
    pub input_schema: Map<String, Value>,
    pub title: Option<String>,
    pub output_schema: Option<Map<String, Value>>,
    pub icons: Option<Value>,
    pub annotations: Option<Value>,
    pub meta: Option<Map<String, Value>>,
}

/// What a tool call returned. `is_error` is the tool's own failure (`isError: true`), which the
/// model should see as a failed tool return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpCallResult {
    /// The text blocks joined with spaces, as Letta joins them; other blocks as JSON.
    pub text: String,
    pub is_error: bool,
}

pub struct McpManager {
    options: McpOptions,
    /// Built on the first HTTP server's connection: building it loads the system's CA roots
    /// (~5 ms and resident memory), which a server without HTTP MCP servers never needs.
    http: std::sync::OnceLock<reqwest::Client>,
    slots: Mutex<HashMap<McpServerId, Arc<Slot>>>,
}

/// One server's connection; the async lock is held only while connecting or closing.
#[derive(Default)]
struct Slot {
    live: tokio::sync::Mutex<Option<Live>>,
}

struct Live {
    config: McpServerConfig,
    session: Session,
    generation: u64,
}

/// Whether a request may be sent again after the connection broke under it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    Always,
    OnlyIfUnsent,
}

impl McpManager {
    pub fn new(options: McpOptions) -> Result<McpManager, McpError> {
        // reqwest is built without a TLS provider of its own; ring is the one already in the
        // build. A provider installed earlier (by anyone) is fine too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(McpManager {
            options,
            http: std::sync::OnceLock::new(),
            slots: Mutex::new(HashMap::new()),
        })
    }

    fn http(&self) -> Result<&reqwest::Client, McpError> {
        if let Some(client) = self.http.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            // No redirects: a config's headers (tokens) must not follow one to another host.
            .redirect(reqwest::redirect::Policy::none())
            // Connecting is bounded here too, not only by the caller's timeout around the
            // session: a transport may open connections in the background (a POST of the
            // legacy SSE transport). No overall timeout on the client: event streams are
            // long-lived; each call is bounded by the call timeout instead.
            .connect_timeout(self.options.connect_timeout)
            .build()
            .map_err(|e| McpError::Config(format!("cannot build the HTTP client: {e}")))?;
        // A concurrent first use may have won; either client is fine.
        Ok(self.http.get_or_init(|| client))
    }

    /// The server's tools (every page).
    pub async fn list_tools(
        &self,
        id: McpServerId,
        config: &McpServerConfig,
    ) -> Result<Vec<McpTool>, McpError> {
        let tools = self
            .request(
                id,
                config,
                "listing tools",
                Retry::Always,
                |peer| async move { peer.list_all_tools().await },
            )
            .await?;
        Ok(tools.into_iter().map(mcp_tool).collect())
    }

    /// Connects to a server that is not (or not yet) registered, lists its tools and
    /// disconnects: the connection test of a config. Bounded by the connect and call timeouts.
    pub async fn probe(&self, config: &McpServerConfig) -> Result<Vec<McpTool>, McpError> {
        let session = self.connect(config).await?;
        let listed = self
            .timed(config, "listing tools", session.peer().list_all_tools())
            .await;
        shut(Live {
            config: config.clone(),
            session,
            generation: 0,
        })
        .await;
        let tools = listed?.map_err(|e| service_error(config, e))?;
        Ok(tools.into_iter().map(mcp_tool).collect())
    }

    /// Calls tool `name`. A tool that fails answers `Ok` with `is_error`; `Err` means the
    /// server could not be reached or refused the request.
    pub async fn call_tool(
        &self,
        id: McpServerId,
        config: &McpServerConfig,
        name: &str,
        args: Map<String, Value>,
    ) -> Result<McpCallResult, McpError> {
        let params = CallToolRequestParams::new(name.to_owned()).with_arguments(args);
        let what = format!("calling {name}");
        let result = self
            .request(id, config, &what, Retry::OnlyIfUnsent, |peer| {
                let params = params.clone();
                async move { peer.call_tool(params).await }
            })
            .await?;
        Ok(call_result(result))
    }

    /// Ends the server's connection, if there is one (the server was deleted or changed).
    pub async fn close(&self, id: McpServerId) {
        let slot = lock(&self.slots).remove(&id);
        if let Some(slot) = slot {
            let live = slot.live.lock().await.take();
            if let Some(live) = live {
                shut(live).await;
            }
        }
    }

    /// Ends every connection (server shutdown).
    pub async fn close_all(&self) {
        let ids: Vec<McpServerId> = lock(&self.slots).keys().copied().collect();
        for id in ids {
            self.close(id).await;
        }
    }

    /// Runs `op` on the server's connection, with the call timeout, reconnecting as the
    /// module doc says.
    async fn request<T, F, Fut>(
        &self,
        id: McpServerId,
        config: &McpServerConfig,
        what: &str,
        retry: Retry,
        op: F,
    ) -> Result<T, McpError>
    where
        F: Fn(Peer<RoleClient>) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let (peer, generation) = self.peer(id, config).await?;
        match self.timed(config, what, op(peer)).await? {
            Ok(v) => Ok(v),
            Err(e) if broken(&e, retry) => {
                tracing::info!(server = %id, error = %e, "MCP connection broke; reconnecting once");
                self.discard(id, generation).await;
                let (peer, _) = self.peer(id, config).await?;
                self.timed(config, what, op(peer))
                    .await?
                    .map_err(|e| service_error(config, e))
            }
            Err(e) => Err(service_error(config, e)),
        }
    }

    async fn timed<T>(
        &self,
        config: &McpServerConfig,
        what: &str,
        fut: impl Future<Output = T>,
    ) -> Result<T, McpError> {
        let after = self.options.call_timeout;
        tokio::time::timeout(after, fut)
            .await
            .map_err(|_| McpError::Timeout {
                target: transport::target(config),
                what: what.to_owned(),
                after,
            })
    }

    /// The live connection for `config`, opening one if there is none, it closed, or it was
    /// made for another config.
    async fn peer(
        &self,
        id: McpServerId,
        config: &McpServerConfig,
    ) -> Result<(Peer<RoleClient>, u64), McpError> {
        let slot = lock(&self.slots).entry(id).or_default().clone();
        let mut live = slot.live.lock().await;
        if let Some(l) = live.as_ref()
            && &l.config == config
            && !l.session.is_transport_closed()
        {
            return Ok((l.session.peer().clone(), l.generation));
        }
        let generation = live.as_ref().map_or(0, |l| l.generation + 1);
        if let Some(old) = live.take() {
            shut(old).await;
        }
        let session = self.connect(config).await?;
        let peer = session.peer().clone();
        *live = Some(Live {
            config: config.clone(),
            session,
            generation,
        });
        Ok((peer, generation))
    }

    /// A new session with the server, bounded by the connect timeout.
    async fn connect(&self, config: &McpServerConfig) -> Result<Session, McpError> {
        let after = self.options.connect_timeout;
        let connecting = transport::connect(config, &self.options, self.http()?);
        tokio::time::timeout(after, connecting)
            .await
            .map_err(|_| McpError::Timeout {
                target: transport::target(config),
                what: "connecting".into(),
                after,
            })?
    }

    /// Drops the connection of `generation`, unless another request already replaced it.
    async fn discard(&self, id: McpServerId, generation: u64) {
        let slot = lock(&self.slots).get(&id).cloned();
        if let Some(slot) = slot {
            let mut live = slot.live.lock().await;
            if live.as_ref().is_some_and(|l| l.generation == generation)
                && let Some(old) = live.take()
            {
                shut(old).await;
            }
        }
    }
}

/// Closes a session and waits for its cleanup (a stdio child is reaped by then).
async fn shut(live: Live) {
    let mut session = live.session;
    if let Ok(None) = session.close_with_timeout(Duration::from_secs(10)).await {
        tracing::warn!("an MCP connection did not close in time");
    }
}

/// Whether `e` means the connection is gone and the request may be sent again.
fn broken(e: &ServiceError, retry: Retry) -> bool {
    match e {
        ServiceError::TransportSend(_) => true,
        ServiceError::TransportClosed => retry == Retry::Always,
        _ => false,
    }
}

fn service_error(config: &McpServerConfig, e: ServiceError) -> McpError {
    let target = transport::target(config);
    match e {
        ServiceError::McpError(data) => McpError::Protocol {
            target,
            message: data.message.into_owned(),
        },
        ServiceError::TransportSend(_) | ServiceError::TransportClosed => McpError::Closed {
            target,
            message: crate::sse::describe(&e),
        },
        ServiceError::Timeout { timeout } => McpError::Timeout {
            target,
            what: "a request".into(),
            after: timeout,
        },
        other => McpError::Protocol {
            target,
            message: other.to_string(),
        },
    }
}

fn mcp_tool(t: rmcp::model::Tool) -> McpTool {
    // These parts are only shown, never interpreted: kept as the JSON the server sent.
    let json = |v: serde_json::Result<Value>| v.ok().filter(|v| !v.is_null());
    McpTool {
        name: t.name.into_owned(),
        description: t.description.map(|d| d.into_owned()),
        input_schema: t.input_schema.as_ref().clone(),
        title: t.title,
        output_schema: t.output_schema.map(|s| s.as_ref().clone()),
        icons: t.icons.and_then(|i| json(serde_json::to_value(i))),
        annotations: t.annotations.and_then(|a| json(serde_json::to_value(a))),
        meta: t.meta.map(|m| m.0),
    }
}

fn call_result(r: CallToolResult) -> McpCallResult {
    let parts: Vec<String> = r
        .content
        .iter()
        .map(|block| match block {
            ContentBlock::Text(t) => t.text.clone(),
            other => serde_json::to_string(other).unwrap_or_default(),
        })
        .collect();
    let text = if !parts.is_empty() {
        parts.join(" ")
    } else if let Some(structured) = &r.structured_content {
        structured.to_string()
    } else {
        // Letta's words for a tool that returned nothing.
        "Empty response from tool".to_owned()
    };
    McpCallResult {
        text,
        is_error: r.is_error == Some(true),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
