//! `GET /v1/models/` and `GET /v1/models/embedding`.

use axum::Json;
use axum::extract::State;
use mneme_service::{ModelFilter, Service};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{ApiQuery, list_param};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ModelQuery {
    #[serde(default)]
    provider_category: Vec<String>,
    provider_name: Option<String>,
    provider_type: Option<String>,
}

impl ModelQuery {
    fn filter(self) -> ModelFilter {
        ModelFilter {
            provider_category: list_param(&self.provider_category),
            provider_name: self.provider_name,
            provider_type: self.provider_type,
        }
    }
}

pub(crate) async fn list_llms(
    State(app): State<Service>,
    ApiQuery(query): ApiQuery<ModelQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(app.models().list_llms(&query.filter()).await))
}

pub(crate) async fn list_embeddings(
    State(app): State<Service>,
    ApiQuery(query): ApiQuery<ModelQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(app.models().list_embeddings(&query.filter()).await))
}
