//! `GET /v1/models/` and `GET /v1/models/embedding`.

use axum::Json;
use axum::extract::State;
use mneme_service::Service;
use serde_json::Value;

pub(crate) async fn list_llms(State(app): State<Service>) -> Json<Vec<Value>> {
    Json(app.models().list_llms())
}

pub(crate) async fn list_embeddings(State(app): State<Service>) -> Json<Vec<Value>> {
    Json(app.models().list_embeddings())
}
