//! Streaming: deltas from the fake equal the non-streaming answer; retries before the first
//! byte; errors mid-stream, from a raw socket that misbehaves on purpose.

use std::time::Duration;

use futures_util::StreamExt;
use mneme_llm::{ChatDelta, LlmClient, LlmError, ToolChoice, assemble, collect_stream};
use mneme_testkit::{FakeLlm, Reply};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{client, client_with, config, fast_retries, user, with_tools};

async fn stream_deltas(fake: &FakeLlm, request: &mneme_llm::ChatRequest) -> Vec<ChatDelta> {
    let stream = client().chat_stream(&config(fake), request).await.unwrap();
    stream.map(Result::unwrap).collect().await
}

#[tokio::test]
async fn streamed_text_equals_the_plain_answer() {
    let fake = FakeLlm::start().await;
    let reply = Reply::text("A long enough answer to be split into several deltas.")
        .with_reasoning("Some reasoning first.");
    fake.push(reply.clone());
    fake.push(reply);
    let mut plain = client().chat(&config(&fake), &user("hi")).await.unwrap();
    let deltas = stream_deltas(&fake, &user("hi")).await;
    let contents = deltas.iter().filter(|d| matches!(d, ChatDelta::Content(_)));
    assert!(contents.count() > 1, "{deltas:?}");
    assert!(matches!(deltas.last(), Some(ChatDelta::Done { .. })));
    let mut streamed = assemble(deltas);
    // The bodies exchanged differ (a stream's request asks for one); the answers do not.
    let (plain_bodies, streamed_bodies) = (plain.exchange.take(), streamed.exchange.take());
    assert_eq!(streamed, plain);
    let requests = fake.requests();
    let as_json = |b: &bytes::Bytes| serde_json::from_slice::<serde_json::Value>(b).unwrap();
    assert_eq!(as_json(&plain_bodies.unwrap().request), requests[0]);
    let streamed_bodies = streamed_bodies.unwrap();
    assert_eq!(as_json(&streamed_bodies.request), requests[1]);
    let events = as_json(&streamed_bodies.response)["stream"].clone();
    assert!(events.as_array().unwrap().len() > 2, "{events}");

    let sent = fake.requests().pop().unwrap();
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn streamed_tool_calls_equal_the_plain_answer() {
    let fake = FakeLlm::start().await;
    let reply = Reply::tool_call(
        "send_message",
        json!({"message": "a message long enough to split"}),
    )
    .with_tool_call(
        "archival_memory_search",
        json!({"query": "cats", "page": 2}),
    )
    .with_text("Calling tools.");
    fake.push(reply.clone());
    fake.push(reply);
    let request = with_tools(user("hi"), ToolChoice::Auto);
    let mut plain = client().chat(&config(&fake), &request).await.unwrap();
    let deltas = stream_deltas(&fake, &request).await;
    let fragments = deltas
        .iter()
        .filter(|d| matches!(d, ChatDelta::ToolCall { index: 0, .. }));
    assert!(fragments.count() > 2, "{deltas:?}");
    let mut streamed = assemble(deltas);
    // Ids are fresh per response; everything else must match.
    for call in plain
        .tool_calls
        .iter_mut()
        .chain(streamed.tool_calls.iter_mut())
    {
        assert!(call.id.starts_with("call_"));
        call.id.clear();
    }
    assert!(plain.exchange.take().is_some() && streamed.exchange.take().is_some());
    assert_eq!(streamed, plain);
    assert_eq!(streamed.tool_calls.len(), 2);
    assert!(streamed.usage.total_tokens > 0);
}

#[tokio::test]
async fn errors_before_the_first_byte_are_retried() {
    let fake = FakeLlm::start().await;
    fake.push_error(503, json!({"error": {"message": "overloaded"}}));
    fake.push_text("after the retry");
    let stream = client()
        .chat_stream(&config(&fake), &user("hi"))
        .await
        .unwrap();
    let response = collect_stream(stream).await.unwrap();
    assert_eq!(response.content.as_deref(), Some("after the retry"));
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn context_length_fails_the_stream_call() {
    let fake = FakeLlm::start().await;
    fake.push_context_length_exceeded();
    let error = client()
        .chat_stream(&config(&fake), &user("hi"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(error, LlmError::ContextWindowExceeded(_)),
        "{error:?}"
    );
    assert_eq!(fake.requests().len(), 1);
}

/// Serves one connection: answers 200 with an SSE body written in `parts`, pausing `pause`
/// between them, then closes the connection (the body ends at the close).
async fn raw_sse(parts: Vec<&'static str>, pause: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        read_request(&mut socket).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        socket.write_all(head.as_bytes()).await.unwrap();
        for part in parts {
            socket.write_all(part.as_bytes()).await.unwrap();
            socket.flush().await.unwrap();
            tokio::time::sleep(pause).await;
        }
    });
    format!("http://{addr}/v1")
}

/// Reads the request head and its `content-length` body, so that closing never resets it.
async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.read(&mut buf).await.unwrap();
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            if data.len() >= end + 4 + length || n == 0 {
                return;
            }
        }
    }
}

