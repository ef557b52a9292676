//! Token counts of text as a model's tokenizer sees it, for context-window management.
//!
//! OpenAI models are counted exactly with their tiktoken encoding (`o200k_base` for the GPT-4o,
//! GPT-4.1, GPT-5 and o-series families, `cl100k_base` for GPT-4 and GPT-3.5). Other providers
//! do not publish an offline tokenizer; their text is counted with `o200k_base` and scaled up
//! by 20% (Claude, Gemini and Llama tokenizers produce somewhat more tokens than `o200k_base`
//! for English and code), so the estimate errs towards compacting early. The provider's own
//! `usage` of each call is exact and is what the step loop compares with the window after a
//! step; these counts matter before a call and after a compaction.
//!
//! An encoding's tables take about 0.2 s and 25-45 MB to build, so nothing is built until a
//! count is first asked for, and then on a background thread: until it is ready, counts are
//! `Method::Chars` estimates (four characters a token). A cache of counts keys them by the
//! `Method` that produced them, so an estimate is replaced by an exact count once the
//! encoding is ready.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use mneme_types::LlmConfig;
use tiktoken_rs::CoreBPE;

/// A tiktoken encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    O200k,
    Cl100k,
}

/// How a count was made; counts made by different methods are not comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// The model's own encoding.
    Exact(Encoding),
    /// `o200k_base` scaled by `ESTIMATE_SCALE` (models without an offline tokenizer).
    Scaled(Encoding),
    /// Four characters a token, while the encoding is being built.
    Chars,
}

/// Per-message framing tokens (role markers, separators) a chat format adds around content.
pub const MESSAGE_OVERHEAD: u64 = 4;
/// How much more text a non-OpenAI tokenizer is assumed to produce than `o200k_base`.
const ESTIMATE_SCALE: f64 = 1.2;

/// Counts text for one model.
#[derive(Clone, Copy)]
pub struct TokenCounter {
    method: Method,
    bpe: Option<&'static CoreBPE>,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("method", &self.method)
            .finish()
    }
}

impl TokenCounter {
    /// The counter for a model configuration: exact for OpenAI models, scaled otherwise, and
    /// an estimate while the encoding is still being built (which this starts).
    pub fn for_config(config: &LlmConfig) -> TokenCounter {
        let (encoding, exact) = encoding_of(&config.model_endpoint_type, &config.model);
        match Tables::of(encoding).get_or_start() {
            Some(bpe) => TokenCounter {
                method: if exact {
                    Method::Exact(encoding)
                } else {
                    Method::Scaled(encoding)
                },
                bpe: Some(bpe),
            },
            None => TokenCounter::estimate(),
        }
    }

    /// A counter that never loads tables: four characters a token.
    pub fn estimate() -> TokenCounter {
        TokenCounter {
            method: Method::Chars,
            bpe: None,
        }
    }

    /// The counter for a config, waiting for the encoding to be built (tests, tools).
    pub fn for_config_blocking(config: &LlmConfig) -> TokenCounter {
        let (encoding, _) = encoding_of(&config.model_endpoint_type, &config.model);
        Tables::of(encoding).get_blocking();
        TokenCounter::for_config(config)
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// Tokens of `text`.
    pub fn count(&self, text: &str) -> u64 {
        if text.is_empty() {
            return 0;
        }
        match (self.method, self.bpe) {
            (Method::Exact(_), Some(bpe)) => bpe.encode_ordinary(text).len() as u64,
            (Method::Scaled(_), Some(bpe)) => {
                (bpe.encode_ordinary(text).len() as f64 * ESTIMATE_SCALE).ceil() as u64
            }
            _ => (text.chars().count() as u64).div_ceil(4),
        }
    }
}

/// Which encoding a model's text is counted with, and whether that is the model's own.
fn encoding_of(endpoint_type: &str, model: &str) -> (Encoding, bool) {
    let openai = matches!(endpoint_type, "openai" | "azure" | "openai-proxy");
    let model = model.rsplit('/').next().unwrap_or(model);
    // GPT-4 before 4o (gpt-4, gpt-4-turbo, gpt-4-32k...) and GPT-3.5 use cl100k_base.
    let legacy = model.starts_with("gpt-3.5")
        || (model.starts_with("gpt-4")
            && !model.starts_with("gpt-4o")
            && !model.starts_with("gpt-4."));
    let known = model.starts_with("gpt-") || model.starts_with("chatgpt-") || is_o_series(model);
    match (openai && known, legacy) {
        (true, true) => (Encoding::Cl100k, true),
        (true, false) => (Encoding::O200k, true),
        (false, _) => (Encoding::O200k, false),
    }
}

fn is_o_series(model: &str) -> bool {
    let mut chars = model.chars();
    chars.next() == Some('o') && chars.next().is_some_and(|c| c.is_ascii_digit())
}

/// One encoding's tables, built once on a background thread.
struct Tables {
    bpe: OnceLock<Option<&'static CoreBPE>>,
    started: AtomicBool,
    encoding: Encoding,
}

static O200K: Tables = Tables::new(Encoding::O200k);
static CL100K: Tables = Tables::new(Encoding::Cl100k);

impl Tables {
    const fn new(encoding: Encoding) -> Tables {
        Tables {
            bpe: OnceLock::new(),
            started: AtomicBool::new(false),
            encoding,
        }
    }

