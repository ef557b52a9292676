//! `POST /v1/embeddings` (deterministic vectors from a hash of each input) and `GET /v1/models`
//! (OpenAI's list, or Anthropic's to a request with `anthropic-version`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::chat::{estimate_tokens, invalid_json};

pub(crate) const PATH: &str = "/v1/embeddings";

/// OpenAI's default for `text-embedding-3-small` and `ada-002`.
const DEFAULT_DIMENSIONS: usize = 1536;

/// What `GET /v1/models` lists, under every provider pointed at the fake: what OpenAI's own
/// list names that Letta's clients and tests use, plus a local-server model (an
/// OpenAI-compatible server lists its own models).
const MODELS: [&str; 21] = [
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4-turbo",
    "gpt-3.5-turbo",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "o1",
    "o3",
    "o3-mini",
    "o4-mini",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-5.1",
    "gpt-5.2",
    "qwen3-8b",
    "fake-model",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
];

pub(crate) async fn embeddings(
    State(script): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = super::record(&script, PATH, &headers, &body);
    let latency = script.lock().unwrap().latency;
    tokio::time::sleep(latency).await;
    if !request.is_object() {
        return invalid_json();
    }
    let dimensions = request["dimensions"]
        .as_u64()
        .and_then(|d| usize::try_from(d).ok())
        .filter(|d| *d > 0)
        .unwrap_or(DEFAULT_DIMENSIONS);
    let base64 = request["encoding_format"] == "base64";
    let inputs = inputs(&request["input"]);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let vector = embed(text, dimensions);
            let embedding = if base64 {
                json!(to_base64(&vector))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens = estimate_tokens(inputs.iter().map(String::len).sum());
    Json(json!({
        "object": "list",
        "data": data,
        "model": request["model"].as_str().unwrap_or("text-embedding-3-small"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response()
}

/// The ids `GET /v1/models` lists to an Anthropic client.
const ANTHROPIC_MODELS: [&str; 9] = [
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-5-20251101",
    "claude-opus-4-1-20250805",
    "claude-opus-4-20250514",
    "claude-sonnet-4-20250514",
    "claude-3-7-sonnet-20250219",
    "claude-3-5-sonnet-20241022",
    "claude-3-5-haiku-20241022",
];

/// A key the fake refuses with OpenAI's 401, for tests of bad credentials.
pub const REFUSED_KEY: &str = "sk-refused";

pub(crate) async fn models(State(script): State<Shared>, headers: HeaderMap) -> Response {
    let latency = script.lock().unwrap().latency;
    tokio::time::sleep(latency).await;
    let refused = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {REFUSED_KEY}"));
    if refused {
        let body = json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}});
        return (axum::http::StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    if headers.contains_key("anthropic-version") {
        let data: Vec<Value> = ANTHROPIC_MODELS
            .iter()
            .map(|id| {
                json!({"type": "model", "id": id, "display_name": id,
                "created_at": "2025-09-29T00:00:00Z"})
            })
            .collect();
        let (first, last) = (ANTHROPIC_MODELS[0], ANTHROPIC_MODELS[8]);
        let body = json!({"data": data, "has_more": false, "first_id": first, "last_id": last});
        return Json(body).into_response();
    }
    let data: Vec<Value> = MODELS
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "mneme-fake"}))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

/// The texts to embed: a string, a list of strings, or token arrays (hashed as their JSON).
fn inputs(input: &Value) -> Vec<String> {
    let as_text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    match input {
        Value::Array(items) if items.first().is_some_and(Value::is_number) => {
            vec![input.to_string()]
        }
        Value::Array(items) => items.iter().map(as_text).collect(),
        other => vec![as_text(other)],
    }
}

/// A unit vector that depends only on `text` and `dimensions`: FNV-1a seeds a splitmix64
/// sequence (both fixed algorithms, so vectors are stable across Rust versions and machines).
pub fn embed(text: &str, dimensions: usize) -> Vec<f32> {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let raw: Vec<f64> = (0..dimensions)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // The top 53 bits as a float in [-1, 1).
            (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    raw.iter().map(|x| (x / norm) as f32).collect()
}

/// OpenAI's base64 form: the little-endian f32 bytes, standard alphabet with padding.
fn to_base64(vector: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embed("hello", 64);
        assert_eq!(a, embed("hello", 64));
        assert_ne!(a, embed("hello!", 64));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }

    #[test]
    fn inputs_accept_strings_lists_and_tokens() {
        assert_eq!(inputs(&json!("a")), vec!["a"]);
        assert_eq!(inputs(&json!(["a", "b"])), vec!["a", "b"]);
        assert_eq!(inputs(&json!([1, 2])), vec!["[1,2]"]);
    }

    #[test]
    fn base64_matches_the_standard_encoding() {
        // 1.0f32 is 00 00 80 3f.
        assert_eq!(to_base64(&[1.0]), "AACAPw==");
        assert_eq!(to_base64(&[1.0, 1.0]), "AACAPwAAgD8=");
    }
}
