//! The model catalogue: which providers this server knows, how a handle such as
//! `openai/gpt-4o-mini` becomes an `LLMConfig`, and what `GET /v1/models/` lists.

pub use mneme_types::ProviderKind;
use mneme_types::{ConfiguredProviders, EmbeddingConfig, LlmConfig};
use serde_json::{Map, Value, json};

use crate::{Result, ServiceError};

/// Letta caps every context window at this unless `context_window_limit` asks otherwise.
pub const GLOBAL_CONTEXT_WINDOW_CAP: u32 = 128_000;

/// One provider: its handle prefix, family and endpoint. `listed` providers are the ones the
/// operator configured (a key or a base URL); only their models appear in `GET /v1/models/`.
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub listed: bool,
}

/// Known models: (provider family, model, context window, embedding dimension if an embedder).
const KNOWN: &[(ProviderKind, &str, u32, Option<u32>)] = &[
    (ProviderKind::Openai, "gpt-4o-mini", 128_000, None),
    (ProviderKind::Openai, "gpt-4o", 128_000, None),
    (ProviderKind::Openai, "gpt-4.1", 1_047_576, None),
    (ProviderKind::Openai, "gpt-4.1-mini", 1_047_576, None),
    (ProviderKind::Openai, "gpt-4.1-nano", 1_047_576, None),
    (ProviderKind::Openai, "o4-mini", 200_000, None),
    (ProviderKind::Openai, "gpt-5", 400_000, None),
    (ProviderKind::Openai, "gpt-5-mini", 400_000, None),
    (
        ProviderKind::Openai,
        "text-embedding-3-small",
        8_191,
        Some(1536),
    ),
    (
        ProviderKind::Openai,
        "text-embedding-3-large",
        8_191,
        Some(3072),
    ),
    (
        ProviderKind::Openai,
        "text-embedding-ada-002",
        8_191,
        Some(1536),
    ),
    (
        ProviderKind::Anthropic,
        "claude-sonnet-4-5-20250929",
        200_000,
        None,
    ),
    (
        ProviderKind::Anthropic,
        "claude-haiku-4-5-20251001",
        200_000,
        None,
    ),
    (
        ProviderKind::Anthropic,
        "claude-opus-4-1-20250805",
        200_000,
        None,
    ),
    (ProviderKind::GoogleAi, "gemini-2.5-flash", 1_048_576, None),
    (ProviderKind::GoogleAi, "gemini-2.5-pro", 1_048_576, None),
    (
        ProviderKind::GoogleAi,
        "text-embedding-004",
        2_048,
        Some(768),
    ),
];

/// Dimension assumed for an embedding model this catalogue does not know.
const DEFAULT_EMBEDDING_DIM: u32 = 1536;

#[derive(Debug, Clone)]
pub struct ModelCatalog {
    providers: Vec<Provider>,
    /// The built-in embedding model, listed when its files are installed.
    local_embedding: Option<EmbeddingConfig>,
}

impl ModelCatalog {
    pub fn new(providers: Vec<Provider>) -> ModelCatalog {
        ModelCatalog {
            providers,
            local_embedding: None,
        }
    }

    /// Lists the built-in embedding model (`local/all-MiniLM-L6-v2`), or stops listing it.
    pub fn set_local_embedding(&mut self, config: Option<EmbeddingConfig>) {
        self.local_embedding = config;
    }

    /// The standard providers at their public endpoints, none listed.
    pub fn standard() -> ModelCatalog {
        ModelCatalog::configured(&ConfiguredProviders::default())
    }

    /// The registry's providers as the operator configured them: the standard ones always
    /// (their handles resolve without configuration), the others once given a key or a URL.
    /// A configured provider is listed in `GET /v1/models/`, at its configured URL if any.
    pub fn configured(settings: &ConfiguredProviders) -> ModelCatalog {
        let providers = settings
            .iter()
            .filter(|(spec, s)| spec.standard || s.is_configured())
            .filter_map(|(spec, s)| {
                let base_url = s.base_url.as_deref().or(spec.default_base_url)?;
                Some(Provider {
                    name: spec.name.to_owned(),
                    kind: spec.kind,
                    base_url: base_url.trim_end_matches('/').to_owned(),
                    listed: s.is_configured(),
                })
            })
            .collect();
        ModelCatalog::new(providers)
    }

