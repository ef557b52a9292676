//! `GET /v1/health/`.

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
