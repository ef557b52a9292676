//! The control API under `/_fake/`: lets tests in other languages (the Python SDK suite) script
//! the fake over HTTP, as the Rust API does in process.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Shared;
use super::script::{RecordedRequest, Reply, Rule};

/// `POST /_fake/replies`: a reply or a list of replies, queued in order.
pub(crate) async fn push_replies(State(script): State<Shared>, body: Bytes) -> Response {
    match one_or_many::<Reply>(&body) {
        Ok(replies) => {
            let mut script = script.lock().unwrap();
            replies.into_iter().for_each(|r| script.push(r));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(message) => bad_request(message),
    }
}

/// `GET /_fake/replies`: the replies still queued.
pub(crate) async fn queued_replies(State(script): State<Shared>) -> Json<Vec<Reply>> {
    Json(script.lock().unwrap().queued())
}

/// `POST /_fake/rules`: a rule or a list of rules.
pub(crate) async fn add_rules(State(script): State<Shared>, body: Bytes) -> Response {
    match one_or_many::<Rule>(&body) {
        Ok(rules) => {
            let mut script = script.lock().unwrap();
            rules.into_iter().for_each(|r| script.add_rule(r));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(message) => bad_request(message),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Latency {
    ms: u64,
}

/// `POST /_fake/latency`: `{"ms": N}` before every response.
pub(crate) async fn set_latency(State(script): State<Shared>, body: Bytes) -> Response {
    match serde_json::from_slice::<Latency>(&body) {
        Ok(latency) => {
            script.lock().unwrap().latency = Duration::from_millis(latency.ms);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FakeConfig {
    /// Requests with more characters of text get a context-length error; `null`: no limit.
    context_limit_chars: Option<usize>,
}

/// `POST /_fake/config`: `{"context_limit_chars": N | null}`.
pub(crate) async fn set_config(State(script): State<Shared>, body: Bytes) -> Response {
    match serde_json::from_slice::<FakeConfig>(&body) {
        Ok(config) => {
            script.lock().unwrap().context_limit = config.context_limit_chars;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(e.to_string()),
    }
}

/// `GET /_fake/requests`: the chat request bodies of every protocol, oldest first.
pub(crate) async fn chat_requests(State(script): State<Shared>) -> Json<Vec<Value>> {
    Json(script.lock().unwrap().bodies_where(super::is_chat_path))
}

/// `GET /_fake/recorded`: every request (chat and embeddings) with its path and auth header.
pub(crate) async fn recorded(State(script): State<Shared>) -> Json<Vec<RecordedRequest>> {
    Json(script.lock().unwrap().recorded.clone())
}

/// `POST /_fake/reset`: back to an empty script with no latency, no context limit and no
/// recordings.
pub(crate) async fn reset(State(script): State<Shared>) -> StatusCode {
    script.lock().unwrap().reset();
    StatusCode::NO_CONTENT
}

/// Parses one `T` or a JSON list of them, with serde's message on failure.
fn one_or_many<T: DeserializeOwned>(body: &[u8]) -> Result<Vec<T>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if value.is_array() {
        serde_json::from_value(value).map_err(|e| e.to_string())
    } else {
        serde_json::from_value(value)
            .map(|one| vec![one])
            .map_err(|e| e.to_string())
    }
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"detail": message}))).into_response()
}