    /// Adds or replaces the provider called `provider.name`.
    pub fn set(&mut self, provider: Provider) {
        self.providers.retain(|p| p.name != provider.name);
        self.providers.push(provider);
    }

    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// Resolves `provider/model` to an `LLMConfig`, capping the context window the way Letta
    /// does: at `limit` when given, else at 128k.
    pub fn resolve_llm(&self, handle: &str, limit: Option<u32>) -> Result<LlmConfig> {
        let (provider, model) = self.split(handle)?;
        let window = known(provider.kind, model)
            .map(|k| k.2)
            .unwrap_or(provider.kind.spec().default_context_window);
        let context_window = window.min(limit.unwrap_or(GLOBAL_CONTEXT_WINDOW_CAP));
        Ok(LlmConfig {
            model: model.to_owned(),
            model_endpoint_type: provider.kind.endpoint_type().to_owned(),
            model_endpoint: Some(provider.base_url.clone()),
            provider_name: Some(provider.name.clone()),
            provider_category: Some("base".into()),
            context_window,
            handle: Some(handle.to_owned()),
            temperature: 0.7,
            max_tokens: None,
            put_inner_thoughts_in_kwargs: Some(false),
            enable_reasoner: true,
            reasoning_effort: None,
            max_reasoning_tokens: 0,
            parallel_tool_calls: Some(false),
            extra: Map::new(),
        })
    }

    /// Resolves `provider/model` to an `EmbeddingConfig`.
    pub fn resolve_embedding(&self, handle: &str) -> Result<EmbeddingConfig> {
        // The built-in model resolves even before it is installed; using it then is a clear
        // 503 that says how to install it.
        if handle == mneme_embed::LOCAL_EMBEDDING_HANDLE {
            return Ok(mneme_embed::local_embedding_config());
        }
        let (provider, model) = self.split(handle)?;
        let dim = known(provider.kind, model)
            .and_then(|k| k.3)
            .unwrap_or(DEFAULT_EMBEDDING_DIM);
        Ok(EmbeddingConfig {
            embedding_endpoint_type: provider.kind.endpoint_type().to_owned(),
            embedding_endpoint: Some(provider.base_url.clone()),
            embedding_model: model.to_owned(),
            embedding_dim: dim,
            embedding_chunk_size: Some(300),
            handle: Some(handle.to_owned()),
            batch_size: 32,
            extra: Map::new(),
        })
    }

    /// `GET /v1/models/`: the chat models of listed providers, as Letta's `Model` objects.
    pub fn list_llms(&self) -> Vec<Value> {
        self.listed(false)
            .map(|(p, model, window)| {
                let handle = format!("{}/{model}", p.name);
                json!({
                    "handle": handle, "name": model, "display_name": model,
                    "provider_type": p.kind.endpoint_type(), "provider_name": p.name,
                    "provider_category": "base", "model_type": "llm", "model": model,
                    "model_endpoint_type": p.kind.endpoint_type(), "model_endpoint": p.base_url,
                    "context_window": window.min(GLOBAL_CONTEXT_WINDOW_CAP),
                    "max_context_window": window, "model_wrapper": null,
                    "put_inner_thoughts_in_kwargs": false, "temperature": 0.7,
                    "max_tokens": null, "enable_reasoner": true, "reasoning_effort": null,
                    "max_reasoning_tokens": 0, "parallel_tool_calls": false,
                })
            })
            .collect()
    }

    /// `GET /v1/models/embedding`.
    pub fn list_embeddings(&self) -> Vec<Value> {
        let local = self.local_embedding.iter().map(|c| {
            let kind = &c.embedding_endpoint_type;
            json!({
                "handle": c.handle, "name": c.embedding_model, "display_name": c.embedding_model,
                "provider_type": kind, "provider_name": kind, "model_type": "embedding",
                "embedding_endpoint_type": kind, "embedding_endpoint": null,
                "embedding_model": c.embedding_model, "embedding_dim": c.embedding_dim,
                "embedding_chunk_size": 300, "batch_size": c.batch_size,
            })
        });
        let remote = self.listed(true).map(|(p, model, _)| {
            let config = self.resolve_embedding(&format!("{}/{model}", p.name)).ok();
            json!({
                "handle": format!("{}/{model}", p.name), "name": model,
                "display_name": model, "provider_type": p.kind.endpoint_type(),
                "provider_name": p.name, "model_type": "embedding",
                "embedding_endpoint_type": p.kind.endpoint_type(),
                "embedding_endpoint": p.base_url, "embedding_model": model,
                "embedding_dim": config.map(|c| c.embedding_dim).unwrap_or(DEFAULT_EMBEDDING_DIM),
                "embedding_chunk_size": 300, "batch_size": 32,
            })
        });
        local.chain(remote).collect()
    }

    fn listed(&self, embeddings: bool) -> impl Iterator<Item = (&Provider, &'static str, u32)> {
        self.providers
            .iter()
            .filter(|p| p.listed)
            .flat_map(move |p| {
                KNOWN
                    .iter()
                    .filter(move |k| k.0 == p.kind && k.3.is_some() == embeddings)
                    .map(move |k| (p, k.1, k.2))
            })
    }

