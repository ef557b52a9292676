//! `POST /v1/messages`: turns a scripted `Reply` into Anthropic's `message` object or its event
//! stream, framed as Anthropic frames it (`event:` line, `data:` line, blank line).

use std::convert::Infallible;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::chat::{error_response, estimate_tokens, split};
use super::errors::anthropic_error;
use super::script::{Protocol, Reply};

pub(crate) const PATH: &str = "/v1/messages";

pub(crate) async fn messages(
    State(script): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = super::record(&script, PATH, &headers, &body);
    if let Some(refusal) = invalid(&request) {
        return refusal;
    }
    let (reply, latency, first_id) = {
        let mut script = script.lock().unwrap();
        let reply = script.next_reply(&request, &request);
        let first_id = script.next_id();
        for _ in 1..=reply.tool_calls.len() {
            script.next_id();
        }
        (reply, script.latency, first_id)
    };
    tokio::time::sleep(latency + Duration::from_millis(reply.delay_ms.unwrap_or(0))).await;
    if let Some(error) = &reply.error {
        return error_response(error, Protocol::Anthropic);
    }
    let message = message(&request, &reply, first_id);
    if request["stream"] == true {
        sse_response(events(message))
    } else {
        Json(message).into_response()
    }
}

/// What Anthropic refuses before it starts: a body that is not an object, or one without the
/// required `model`, `max_tokens` and `messages`.
fn invalid(request: &Value) -> Option<Response> {
    let missing = ["model", "max_tokens", "messages"]
        .into_iter()
        .find(|field| request.get(*field).is_none_or(Value::is_null));
    let message = match (request.is_object(), missing) {
        (false, _) => "The request body is not valid JSON.".to_owned(),
        (true, Some(field)) => format!("{field}: Field required"),
        (true, None) => return None,
    };
    let body = anthropic_error("invalid_request_error", &message);
    Some((StatusCode::BAD_REQUEST, Json(body)).into_response())
}

/// The whole `message` object for `reply`.
fn message(request: &Value, reply: &Reply, first_id: u64) -> Value {
    let mut content = Vec::new();
    if let Some(reasoning) = &reply.reasoning {
        let signature = reply
            .signature
            .clone()
            .unwrap_or_else(|| signature(reasoning));
        content.push(json!({"type": "thinking", "thinking": reasoning, "signature": signature}));
    }
    if let Some(data) = &reply.redacted_reasoning {
        content.push(json!({"type": "redacted_thinking", "data": data}));
    }
    if let Some(text) = &reply.text {
        content.push(json!({"type": "text", "text": text}));
    }
    for (n, call) in (first_id + 1..).zip(&reply.tool_calls) {
        let input = call.arguments_object();
        let id = call
            .id
            .clone()
            .unwrap_or_else(|| format!("toolu_fake{n:08}"));
        content.push(json!({"type": "tool_use", "id": id, "name": call.name, "input": input}));
    }
    let output_chars: usize = content.iter().map(|b| b.to_string().len()).sum();
    let input = [&request["system"], &request["messages"], &request["tools"]]
        .iter()
        .map(|v| v.to_string().len())
        .sum();
    json!({
        "id": format!("msg_fake{first_id:08}"),
        "type": "message",
        "role": "assistant",
        "model": request["model"].as_str().unwrap_or("claude-fake"),
        "content": content,
        "stop_reason": stop_reason(reply),
        "stop_sequence": null,
        "usage": {
            "input_tokens": reply.prompt_tokens.unwrap_or_else(|| estimate_tokens(input)),
            "cache_creation_input_tokens": reply.cache_creation_tokens.unwrap_or(0),
            "cache_read_input_tokens": reply.cache_read_tokens.unwrap_or(0),
            "output_tokens": reply
                .completion_tokens
                .unwrap_or_else(|| estimate_tokens(output_chars)),
        },
    })
}

/// The scripted finish reason in either spelling, else `tool_use` or `end_turn`.
fn stop_reason(reply: &Reply) -> String {
    match reply.finish_reason.as_deref() {
        Some("stop") => "end_turn".to_owned(),
        Some("length") => "max_tokens".to_owned(),
        Some("tool_calls") => "tool_use".to_owned(),
        Some(other) => other.to_owned(),
        None if reply.tool_calls.is_empty() => "end_turn".to_owned(),
        None => "tool_use".to_owned(),
    }
}

/// A stand-in signature, stable for the same thinking so tests can expect it back.
pub fn signature(thinking: &str) -> String {
    let mut hasher = DefaultHasher::new();
    thinking.hash(&mut hasher);
    format!("fakesig{:016x}", hasher.finish())
}

