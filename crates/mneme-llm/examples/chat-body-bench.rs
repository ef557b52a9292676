//! `chat-body-bench`: the cost of building and serializing a Chat Completions request body
//! for a long history (the share of a step that grows with the history before the model call).
//!
//! Builds a request of `--messages` history messages (default 5,000: user and assistant turns,
//! tool calls and their results, as an agent's history holds them), then times `--runs`
//! (default 31) body builds and prints the median, min and max, with the body's size.
//!
//! `cargo run --release -p mneme-llm --example chat-body-bench -- --messages 5000 --runs 31`
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark's report is its output, and any failure should abort it loudly"
)]

use std::time::{Duration, Instant};

use mneme_llm::{ChatMessage, ChatRequest, ToolCall, ToolChoice, ToolSchema};
use mneme_types::LlmConfig;
use serde_json::json;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut messages, mut runs) = (5_000_usize, 31_usize);
    while let Some(flag) = args.next() {
        let value = args.next().expect("every flag takes a value");
        match flag.as_str() {
            "--messages" => messages = value.parse().expect("--messages N"),
            "--runs" => runs = value.parse().expect("--runs N"),
            other => panic!("unknown flag {other}"),
        }
    }
    let config: LlmConfig = serde_json::from_value(json!({
        "model": "gpt-4o-mini", "model_endpoint_type": "openai", "context_window": 128000,
        "temperature": 0.7, "max_tokens": 4096,
    }))
    .unwrap();
    let request = request(messages);
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let body = mneme_llm::chat_completions_body(&config, &request, true).unwrap();
        times.push(start.elapsed());
        size = body.len();
        drop(body);
    }
    times.sort();
    println!(
        "{messages} messages, {size} bytes: median {:?}, min {:?}, max {:?} over {runs} runs",
        times[runs / 2],
        times[0],
        times[runs - 1]
    );
}

/// A history of `n` messages cycling through user text, an assistant turn that calls a tool,
/// the tool's result and an assistant answer, with texts of a few hundred bytes.
fn request(n: usize) -> ChatRequest {
    let text = "The quick brown fox jumps over the lazy dog, \"quoted\"\nand on a new line. ";
    let messages = (0..n)
        .map(|i| match i % 4 {
            0 => ChatMessage::user(format!("{i}: {}", text.repeat(4))),
            1 => ChatMessage::Assistant {
                content: Some(format!("Thinking about {i}")),
                reasoning: vec![],
                tool_calls: vec![ToolCall {
                    id: format!("call_{i}"),
                    name: "archival_memory_search".into(),
                    arguments: format!("{{\"query\": \"item {i}\", \"page\": 0}}"),
                }],
            },
            2 => ChatMessage::Tool {
                tool_call_id: format!("call_{}", i - 1),
                content: format!(
                    "{{\"status\": \"OK\", \"message\": \"{}\"}}",
                    text.repeat(3)
                )
                .into(),
            },
            _ => ChatMessage::Assistant {
                content: Some(text.repeat(2)),
                reasoning: vec![],
                tool_calls: vec![],
            },
        })
        .collect();
    let parameters = json!({"type": "object", "properties": {
        "query": {"type": "string", "description": "what to look for"},
        "page": {"type": "integer"}}, "required": ["query"]});
    let tools = (0..12)
        .map(|i| ToolSchema {
            name: format!("tool_{i}"),
            description: text.into(),
            parameters: parameters.clone(),
        })
        .collect();
    ChatRequest {
        system: Some(text.repeat(40)),
        messages,
        tools,
        tool_choice: ToolChoice::Auto,
        response_format: None,
    }
}