    fn split<'h>(&self, handle: &'h str) -> Result<(&Provider, &'h str)> {
        let Some((provider, model)) = handle
            .split_once('/')
            .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        else {
            return Err(ServiceError::bad(
                "INVALID_ARGUMENT: The model handle should be in the format provider/model-name",
            ));
        };
        let found = self.provider(provider).ok_or_else(|| {
            let names: Vec<&str> = self.providers.iter().map(|p| p.name.as_str()).collect();
            ServiceError::bad(format!(
                "Provider '{provider}' of handle '{handle}' is not configured; known providers: {}",
                names.join(", ")
            ))
        })?;
        Ok((found, model))
    }
}

fn known(
    kind: ProviderKind,
    model: &str,
) -> Option<&'static (ProviderKind, &'static str, u32, Option<u32>)> {
    KNOWN.iter().find(|k| k.0 == kind && k.1 == model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_handles_and_caps_windows() {
        let c = ModelCatalog::standard();
        let cfg = c.resolve_llm("openai/gpt-4.1", None).unwrap();
        assert_eq!(cfg.model, "gpt-4.1");
        assert_eq!(cfg.model_endpoint_type, "openai");
        assert_eq!(cfg.context_window, 128_000);
        assert_eq!(
            c.resolve_llm("openai/gpt-4.1", Some(200_000))
                .unwrap()
                .context_window,
            200_000
        );
        assert_eq!(
            c.resolve_llm("openai/gpt-4o-mini", Some(8000))
                .unwrap()
                .context_window,
            8000
        );
        assert_eq!(
            c.resolve_embedding("openai/text-embedding-3-large")
                .unwrap()
                .embedding_dim,
            3072
        );
        assert!(matches!(
            c.resolve_llm("gpt-4o", None),
            Err(ServiceError::BadRequest(_))
        ));
        assert!(matches!(
            c.resolve_llm("nope/x", None),
            Err(ServiceError::BadRequest(_))
        ));
    }

    #[test]
    fn lists_only_configured_providers() {
        let mut c = ModelCatalog::standard();
        assert!(c.list_llms().is_empty());
        c.set(Provider {
            name: "openai".into(),
            kind: ProviderKind::Openai,
            base_url: "http://127.0.0.1:9/v1".into(),
            listed: true,
        });
        let models = c.list_llms();
        assert!(models.iter().any(|m| m["handle"] == "openai/gpt-4o-mini"));
        assert!(
            models
                .iter()
                .all(|m| m["model_endpoint"] == "http://127.0.0.1:9/v1")
        );
        assert!(
            c.list_embeddings()
                .iter()
                .any(|m| m["embedding_dim"] == 1536)
        );
    }

    #[test]
    fn the_registry_and_settings_decide_what_resolves_and_what_is_listed() {
        use mneme_types::ProviderSettings;
        let c = ModelCatalog::standard();
        let names: Vec<&str> = c.providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["openai", "anthropic", "google_ai", "ollama"]);
        let ollama = c.resolve_llm("ollama/llama3", None).unwrap();
        assert_eq!(
            ollama.model_endpoint.as_deref(),
            Some("http://localhost:11434")
        );
        assert_eq!(ollama.context_window, 8_192);
        assert!(c.resolve_llm("vllm/qwen", None).is_err());

        let settings = ConfiguredProviders::default()
            .with(
                ProviderKind::Anthropic,
                ProviderSettings {
                    api_key: Some("sk-ant".into()),
                    base_url: None,
                    api_version: None,
                },
            )
            .with(
                ProviderKind::Vllm,
                ProviderSettings {
                    api_key: None,
                    base_url: Some("http://gpu:8000/v1/".into()),
                    api_version: None,
                },
            );
        let c = ModelCatalog::configured(&settings);
        let vllm = c.resolve_llm("vllm/qwen", None).unwrap();
        assert_eq!(vllm.model_endpoint_type, "vllm");
        assert_eq!(vllm.model_endpoint.as_deref(), Some("http://gpu:8000/v1"));
        assert_eq!(vllm.provider_name.as_deref(), Some("vllm"));
        let models = c.list_llms();
        let listed: Vec<&str> = models
            .iter()
            .map(|m| m["provider_name"].as_str().unwrap_or_default())
            .collect();
        assert!(listed.contains(&"anthropic") && !listed.contains(&"openai"));
        let claude = c
            .resolve_llm("anthropic/claude-sonnet-4-5-20250929", None)
            .unwrap();
        assert_eq!(
            claude.model_endpoint.as_deref(),
            Some("https://api.anthropic.com/v1")
        );
    }
}
