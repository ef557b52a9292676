//! `POST /v1/responses`: OpenAI's Responses API, as OpenAI's reasoning models are called. The
//! scripted `Reply` becomes a `response` object or its typed SSE events; `reasoning` becomes a
//! reasoning item with a summary and encrypted content (`gAAAA…`, as OpenAI's Fernet tokens
//! begin), which a client must send back.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::chat::{error_response, estimate_tokens, invalid_json, split};
use super::script::{Protocol, Reply};

pub(crate) const PATH: &str = "/v1/responses";

pub(crate) async fn responses(
    State(script): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = super::record(&script, PATH, &headers, &body);
    if !request.is_object() {
        return invalid_json();
    }
    let (reply, latency, id) = {
        let mut script = script.lock().unwrap();
        (
            script.next_reply(&as_chat_request(&request), &request),
            script.latency,
            script.next_id(),
        )
    };
    tokio::time::sleep(latency + Duration::from_millis(reply.delay_ms.unwrap_or(0))).await;
    if let Some(error) = &reply.error {
        return error_response(error, Protocol::OpenAi);
    }
    let output = output_items(&reply, id);
    let usage = usage(&request, &reply, &output);
    let status = match reply.finish_reason.as_deref() {
        Some("length") => json!({"status": "incomplete",
                                 "incomplete_details": {"reason": "max_output_tokens"}}),
        _ => json!({"status": "completed", "incomplete_details": null}),
    };
    let mut response = json!({"id": format!("resp_fake{id:08}"), "object": "response",
        "model": request["model"], "output": output, "usage": usage});
    merge(&mut response, status);
    if request["stream"] == true {
        sse(events(&response))
    } else {
        Json(response).into_response()
    }
}

/// The request in the chat form the script's rules and echo read (`messages`, `tools`).
fn as_chat_request(request: &Value) -> Value {
    let messages: Vec<Value> = request["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["role"].is_string())
        .map(|item| {
            let content = match &item["content"] {
                Value::Array(parts) => Value::Array(parts.clone()),
                other => other.clone(),
            };
            json!({"role": item["role"], "content": content})
        })
        .collect();
    let tools: Vec<Value> = request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| json!({"type": "function", "function": {"name": t["name"]}}))
        .collect();
    json!({"messages": messages, "tools": tools})
}

fn output_items(reply: &Reply, id: u64) -> Vec<Value> {
    let mut output = Vec::new();
    if let Some(reasoning) = &reply.reasoning {
        output.push(json!({"type": "reasoning", "id": format!("rs_fake{id:08}"),
            "summary": [{"type": "summary_text", "text": reasoning}],
            "encrypted_content": format!("gAAAAfake{id:08}")}));
    }
    if let Some(text) = &reply.text {
        output.push(json!({"type": "message", "id": format!("msg_fake{id:08}"),
            "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}));
    }
    for (n, call) in reply.tool_calls.iter().enumerate() {
        let arguments = call.arguments_text();
        let call_id = call
            .id
            .clone()
            .unwrap_or_else(|| format!("call_fake{id:06}{n:02}"));
        output.push(
            json!({"type": "function_call", "id": format!("fc_fake{id:06}{n:02}"),
            "call_id": call_id, "name": call.name, "arguments": arguments,
            "status": "completed"}),
        );
    }
    output
}

fn usage(request: &Value, reply: &Reply, output: &[Value]) -> Value {
    let input = reply
        .prompt_tokens
        .unwrap_or_else(|| estimate_tokens(request["input"].to_string().len()));
    let out = reply
        .completion_tokens
        .unwrap_or_else(|| estimate_tokens(Value::Array(output.to_vec()).to_string().len()));
    json!({"input_tokens": input, "input_tokens_details": {"cached_tokens": 0},
           "output_tokens": out, "output_tokens_details": {"reasoning_tokens": 0},
           "total_tokens": input + out})
}

fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}

/// The typed events of a streamed response, in OpenAI's order.
fn events(response: &Value) -> Vec<Value> {
    let mut events = vec![json!({"type": "response.created", "response": {"id": response["id"]}})];
    for (index, item) in response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let added = match item["type"].as_str() {
            Some("function_call") => {
                let mut open = item.clone();
                open["arguments"] = json!("");
                open
            }
            _ => json!({"type": item["type"], "id": item["id"]}),
        };
        events.push(
            json!({"type": "response.output_item.added", "output_index": index,
                           "item": added}),
        );
        events.extend(item_deltas(item, index));
        events.push(
            json!({"type": "response.output_item.done", "output_index": index,
                           "item": item}),
        );
    }
    let kind = if response["status"] == "incomplete" {
        "response.incomplete"
    } else {
        "response.completed"
    };
    events.push(json!({"type": kind, "response": response}));
    events
}

fn item_deltas(item: &Value, index: usize) -> Vec<Value> {
    let (kind, text) = match item["type"].as_str() {
        Some("reasoning") => (
            "response.reasoning_summary_text.delta",
            &item["summary"][0]["text"],
        ),
        Some("message") => ("response.output_text.delta", &item["content"][0]["text"]),
        Some("function_call") => ("response.function_call_arguments.delta", &item["arguments"]),
        _ => return Vec::new(),
    };
    split(text.as_str().unwrap_or_default(), 4)
        .into_iter()
        .map(|delta| json!({"type": kind, "output_index": index, "delta": delta}))
        .collect()
}

/// SSE framing with the event name beside each JSON event, as OpenAI sends them.
fn sse(events: Vec<Value>) -> Response {
    let frames = events
        .into_iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("")))
        .map(Ok::<_, Infallible>);
    let body = Body::from_stream(futures_util::stream::iter(frames));
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    (headers, body).into_response()
}
