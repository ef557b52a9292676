//! Retries with exponential backoff and jitter for the errors `LlmError::is_retryable` names.

use std::future::Future;
use std::time::Duration;

use crate::LlmError;

/// How often and how patiently a failed model request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub max_retries: u32,
    /// The wait before the first retry; it doubles for each further retry.
    pub base_delay: Duration,
    /// The longest single wait, also the cap on a provider's `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry number `retry` (0-based) after `error`: the provider's
    /// `Retry-After` when it sent one, else `base_delay * 2^retry` with "equal jitter" (half
    /// fixed, half random) so that clients that failed together do not retry together.
    pub fn delay(&self, retry: u32, error: &LlmError) -> Duration {
        if let LlmError::RateLimited {
            retry_after: Some(after),
            ..
        } = error
        {
            return (*after).min(self.max_delay);
        }
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        let half = exponential / 2;
        half + half.mul_f64(rand::random::<f64>())
    }
}

/// Runs `attempt` until it succeeds, fails with a non-retryable error, or the retries are
/// used up; the last error is returned.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    mut attempt: F,
) -> Result<T, LlmError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, LlmError>>,
{
    let mut retry = 0;
    loop {
        match attempt().await {
            Err(error) if error.is_retryable() && retry < policy.max_retries => {
                let delay = policy.delay(retry, &error);
                retry += 1;
                tracing::warn!(
                    retry,
                    max_retries = policy.max_retries,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    %error,
                    "model request failed; retrying"
                );
                tokio::time::sleep(delay).await;
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        let error = LlmError::Timeout;
        for _ in 0..50 {
            let first = policy.delay(0, &error);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let second = policy.delay(1, &error);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
            assert!(policy.delay(10, &error) <= Duration::from_millis(300));
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let limited = |secs| LlmError::RateLimited {
            message: String::new(),
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(policy.delay(0, &limited(2)), Duration::from_secs(2));
        assert_eq!(policy.delay(0, &limited(3600)), policy.max_delay);
    }

    #[tokio::test]
    async fn non_retryable_errors_are_returned_at_once() {
        let mut calls = 0;
        let outcome: Result<(), _> = with_retries(&RetryPolicy::default(), || {
            calls += 1;
            async { Err(LlmError::BadRequest("no".into())) }
        })
        .await;
        assert_eq!(outcome, Err(LlmError::BadRequest("no".into())));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn retryable_errors_are_retried_up_to_the_limit() {
        let policy = RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        };
        let mut calls = 0;
        let outcome: Result<(), _> = with_retries(&policy, || {
            calls += 1;
            async { Err(LlmError::Timeout) }
        })
        .await;
        assert_eq!(outcome, Err(LlmError::Timeout));
        assert_eq!(calls, 3);
    }
}
