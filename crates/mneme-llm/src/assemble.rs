//! Folds streamed `ChatDelta`s into the `ChatResponse` the non-streaming call would have
//! returned: text concatenated, reasoning gathered into blocks (a signature closes one),
//! tool-call fragments joined by index.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use crate::{
    ChatDelta, ChatResponse, ChatStream, FinishReason, LlmError, ReasoningBlock, ToolCall, Usage,
};

/// Accumulates deltas; `finish` gives the response. The step loop feeds it while it forwards
/// the same deltas to a streaming client.
#[derive(Debug, Default)]
pub struct ChatResponseBuilder {
    content: String,
    /// Closed reasoning blocks.
    reasoning: Vec<ReasoningBlock>,
    /// Text of the reasoning block still open.
    open_reasoning: String,
    tool_calls: BTreeMap<usize, PartialToolCall>,
    finish_reason: Option<FinishReason>,
    usage: Usage,
    exchange: Option<crate::Exchange>,
    done: bool,
}

#[derive(Debug, Default)]
struct PartialToolCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

impl ChatResponseBuilder {
    pub fn new() -> ChatResponseBuilder {
        ChatResponseBuilder::default()
    }

    pub fn push(&mut self, delta: ChatDelta) {
        match delta {
            ChatDelta::Content(text) => self.content.push_str(&text),
            ChatDelta::Reasoning(text) => self.open_reasoning.push_str(&text),
            ChatDelta::ReasoningSignature(signature) => {
                let text = std::mem::take(&mut self.open_reasoning);
                self.reasoning.push(ReasoningBlock::Text {
                    text,
                    signature: Some(signature),
                });
            }
            ChatDelta::RedactedReasoning(data) => {
                self.close_reasoning();
                self.reasoning.push(ReasoningBlock::Redacted { data });
            }
            ChatDelta::ToolCall {
                index,
                id,
                name,
                arguments,
            } => {
                let call = self.tool_calls.entry(index).or_default();
                // Some servers repeat the id and name on every fragment: keep the first.
                if call.id.is_none() {
                    call.id = id.filter(|id| !id.is_empty());
                }
                if call.name.is_empty() {
                    call.name = name.unwrap_or_default();
                }
                call.arguments.push_str(&arguments);
            }
            ChatDelta::Exchange(exchange) => self.exchange = Some(exchange),
            ChatDelta::Done {
                finish_reason,
                usage,
            } => {
                self.finish_reason = finish_reason;
                self.usage = usage;
                self.done = true;
            }
        }
    }

    /// Whether `ChatDelta::Done` has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Ends the open reasoning block, unsigned, if it holds text.
    fn close_reasoning(&mut self) {
        if !self.open_reasoning.is_empty() {
            let text = std::mem::take(&mut self.open_reasoning);
            self.reasoning.push(ReasoningBlock::Text {
                text,
                signature: None,
            });
        }
    }

    pub fn finish(mut self) -> ChatResponse {
        self.close_reasoning();
        let non_empty = |text: String| (!text.is_empty()).then_some(text);
        let tool_calls = self
            .tool_calls
            .into_values()
            .map(|call| ToolCall {
                id: call.id.unwrap_or_else(new_tool_call_id),
                name: call.name,
                arguments: normalize_arguments(call.arguments),
            })
            .collect();
        ChatResponse {
            content: non_empty(self.content),
            reasoning: self.reasoning,
            tool_calls,
            finish_reason: self.finish_reason,
            usage: self.usage,
            exchange: self.exchange,
        }
    }
}

/// Folds a complete sequence of deltas.
pub fn assemble(deltas: impl IntoIterator<Item = ChatDelta>) -> ChatResponse {
    let mut builder = ChatResponseBuilder::new();
    deltas.into_iter().for_each(|delta| builder.push(delta));
    builder.finish()
}

/// Drains a stream into a response; the first error, or an end without `Done`, fails it.
pub async fn collect_stream(mut stream: ChatStream) -> Result<ChatResponse, LlmError> {
    let mut builder = ChatResponseBuilder::new();
    while let Some(delta) = stream.next().await {
        builder.push(delta?);
    }
    if !builder.is_done() {
        return Err(LlmError::InvalidResponse(
            "the stream ended before the response was complete".to_owned(),
        ));
    }
    Ok(builder.finish())
}

/// A tool without parameters may come back with empty arguments; the step loop parses them as
/// JSON, so they become `{}` in both the streaming and the non-streaming path.
pub(crate) fn normalize_arguments(arguments: String) -> String {
    if arguments.trim().is_empty() {
        "{}".to_owned()
    } else {
        arguments
    }
}

/// An id for a tool call the provider sent without one (some local servers do); the step loop
/// needs one to pair the call with its result.
pub(crate) fn new_tool_call_id() -> String {
    format!("call_{:024x}", rand::random::<u128>() >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(index: usize, id: Option<&str>, name: Option<&str>, arguments: &str) -> ChatDelta {
        ChatDelta::ToolCall {
            index,
            id: id.map(str::to_owned),
            name: name.map(str::to_owned),
            arguments: arguments.to_owned(),
        }
    }

    #[test]
    fn fragments_are_joined_by_index() {
        let usage = Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            total_tokens: 7,
            ..Usage::default()
        };
        let response = assemble([
            ChatDelta::Reasoning("hm".into()),
            ChatDelta::Content("Hel".into()),
            ChatDelta::Content("lo".into()),
            fragment(0, Some("call_a"), Some("f"), ""),
            fragment(1, Some("call_b"), Some("g"), "{\"x\":"),
            fragment(0, None, None, "{\"a\":1}"),
            fragment(1, None, None, "2}"),
            ChatDelta::Done {
                finish_reason: Some(FinishReason::ToolCalls),
                usage,
            },
        ]);
        assert_eq!(response.content.as_deref(), Some("Hello"));
        assert_eq!(response.reasoning_text().as_deref(), Some("hm"));
        let calls: Vec<_> = response
            .tool_calls
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(
            calls,
            [("call_a", "f", "{\"a\":1}"), ("call_b", "g", "{\"x\":2}")]
        );
        assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(response.usage, usage);
    }

    #[test]
    fn signatures_close_reasoning_blocks_and_redacted_ones_stand_apart() {
        let response = assemble([
            ChatDelta::Reasoning("first ".into()),
            ChatDelta::Reasoning("thought".into()),
            ChatDelta::ReasoningSignature("sig-1".into()),
            ChatDelta::RedactedReasoning("opaque".into()),
            ChatDelta::Reasoning("unsigned".into()),
            ChatDelta::Content("answer".into()),
        ]);
        assert_eq!(
            response.reasoning,
            [
                ReasoningBlock::Text {
                    text: "first thought".into(),
                    signature: Some("sig-1".into())
                },
                ReasoningBlock::Redacted {
                    data: "opaque".into()
                },
                ReasoningBlock::Text {
                    text: "unsigned".into(),
                    signature: None
                },
            ]
        );
        assert_eq!(
            response.reasoning_text().as_deref(),
            Some("first thought\nunsigned")
        );
    }

    #[test]
    fn missing_ids_and_arguments_are_filled_in() {
        let response = assemble([fragment(0, None, Some("ping"), "")]);
        assert!(response.tool_calls[0].id.starts_with("call_"));
        assert_eq!(response.tool_calls[0].arguments, "{}");
        assert_eq!(response.content, None);
        assert!(response.reasoning.is_empty() && response.reasoning_text().is_none());
    }
}
