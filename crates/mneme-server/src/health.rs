//! `GET /v1/health/` and `GET /v1/ready/`.

use axum::Json;
use mneme_types::Health;

/// The Letta API version mneme is compatible with; clients compare it, not mneme's own.
pub(crate) const LETTA_API_VERSION: &str = "0.16.7";

pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        version: LETTA_API_VERSION.into(),
        status: "ok".into(),
    })
}

/// `GET /v1/ready/`: the store is open before the server listens, so a server that answers is
/// ready; mneme has no draining or warming state to report.
pub(crate) async fn ready() -> Json<Health> {
    health().await
}
