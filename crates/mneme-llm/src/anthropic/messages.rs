//! The history as Anthropic wants it: turns that alternate user / assistant, each a list of
//! content blocks. Tool results are `tool_result` blocks of a user turn, first in it and in the
//! order of the calls; a system message inside the history is user text, as Letta sends it.

use serde_json::{Map, Value, json};

use crate::{ChatMessage, Content, ContentPart, ImageSource, ReasoningBlock, ToolCall};

/// What opens a history that does not start with the user (Anthropic requires it).
const OPENING_USER_TEXT: &str = "(The conversation starts.)";

/// One turn before merging: a role and its blocks.
struct Turn {
    role: &'static str,
    blocks: Vec<Value>,
}

/// The `messages` array for `history`.
pub(crate) fn turns(history: &[ChatMessage]) -> Vec<Value> {
    let converted = history.iter().map(turn).filter(|t| !t.blocks.is_empty());
    let mut merged: Vec<Turn> = Vec::with_capacity(history.len());
    for next in converted {
        match merged.last_mut() {
            Some(last) if last.role == next.role => last.blocks.extend(next.blocks),
            _ => merged.push(next),
        }
    }
    if merged.first().is_none_or(|t| t.role != "user") {
        merged.insert(
            0,
            Turn {
                role: "user",
                blocks: vec![text_block(OPENING_USER_TEXT)],
            },
        );
    }
    let mut calls: Vec<String> = Vec::new();
    merged
        .into_iter()
        .map(|mut turn| {
            if turn.role == "assistant" {
                calls = tool_use_ids(&turn.blocks);
            } else {
                turn.blocks = order_tool_results(std::mem::take(&mut turn.blocks), &calls);
                calls.clear();
            }
            json!({ "role": turn.role, "content": turn.blocks })
        })
        .collect()
}

fn turn(message: &ChatMessage) -> Turn {
    match message {
        // Letta's framing of a system event inside the conversation, with the closing `>` its
        // own version misses.
        ChatMessage::System { content } => Turn {
            role: "user",
            blocks: non_empty_text(&format!("<event>SYSTEM ALERT: {content}</event>")),
        },
        ChatMessage::User { content } => Turn {
            role: "user",
            blocks: content_blocks(content),
        },
        ChatMessage::Assistant {
            content,
            reasoning,
            tool_calls,
        } => {
            // Earlier thinking goes first, unchanged: Anthropic checks the signatures.
            let mut blocks: Vec<Value> = reasoning.iter().filter_map(thinking_block).collect();
            blocks.extend(content.as_deref().map(non_empty_text).unwrap_or_default());
            blocks.extend(tool_calls.iter().map(tool_use_block));
            Turn {
                role: "assistant",
                blocks,
            }
        }
        ChatMessage::Tool {
            tool_call_id,
            content,
        } => {
            let content = match content {
                Content::Text(text) => json!(text),
                Content::Parts(_) => Value::Array(content_blocks(content)),
            };
            Turn {
                role: "user",
                blocks: vec![json!({
                    "type": "tool_result",
                    "tool_use_id": tool_id(tool_call_id),
                    "content": content,
                })],
            }
        }
    }
}

/// A signed or redacted block as Anthropic sent it; unsigned reasoning (from other providers)
/// has no place in an Anthropic request and is left out.
fn thinking_block(block: &ReasoningBlock) -> Option<Value> {
    match block {
        ReasoningBlock::Text {
            text,
            signature: Some(signature),
        } => Some(json!({"type": "thinking", "thinking": text, "signature": signature})),
        ReasoningBlock::Text { .. } => None,
        ReasoningBlock::Redacted { data } => {
            Some(json!({"type": "redacted_thinking", "data": data}))
        }
    }
}

fn tool_use_block(call: &ToolCall) -> Value {
    // Anthropic wants the input as an object; arguments that are not one are kept, wrapped.
    let input = match serde_json::from_str::<Value>(&call.arguments) {
        Ok(Value::Object(input)) => Value::Object(input),
        _ if call.arguments.trim().is_empty() => Value::Object(Map::new()),
        _ => json!({ "raw_arguments": call.arguments }),
    };
    json!({"type": "tool_use", "id": tool_id(&call.id), "name": call.name, "input": input})
}

pub(crate) fn content_blocks(content: &Content) -> Vec<Value> {
    match content {
        Content::Text(text) => non_empty_text(text),
        Content::Parts(parts) => parts
            .iter()
            .flat_map(|part| match part {
                ContentPart::Text { text } => non_empty_text(text),
                ContentPart::Image { source } => vec![image_block(source)],
            })
            .collect(),
    }
}

fn image_block(source: &ImageSource) -> Value {
    let source = match source {
        ImageSource::Url { url } => json!({"type": "url", "url": url}),
        ImageSource::Base64 { media_type, data } => {
            json!({"type": "base64", "media_type": media_type, "data": data})
        }
    };
    json!({"type": "image", "source": source})
}

pub(crate) fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

/// Anthropic refuses empty text blocks.
fn non_empty_text(text: &str) -> Vec<Value> {
    if text.trim().is_empty() {
        Vec::new()
    } else {
        vec![text_block(text)]
    }
}

/// Tool ids must match `^[a-zA-Z0-9_-]+$`; other providers' ids (and ours) may not.
fn tool_id(id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    if clean.is_empty() {
        "toolu_unknown".to_owned()
    } else {
        clean
    }
}