async fn collect_raw(base_url: String, timeout: Duration) -> Vec<Result<ChatDelta, LlmError>> {
    let fake = FakeLlm::start().await;
    let mut config = config(&fake);
    config.model_endpoint = Some(base_url);
    let client = client_with(fast_retries(0), timeout);
    let stream = client.chat_stream(&config, &user("hi")).await.unwrap();
    stream.collect().await
}

const CONTENT: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n";

#[tokio::test]
async fn crlf_comments_and_split_reads_are_tolerated() {
    let parts = vec![
        ": keep-alive\r\n\r\n",
        "data: {\"choices\":[{\"delta\":{\"con",
        "tent\":\"Hel\"}}]}\r",
        "\n\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\r\n",
        "data: \"finish_reason\":\"stop\"}]}\r\n\r\n",
        "data: [DONE]\r\n\r\n",
    ];
    let deltas = collect_raw(
        raw_sse(parts, Duration::from_millis(5)).await,
        Duration::from_secs(5),
    )
    .await;
    let response = assemble(deltas.into_iter().map(Result::unwrap));
    assert_eq!(response.content.as_deref(), Some("Hello"));
    assert_eq!(response.finish_reason, Some(mneme_llm::FinishReason::Stop));
}

#[tokio::test]
async fn a_stream_cut_short_ends_with_an_error() {
    let deltas = collect_raw(
        raw_sse(vec![CONTENT], Duration::ZERO).await,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(deltas[0], Ok(ChatDelta::Content("Hel".into())));
    assert!(
        matches!(deltas[1], Err(LlmError::Connection(_))),
        "{deltas:?}"
    );
    assert_eq!(deltas.len(), 2);
}

#[tokio::test]
async fn an_error_event_mid_stream_ends_it() {
    let error =
        "data: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}\n\n";
    let parts = vec![CONTENT, error, CONTENT];
    let deltas = collect_raw(raw_sse(parts, Duration::ZERO).await, Duration::from_secs(5)).await;
    assert_eq!(deltas.len(), 2, "{deltas:?}");
    assert!(
        matches!(deltas[1], Err(LlmError::Unavailable { .. })),
        "{deltas:?}"
    );
}

#[tokio::test]
async fn a_silent_stream_times_out() {
    let parts = vec![CONTENT, "data: [DONE]\n\n"];
    let url = raw_sse(parts, Duration::from_millis(600)).await;
    let deltas = collect_raw(url, Duration::from_millis(150)).await;
    assert_eq!(deltas[0], Ok(ChatDelta::Content("Hel".into())));
    assert_eq!(deltas[1], Err(LlmError::Timeout));
}
