//! What the remote embedders share: one request sent and read with errors classified, and
//! retries with backoff on outages and overload.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use crate::{EmbedError, OpenAiEmbedderOptions};

/// The HTTP client of a remote embedder: its timeouts, mneme's user agent.
pub(crate) fn client(options: &OpenAiEmbedderOptions) -> Result<reqwest::Client, EmbedError> {
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.timeout)
        .user_agent(concat!("mneme/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| EmbedError::Unavailable(format!("cannot build the HTTP client: {e}")))
}

/// Runs `attempt` until it succeeds, fails for good, or `options.max_attempts` are used.
pub(crate) async fn with_retries<T, F, Fut>(
    name: &str,
    options: &OpenAiEmbedderOptions,
    mut attempt: F,
) -> Result<T, EmbedError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, EmbedError>>,
{
    let mut number = 1;
    loop {
        match attempt().await {
            Err(error) if error.is_retryable() && number < options.max_attempts => {
                let delay = backoff(options.backoff, number);
                tracing::warn!(
                    embedder = %name,
                    attempt = number,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    %error,
                    "embedding request failed; retrying"
                );
                tokio::time::sleep(delay).await;
                number += 1;
            }
            outcome => return outcome,
        }
    }
}

/// `base * 2^(attempt-1)`, half fixed and half random so that callers that failed together do
/// not retry together.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let full = base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
    let half = full / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// Sends `request` and returns the body of a 2xx answer; other statuses are
/// `EmbedError::Provider` with the provider's own message.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    url: &str,
) -> Result<Vec<u8>, EmbedError> {
    let response = request.send().await.map_err(|e| transport_error(url, &e))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport_error(url, &e))?;
    if !status.is_success() {
        return Err(EmbedError::Provider {
            status: status.as_u16(),
            message: error_message(&bytes),
        });
    }
    Ok(bytes.to_vec())
}

fn transport_error(url: &str, error: &reqwest::Error) -> EmbedError {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The source chain says why (connection refused, DNS); reqwest's own message does not.
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        source = cause.source();
    }
    EmbedError::Unavailable(format!("{what} ({url}): {detail}"))
}

/// The provider's own words for an error: OpenAI's `{"error": {"message"}}`, Ollama's
/// `{"error": "..."}`, FastAPI's `{"detail": ...}`, else the start of the raw body.
pub(crate) fn error_message(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 500;
    if let Ok(body) = serde_json::from_slice::<Value>(bytes) {
        let error = &body["error"];
        let found = error["message"]
            .as_str()
            .or_else(|| error.as_str())
            .or_else(|| body["message"].as_str())
            .map(str::to_owned)
            .or_else(|| (!body["detail"].is_null()).then(|| body["detail"].to_string()));
        if let Some(message) = found {
            return message.chars().take(MAX_CHARS).collect();
        }
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "no error message".to_owned();
    }
    text.chars().take(MAX_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_the_known_shapes() {
        assert_eq!(
            error_message(br#"{"error": {"message": "Incorrect API key", "type": "x"}}"#),
            "Incorrect API key"
        );
        assert_eq!(
            error_message(br#"{"error": "model not found"}"#),
            "model not found"
        );
        assert_eq!(error_message(br#"{"detail": "nope"}"#), "\"nope\"");
        assert_eq!(error_message(b"Bad Gateway"), "Bad Gateway");
        assert_eq!(error_message(b""), "no error message");
    }
}
