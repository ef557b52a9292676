//! The provider registry: one table of every model provider mneme knows, with its endpoint
//! type, handle prefix, environment variables, default base URL and the wire protocol its
//! client speaks. The configuration, the model catalogue, the LLM router and the embedding
//! router all read this table; adding a provider is one row here plus its client.
//!
//! It lives in `mneme-types` (plain data, no IO) because `mneme-embed` reads it too and does not
//! depend on `mneme-llm`.

use std::borrow::Cow;
use std::fmt;

/// The wire protocol a provider speaks: which client talks to it. A protocol without a client
/// yet makes the routers answer "not supported", as for an unknown endpoint type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    /// OpenAI's Chat Completions and Embeddings (`/chat/completions`, `/embeddings`).
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API (`generateContent`, `batchEmbedContents`).
    Gemini,
    /// Ollama's native API (`/api/chat`, `/api/embed`) at the server's root URL.
    Ollama,
}

/// The providers of the registry; `spec()` gives a provider's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    Openai,
    Anthropic,
    GoogleAi,
    Ollama,
    /// vLLM's OpenAI-compatible server.
    Vllm,
    /// LM Studio's OpenAI-compatible server.
    LmStudio,
    /// Any OpenAI-compatible server named by the config's endpoint.
    OpenaiCompatible,
    Together,
    Groq,
    DeepSeek,
    Xai,
    OpenRouter,
    Mistral,
    /// Azure OpenAI: OpenAI's protocol at per-deployment URLs with an `api-key` header.
    Azure,
}

/// One row of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderSpec {
    pub kind: ProviderKind,
    /// The handle prefix (`openai` in `openai/gpt-4o-mini`) and the configs' `provider_name`.
    pub name: &'static str,
    /// `model_endpoint_type` / `embedding_endpoint_type` as Letta spells it.
    pub endpoint_type: &'static str,
    /// Other endpoint types accepted as this provider.
    pub aliases: &'static [&'static str],
    /// The environment variable (and, lower-cased with dashes, the flag) of its API key.
    pub api_key_env: Option<&'static str>,
    /// The environment variable (and flag) of its base URL.
    pub base_url_env: Option<&'static str>,
    /// The environment variable (and flag) of its API version (Azure's `api-version`).
    pub api_version_env: Option<&'static str>,
    /// Where the provider is when neither the config nor the operator names a URL.
    pub default_base_url: Option<&'static str>,
    /// A URL that does not end in `/v1` is the server's native root (Letta stores Ollama's
    /// `http://host:11434`); its OpenAI-compatible API is under `/v1`.
    pub openai_under_v1: bool,
    /// Its handles resolve even when the operator configured nothing (at the default URL).
    pub standard: bool,
    /// The protocol of its chat models; `None`: it has none.
    pub chat: Option<Wire>,
    /// The protocol of its embedding models; `None`: it has none.
    pub embeddings: Option<Wire>,
    /// The context window of a model of this provider the catalogue does not know.
    pub default_context_window: u32,
}

impl ProviderSpec {
    /// Whether `endpoint_type` names this provider.
    pub fn answers_to(&self, endpoint_type: &str) -> bool {
        self.endpoint_type == endpoint_type || self.aliases.contains(&endpoint_type)
    }

    /// The base URL of its OpenAI-compatible API: `url`, else the default, without a trailing
    /// slash; for a server whose API lives under `/v1`, a URL without it is the native root
    /// Letta stores (`http://host:11434`) and `/v1` is added.
    pub fn openai_base_url<'a>(&self, url: Option<&'a str>) -> Cow<'a, str> {
        let root = url
            .or(self.default_base_url)
            .unwrap_or_default()
            .trim_end_matches('/');
        if self.openai_under_v1 && !root.ends_with("/v1") {
            Cow::Owned(format!("{root}/v1"))
        } else {
            Cow::Borrowed(root)
        }
    }

    /// The root of a server's native API: `url`, else the default, without a trailing slash
    /// or `/v1` (Ollama's `/api/...` lives beside its OpenAI-compatible `/v1`, and users set
    /// either form).
    pub fn native_base_url<'a>(&self, url: Option<&'a str>) -> &'a str {
        let root = url.or(self.default_base_url).unwrap_or_default();
        let root = root.trim_end_matches('/');
        root.strip_suffix("/v1")
            .unwrap_or(root)
            .trim_end_matches('/')
    }

    /// The environment variables of this provider with whether each holds a secret.
    pub fn env_vars(&self) -> impl Iterator<Item = (&'static str, bool)> {
        let key = self.api_key_env.map(|v| (v, true));
        let url = self.base_url_env.map(|v| (v, false));
        let version = self.api_version_env.map(|v| (v, false));
        url.into_iter().chain(key).chain(version)
    }
}

