//! Classifies Gemini's failures: `{"error": {"code", "message", "status"}}` with Google's
//! canonical status names. Statuses mean what they mean at OpenAI (the shared classifier does
//! those), with two differences: a bad key is a 400 `INVALID_ARGUMENT` whose reason says
//! `API_KEY_INVALID`, and a prompt over the window is a 400 that only says so in words.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::LlmError;
use crate::openai::error as shared;

/// An error from a non-2xx status and its body.
pub(crate) fn from_status(status: u16, headers: &HeaderMap, body: &[u8]) -> LlmError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error = &json["error"];
    let message = error["message"].as_str().unwrap_or_default();
    if status == 400 && is_bad_key(error) {
        return LlmError::Authentication(truncate(message));
    }
    if (400..500).contains(&status) && is_context_overflow(message) {
        return LlmError::ContextWindowExceeded(truncate(message));
    }
    shared::from_status(status, headers, body)
}

/// An `error` object sent inside a stream after a 200.
pub(crate) fn from_body(error: &Value) -> LlmError {
    let status = error["code"]
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(500);
    let body = json!({ "error": error }).to_string();
    from_status(status, &HeaderMap::new(), body.as_bytes())
}

fn is_bad_key(error: &Value) -> bool {
    let details = error["details"].as_array().map(Vec::as_slice);
    details
        .unwrap_or_default()
        .iter()
        .any(|d| d["reason"] == "API_KEY_INVALID")
        || error["message"]
            .as_str()
            .is_some_and(|m| m.contains("API key not valid"))
}

/// Letta's test: the message speaks of context or tokens, and of exceeding a limit.
fn is_context_overflow(message: &str) -> bool {
    let message = message.to_lowercase();
    let about_size = ["context", "token count", "tokens allowed"]
        .iter()
        .any(|n| message.contains(n));
    let over = ["exceed", "limit", "too long"]
        .iter()
        .any(|n| message.contains(n));
    about_size && over
}

fn truncate(message: &str) -> String {
    message.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, body: Value) -> LlmError {
        from_status(status, &HeaderMap::new(), body.to_string().as_bytes())
    }

    fn google(code: u16, status: &str, message: &str) -> Value {
        json!({"error": {"code": code, "message": message, "status": status}})
    }

    #[test]
    fn google_errors_are_classified() {
        let quota = classify(
            429,
            google(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted"),
        );
        assert!(matches!(quota, LlmError::RateLimited { .. }) && quota.is_retryable());
        let down = classify(503, google(503, "UNAVAILABLE", "The model is overloaded."));
        assert!(matches!(down, LlmError::Unavailable { status: 503, .. }));
        assert!(classify(500, google(500, "INTERNAL", "oops")).is_retryable());
        let big = classify(
            400,
            google(
                400,
                "INVALID_ARGUMENT",
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            ),
        );
        assert!(matches!(big, LlmError::ContextWindowExceeded(_)), "{big:?}");
        let key = json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}});
        assert!(matches!(classify(400, key), LlmError::Authentication(_)));
        let denied = classify(403, google(403, "PERMISSION_DENIED", "no"));
        assert_eq!(denied, LlmError::Authentication("no".into()));
        let bad = classify(400, google(400, "INVALID_ARGUMENT", "Invalid JSON payload"));
        assert_eq!(bad, LlmError::BadRequest("Invalid JSON payload".into()));
    }

    #[test]
    fn stream_errors_use_their_code() {
        let error = json!({"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"});
        assert!(matches!(from_body(&error), LlmError::RateLimited { .. }));
        let error = json!({"message": "?"});
        assert!(matches!(
            from_body(&error),
            LlmError::Unavailable { status: 500, .. }
        ));
    }
}
