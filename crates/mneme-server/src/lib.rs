//! The HTTP API: Letta's V1 routes over axum. Handlers extract, call one service function and
//! wrap the result; status codes are decided in one place (`error.rs`).

mod admin;
mod agent_files;
mod agents;
mod archival;
mod archives;
mod audit;
mod batches;
mod blocks;
mod body;
mod client;
mod completions;
mod conversations;
mod error;
mod extract;
mod folders;
mod gateway;
mod groups;
mod health;
mod identities;
mod legacy;
mod limits;
mod mcp_legacy;
mod mcp_servers;
mod messages;
mod metrics;
mod models;
mod observe;
mod openapi;
mod providers;
mod routes;
mod runs;
mod sandbox_config;
mod sse;
mod steps;
mod telemetry;
mod tools;
mod unrouted;
mod web;

use std::future::Future;
use std::net::SocketAddr;

use axum::serve::ListenerExt;
use mneme_service::Tenancy;
use tokio::net::TcpListener;

pub use gateway::gateway_router;
pub use limits::{DEFAULT_MAX_BODY_BYTES, Limits, RateLimit};
pub use routes::router;

/// Serves the API, behind authentication and within `limits`, on `listener` until `shutdown`
/// resolves, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    tenancy: Tenancy,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Small SSE frames must not wait for the previous one's ACK (Nagle's algorithm would hold
    // a streamed chunk back by a delayed-ACK interval, ~40 ms).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    // The peer's address is the rate limit's key for callers without a key.
    let app = limits::apply(gateway_router(tenancy), &limits);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
