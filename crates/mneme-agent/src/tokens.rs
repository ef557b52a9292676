//! Token counts of what a model call sends: stored messages (text, tool calls, tool returns,
//! reasoning), tool schemas and the system prompt, with the model's `TokenCounter`.
//!
//! `ContextTokens` remembers each message's count by id (and other texts by a hash of their
//! content), so a step counts only what is new; counts made by another `Method` (an estimate
//! made while the tokenizer was still loading, another model's encoding) are dropped and made
//! again. It is a plain value held by whoever counts (a turn), never shared.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use mneme_llm::ToolSchema;
use mneme_llm::tokens::{MESSAGE_OVERHEAD, Method, TokenCounter};
use mneme_store::{Message, ReasoningRecord};
use mneme_types::MessageId;

/// Texts other than messages remembered at most (system prompts, tool schemas); past it the
/// cache starts again, which only costs recounting.
const MAX_TEXTS: usize = 256;
/// More tokens than any counter makes of a byte: a BPE token holds at least one byte, and the
/// scaled estimates add 20% at most.
const TOKENS_PER_BYTE_AT_MOST: u64 = 2;

/// A bound no count of these messages exceeds, from their sizes alone: what lets a step skip
/// counting while its context is far from full.
pub(crate) fn upper_bound<'a>(messages: impl IntoIterator<Item = &'a Message>) -> u64 {
    messages.into_iter().map(bytes_bound).sum()
}

/// The bound of one text (a system prompt, a tool schema).
pub(crate) fn text_bound(text: &str) -> u64 {
    text.len() as u64 * TOKENS_PER_BYTE_AT_MOST + MESSAGE_OVERHEAD
}

/// The bytes of what a message holds as text: its text, tool calls, tool returns, reasoning.
pub(crate) fn content_bytes(m: &Message) -> usize {
    let calls = m
        .tool_calls
        .iter()
        .map(|c| c.name.len() + c.arguments.len());
    let returns = m.tool_returns.iter().map(|r| r.func_response.len());
    let reasoning = m.reasoning.iter().map(|r| match r {
        ReasoningRecord::Reasoning { text, .. } => text.len(),
        ReasoningRecord::Redacted { data } => data.len(),
    });
    m.text.len() + calls.chain(returns).chain(reasoning).sum::<usize>()
}

fn bytes_bound(m: &Message) -> u64 {
    let bytes = content_bytes(m);
    let pieces = 1 + m.tool_calls.len() * 2 + m.tool_returns.len() + m.reasoning.len();
    (bytes as u64 + pieces as u64) * TOKENS_PER_BYTE_AT_MOST + MESSAGE_OVERHEAD * pieces as u64
}

/// Tokens of one stored message as a provider receives it: its text (or each tool return,
/// which providers get as separate messages), its tool calls, its reasoning, and the framing.
pub(crate) fn message_tokens(counter: &TokenCounter, m: &Message) -> u64 {
    let body = if m.tool_returns.is_empty() {
        counter.count(&m.text)
    } else {
        let returns = m.tool_returns.iter();
        returns
            .map(|r| counter.count(&r.func_response) + MESSAGE_OVERHEAD)
            .sum()
    };
    let calls: u64 = m
        .tool_calls
        .iter()
        .map(|c| counter.count(&c.name) + counter.count(&c.arguments))
        .sum();
    let reasoning: u64 = m
        .reasoning
        .iter()
        .map(|r| match r {
            ReasoningRecord::Reasoning { text, .. } => counter.count(text),
            ReasoningRecord::Redacted { data } => counter.count(data),
        })
        .sum();
    MESSAGE_OVERHEAD + body + calls + reasoning
}

/// Counts of one context, kept between the steps of a turn.
#[derive(Debug, Default)]
pub(crate) struct ContextTokens {
    method: Option<Method>,
    messages: HashMap<MessageId, u64>,
    texts: HashMap<u64, u64>,
}

impl ContextTokens {
    pub(crate) fn new() -> ContextTokens {
        ContextTokens::default()
    }

    /// Tokens of a stored message, counted once per id.
    pub(crate) fn message(&mut self, counter: &TokenCounter, m: &Message) -> u64 {
        self.use_method(counter);
        *self
            .messages
            .entry(m.id)
            .or_insert_with(|| message_tokens(counter, m))
    }