/// A row with the fields most rows share; each row below says what differs.
const fn row(kind: ProviderKind, name: &'static str) -> ProviderSpec {
    ProviderSpec {
        kind,
        name,
        endpoint_type: name,
        aliases: &[],
        api_key_env: None,
        base_url_env: None,
        api_version_env: None,
        default_base_url: None,
        openai_under_v1: false,
        standard: false,
        chat: Some(Wire::OpenAi),
        embeddings: None,
        default_context_window: 32_768,
    }
}

/// OpenAI's public endpoint.
const OPENAI_URL: &str = "https://api.openai.com/v1";

/// The registry, in the order providers are listed. Row `i` is the provider of kind `i`
/// (checked at compile time below).
pub const PROVIDERS: &[ProviderSpec] = &[
    ProviderSpec {
        api_key_env: Some("OPENAI_API_KEY"),
        base_url_env: Some("OPENAI_BASE_URL"),
        default_base_url: Some(OPENAI_URL),
        standard: true,
        embeddings: Some(Wire::OpenAi),
        default_context_window: 128_000,
        ..row(ProviderKind::Openai, "openai")
    },
    ProviderSpec {
        api_key_env: Some("ANTHROPIC_API_KEY"),
        base_url_env: Some("ANTHROPIC_BASE_URL"),
        default_base_url: Some("https://api.anthropic.com/v1"),
        standard: true,
        chat: Some(Wire::Anthropic),
        default_context_window: 200_000,
        ..row(ProviderKind::Anthropic, "anthropic")
    },
    ProviderSpec {
        api_key_env: Some("GEMINI_API_KEY"),
        base_url_env: Some("GEMINI_BASE_URL"),
        default_base_url: Some("https://generativelanguage.googleapis.com"),
        standard: true,
        chat: Some(Wire::Gemini),
        embeddings: Some(Wire::Gemini),
        default_context_window: 1_048_576,
        ..row(ProviderKind::GoogleAi, "google_ai")
    },
    ProviderSpec {
        base_url_env: Some("OLLAMA_BASE_URL"),
        default_base_url: Some("http://localhost:11434"),
        openai_under_v1: true,
        standard: true,
        chat: Some(Wire::Ollama),
        embeddings: Some(Wire::Ollama),
        default_context_window: 8_192,
        ..row(ProviderKind::Ollama, "ollama")
    },
    ProviderSpec {
        base_url_env: Some("VLLM_API_BASE"),
        default_base_url: Some("http://localhost:8000/v1"),
        openai_under_v1: true,
        embeddings: Some(Wire::OpenAi),
        ..row(ProviderKind::Vllm, "vllm")
    },
    ProviderSpec {
        aliases: &["lmstudio"],
        base_url_env: Some("LMSTUDIO_BASE_URL"),
        default_base_url: Some("http://localhost:1234/v1"),
        openai_under_v1: true,
        embeddings: Some(Wire::OpenAi),
        ..row(ProviderKind::LmStudio, "lmstudio_openai")
    },
    ProviderSpec {
        default_base_url: Some(OPENAI_URL),
        ..row(ProviderKind::OpenaiCompatible, "openai-compatible")
    },
    ProviderSpec {
        api_key_env: Some("TOGETHER_API_KEY"),
        default_base_url: Some("https://api.together.xyz/v1"),
        ..row(ProviderKind::Together, "together")
    },
    ProviderSpec {
        api_key_env: Some("GROQ_API_KEY"),
        default_base_url: Some("https://api.groq.com/openai/v1"),
        ..row(ProviderKind::Groq, "groq")
    },
    ProviderSpec {
        api_key_env: Some("DEEPSEEK_API_KEY"),
        default_base_url: Some("https://api.deepseek.com/v1"),
        ..row(ProviderKind::DeepSeek, "deepseek")
    },
    ProviderSpec {
        api_key_env: Some("XAI_API_KEY"),
        default_base_url: Some("https://api.x.ai/v1"),
        ..row(ProviderKind::Xai, "xai")
    },
    ProviderSpec {
        api_key_env: Some("OPENROUTER_API_KEY"),
        default_base_url: Some("https://openrouter.ai/api/v1"),
        ..row(ProviderKind::OpenRouter, "openrouter")
    },
    ProviderSpec {
        api_key_env: Some("MISTRAL_API_KEY"),
        default_base_url: Some("https://api.mistral.ai/v1"),
        default_context_window: 128_000,
        ..row(ProviderKind::Mistral, "mistral")
    },
    ProviderSpec {
        api_key_env: Some("AZURE_API_KEY"),
        base_url_env: Some("AZURE_BASE_URL"),
        api_version_env: Some("AZURE_API_VERSION"),
        // Chat only: the embedding client does not build Azure's deployment URLs yet.
        default_context_window: 128_000,
        ..row(ProviderKind::Azure, "azure")
    },
];

