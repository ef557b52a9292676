//! What mneme knows about models without asking their provider: context windows, embedding
//! dimensions, and the output-token defaults Letta sets per model family.

use mneme_types::ProviderKind;

/// A model of the table: its provider family, name, context window and, for an embedder, its
/// dimension.
pub(crate) struct Known {
    pub(crate) kind: ProviderKind,
    pub(crate) name: &'static str,
    pub(crate) context_window: u32,
    pub(crate) embedding_dim: Option<u32>,
}

const fn llm(kind: ProviderKind, name: &'static str, context_window: u32) -> Known {
    Known {
        kind,
        name,
        context_window,
        embedding_dim: None,
    }
}

const fn embedder(kind: ProviderKind, name: &'static str, window: u32, dim: u32) -> Known {
    Known {
        kind,
        name,
        context_window: window,
        embedding_dim: Some(dim),
    }
}

use ProviderKind::{Anthropic, Azure, DeepSeek, GoogleAi, Groq, Mistral, Openai, Together, Xai};

/// Known models; a provider whose list cannot be fetched offers these.
pub(crate) const KNOWN: &[Known] = &[
    llm(Openai, "gpt-4o-mini", 128_000),
    llm(Openai, "gpt-4o", 128_000),
    llm(Openai, "gpt-4.1", 1_047_576),
    llm(Openai, "gpt-4.1-mini", 1_047_576),
    llm(Openai, "gpt-4.1-nano", 1_047_576),
    llm(Openai, "o3", 200_000),
    llm(Openai, "o4-mini", 200_000),
    llm(Openai, "gpt-5", 400_000),
    llm(Openai, "gpt-5-mini", 400_000),
    embedder(Openai, "text-embedding-3-small", 8_191, 1536),
    embedder(Openai, "text-embedding-3-large", 8_191, 3072),
    embedder(Openai, "text-embedding-ada-002", 8_191, 1536),
    llm(Anthropic, "claude-sonnet-4-5-20250929", 200_000),
    llm(Anthropic, "claude-sonnet-4-5", 200_000),
    llm(Anthropic, "claude-haiku-4-5-20251001", 200_000),
    llm(Anthropic, "claude-haiku-4-5", 200_000),
    llm(Anthropic, "claude-opus-4-1-20250805", 200_000),
    llm(Anthropic, "claude-sonnet-4-20250514", 200_000),
    llm(Anthropic, "claude-3-7-sonnet-20250219", 200_000),
    llm(Anthropic, "claude-3-5-sonnet-20241022", 200_000),
    llm(Anthropic, "claude-3-5-haiku-20241022", 200_000),
    llm(GoogleAi, "gemini-2.5-flash", 1_048_576),
    llm(GoogleAi, "gemini-2.5-pro", 1_048_576),
    llm(GoogleAi, "gemini-2.0-flash", 1_048_576),
    embedder(GoogleAi, "text-embedding-004", 2_048, 768),
    embedder(GoogleAi, "gemini-embedding-001", 2_048, 3072),
    llm(Mistral, "mistral-large-latest", 128_000),
    llm(Mistral, "mistral-small-latest", 128_000),
    embedder(Mistral, "mistral-embed", 8_192, 1024),
    llm(DeepSeek, "deepseek-chat", 64_000),
    llm(DeepSeek, "deepseek-reasoner", 64_000),
    llm(Xai, "grok-4", 256_000),
    llm(Xai, "grok-3", 131_072),
    llm(Groq, "llama-3.3-70b-versatile", 131_072),
    llm(Together, "meta-llama/Llama-3.3-70B-Instruct-Turbo", 131_072),
    llm(Azure, "gpt-4o-mini", 128_000),
    llm(Azure, "gpt-4o", 128_000),
];

/// The table's row for `model` of the `kind` family.
pub(crate) fn known(kind: ProviderKind, model: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.kind == kind && k.name == model)
}

/// The known models of a family: chat models, or embedders with `embeddings`.
pub(crate) fn known_of(
    kind: ProviderKind,
    embeddings: bool,
) -> impl Iterator<Item = &'static Known> {
    KNOWN
        .iter()
        .filter(move |k| k.kind == kind && k.embedding_dim.is_some() == embeddings)
}

/// Letta's default `max_tokens` for a model resolved from a handle (each provider class's
/// `get_default_max_output_tokens`): per family for Anthropic and Gemini, 16k for OpenAI and
/// the providers built on its class (128k for gpt-5.2 to 5.4 except the chat variants), 4096
/// for the others.
pub(crate) fn default_max_tokens(kind: ProviderKind, model: &str) -> u32 {
    use ProviderKind as K;
    match kind {
        K::Anthropic => anthropic_max_tokens(model),
        K::GoogleAi => {
            if model.contains("2.5") || model.contains("2-5") || model.starts_with("gemini-3") {
                65_536
            } else {
                8_192
            }
        }
        K::Openai
        | K::Ollama
        | K::Together
        | K::Xai
        | K::OpenRouter
        | K::Groq
        | K::DeepSeek
        | K::LmStudio
        | K::OpenaiCompatible => {
            let big = ["gpt-5.2", "gpt-5.3", "gpt-5.4"]
                .iter()
                .any(|p| model.starts_with(p));
            if big && !model.contains("-chat") {
                128_000
            } else {
                16_384
            }
        }
        K::Vllm | K::Mistral | K::Azure => 4_096,
    }
}

fn anthropic_max_tokens(model: &str) -> u32 {
    if model.contains("claude-opus-4-6") || model.contains("claude-sonnet-4-6") {
        21_000
    } else if model.contains("opus") || model.contains("sonnet") {
        16_384
    } else {
        8_192
    }
}

/// Letta's `LLMConfig` default temperature, which a handle's config keeps.
pub(crate) const DEFAULT_TEMPERATURE: f64 = 1.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_tokens_follow_letta_per_family() {
        assert_eq!(default_max_tokens(Openai, "gpt-4o-mini"), 16_384);
        assert_eq!(default_max_tokens(Openai, "gpt-5.2"), 128_000);
        assert_eq!(default_max_tokens(Openai, "gpt-5.2-chat-latest"), 16_384);
        assert_eq!(default_max_tokens(Anthropic, "claude-sonnet-4-5"), 16_384);
        assert_eq!(default_max_tokens(Anthropic, "claude-haiku-4-5"), 8_192);
        assert_eq!(default_max_tokens(Anthropic, "claude-opus-4-6"), 21_000);
        assert_eq!(default_max_tokens(GoogleAi, "gemini-2.5-pro"), 65_536);
        assert_eq!(default_max_tokens(GoogleAi, "gemini-2.0-flash"), 8_192);
        assert_eq!(default_max_tokens(ProviderKind::Ollama, "llama3"), 16_384);
        assert_eq!(default_max_tokens(ProviderKind::Vllm, "qwen"), 4_096);
    }
}
