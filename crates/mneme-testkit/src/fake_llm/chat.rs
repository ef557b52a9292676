//! `POST /v1/chat/completions`: turns a scripted `Reply` into OpenAI's `chat.completion` object
//! or its `chat.completion.chunk` SSE stream.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::Shared;
use super::script::{ErrorReply, Protocol, Reply};

pub(crate) const PATH: &str = "/v1/chat/completions";

pub(crate) async fn chat_completions(
    State(script): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = super::record(&script, PATH, &headers, &body);
    if !request.is_object() {
        return invalid_json();
    }
    let (reply, latency, first_id) = {
        let mut script = script.lock().unwrap();
        let reply = script.next_reply(&request, &request);
        // Reserve one id for the completion and one per tool call.
        let first_id = script.next_id();
        for _ in 1..=reply.tool_calls.len() {
            script.next_id();
        }
        (reply, script.latency, first_id)
    };
    let delay = latency + Duration::from_millis(reply.delay_ms.unwrap_or(0));
    tokio::time::sleep(delay).await;
    if let Some(error) = &reply.error {
        return error_response(error, Protocol::OpenAi);
    }
    let answer = Answer::new(&request, &reply, first_id);
    if request["stream"] == true {
        let include_usage = request["stream_options"]["include_usage"] == true;
        let pause = Duration::from_millis(reply.chunk_delay_ms.unwrap_or(0));
        sse_response(answer.chunks(include_usage), pause)
    } else {
        Json(answer.completion()).into_response()
    }
}

/// OpenAI's answer to a body that is not a JSON object.
pub(crate) fn invalid_json() -> Response {
    let body = json!({"error": {"message": "We could not parse the JSON body of your request.",
        "type": "invalid_request_error", "param": null, "code": null}});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// An HTTP error with the scripted status, body and headers; without a scripted body, the
/// protocol's own.
pub(crate) fn error_response(error: &ErrorReply, protocol: Protocol) -> Response {
    error_response_with(error, error.body(protocol))
}

/// An HTTP error with the scripted status and headers and `body` (another provider's default
/// body when the script gave none).
pub(crate) fn error_response_with(error: &ErrorReply, body: Value) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Json(body)).into_response();
    for (name, value) in &error.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// A resolved reply: ids assigned, token counts estimated.
struct Answer {
    id: String,
    model: String,
    created: u64,
    text: Option<String>,
    reasoning: Option<String>,
    /// (id, name, arguments as JSON text)
    tool_calls: Vec<(String, String, String)>,
    finish_reason: String,
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
}

impl Answer {
    fn new(request: &Value, reply: &Reply, first_id: u64) -> Answer {
        let tool_calls: Vec<_> = (first_id + 1..)
            .zip(&reply.tool_calls)
            .map(|(n, call)| {
                let id = call
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("call_fake{n:08}"));
                (id, call.name.clone(), call.arguments_text())
            })
            .collect();
        let finish_reason = reply.finish_reason.clone().unwrap_or_else(|| {
            let reason = if tool_calls.is_empty() {
                "stop"
            } else {
                "tool_calls"
            };
            reason.to_owned()
        });
        let completion_chars = [&reply.text, &reply.reasoning]
            .iter()
            .filter_map(|t| t.as_deref())
            .map(str::len)
            .chain(tool_calls.iter().map(|(_, n, a)| n.len() + a.len()))
            .sum();
        Answer {
            id: format!("chatcmpl-fake{first_id:08}"),
            model: request["model"].as_str().unwrap_or("fake-model").to_owned(),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            text: reply.text.clone(),
            reasoning: reply.reasoning.clone(),
            tool_calls,
            finish_reason,
            prompt_tokens: reply
                .prompt_tokens
                .unwrap_or_else(|| estimate_tokens(request["messages"].to_string().len())),
            completion_tokens: reply
                .completion_tokens
                .unwrap_or_else(|| estimate_tokens(completion_chars)),
            cached_tokens: reply.cache_read_tokens,
            reasoning_tokens: reply.reasoning_tokens,
        }
    }

    fn usage(&self) -> Value {
        let mut usage = json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        });
        if let Some(n) = self.cached_tokens {
            usage["prompt_tokens_details"] = json!({ "cached_tokens": n });
        }
        if let Some(n) = self.reasoning_tokens {
            usage["completion_tokens_details"] = json!({ "reasoning_tokens": n });
        }
        usage
    }

    /// The non-streaming `chat.completion` object.
    fn completion(&self) -> Value {
        let mut message = json!({"role": "assistant", "content": self.text});
        if let Some(reasoning) = &self.reasoning {
            message["reasoning_content"] = json!(reasoning);
        }
        if !self.tool_calls.is_empty() {
            let calls = self.tool_calls.iter().map(|(id, name, arguments)| {
                json!({"id": id, "type": "function",
                       "function": {"name": name, "arguments": arguments}})
            });
            message["tool_calls"] = Value::Array(calls.collect());
        }
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
            "usage": self.usage(),
        })
    }

    /// The `chat.completion.chunk` objects of the streamed form, in order.
    fn chunks(&self, include_usage: bool) -> Vec<Value> {
        let mut deltas = vec![json!({"role": "assistant", "content": ""})];
        for piece in split(self.reasoning.as_deref().unwrap_or(""), 8) {
            deltas.push(json!({"reasoning_content": piece}));
        }
        for piece in split(self.text.as_deref().unwrap_or(""), 8) {
            deltas.push(json!({"content": piece}));
        }
        for (index, (id, name, arguments)) in self.tool_calls.iter().enumerate() {
            deltas.push(
                json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                "function": {"name": name, "arguments": ""}}]}),
            );
            for piece in split(arguments, 4) {
                deltas.push(json!({"tool_calls": [{"index": index,
                    "function": {"arguments": piece}}]}));
            }
        }
        let mut chunks: Vec<Value> = deltas
            .into_iter()
            .map(|delta| self.chunk(json!([{"index": 0, "delta": delta, "finish_reason": null}])))
            .collect();
        let finish = json!([{"index": 0, "delta": {}, "finish_reason": self.finish_reason}]);
        chunks.push(self.chunk(finish));
        if include_usage {
            let mut usage = self.chunk(json!([]));
            usage["usage"] = self.usage();
            chunks.push(usage);
        }
        chunks
    }

    fn chunk(&self, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        })
    }
}