/// Azure OpenAI's `api-version` when the operator names none (Letta's default).
pub const AZURE_DEFAULT_API_VERSION: &str = "2024-09-01-preview";

// Every kind has its row at its own index, so `spec()` can index without a search or a panic.
const _: () = {
    assert!(PROVIDERS.len() == ProviderKind::Azure as usize + 1);
    let mut i = 0;
    while i < PROVIDERS.len() {
        assert!(PROVIDERS[i].kind as usize == i);
        i += 1;
    }
};

impl ProviderKind {
    /// This provider's row.
    pub const fn spec(self) -> &'static ProviderSpec {
        &PROVIDERS[self as usize]
    }

    /// `model_endpoint_type` as Letta spells it.
    pub fn endpoint_type(self) -> &'static str {
        self.spec().endpoint_type
    }

    /// The provider an endpoint type (or one of its aliases) names.
    pub fn from_endpoint_type(endpoint_type: &str) -> Option<ProviderKind> {
        PROVIDERS
            .iter()
            .find(|p| p.answers_to(endpoint_type))
            .map(|p| p.kind)
    }

    /// The provider whose handle prefix is the part of `handle` before the first `/`.
    pub fn from_handle(handle: &str) -> Option<ProviderKind> {
        let (prefix, _) = handle.split_once('/')?;
        ProviderKind::from_name(prefix)
    }

    /// The provider whose registry name (handle prefix) is `name`.
    pub fn from_name(name: &str) -> Option<ProviderKind> {
        PROVIDERS.iter().find(|p| p.name == name).map(|p| p.kind)
    }

    /// The provider whose API key or base URL lives in environment variable `var`.
    pub fn from_env_var(var: &str) -> Option<ProviderKind> {
        PROVIDERS
            .iter()
            .find(|p| p.env_vars().any(|(v, _)| v == var))
            .map(|p| p.kind)
    }
}

/// What the operator configured for one provider.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProviderSettings {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    /// Azure OpenAI's `api-version`.
    pub api_version: Option<String>,
}

impl ProviderSettings {
    /// A key or a URL: the operator means to use this provider, so its models are listed.
    pub fn is_configured(&self) -> bool {
        self.api_key.is_some() || self.base_url.is_some()
    }
}

impl fmt::Debug for ProviderSettings {
    // Never print the key itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = if self.api_key.is_some() {
            "<set>"
        } else {
            "<unset>"
        };
        f.debug_struct("ProviderSettings")
            .field("api_key", &key)
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .finish()
    }
}

/// The settings of every provider, as resolved from flags and the environment at start-up.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConfiguredProviders {
    /// Indexed by `ProviderKind`; shorter when the later providers have nothing set.
    settings: Vec<ProviderSettings>,
}

