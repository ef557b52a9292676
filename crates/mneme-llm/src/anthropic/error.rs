//! Classifies Anthropic's failures into `LlmError`. Anthropic answers errors as
//! `{"type": "error", "error": {"type": "rate_limit_error", "message": "..."}}`, over HTTP and
//! as an `error` event inside a stream that already began.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::LlmError;
use crate::openai::error::retry_after;

/// The longest provider message kept in an error (bodies can be whole HTML pages).
const MAX_MESSAGE_CHARS: usize = 500;

/// Anthropic's status for "overloaded": retried like a 5xx.
const OVERLOADED: u16 = 529;

/// An error from a non-2xx status and its body.
pub(crate) fn from_status(status: u16, headers: &HeaderMap, body: &[u8]) -> LlmError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = message(&json, body, status);
    match status {
        429 => LlmError::RateLimited {
            message,
            retry_after: retry_after(headers),
        },
        401 | 403 => LlmError::Authentication(message),
        408 => LlmError::Timeout,
        // 413 is `request_too_large`: the prompt, images included, is over the limit.
        413 => LlmError::ContextWindowExceeded(message),
        500..=599 => LlmError::Unavailable { status, message },
        400..=499 if is_context_overflow(&message) => LlmError::ContextWindowExceeded(message),
        400..=499 => LlmError::BadRequest(message),
        _ => LlmError::InvalidResponse(format!("unexpected status {status}: {message}")),
    }
}

/// The `error` object of an `error` event sent after the stream began (an overload mid-answer
/// is the common one).
pub(crate) fn from_stream_error(error: &Value) -> LlmError {
    let wrapped = serde_json::json!({ "error": error });
    let message = message(&wrapped, b"", 500);
    match error["type"].as_str().unwrap_or_default() {
        "rate_limit_error" => LlmError::RateLimited {
            message,
            retry_after: None,
        },
        "overloaded_error" => LlmError::Unavailable {
            status: OVERLOADED,
            message,
        },
        "authentication_error" | "permission_error" => LlmError::Authentication(message),
        "request_too_large" => LlmError::ContextWindowExceeded(message),
        "invalid_request_error" if is_context_overflow(&message) => {
            LlmError::ContextWindowExceeded(message)
        }
        "invalid_request_error" | "not_found_error" => LlmError::BadRequest(message),
        // `api_error` and whatever Anthropic adds later: a server-side failure.
        _ => LlmError::Unavailable {
            status: 500,
            message,
        },
    }
}

/// `error.message`, else the body text itself.
fn message(json: &Value, body: &[u8], status: u16) -> String {
    let text = match json["error"]["message"]
        .as_str()
        .or_else(|| json["message"].as_str())
    {
        Some(text) => text.to_owned(),
        None => String::from_utf8_lossy(body).trim().to_owned(),
    };
    if text.is_empty() {
        return format!("HTTP {status}");
    }
    text.chars().take(MAX_MESSAGE_CHARS).collect()
}

/// Anthropic says it only in words: "prompt is too long: 210000 tokens > 200000 maximum", or
/// "input length and `max_tokens` exceed context limit: ...".
fn is_context_overflow(message: &str) -> bool {
    let message = message.to_lowercase();
    [
        "prompt is too long",
        "exceed context limit",
        "exceeds context",
        "context window",
        "request_too_large",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;
    use std::time::Duration;

    fn body(kind: &str, message: &str) -> Vec<u8> {
        json!({"type": "error", "error": {"type": kind, "message": message}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn statuses_map_to_kinds() {
        let classify =
            |status, kind, message| from_status(status, &HeaderMap::new(), &body(kind, message));
        assert_eq!(
            classify(401, "authentication_error", "invalid x-api-key"),
            LlmError::Authentication("invalid x-api-key".into())
        );
        assert!(matches!(
            classify(403, "permission_error", "no"),
            LlmError::Authentication(_)
        ));
        assert_eq!(
            classify(529, "overloaded_error", "Overloaded"),
            LlmError::Unavailable {
                status: 529,
                message: "Overloaded".into()
            }
        );
        assert!(classify(529, "overloaded_error", "Overloaded").is_retryable());
        assert!(classify(500, "api_error", "Internal server error").is_retryable());
        assert_eq!(
            classify(400, "invalid_request_error", "tools.0.name: bad"),
            LlmError::BadRequest("tools.0.name: bad".into())
        );
        assert_eq!(
            classify(
                400,
                "invalid_request_error",
                "prompt is too long: 210000 tokens > 200000 maximum"
            ),
            LlmError::ContextWindowExceeded(
                "prompt is too long: 210000 tokens > 200000 maximum".into()
            )
        );
        assert!(matches!(
            classify(413, "request_too_large", "Request exceeds the maximum size"),
            LlmError::ContextWindowExceeded(_)
        ));
    }

    #[test]
    fn rate_limits_carry_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        let error = from_status(429, &headers, &body("rate_limit_error", "slow down"));
        assert_eq!(
            error,
            LlmError::RateLimited {
                message: "slow down".into(),
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn stream_errors_are_classified() {
        let event = |kind: &str, message: &str| json!({"type": kind, "message": message});
        assert_eq!(
            from_stream_error(&event("overloaded_error", "Overloaded")),
            LlmError::Unavailable {
                status: 529,
                message: "Overloaded".into()
            }
        );
        assert!(matches!(
            from_stream_error(&event("rate_limit_error", "x")),
            LlmError::RateLimited { .. }
        ));
        assert!(matches!(
            from_stream_error(&event("invalid_request_error", "prompt is too long")),
            LlmError::ContextWindowExceeded(_)
        ));
        assert!(matches!(
            from_stream_error(&event("api_error", "oops")),
            LlmError::Unavailable { status: 500, .. }
        ));
    }
}
