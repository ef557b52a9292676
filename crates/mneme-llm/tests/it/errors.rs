//! Error classification and retries.

use std::time::{Duration, Instant};

use mneme_llm::{LlmClient, LlmError, RetryPolicy};
use mneme_testkit::{FakeLlm, Reply};
use serde_json::json;

use crate::{client, client_with, config, fast_retries, user};

#[tokio::test]
async fn rate_limit_is_retried_then_succeeds() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::rate_limited(None));
    fake.push_text("finally");
    let response = client().chat(&config(&fake), &user("hi")).await.unwrap();
    assert_eq!(response.content.as_deref(), Some("finally"));
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_max_delay() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::rate_limited(Some(Duration::from_millis(300))));
    fake.push_text("ok");
    let retry = RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(2),
    };
    let started = Instant::now();
    let response = client_with(retry, Duration::from_secs(10))
        .chat(&config(&fake), &user("hi"))
        .await
        .unwrap();
    assert_eq!(response.content.as_deref(), Some("ok"));
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn server_errors_exhaust_retries_as_unavailable() {
    let fake = FakeLlm::start().await;
    for _ in 0..4 {
        fake.push_error(
            500,
            json!({"error": {"message": "boom", "type": "server_error"}}),
        );
    }
    fake.push_text("too late");
    let error = client()
        .chat(&config(&fake), &user("hi"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LlmError::Unavailable {
            status: 500,
            message: "boom".into()
        }
    );
    assert_eq!(fake.requests().len(), 4, "one attempt and three retries");
    assert_eq!(fake.pending(), 1);
}

#[tokio::test]
async fn context_length_is_classified_and_not_retried() {
    let fake = FakeLlm::start().await;
    fake.push_context_length_exceeded();
    let error = client()
        .chat(&config(&fake), &user("hi"))
        .await
        .unwrap_err();
    let LlmError::ContextWindowExceeded(message) = error else {
        panic!("{error:?}")
    };
    assert!(message.contains("maximum context length"), "{message}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn auth_errors_are_not_retried() {
    let fake = FakeLlm::start().await;
    fake.push_error(
        401,
        json!({"error": {"message": "Incorrect API key provided"}}),
    );
    let error = client()
        .chat(&config(&fake), &user("hi"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LlmError::Authentication("Incorrect API key provided".into())
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn other_client_errors_are_bad_requests() {
    let fake = FakeLlm::start().await;
    fake.push_error(422, json!({"detail": "messages: field required"}));
    let error = client()
        .chat(&config(&fake), &user("hi"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LlmError::BadRequest("messages: field required".into())
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn slow_responses_time_out() {
    let fake = FakeLlm::start().await;
    fake.set_latency(Duration::from_millis(500));
    let client = client_with(fast_retries(1), Duration::from_millis(100));
    let started = Instant::now();
    let error = client.chat(&config(&fake), &user("hi")).await.unwrap_err();
    assert_eq!(error, LlmError::Timeout);
    assert!(
        started.elapsed() < Duration::from_millis(450),
        "did not wait for the reply"
    );
    assert_eq!(fake.requests().len(), 2, "a timeout is retried");
}

#[tokio::test]
async fn garbage_is_an_invalid_response() {
    let fake = FakeLlm::start().await;
    fake.push(Reply {
        finish_reason: Some("stop".into()),
        ..Reply::error(200, json!({"not": "a completion"}))
    });
    let error = client()
        .chat(&config(&fake), &user("hi"))
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::InvalidResponse(_)), "{error:?}");
}

#[tokio::test]
async fn unreachable_servers_are_connection_errors() {
    // Bind then drop a listener: the port is very likely closed afterwards.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let fake = FakeLlm::start().await;
    let mut config = config(&fake);
    config.model_endpoint = Some(format!("http://{addr}/v1"));
    let error = client_with(RetryPolicy::none(), Duration::from_secs(5))
        .chat(&config, &user("hi"))
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::Connection(_)), "{error:?}");
}
