//! Model answers outside the message routes: `POST /v1/agents/{id}/generate`, the
//! OpenAI-compatible `POST /v1/chat/completions`, and the retired voice route.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use mneme_service::Service;
use mneme_types::{
    AgentId, ChatCompletionChunk, ChatCompletionRequest, GenerateRequest, GenerateResponse,
};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::{Route, op, route};
use crate::sse::sse_response;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        route("/v1/agents/{agent_id}/generate").post(
            generate,
            op(
                "generate_completion",
                "One completion with the agent's model, nothing stored",
            ),
        ),
        route("/v1/chat/completions").post(
            chat_completion,
            op(
                "create_chat_completion",
                "OpenAI-compatible chat completion driving an agent",
            )
            .sse_of::<ChatCompletionChunk>(),
        ),
        route("/v1/voice-beta/{agent_id}/chat/completions").post(
            voice_chat_completion,
            op("create_voice_chat_completions", "Retired voice route (410)"),
        ),
    ]
}

async fn generate(
    State(app): State<Service>,
    ApiPath(id): ApiPath<AgentId>,
    ApiJson(req): ApiJson<GenerateRequest>,
) -> Result<Json<GenerateResponse>, ApiError> {
    Ok(Json(app.generate(id, req).await?))
}

/// Streamed only (a request without `stream: true` is a 400, as in Letta); no Letta pings in
/// an OpenAI stream.
async fn chat_completion(
    State(app): State<Service>,
    ApiJson(req): ApiJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    Ok(sse_response(app.chat_completion(req).await?, false))
}

/// Letta retired this route: any JSON object body is answered 410.
async fn voice_chat_completion(
    ApiPath(_agent): ApiPath<String>,
    ApiJson(_body): ApiJson<Map<String, Value>>,
) -> ApiError {
    ApiError::Status(
        StatusCode::GONE,
        "The /voice-beta endpoint has been deprecated and is no longer available.",
    )
}
