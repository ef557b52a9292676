//! The fake LLM over real HTTP: queue order, rules, default echo, errors, streaming framing,
//! recording, embeddings, the control API and the standalone binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use mneme_testkit::fake_llm::{FakeLlm, Reply};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

fn user(text: &str) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]})
}

async fn post(url: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, String) {
    let res = reqwest::Client::new()
        .post(url)
        .bearer_auth("sk-test")
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

async fn chat(fake: &FakeLlm, body: &Value) -> Value {
    let (status, _, text) = post(&format!("{}/chat/completions", fake.base_url()), body).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn message(completion: &Value) -> &Value {
    &completion["choices"][0]["message"]
}

#[tokio::test]
async fn queued_replies_answer_in_order_then_echo() {
    let fake = FakeLlm::start().await;
    fake.push_text("one");
    fake.push_tool_call("archival_memory_search", json!({"query": "cats"}));
    let first = chat(&fake, &user("hi")).await;
    assert_eq!(message(&first)["content"], "one");
    assert_eq!(first["choices"][0]["finish_reason"], "stop");
    assert_eq!(first["object"], "chat.completion");
    let usage = &first["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );

    let second = chat(&fake, &user("hi")).await;
    let call = &message(&second)["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["function"]["name"], "archival_memory_search");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"query": "cats"}));
    assert_eq!(second["choices"][0]["finish_reason"], "tool_calls");

    let third = chat(&fake, &user("anyone?")).await;
    assert_eq!(message(&third)["content"], "echo: anyone?");
    assert_eq!(fake.pending(), 0);
}

#[tokio::test]
async fn echo_uses_send_message_when_offered() {
    let fake = FakeLlm::start().await;
    let mut body = user("ping");
    body["tools"] =
        json!([{"type": "function", "function": {"name": "send_message", "parameters": {}}}]);
    let answer = chat(&fake, &body).await;
    let call = &message(&answer)["tool_calls"][0];
    assert_eq!(call["function"]["name"], "send_message");
    assert_eq!(call["function"]["arguments"], r#"{"message":"echo: ping"}"#);
}

#[tokio::test]
async fn rules_match_the_last_user_message() {
    let fake = FakeLlm::start().await;
    let rule = json!({"when_last_user_contains": "weather", "reply": {"text": "sunny"}});
    let (status, _, _) = post(&format!("http://{}/_fake/rules", fake.addr()), &rule).await;
    assert_eq!(status, 204);
    for _ in 0..2 {
        let answer = chat(&fake, &user("what's the weather?")).await;
        assert_eq!(message(&answer)["content"], "sunny");
    }
    assert_eq!(
        message(&chat(&fake, &user("hello")).await)["content"],
        "echo: hello"
    );
}

#[tokio::test]
async fn errors_carry_status_body_and_headers() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::rate_limited(Some(Duration::from_millis(1500))));
    fake.push_context_length_exceeded();
    fake.push_error(503, json!({"error": {"message": "overloaded"}}));
    let url = format!("{}/chat/completions", fake.base_url());
    let (status, headers, body) = post(&url, &user("x")).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after-ms"], "1500");
    assert!(body.contains("rate_limit_exceeded"));
    let (status, _, body) = post(&url, &user("x")).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maximum context length")
    );
    let (status, _, body) = post(&url, &user("x")).await;
    assert_eq!(
        (status, body.as_str()),
        (503, r#"{"error":{"message":"overloaded"}}"#)
    );
}

/// Splits an SSE body into its `data:` payloads, checking the framing on the way.
fn sse_payloads(body: &str) -> Vec<String> {
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    body.split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| {
            assert!(!event.contains('\n'), "one line per event: {event}");
            event.strip_prefix("data: ").unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn streaming_frames_content_tool_calls_and_usage() {
    let fake = FakeLlm::start().await;
    let args = json!({"message": "a fairly long message so that it is split", "n": 3});
    fake.push(Reply::tool_call("send_message", args.clone()).with_text("thinking about it"));
    let mut body = user("hi");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (status, headers, text) =
        post(&format!("{}/chat/completions", fake.base_url()), &body).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    let payloads = sse_payloads(&text);
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );

    let deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .map(|c| &c["delta"])
        .collect();
    let content: Vec<&str> = deltas
        .iter()
        .filter_map(|d| d["content"].as_str())
        .filter(|s| !s.is_empty())
        .collect();
    assert!(content.len() > 1, "content in several deltas");
    assert_eq!(content.concat(), "thinking about it");

    let calls: Vec<&Value> = deltas
        .iter()
        .filter_map(|d| d["tool_calls"].get(0))
        .collect();
    assert!(calls.len() > 2, "name then several argument pieces");
    assert_eq!(calls[0]["function"]["name"], "send_message");
    assert_eq!(calls[0]["type"], "function");
    assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
    assert!(
        calls[1..]
            .iter()
            .all(|c| c.get("id").is_none() && c["index"] == 0)
    );
    let joined: String = calls
        .iter()
        .map(|c| c["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&joined).unwrap(), args);

    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn streaming_without_include_usage_has_no_usage_chunk() {
    let fake = FakeLlm::start().await;
    let mut body = user("hi");
    body["stream"] = json!(true);
    let (_, _, text) = post(&format!("{}/chat/completions", fake.base_url()), &body).await;
    assert!(!text.contains("\"usage\""), "{text}");
}

#[tokio::test]
async fn requests_are_recorded_in_order_with_auth() {
    let fake = FakeLlm::start().await;
    chat(&fake, &user("first")).await;
    post(
        &format!("{}/embeddings", fake.base_url()),
        &json!({"input": "x"}),
    )
    .await;
    chat(&fake, &user("second")).await;
    let bodies = fake.requests();
    assert_eq!(bodies, vec![user("first"), user("second")]);
    let over_http: Value = reqwest::get(format!("http://{}/_fake/requests", fake.addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http, json!(bodies));
    let recorded = fake.recorded();
    let paths: Vec<&str> = recorded.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1/chat/completions",
            "/v1/embeddings",
            "/v1/chat/completions"
        ]
    );
    assert_eq!(recorded[0].authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(fake.embedding_requests(), vec![json!({"input": "x"})]);
}

#[tokio::test]
async fn embeddings_are_deterministic_and_normalised() {
    let fake = FakeLlm::start().await;
    let url = format!("{}/embeddings", fake.base_url());
    let body =
        json!({"model": "text-embedding-3-small", "input": ["a", "b", "a"], "dimensions": 8});
    let (status, _, text) = post(&url, &body).await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&text).unwrap();
    let vectors: Vec<Vec<f64>> = answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| serde_json::from_value(d["embedding"].clone()).unwrap())
        .collect();
    assert_eq!(vectors.len(), 3);
    assert_eq!(vectors[0].len(), 8);
    assert_eq!(vectors[0], vectors[2]);
    assert_ne!(vectors[0], vectors[1]);
    let norm: f64 = vectors[1].iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    let (_, _, text) = post(&url, &json!({"input": "a"})).await;
    let single: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        single["data"][0]["embedding"].as_array().unwrap().len(),
        1536
    );
}

#[tokio::test]
async fn models_latency_and_reset() {
    let fake = FakeLlm::start().await;
    let models: Value = reqwest::get(format!("{}/models", fake.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "gpt-4o-mini")
    );

    let (status, _, _) = post(
        &format!("http://{}/_fake/latency", fake.addr()),
        &json!({"ms": 150}),
    )
    .await;
    assert_eq!(status, 204);
    fake.push(Reply::text("late").with_delay(Duration::from_millis(50)));
    let started = Instant::now();
    chat(&fake, &user("x")).await;
    assert!(started.elapsed() >= Duration::from_millis(200));

    let replies = json!([{"text": "a"}, {"text": "b"}]);
    let (status, _, _) = post(&format!("http://{}/_fake/replies", fake.addr()), &replies).await;
    assert_eq!(status, 204);
    assert_eq!(fake.pending(), 2);
    let (status, _, _) = post(&format!("http://{}/_fake/reset", fake.addr()), &json!({})).await;
    assert_eq!(status, 204);
    assert_eq!((fake.pending(), fake.requests().len()), (0, 0));
    let started = Instant::now();
    assert_eq!(
        message(&chat(&fake, &user("y")).await)["content"],
        "echo: y"
    );
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn control_api_refuses_malformed_scripts() {
    let fake = FakeLlm::start().await;
    let url = format!("http://{}/_fake/replies", fake.addr());
    let (status, _, body) = post(&url, &json!({"txt": "typo"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("txt"), "{body}");
}

#[tokio::test]
async fn binary_prints_its_address_and_stops_on_sigterm() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mneme-fake-llm"))
        .args(["--port", "0", "--latency-ms", "1"])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = line.strip_prefix("listening on ").unwrap();
    assert!(addr.starts_with("127.0.0.1:"), "{line}");
    let answer: Value = reqwest::Client::new()
        .post(format!("http://{addr}/v1/chat/completions"))
        .json(&user("hi"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(message(&answer)["content"], "echo: hi");
    let pid = child.id().unwrap().to_string();
    tokio::process::Command::new("kill")
        .arg(&pid)
        .status()
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn gemini_routes_follow_the_script_in_gemini_shapes() {
    let fake = FakeLlm::start().await;
    let url = |method: &str| {
        format!(
            "{}/v1beta/models/gemini-2.5-flash:{method}",
            fake.root_url()
        )
    };
    let request = json!({
        "contents": [{"role": "user", "parts": [{"text": "hello gemini"}]}],
        "tools": [{"functionDeclarations": [{"name": "send_message"}]}],
    });
    fake.push(
        Reply::text("Hi.")
            .with_reasoning("Greet back.")
            .with_cache_read_tokens(2),
    );
    fake.push(Reply::rate_limited(None));
    let (status, _, text) = post(&url("generateContent"), &request).await;
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    let parts = &answer["candidates"][0]["content"]["parts"];
    assert_eq!(parts[0], json!({"text": "Greet back.", "thought": true}));
    assert_eq!(parts[1]["text"], "Hi.");
    assert!(parts[1]["thoughtSignature"].is_string());
    assert_eq!(answer["usageMetadata"]["cachedContentTokenCount"], 2);
    let (status, _, text) = post(&url("generateContent"), &request).await;
    assert_eq!(status, 429);
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["error"]["status"], "RESOURCE_EXHAUSTED");
    // Nothing queued: the echo goes through the offered `send_message`.
    let (_, headers, text) = post(
        &format!("{}?alt=sse", url("streamGenerateContent")),
        &request,
    )
    .await;
    assert_eq!(headers["content-type"], "text/event-stream");
    let data = text.trim().strip_prefix("data: ").unwrap();
    let chunk: Value = serde_json::from_str(data).unwrap();
    let call = &chunk["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(
        call,
        &json!({"name": "send_message", "args": {"message": "echo: hello gemini"}})
    );
    assert!(!text.contains("[DONE]"));
    // The control API lists Gemini chat bodies with the others.
    let listed: Vec<Value> = reqwest::get(format!("{}/_fake/requests", fake.root_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(fake.gemini_requests(), listed);
}

#[tokio::test]
async fn ollama_routes_stream_ndjson_and_describe_models() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::tool_call("f", json!({"a": 1})).with_text("ok"));
    let request = json!({"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]});
    let (status, headers, text) = post(&format!("{}/api/chat", fake.root_url()), &request).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = lines.last().unwrap();
    assert_eq!(
        (&last["done"], &last["done_reason"]),
        (&json!(true), &json!("stop"))
    );
    assert!(last["prompt_eval_count"].as_u64().unwrap() > 0);
    let calls: Vec<&Value> = lines
        .iter()
        .filter_map(|l| l["message"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls[0]["function"]["arguments"], json!({"a": 1}));
    fake.push(Reply::from_error(mneme_testkit::fake_llm::ErrorReply {
        status: Some(500),
        ..Default::default()
    }));
    let (status, _, text) = post(&format!("{}/api/chat", fake.root_url()), &request).await;
    assert_eq!(status, 500);
    assert!(serde_json::from_str::<Value>(&text).unwrap()["error"].is_string());
    let show = json!({"model": "nomic-embed-text:latest"});
    let (_, _, text) = post(&format!("{}/api/show", fake.root_url()), &show).await;
    let shown: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(shown["capabilities"], json!(["embedding"]));
    assert_eq!(shown["model_info"]["nomic-bert.embedding_length"], 768);
    assert_eq!(fake.ollama_requests().len(), 2);
}