/// What an unconfigured provider reads as.
static UNSET: ProviderSettings = ProviderSettings {
    api_key: None,
    base_url: None,
    api_version: None,
};

impl ConfiguredProviders {
    pub fn get(&self, kind: ProviderKind) -> &ProviderSettings {
        self.settings.get(kind as usize).unwrap_or(&UNSET)
    }

    pub fn set(&mut self, kind: ProviderKind, settings: ProviderSettings) {
        let index = kind as usize;
        if self.settings.len() <= index {
            self.settings
                .resize_with(index + 1, ProviderSettings::default);
        }
        self.settings[index] = settings;
    }

    /// Builder form of `set`.
    pub fn with(mut self, kind: ProviderKind, settings: ProviderSettings) -> Self {
        self.set(kind, settings);
        self
    }

    /// Each provider's row with its settings, in registry order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static ProviderSpec, &ProviderSettings)> {
        PROVIDERS.iter().map(|spec| (spec, self.get(spec.kind)))
    }
}

impl fmt::Debug for ConfiguredProviders {
    /// Only the configured providers, by name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .filter(|(_, s)| s.is_configured())
                    .map(|(spec, s)| (spec.name, s)),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_found_by_endpoint_type_handle_and_env_var() {
        assert_eq!(
            ProviderKind::from_endpoint_type("lmstudio"),
            Some(ProviderKind::LmStudio)
        );
        assert_eq!(
            ProviderKind::from_endpoint_type("lmstudio_openai"),
            Some(ProviderKind::LmStudio)
        );
        assert_eq!(ProviderKind::from_endpoint_type("bedrock"), None);
        assert_eq!(
            ProviderKind::from_handle("google_ai/gemini-2.5-pro"),
            Some(ProviderKind::GoogleAi)
        );
        assert_eq!(ProviderKind::from_handle("openai"), None);
        assert_eq!(ProviderKind::from_handle("nope/x"), None);
        assert_eq!(
            ProviderKind::from_env_var("VLLM_API_BASE"),
            Some(ProviderKind::Vllm)
        );
        assert_eq!(
            ProviderKind::from_env_var("GEMINI_API_KEY"),
            Some(ProviderKind::GoogleAi)
        );
        assert_eq!(ProviderKind::from_env_var("PATH"), None);
    }

    #[test]
    fn names_endpoint_types_and_env_vars_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for spec in PROVIDERS {
            assert_eq!(spec.kind.spec(), spec);
            for name in [spec.endpoint_type].iter().chain(spec.aliases) {
                assert!(seen.insert(format!("type {name}")), "{name} twice");
            }
            assert!(seen.insert(format!("name {}", spec.name)));
            for (var, _) in spec.env_vars() {
                assert!(seen.insert(var.to_owned()), "{var} twice");
            }
        }
    }

    #[test]
    fn native_roots_drop_the_v1_suffix() {
        let ollama = ProviderKind::Ollama.spec();
        for url in ["http://h:11434", "http://h:11434/", "http://h:11434/v1/"] {
            assert_eq!(ollama.native_base_url(Some(url)), "http://h:11434");
        }
        assert_eq!(ollama.native_base_url(None), "http://localhost:11434");
    }

    #[test]
    fn env_vars_say_which_hold_secrets() {
        let vars: Vec<_> = ProviderKind::Openai.spec().env_vars().collect();
        assert_eq!(vars, [("OPENAI_BASE_URL", false), ("OPENAI_API_KEY", true)]);
    }

    #[test]
    fn settings_default_to_unset_and_debug_hides_keys() {
        let providers = ConfiguredProviders::default().with(
            ProviderKind::Anthropic,
            ProviderSettings {
                api_key: Some("sk-ant-secret".into()),
                ..ProviderSettings::default()
            },
        );
        assert!(providers.get(ProviderKind::Anthropic).is_configured());
        assert!(!providers.get(ProviderKind::OpenRouter).is_configured());
        assert!(!providers.get(ProviderKind::Openai).is_configured());
        let debug = format!("{providers:?}");
        assert!(debug.contains("anthropic") && !debug.contains("sk-ant-secret"));
        assert!(!debug.contains("openai"), "{debug}");
    }
}