/// SSE framing: one `data:` line and a blank line per chunk, then `data: [DONE]`; `pause`
/// between two frames.
fn sse_response(chunks: Vec<Value>, pause: Duration) -> Response {
    let frames = chunks
        .into_iter()
        .map(|chunk| format!("data: {chunk}\n\n"))
        .chain(std::iter::once("data: [DONE]\n\n".to_owned()))
        .enumerate();
    let paced = futures_util::stream::iter(frames).then(move |(i, frame)| async move {
        if i > 0 && !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        Ok::<_, Infallible>(frame)
    });
    let body = Body::from_stream(paced);
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    (headers, body).into_response()
}

/// Splits `text` into at most `max_pieces` non-empty pieces on character boundaries (real
/// providers send a few characters or tokens per delta).
pub(crate) fn split(text: &str, max_pieces: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let size = chars.len().div_ceil(max_pieces.max(1));
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// A deterministic stand-in for a tokenizer: about four characters per token.
pub(crate) fn estimate_tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(4)).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_characters_and_bounds_pieces() {
        let pieces = split("héllo wörld, how are you?", 4);
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces.concat(), "héllo wörld, how are you?");
        assert_eq!(split("ab", 4), vec!["a", "b"]);
        assert!(split("", 4).is_empty());
    }

    #[test]
    fn streamed_chunks_carry_the_whole_answer() {
        let request = json!({"model": "m", "messages": [{"role": "user", "content": "q"}]});
        let reply = Reply::tool_call("f", json!({"city": "Paris", "days": 3})).with_text("ok");
        let answer = Answer::new(&request, &reply, 1);
        let chunks = answer.chunks(true);
        let mut args = String::new();
        for chunk in &chunks {
            for call in chunk["choices"][0]["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                args.push_str(call["function"]["arguments"].as_str().unwrap());
            }
        }
        assert_eq!(args, r#"{"city":"Paris","days":3}"#);
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"], json!([]));
        assert_eq!(last["usage"], answer.completion()["usage"]);
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    }

    #[tokio::test]
    async fn the_chunk_delay_paces_the_frames() {
        let chunks = vec![json!({"n": 1}), json!({"n": 2})];
        let started = std::time::Instant::now();
        let response = sse_response(chunks, Duration::from_millis(30));
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        // Three frames (two chunks and [DONE]): two pauses between them.
        assert!(started.elapsed() >= Duration::from_millis(60));
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "data: {\"n\":1}\n\ndata: {\"n\":2}\n\ndata: [DONE]\n\n"
        );
    }
}