    /// Tokens of messages, each counted once per id.
    pub(crate) fn messages<'a>(
        &mut self,
        counter: &TokenCounter,
        messages: impl IntoIterator<Item = &'a Message>,
    ) -> u64 {
        messages.into_iter().map(|m| self.message(counter, m)).sum()
    }

    /// Tokens of a text that is not a stored message (the system prompt), counted once per
    /// content.
    pub(crate) fn text(&mut self, counter: &TokenCounter, text: &str) -> u64 {
        self.use_method(counter);
        if self.texts.len() >= MAX_TEXTS {
            self.texts.clear();
        }
        *self
            .texts
            .entry(content_hash(text))
            .or_insert_with(|| counter.count(text))
    }

    /// Tokens of the tool schemas offered to the model.
    pub(crate) fn tools(&mut self, counter: &TokenCounter, tools: &[ToolSchema]) -> u64 {
        tools
            .iter()
            .map(|t| {
                let schema = serde_json::to_string(t).unwrap_or_default();
                self.text(counter, &schema) + MESSAGE_OVERHEAD
            })
            .sum()
    }

    /// Keeps only the counts of these messages (those still in context).
    pub(crate) fn retain(&mut self, ids: &[MessageId]) {
        if self.messages.len() > ids.len() {
            let keep: std::collections::HashSet<&MessageId> = ids.iter().collect();
            self.messages.retain(|id, _| keep.contains(id));
        }
    }

    /// Forgets a message's count (its text changed in place).
    pub(crate) fn forget(&mut self, id: MessageId) {
        self.messages.remove(&id);
    }

    /// Counts of another method are not comparable: start again.
    fn use_method(&mut self, counter: &TokenCounter) {
        if self.method != Some(counter.method()) {
            self.messages.clear();
            self.texts.clear();
            self.method = Some(counter.method());
        }
    }
}

fn content_hash(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_store::{Role, ToolCallRecord, ToolReturnRecord};
    use mneme_types::AgentId;

    fn msg(text: &str) -> Message {
        Message::new(AgentId::new(), Role::User, text, mneme_types::time::now())
    }

    #[test]
    fn a_message_counts_its_text_calls_returns_and_framing() {
        let c = TokenCounter::estimate();
        assert_eq!(message_tokens(&c, &msg("abcdefgh")), 2 + MESSAGE_OVERHEAD);
        let mut call = msg("");
        call.tool_calls.push(ToolCallRecord {
            id: "c".into(),
            name: "abcd".into(),
            arguments: "{\"a\":1}".into(),
        });
        assert_eq!(message_tokens(&c, &call), 1 + 2 + MESSAGE_OVERHEAD);
        let mut ret = msg("ignored: the returns are what is sent");
        for text in ["abcd", "abcdefgh"] {
            ret.tool_returns.push(ToolReturnRecord {
                tool_call_id: "c".into(),
                status: "success".into(),
                func_response: text.into(),
                stdout: None,
                stderr: None,
                content: None,
            });
        }
        let framing = 3 * MESSAGE_OVERHEAD;
        assert_eq!(message_tokens(&c, &ret), 1 + 2 + framing);
    }

    #[test]
    fn counts_are_remembered_per_id_and_method() {
        let mut tokens = ContextTokens::new();
        let estimate = TokenCounter::estimate();
        let mut m = msg("abcdefgh");
        assert_eq!(tokens.message(&estimate, &m), 2 + MESSAGE_OVERHEAD);
        // Same id: the remembered count, even if the text changed...
        m.text = "a".repeat(400);
        assert_eq!(tokens.message(&estimate, &m), 2 + MESSAGE_OVERHEAD);
        // ...until it is forgotten.
        tokens.forget(m.id);
        assert_eq!(tokens.message(&estimate, &m), 100 + MESSAGE_OVERHEAD);
        assert_eq!(tokens.text(&estimate, "abcd"), 1);
        // Another method recounts.
        let config: mneme_types::LlmConfig = serde_json::from_value(serde_json::json!({
            "model": "gpt-4o-mini", "model_endpoint_type": "openai", "context_window": 8192
        }))
        .unwrap();
        let exact = TokenCounter::for_config_blocking(&config);
        assert_eq!(
            tokens.message(&exact, &m),
            exact.count(&m.text) + MESSAGE_OVERHEAD
        );
        assert_ne!(exact.count(&m.text), 100);
    }

    #[test]
    fn the_bound_is_above_every_count() {
        let config: mneme_types::LlmConfig = serde_json::from_value(serde_json::json!({
            "model": "claude-sonnet-4-5", "model_endpoint_type": "anthropic", "context_window": 8192
        }))
        .unwrap();
        let scaled = TokenCounter::for_config_blocking(&config);
        let texts = [
            "",
            "a",
            "hello world",
            "東京の天気は晴れ",
            "{\"a\": [1, 2, 3]}",
            "🙂🙂🙂",
        ];
        for text in texts {
            let mut m = msg(text);
            m.tool_calls.push(ToolCallRecord {
                id: "c".into(),
                name: "f".into(),
                arguments: text.into(),
            });
            for counter in [scaled, TokenCounter::estimate()] {
                assert!(message_tokens(&counter, &m) <= upper_bound([&m]), "{text}");
                assert!(
                    counter.count(text) + MESSAGE_OVERHEAD <= text_bound(text),
                    "{text}"
                );
            }
        }
    }
}