/// The events of the streamed form of `message`, in order, as `(event, data)`.
fn events(message: Value) -> Vec<(&'static str, Value)> {
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"]["output_tokens"] = json!(1);
    let mut events = vec![
        (
            "message_start",
            json!({"type": "message_start", "message": start}),
        ),
        ("ping", json!({"type": "ping"})),
    ];
    let blocks = message["content"].as_array().cloned().unwrap_or_default();
    for (index, block) in blocks.iter().enumerate() {
        events.extend(block_events(index, block));
    }
    let usage = json!({"output_tokens": message["usage"]["output_tokens"]});
    let delta = json!({"stop_reason": message["stop_reason"], "stop_sequence": null});
    events.push((
        "message_delta",
        json!({"type": "message_delta", "delta": delta, "usage": usage}),
    ));
    events.push(("message_stop", json!({"type": "message_stop"})));
    events
}

/// `content_block_start`, its deltas and `content_block_stop` for one block.
fn block_events(index: usize, block: &Value) -> Vec<(&'static str, Value)> {
    let text = |key: &str| block[key].as_str().unwrap_or_default().to_owned();
    let (opening, deltas): (Value, Vec<Value>) = match block["type"].as_str().unwrap_or_default() {
        "thinking" => {
            let mut deltas: Vec<Value> = split(&text("thinking"), 8)
                .into_iter()
                .map(|piece| json!({"type": "thinking_delta", "thinking": piece}))
                .collect();
            deltas.push(json!({"type": "signature_delta", "signature": text("signature")}));
            (
                json!({"type": "thinking", "thinking": "", "signature": ""}),
                deltas,
            )
        }
        "text" => (
            json!({"type": "text", "text": ""}),
            split(&text("text"), 8)
                .into_iter()
                .map(|piece| json!({"type": "text_delta", "text": piece}))
                .collect(),
        ),
        "tool_use" => {
            let input = block["input"].to_string();
            let mut deltas = vec![json!({"type": "input_json_delta", "partial_json": ""})];
            deltas.extend(
                split(&input, 4)
                    .into_iter()
                    .map(|piece| json!({"type": "input_json_delta", "partial_json": piece})),
            );
            let opening = json!({"type": "tool_use", "id": block["id"], "name": block["name"],
                "input": {}});
            (opening, deltas)
        }
        // Redacted thinking comes whole in its start event.
        _ => (block.clone(), Vec::new()),
    };
    let mut events = vec![(
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": opening}),
    )];
    events.extend(deltas.into_iter().map(|delta| {
        let event = json!({"type": "content_block_delta", "index": index, "delta": delta});
        ("content_block_delta", event)
    }));
    events.push((
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    ));
    events
}

fn sse_response(events: Vec<(&'static str, Value)>) -> Response {
    let frames = events
        .into_iter()
        .map(|(event, data)| Ok::<_, Infallible>(format!("event: {event}\ndata: {data}\n\n")));
    let body = Body::from_stream(futures_util::stream::iter(frames));
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    (headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_events_carry_the_whole_message() {
        let request = json!({"model": "claude-x", "max_tokens": 10,
            "messages": [{"role": "user", "content": "q"}]});
        let reply = Reply::tool_call("f", json!({"city": "Paris"}))
            .with_text("ok")
            .with_reasoning("hmm");
        let message = message(&request, &reply, 1);
        assert_eq!(message["stop_reason"], "tool_use");
        assert_eq!(message["content"][0]["signature"], signature("hmm"));
        let events = events(message.clone());
        let mut input = String::new();
        let mut thinking = String::new();
        for (_, data) in &events {
            input.push_str(data["delta"]["partial_json"].as_str().unwrap_or_default());
            thinking.push_str(data["delta"]["thinking"].as_str().unwrap_or_default());
        }
        assert_eq!(input, r#"{"city":"Paris"}"#);
        assert_eq!(thinking, "hmm");
        assert_eq!(events.first().unwrap().0, "message_start");
        assert_eq!(
            events[events.len() - 2].1["delta"]["stop_reason"],
            "tool_use"
        );
        assert_eq!(events.last().unwrap().0, "message_stop");
    }

    #[test]
    fn requests_without_required_fields_are_refused() {
        assert!(invalid(&json!({"model": "m", "messages": []})).is_some());
        assert!(invalid(&json!("text")).is_some());
        assert!(invalid(&json!({"model": "m", "max_tokens": 1, "messages": []})).is_none());
    }
}
