//! Ollama's native API: `POST /api/chat` (NDJSON stream unless `stream: false`),
//! `POST /api/embed`, `GET /api/tags` and `POST /api/show`, driven by the same script as the
//! OpenAI routes (Ollama's messages and tools have OpenAI's shape, so rules read them as is).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::chat::{error_response_with, estimate_tokens, split};
use super::embeddings::embed;
use super::script::{ErrorKind, ErrorReply, Reply};

pub(crate) const CHAT_PATH: &str = "/api/chat";
pub(crate) const EMBED_PATH: &str = "/api/embed";

/// The local models: name, capabilities, architecture, context length, embedding length.
const MODELS: [(&str, &[&str], &str, u32, u32); 4] = [
    (
        "llama3.2:latest",
        &["completion", "tools"],
        "llama",
        131_072,
        3072,
    ),
    (
        "qwen3:8b",
        &["completion", "tools", "thinking"],
        "qwen3",
        40_960,
        4096,
    ),
    (
        "nomic-embed-text:latest",
        &["embedding"],
        "nomic-bert",
        2048,
        768,
    ),
    ("codellama:7b-code", &["completion"], "llama", 16_384, 4096),
];

/// Created time stamp every answer carries (fixed: answers are deterministic).
const CREATED_AT: &str = "2025-01-01T00:00:00.000000Z";

pub(crate) async fn chat(
    State(script): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = super::record(&script, CHAT_PATH, &headers, &body);
    if !request.is_object() {
        return ollama_error(StatusCode::BAD_REQUEST, "invalid character in JSON body");
    }
    let (reply, latency) = {
        let mut script = script.lock().unwrap();
        (script.next_reply(&request, &request), script.latency)
    };
    let delay = latency + Duration::from_millis(reply.delay_ms.unwrap_or(0));
    tokio::time::sleep(delay).await;
    if let Some(error) = &reply.error {
        let body = error.body.clone().unwrap_or_else(|| error_body(error));
        return error_response_with(error, body);
    }
    let model = request["model"].as_str().unwrap_or("llama3.2").to_owned();
    let lines = lines(&request, &reply, &model);
    // Ollama streams unless the request says `"stream": false`.
    if request["stream"] == false {
        return Json(whole(lines)).into_response();
    }
    let frames = lines
        .into_iter()
        .map(|line| Ok::<_, Infallible>(format!("{line}\n")));
    let body = Body::from_stream(futures_util::stream::iter(frames));
    ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
}

/// The streamed lines of an answer: thinking, text, the tool calls in one line, then the
/// `done` line with the counts.
fn lines(request: &Value, reply: &Reply, model: &str) -> Vec<Value> {
    let line = |message: Value| json!({"model": model, "created_at": CREATED_AT, "message": message, "done": false});
    let mut lines = Vec::new();
    for piece in split(reply.reasoning.as_deref().unwrap_or(""), 4) {
        lines.push(line(
            json!({"role": "assistant", "content": "", "thinking": piece}),
        ));
    }
    for piece in split(reply.text.as_deref().unwrap_or(""), 6) {
        lines.push(line(json!({"role": "assistant", "content": piece})));
    }
    if !reply.tool_calls.is_empty() {
        let calls: Vec<Value> = reply
            .tool_calls
            .iter()
            .enumerate()
            .map(|(index, call)| {
                json!({"function": {"index": index, "name": call.name, "arguments": call.arguments_object()}})
            })
            .collect();
        lines.push(line(
            json!({"role": "assistant", "content": "", "tool_calls": calls}),
        ));
    }
    let completion_chars = [&reply.text, &reply.reasoning]
        .iter()
        .filter_map(|t| t.as_deref())
        .map(str::len)
        .sum::<usize>()
        + reply
            .tool_calls
            .iter()
            .map(|c| c.name.len() + c.arguments.to_string().len())
            .sum::<usize>();
    let done_reason = match reply.finish_reason.as_deref() {
        Some("length") => "length",
        _ => "stop",
    };
    lines.push(json!({
        "model": model, "created_at": CREATED_AT,
        "message": {"role": "assistant", "content": ""},
        "done": true, "done_reason": done_reason,
        "total_duration": 1_000_000, "load_duration": 1000,
        "prompt_eval_count": reply.prompt_tokens
            .unwrap_or_else(|| estimate_tokens(request["messages"].to_string().len())),
        "eval_count": reply.completion_tokens.unwrap_or_else(|| estimate_tokens(completion_chars)),
    }));
    lines
}

