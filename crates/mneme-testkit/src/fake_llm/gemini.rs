//! Google's Gemini API: `POST /v1beta/models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse`, `:embedContent`, `:batchEmbedContents`, and
//! `GET /v1beta/models` (paged), driven by the same script as the OpenAI routes.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::chat::{error_response_with, estimate_tokens, split};
use super::embeddings::embed;
use super::script::{ErrorKind, ErrorReply, Reply};

/// The header Gemini takes the API key in.
pub(crate) const KEY_HEADER: &str = "x-goog-api-key";

/// The prefix of every model route.
pub(crate) const PREFIX: &str = "/v1beta/models";

/// The models listed, with their input and output limits and methods.
const MODELS: [(&str, u32, u32, &str); 4] = [
    ("gemini-2.5-flash", 1_048_576, 65_536, "generateContent"),
    ("gemini-2.5-pro", 1_048_576, 65_536, "generateContent"),
    ("gemini-embedding-001", 2_048, 1, "embedContent"),
    ("text-embedding-004", 2_048, 1, "embedContent"),
];

/// Models per page at most, whatever the client asks: small, so that paging is exercised.
const MAX_PAGE: usize = 2;

/// Whether a recorded path is a Gemini chat request.
pub(crate) fn is_chat_path(path: &str) -> bool {
    path.starts_with(PREFIX)
        && (path.ends_with(":generateContent") || path.ends_with(":streamGenerateContent"))
}

/// `POST /v1beta/models/{model}:{method}`.
pub(crate) async fn model_method(
    State(script): State<Shared>,
    Path(model_method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("{PREFIX}/{model_method}");
    let request = super::record(&script, &path, &headers, &body);
    let Some((model, method)) = model_method.split_once(':') else {
        return google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown method");
    };
    if !request.is_object() {
        return google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received.",
        );
    }
    match method {
        "generateContent" => generate(&script, &request, model, false).await,
        "streamGenerateContent" => generate(&script, &request, model, true).await,
        "embedContent" => embed_one(&script, &request, model).await,
        "batchEmbedContents" => embed_batch(&script, &request, model).await,
        _ => google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown method"),
    }
}

async fn generate(script: &Shared, request: &Value, model: &str, stream: bool) -> Response {
    let (reply, latency, id) = {
        let mut script = script.lock().unwrap();
        let reply = script.next_reply(&openai_view(request), request);
        (reply, script.latency, script.next_id())
    };
    let delay = latency + Duration::from_millis(reply.delay_ms.unwrap_or(0));
    tokio::time::sleep(delay).await;
    if let Some(error) = &reply.error {
        let body = error.body.clone().unwrap_or_else(|| error_body(error));
        return error_response_with(error, body);
    }
    let answer = Answer::new(request, &reply, id, model);
    if stream {
        sse_response(answer.chunks())
    } else {
        Json(answer.whole()).into_response()
    }
}