    fn of(encoding: Encoding) -> &'static Tables {
        match encoding {
            Encoding::O200k => &O200K,
            Encoding::Cl100k => &CL100K,
        }
    }

    /// The tables if built; otherwise starts building them (once) and answers `None`.
    fn get_or_start(&'static self) -> Option<&'static CoreBPE> {
        if let Some(bpe) = self.bpe.get() {
            return *bpe;
        }
        if !self.started.swap(true, Ordering::AcqRel) {
            let spawned = std::thread::Builder::new()
                .name("mneme-tokenizer".into())
                .spawn(move || {
                    self.get_blocking();
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start building the tokenizer");
            }
        }
        None
    }

    /// Builds the tables on this thread if nobody has; `None` if they cannot be built.
    fn get_blocking(&self) -> Option<&'static CoreBPE> {
        *self.bpe.get_or_init(|| {
            let built = match self.encoding {
                Encoding::O200k => tiktoken_rs::o200k_base_singleton(),
                Encoding::Cl100k => tiktoken_rs::cl100k_base_singleton(),
            };
            Some(built)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: &str, model: &str) -> LlmConfig {
        serde_json::from_value(serde_json::json!({
            "model": model, "model_endpoint_type": endpoint, "context_window": 8192
        }))
        .unwrap()
    }

    #[test]
    fn openai_models_get_their_own_encoding() {
        assert_eq!(
            encoding_of("openai", "gpt-4o-mini"),
            (Encoding::O200k, true)
        );
        assert_eq!(encoding_of("openai", "gpt-5"), (Encoding::O200k, true));
        assert_eq!(encoding_of("openai", "o3-mini"), (Encoding::O200k, true));
        assert_eq!(encoding_of("openai", "gpt-4.1"), (Encoding::O200k, true));
        assert_eq!(
            encoding_of("openai", "gpt-4-turbo"),
            (Encoding::Cl100k, true)
        );
        assert_eq!(
            encoding_of("openai", "gpt-3.5-turbo"),
            (Encoding::Cl100k, true)
        );
        assert_eq!(
            encoding_of("anthropic", "claude-sonnet-4-5"),
            (Encoding::O200k, false)
        );
        assert_eq!(encoding_of("openai", "llama3"), (Encoding::O200k, false));
    }

    #[test]
    fn exact_counts_once_the_tables_are_built() {
        let c = TokenCounter::for_config_blocking(&config("openai", "gpt-4o-mini"));
        assert_eq!(c.method(), Method::Exact(Encoding::O200k));
        // "hello world" is two tokens in o200k_base.
        assert_eq!(c.count("hello world"), 2);
        assert_eq!(c.count(""), 0);
        let scaled = TokenCounter::for_config_blocking(&config("anthropic", "claude-3-5-haiku"));
        assert_eq!(scaled.method(), Method::Scaled(Encoding::O200k));
        assert_eq!(scaled.count("hello world"), 3);
    }

    #[test]
    fn the_estimate_is_four_characters_a_token() {
        let c = TokenCounter::estimate();
        assert_eq!(c.method(), Method::Chars);
        assert_eq!(c.count("abcdefghi"), 3);
    }
}
