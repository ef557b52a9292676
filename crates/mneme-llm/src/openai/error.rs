//! Classifies what OpenAI-compatible servers answer on failure into `LlmError`.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::LlmError;

/// The longest provider message kept in an error (bodies can be whole HTML pages).
const MAX_MESSAGE_CHARS: usize = 500;

/// An error from a non-2xx status and its body.
pub(crate) fn from_status(status: u16, headers: &HeaderMap, body: &[u8]) -> LlmError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = message(&json, body, status);
    let code = code(&json);
    match status {
        429 => LlmError::RateLimited {
            message,
            retry_after: retry_after(headers),
        },
        401 | 403 => LlmError::Authentication(message),
        408 => LlmError::Timeout,
        // OpenAI's own SDKs retry 409 (a lock timeout on their side) like a 5xx.
        409 | 500..=599 => LlmError::Unavailable { status, message },
        400..=499 if is_context_overflow(code.as_deref(), &message) => {
            LlmError::ContextWindowExceeded(message)
        }
        400..=499 => LlmError::BadRequest(message),
        _ => LlmError::InvalidResponse(format!("unexpected status {status}: {message}")),
    }
}

/// An `{"error": ...}` object sent inside a stream after a 200 (OpenAI does this when the
/// model fails mid-generation).
pub(crate) fn from_stream_error(error: &Value) -> LlmError {
    let wrapped = serde_json::json!({ "error": error });
    let message = message(&wrapped, b"", 500);
    let code = code(&wrapped);
    if is_context_overflow(code.as_deref(), &message) {
        return LlmError::ContextWindowExceeded(message);
    }
    match code.as_deref() {
        Some("rate_limit_exceeded") => LlmError::RateLimited {
            message,
            retry_after: None,
        },
        _ => LlmError::Unavailable {
            status: 500,
            message,
        },
    }
}

/// A transport failure.
pub(crate) fn from_reqwest(error: &reqwest::Error) -> LlmError {
    let text = error_chain(error);
    if error.is_timeout() {
        LlmError::Timeout
    } else if error.is_decode() {
        LlmError::InvalidResponse(text)
    } else {
        // Connect failures, resets and bodies cut short are all "cannot reach the provider".
        LlmError::Connection(text)
    }
}

/// The provider's message: `error.message`, a string `error`, `message` or `detail`, else the
/// body text itself.
fn message(json: &Value, body: &[u8], status: u16) -> String {
    let candidates = [
        &json["error"]["message"],
        &json["error"],
        &json["message"],
        &json["detail"],
    ];
    let text = match candidates.iter().find_map(|v| v.as_str()) {
        Some(text) => text.to_owned(),
        None => String::from_utf8_lossy(body).trim().to_owned(),
    };
    if text.is_empty() {
        return format!("HTTP {status}");
    }
    text.chars().take(MAX_MESSAGE_CHARS).collect()
}

fn code(json: &Value) -> Option<String> {
    let code = &json["error"]["code"];
    code.as_str()
        .map(str::to_owned)
        .or_else(|| json["error"]["type"].as_str().map(str::to_owned))
}

/// OpenAI says `context_length_exceeded`; other servers only say it in words.
fn is_context_overflow(code: Option<&str>, message: &str) -> bool {
    if code == Some("context_length_exceeded") {
        return true;
    }
    let message = message.to_lowercase();
    [
        "maximum context length",
        "context length exceeded",
        "context_length_exceeded",
        "context window",
        "prompt is too long",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// `retry-after-ms` (OpenAI, milliseconds) or `retry-after` (seconds; the HTTP-date form is
/// ignored and the normal backoff applies).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        let value = headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

/// The error and its sources on one line: reqwest's own text is only "error sending request".
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn classify(status: u16, body: &str) -> LlmError {
        from_status(status, &HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn statuses_map_to_kinds() {
        let openai = r#"{"error":{"message":"boom","type":"x","code":null}}"#;
        assert_eq!(
            classify(401, openai),
            LlmError::Authentication("boom".into())
        );
        assert_eq!(
            classify(403, openai),
            LlmError::Authentication("boom".into())
        );
        assert_eq!(classify(404, openai), LlmError::BadRequest("boom".into()));
        assert_eq!(
            classify(502, "<html>bad gateway</html>"),
            LlmError::Unavailable {
                status: 502,
                message: "<html>bad gateway</html>".into()
            }
        );
        assert_eq!(classify(400, ""), LlmError::BadRequest("HTTP 400".into()));
        assert_eq!(
            classify(400, r#"{"error":"plain"}"#),
            LlmError::BadRequest("plain".into())
        );
        assert!(matches!(classify(302, ""), LlmError::InvalidResponse(_)));
    }

    #[test]
    fn context_overflow_is_recognised_by_code_or_words() {
        let by_code = r#"{"error":{"message":"too big","code":"context_length_exceeded"}}"#;
        assert_eq!(
            classify(400, by_code),
            LlmError::ContextWindowExceeded("too big".into())
        );
        let vllm = r#"{"message":"This model's maximum context length is 4096 tokens."}"#;
        assert!(matches!(
            classify(400, vllm),
            LlmError::ContextWindowExceeded(_)
        ));
        let anthropic_like = r#"{"error":{"message":"prompt is too long: 210000 tokens"}}"#;
        assert!(matches!(
            classify(413, anthropic_like),
            LlmError::ContextWindowExceeded(_)
        ));
    }

    #[test]
    fn rate_limits_carry_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        let error = from_status(429, &headers, b"{}");
        let LlmError::RateLimited { retry_after, .. } = error else {
            panic!("{error:?}")
        };
        assert_eq!(retry_after, Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250.5"));
        let LlmError::RateLimited { retry_after, .. } = from_status(429, &headers, b"") else {
            panic!()
        };
        assert_eq!(retry_after, Some(Duration::from_secs_f64(0.2505)));
        headers.insert("retry-after-ms", HeaderValue::from_static("soon"));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        let LlmError::RateLimited { retry_after, .. } = from_status(429, &headers, b"") else {
            panic!()
        };
        assert_eq!(retry_after, None);
    }

    #[test]
    fn stream_errors_are_classified() {
        let error = serde_json::json!({"message": "overloaded", "type": "server_error"});
        assert!(matches!(
            from_stream_error(&error),
            LlmError::Unavailable { .. }
        ));
        let error = serde_json::json!({"message": "m", "code": "context_length_exceeded"});
        assert!(matches!(
            from_stream_error(&error),
            LlmError::ContextWindowExceeded(_)
        ));
    }
}