/// The request as the script reads requests (OpenAI's shape): the last user text and the
/// offered function names.
fn openai_view(request: &Value) -> Value {
    let contents = request["contents"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let last_user = contents
        .iter()
        .rev()
        .filter(|c| c["role"] == "user")
        .map(|c| {
            let parts = c["parts"].as_array().map(Vec::as_slice).unwrap_or_default();
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .find(|text| !text.is_empty())
        .unwrap_or_default();
    let declarations = request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| {
            t["functionDeclarations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        });
    let tools: Vec<Value> = declarations
        .map(|d| json!({"type": "function", "function": {"name": d["name"]}}))
        .collect();
    json!({"messages": [{"role": "user", "content": last_user}], "tools": tools})
}

/// A resolved reply in Gemini's terms.
struct Answer {
    model: String,
    /// The thought signature Gemini would attach (only when the reply has reasoning).
    signature: Option<String>,
    reasoning: Option<String>,
    text: Option<String>,
    calls: Vec<(String, Value)>,
    finish_reason: &'static str,
    usage: Value,
}

impl Answer {
    fn new(request: &Value, reply: &Reply, id: u64, model: &str) -> Answer {
        let calls: Vec<(String, Value)> = reply
            .tool_calls
            .iter()
            .map(|c| (c.name.clone(), c.arguments_object()))
            .collect();
        let finish_reason = match reply.finish_reason.as_deref() {
            Some("length" | "MAX_TOKENS") => "MAX_TOKENS",
            Some("content_filter" | "SAFETY") => "SAFETY",
            _ => "STOP",
        };
        let chars = |t: &Option<String>| t.as_deref().map_or(0, str::len);
        let call_chars: usize = calls
            .iter()
            .map(|(n, a)| n.len() + a.to_string().len())
            .sum();
        let candidates = reply
            .completion_tokens
            .unwrap_or_else(|| estimate_tokens(chars(&reply.text) + call_chars));
        let thoughts = reply.reasoning.as_ref().map(|r| estimate_tokens(r.len()));
        let cached = reply.cache_read_tokens;
        let estimate = || estimate_tokens(request["contents"].to_string().len());
        let prompt = reply
            .prompt_tokens
            .unwrap_or_else(estimate)
            .max(cached.unwrap_or(0));
        let mut usage = json!({
            "promptTokenCount": prompt,
            "candidatesTokenCount": candidates,
            "totalTokenCount": prompt + candidates + thoughts.unwrap_or(0),
        });
        if let Some(thoughts) = thoughts {
            usage["thoughtsTokenCount"] = json!(thoughts);
        }
        if let Some(cached) = cached {
            usage["cachedContentTokenCount"] = json!(cached);
        }
        Answer {
            model: model.to_owned(),
            signature: reply
                .reasoning
                .as_ref()
                .map(|_| format!("ZmFrZS1zaWc{id:08}")),
            reasoning: reply.reasoning.clone(),
            text: reply.text.clone(),
            calls,
            finish_reason,
            usage,
        }
    }

    /// The parts of the answer, each streamed chunk's worth; the signature goes on the first
    /// function call, else on the last text part, as Gemini puts it.
    fn parts(&self, pieces: usize) -> Vec<Value> {
        let mut parts: Vec<Value> = Vec::new();
        for piece in split(self.reasoning.as_deref().unwrap_or(""), pieces) {
            parts.push(json!({"text": piece, "thought": true}));
        }
        let text: Vec<Value> = split(self.text.as_deref().unwrap_or(""), pieces)
            .into_iter()
            .map(|piece| json!({"text": piece}))
            .collect();
        let text_start = parts.len();
        parts.extend(text);
        let calls_start = parts.len();
        for (name, args) in &self.calls {
            parts.push(json!({"functionCall": {"name": name, "args": args}}));
        }
        let carrier = if self.calls.is_empty() {
            parts.len().checked_sub(1).filter(|i| *i >= text_start)
        } else {
            Some(calls_start)
        };
        if let (Some(signature), Some(i)) = (&self.signature, carrier) {
            parts[i]["thoughtSignature"] = json!(signature);
        }
        parts
    }

    fn whole(&self) -> Value {
        json!({
            "candidates": [{
                "content": {"role": "model", "parts": self.parts(1)},
                "finishReason": self.finish_reason,
                "index": 0,
            }],
            "usageMetadata": self.usage,
            "modelVersion": self.model,
        })
    }

    /// One part per chunk, the finish reason and final usage on the last.
    fn chunks(&self) -> Vec<Value> {
        let parts = self.parts(6);
        let prompt_only = json!({"promptTokenCount": self.usage["promptTokenCount"]});
        let count = parts.len();
        let mut chunks: Vec<Value> = parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                let mut candidate = json!({"content": {"role": "model", "parts": [part]}, "index": 0});
                let last = i + 1 == count;
                if last {
                    candidate["finishReason"] = json!(self.finish_reason);
                }
                let usage = if last { self.usage.clone() } else { prompt_only.clone() };
                json!({"candidates": [candidate], "usageMetadata": usage, "modelVersion": self.model})
            })
            .collect();
        if chunks.is_empty() {
            chunks.push(json!({
                "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]},
                    "finishReason": self.finish_reason, "index": 0}],
                "usageMetadata": self.usage,
            }));
        }
        chunks
    }
}

/// SSE framing as Gemini does it: `data:` lines, `\r\n\r\n` between events, no end marker.
fn sse_response(chunks: Vec<Value>) -> Response {
    let frames = chunks
        .into_iter()
        .map(|chunk| Ok::<_, Infallible>(format!("data: {chunk}\r\n\r\n")));
    let body = Body::from_stream(futures_util::stream::iter(frames));
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

/// Gemini's error body for a scripted error without one.
fn error_body(error: &ErrorReply) -> Value {
    let status = error.status();
    let (name, message) = match (status, error.kind) {
        (_, Some(ErrorKind::ContextLengthExceeded)) => (
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        ),
        (429, _) => (
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        ),
        (401, _) => (
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ),
        (403, _) => ("PERMISSION_DENIED", "The caller does not have permission."),
        (503, _) => (
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        (400..=499, _) => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        _ => (
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        ),
    };
    json!({"error": {"code": status, "message": message, "status": name}})
}

fn google_error(status: StatusCode, name: &str, message: &str) -> Response {
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": name}});
    (status, Json(body)).into_response()
}

/// The default vector size of a Gemini embedding model.
fn default_dimensions(model: &str) -> usize {
    if model.starts_with("gemini-embedding") {
        3072
    } else {
        768
    }
}

fn embedding(request: &Value, model: &str) -> Value {
    let parts = request["content"]["parts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let text: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
    let dimensions = request["outputDimensionality"]
        .as_u64()
        .and_then(|d| usize::try_from(d).ok())
        .filter(|d| *d > 0)
        .unwrap_or_else(|| default_dimensions(model));
    json!({"values": embed(&text, dimensions)})
}

async fn embed_one(script: &Shared, request: &Value, model: &str) -> Response {
    let latency = script.lock().unwrap().latency;
    tokio::time::sleep(latency).await;
    Json(json!({"embedding": embedding(request, model)})).into_response()
}

async fn embed_batch(script: &Shared, request: &Value, model: &str) -> Response {
    let latency = script.lock().unwrap().latency;
    tokio::time::sleep(latency).await;
    let Some(requests) = request["requests"].as_array() else {
        return google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "requests is required",
        );
    };
    let embeddings: Vec<Value> = requests.iter().map(|r| embedding(r, model)).collect();
    Json(json!({"embeddings": embeddings})).into_response()
}

/// `GET /v1beta/models`: at most two models a page, with `nextPageToken` (the next index).
pub(crate) async fn list_models(
    State(script): State<Shared>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    let latency = script.lock().unwrap().latency;
    tokio::time::sleep(latency).await;
    let start: usize = query
        .get("pageToken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let size = query
        .get("pageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(MAX_PAGE)
        .clamp(1, MAX_PAGE);
    let page: Vec<Value> = MODELS
        .iter()
        .skip(start)
        .take(size)
        .map(|(name, input, output, method)| {
            json!({"name": format!("models/{name}"), "displayName": name, "inputTokenLimit": input,
                   "outputTokenLimit": output, "supportedGenerationMethods": [method, "countTokens"]})
        })
        .collect();
    let mut body = json!({"models": page});
    if start + size < MODELS.len() {
        body["nextPageToken"] = json!((start + size).to_string());
    }
    Json(body)
}