fn tool_use_ids(blocks: &[Value]) -> Vec<String> {
    blocks
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .filter_map(|b| b["id"].as_str().map(str::to_owned))
        .collect()
}

/// A user turn after `calls`: one result per call, first and in call order (Anthropic's rule),
/// then the rest. A result for a call the previous turn did not make would be refused; it is
/// kept as text so the model still sees it.
fn order_tool_results(blocks: Vec<Value>, calls: &[String]) -> Vec<Value> {
    let mut results: Vec<Option<Value>> = vec![None; calls.len()];
    let mut rest = Vec::new();
    for block in blocks {
        if block["type"] != "tool_result" {
            rest.push(block);
            continue;
        }
        let id = block["tool_use_id"].as_str().unwrap_or_default();
        match calls.iter().position(|c| c == id) {
            Some(i) => match &mut results[i] {
                Some(first) => merge_result(first, &block),
                slot @ None => *slot = Some(block),
            },
            None => rest.push(orphan_result(&block)),
        }
    }
    results.into_iter().flatten().chain(rest).collect()
}

/// A second result for the same call joins the first (Anthropic takes one per call).
fn merge_result(first: &mut Value, extra: &Value) {
    let as_blocks = |content: &Value| match content {
        Value::String(text) => non_empty_text(text),
        Value::Array(blocks) => blocks.clone(),
        _ => Vec::new(),
    };
    let mut blocks = as_blocks(&first["content"]);
    blocks.extend(as_blocks(&extra["content"]));
    first["content"] = Value::Array(blocks);
}

fn orphan_result(block: &Value) -> Value {
    let content = match &block["content"] {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    let id = block["tool_use_id"].as_str().unwrap_or_default();
    text_block(&format!("[result of tool call {id}]\n{content}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, name: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: r#"{"a":1}"#.into(),
        }
    }

    fn result(id: &str, text: &str) -> ChatMessage {
        ChatMessage::Tool {
            tool_call_id: id.into(),
            content: text.into(),
        }
    }

    #[test]
    fn turns_alternate_with_results_first_in_call_order() {
        let history = vec![
            ChatMessage::user("hi"),
            ChatMessage::user("again"),
            ChatMessage::Assistant {
                content: Some("let me look".into()),
                reasoning: vec![
                    ReasoningBlock::Text {
                        text: "unsigned, from elsewhere".into(),
                        signature: None,
                    },
                    ReasoningBlock::Text {
                        text: "hmm".into(),
                        signature: Some("sig".into()),
                    },
                    ReasoningBlock::Redacted { data: "xyz".into() },
                ],
                tool_calls: vec![call("call_1", "f"), call("call.2", "g")],
            },
            ChatMessage::System {
                content: "memory updated".into(),
            },
            result("call.2", "two"),
            result("call_1", "one"),
        ];
        let turns = turns(&history);
        assert_eq!(turns.len(), 3);
        assert_eq!(
            turns[0],
            json!({"role": "user", "content": [
                {"type": "text", "text": "hi"}, {"type": "text", "text": "again"}]})
        );
        assert_eq!(
            turns[1]["content"],
            json!([
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xyz"},
                {"type": "text", "text": "let me look"},
                {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
                {"type": "tool_use", "id": "call_2", "name": "g", "input": {"a": 1}},
            ])
        );
        assert_eq!(
            turns[2]["content"],
            json!([
                {"type": "tool_result", "tool_use_id": "call_1", "content": "one"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "two"},
                {"type": "text", "text": "<event>SYSTEM ALERT: memory updated</event>"},
            ])
        );
    }

    #[test]
    fn a_history_opening_with_the_assistant_gets_a_user_turn_first() {
        let history = vec![ChatMessage::Assistant {
            content: Some("hello".into()),
            reasoning: vec![],
            tool_calls: vec![],
        }];
        let turns = turns(&history);
        assert_eq!(turns[0]["role"], "user");
        assert_eq!(turns[1]["role"], "assistant");
        assert_eq!(super::turns(&[])[0]["role"], "user");
    }

    #[test]
    fn orphan_and_duplicate_results_and_images() {
        let history = vec![
            result("lost", "old"),
            ChatMessage::Assistant {
                content: None,
                reasoning: vec![],
                tool_calls: vec![ToolCall {
                    id: "t1".into(),
                    name: "f".into(),
                    arguments: "not json".into(),
                }],
            },
            ChatMessage::Tool {
                tool_call_id: "t1".into(),
                content: Content::Parts(vec![
                    ContentPart::Text { text: "a".into() },
                    ContentPart::Image {
                        source: ImageSource::Url {
                            url: "https://x/cat.png".into(),
                        },
                    },
                ]),
            },
            result("t1", "b"),
        ];
        let turns = turns(&history);
        assert_eq!(
            turns[0]["content"],
            json!([{"type": "text", "text": "[result of tool call lost]\nold"}])
        );
        assert_eq!(
            turns[1]["content"][0]["input"],
            json!({"raw_arguments": "not json"})
        );
        assert_eq!(
            turns[2]["content"],
            json!([{"type": "tool_result", "tool_use_id": "t1", "content": [
                {"type": "text", "text": "a"},
                {"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}},
                {"type": "text", "text": "b"},
            ]}])
        );
    }
}