/// The non-streamed answer: the lines folded into the `done` line's object.
fn whole(lines: Vec<Value>) -> Value {
    let mut content = String::new();
    let mut thinking = String::new();
    let mut calls = Vec::new();
    let mut last = json!({});
    for line in lines {
        let message = &line["message"];
        content.push_str(message["content"].as_str().unwrap_or(""));
        thinking.push_str(message["thinking"].as_str().unwrap_or(""));
        calls.extend(
            message["tool_calls"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        last = line;
    }
    let mut message = json!({"role": "assistant", "content": content});
    if !thinking.is_empty() {
        message["thinking"] = json!(thinking);
    }
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    last["message"] = message;
    last
}

fn error_body(error: &ErrorReply) -> Value {
    let message = match (error.status(), error.kind) {
        (_, Some(ErrorKind::ContextLengthExceeded)) => {
            "the input length exceeds the context length"
        }
        (429, _) => "server busy, please try again. maximum pending requests exceeded",
        (400..=499, _) => "invalid request",
        _ => "llama runner process has terminated: exit status 2",
    };
    json!({ "error": message })
}

fn ollama_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `POST /api/embed`: `input` a string or a list; `dimensions` truncates.
pub(crate) async fn embed_texts(
    State(script): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = super::record(&script, EMBED_PATH, &headers, &body);
    let latency = script.lock().unwrap().latency;
    tokio::time::sleep(latency).await;
    let model = request["model"].as_str().unwrap_or_default();
    let Some((_, _, _, _, length)) = MODELS
        .iter()
        .find(|m| m.0 == model || m.0.split(':').next() == Some(model))
    else {
        return ollama_error(
            StatusCode::NOT_FOUND,
            &format!("model \"{model}\" not found, try pulling it first"),
        );
    };
    let dimensions = request["dimensions"]
        .as_u64()
        .and_then(|d| usize::try_from(d).ok())
        .unwrap_or(*length as usize);
    let inputs: Vec<String> = match &request["input"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => return ollama_error(StatusCode::BAD_REQUEST, "invalid input type"),
    };
    let embeddings: Vec<Vec<f32>> = inputs.iter().map(|t| embed(t, dimensions)).collect();
    let tokens = estimate_tokens(inputs.iter().map(String::len).sum());
    Json(json!({"model": model, "embeddings": embeddings, "prompt_eval_count": tokens}))
        .into_response()
}

/// `GET /api/tags`.
pub(crate) async fn tags(State(script): State<Shared>) -> Json<Value> {
    let latency = script.lock().unwrap().latency;
    tokio::time::sleep(latency).await;
    let models: Vec<Value> = MODELS
        .iter()
        .map(|(name, ..)| {
            json!({"name": name, "model": name, "modified_at": CREATED_AT, "size": 2_000_000_000u64,
                   "digest": "0".repeat(64), "details": {"format": "gguf"}})
        })
        .collect();
    Json(json!({ "models": models }))
}

/// `POST /api/show` with `model` (or the older `name`).
pub(crate) async fn show(State(script): State<Shared>, body: Bytes) -> Response {
    let latency = script.lock().unwrap().latency;
    tokio::time::sleep(latency).await;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let name = request["model"]
        .as_str()
        .or_else(|| request["name"].as_str())
        .unwrap_or_default();
    let Some((name, capabilities, arch, context, embedding)) = MODELS.iter().find(|m| m.0 == name)
    else {
        return ollama_error(StatusCode::NOT_FOUND, &format!("model '{name}' not found"));
    };
    let mut info = serde_json::Map::new();
    info.insert("general.architecture".into(), json!(arch));
    info.insert(format!("{arch}.context_length"), json!(context));
    info.insert(format!("{arch}.embedding_length"), json!(embedding));
    Json(json!({
        "modelfile": format!("FROM {name}"),
        "details": {"format": "gguf", "family": arch},
        "model_info": info,
        "capabilities": capabilities,
    }))
    .into_response()
}
