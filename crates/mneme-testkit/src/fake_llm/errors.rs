//! Error bodies as each provider writes them, for scripted errors without a body of their own.

use serde_json::{Value, json};

/// OpenAI's 400 for a prompt over the context window.
pub(crate) fn openai_context_length() -> Value {
    json!({"error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages \
                    resulted in 130000 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }})
}

/// OpenAI's error body shape for a status.
pub(crate) fn openai_body(status: u16) -> Value {
    let (message, kind, code) = match status {
        429 => (
            "Rate limit reached for requests",
            "requests",
            "rate_limit_exceeded",
        ),
        401 => (
            "Incorrect API key provided",
            "invalid_request_error",
            "invalid_api_key",
        ),
        400..=499 => (
            "Invalid request",
            "invalid_request_error",
            "invalid_request",
        ),
        _ => (
            "The server had an error while processing your request",
            "server_error",
            "server_error",
        ),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// Anthropic's 400 for a prompt over the context window.
pub(crate) fn anthropic_context_length() -> Value {
    anthropic_error(
        "invalid_request_error",
        "prompt is too long: 210000 tokens > 200000 maximum",
    )
}

/// Anthropic's error body for a status (529 is its "overloaded").
pub(crate) fn anthropic_body(status: u16) -> Value {
    let (kind, message) = match status {
        401 => ("authentication_error", "invalid x-api-key"),
        403 => ("permission_error", "Your API key does not have permission"),
        404 => ("not_found_error", "Not found"),
        413 => (
            "request_too_large",
            "Request exceeds the maximum allowed size",
        ),
        429 => (
            "rate_limit_error",
            "This request would exceed the rate limit for your organization",
        ),
        529 => ("overloaded_error", "Overloaded"),
        400..=499 => ("invalid_request_error", "Invalid request"),
        _ => ("api_error", "Internal server error"),
    };
    anthropic_error(kind, message)
}

pub(crate) fn anthropic_error(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}
