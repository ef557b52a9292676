//! The model catalogue: which providers this server has (configured by the operator or created
//! through `/v1/providers`), how a handle such as `openai/gpt-4o-mini` becomes an `LLMConfig`,
//! and what `GET /v1/models/` lists: the models each provider says it serves, asked from its
//! model list and cached, or the known models of its family when the list cannot be fetched.

mod known;
mod listing;
mod resolve;

use std::sync::{Arc, RwLock};

use mneme_llm::{ModelKind, RemoteModel};
pub use mneme_types::ProviderKind;
use mneme_types::{ConfiguredProviders, EmbeddingConfig};

pub(crate) use listing::LIST_TIMEOUT;
pub use listing::ModelLister;
use listing::{Listing, ListingCache};

/// Letta caps every context window at this unless `context_window_limit` asks otherwise.
pub const GLOBAL_CONTEXT_WINDOW_CAP: u32 = 128_000;

/// Dimension assumed for an embedding model nothing says the size of.
const DEFAULT_EMBEDDING_DIM: u32 = 1536;

/// One provider: its handle prefix, family and endpoint. `listed` providers (configured with
/// a key or a URL, or created) have their models in `GET /v1/models/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub listed: bool,
    /// Created through `/v1/providers` (Letta's `byok` category) rather than configured.
    pub byok: bool,
}

impl Provider {
    pub fn category(&self) -> &'static str {
        if self.byok { "byok" } else { "base" }
    }
}

/// A model a provider offers, with what the catalogue knows of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Offered {
    pub(crate) name: String,
    pub(crate) context_window: u32,
    pub(crate) embedding_dim: Option<u32>,
}

/// The models of one provider and whether the provider itself said so.
pub(crate) struct Offer {
    pub(crate) models: Vec<Offered>,
    /// `None`: the provider's own list; `Some(why)`: its list could not be fetched and these
    /// are the known models of its family.
    pub(crate) fallback: Option<String>,
}

/// Filters of `GET /v1/models/` and `/v1/models/embedding`.
#[derive(Debug, Clone, Default)]
pub struct ModelFilter {
    /// `base` and/or `byok`; empty: both.
    pub provider_category: Vec<String>,
    pub provider_name: Option<String>,
    pub provider_type: Option<String>,
}

impl ModelFilter {
    fn admits(&self, p: &Provider) -> bool {
        let category = self.provider_category.is_empty()
            || self.provider_category.iter().any(|c| c == p.category());
        category
            && self.provider_name.as_ref().is_none_or(|n| *n == p.name)
            && self
                .provider_type
                .as_ref()
                .is_none_or(|t| p.kind.spec().answers_to(t))
    }
}

pub struct ModelCatalog {
    providers: RwLock<Vec<Provider>>,
    /// The built-in embedding model, listed when its files are installed.
    local_embedding: Option<EmbeddingConfig>,
    lister: Option<Arc<dyn ModelLister>>,
    cache: ListingCache,
}

impl std::fmt::Debug for ModelCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCatalog")
            .field("providers", &self.providers())
            .finish_non_exhaustive()
    }
}

impl ModelCatalog {
    pub fn new(providers: Vec<Provider>) -> ModelCatalog {
        ModelCatalog {
            providers: RwLock::new(providers),
            local_embedding: None,
            lister: None,
            cache: ListingCache::default(),
        }
    }

    /// Asks providers for their models through `lister`; without one, the catalogue offers
    /// the known models only.
    pub fn with_lister(mut self, lister: Arc<dyn ModelLister>) -> ModelCatalog {
        self.lister = Some(lister);
        self
    }

    pub(crate) fn lister(&self) -> Option<&Arc<dyn ModelLister>> {
        self.lister.as_ref()
    }

    /// Lists the built-in embedding model (`local/all-MiniLM-L6-v2`), or stops listing it.
    pub fn set_local_embedding(&mut self, config: Option<EmbeddingConfig>) {
        self.local_embedding = config;
    }

    /// The providers the operator configured (a key or a URL), at their configured URL or the
    /// registry's default. An unconfigured provider's handles do not resolve, as in Letta.
    pub fn configured(settings: &ConfiguredProviders) -> ModelCatalog {
        let providers = settings
            .iter()
            .filter(|(_, s)| s.is_configured())
            .map(|(spec, s)| Provider {
                name: spec.name.to_owned(),
                kind: spec.kind,
                base_url: s
                    .base_url
                    .as_deref()
                    .or(spec.default_base_url)
                    .unwrap_or_default()
                    .trim_end_matches('/')
                    .to_owned(),
                listed: true,
                byok: false,
            })
            .collect();
        ModelCatalog::new(providers)
    }

    /// Adds or replaces the provider called `provider.name`; its cached listing is dropped.
    pub fn set(&self, provider: Provider) {
        self.cache.forget(&provider.name);
        let mut providers = self.providers.write().unwrap_or_else(|e| e.into_inner());
        providers.retain(|p| p.name != provider.name);
        providers.push(provider);
    }

    pub fn remove(&self, name: &str) {
        self.cache.forget(name);
        let mut providers = self.providers.write().unwrap_or_else(|e| e.into_inner());
        providers.retain(|p| p.name != name);
    }

    pub fn provider(&self, name: &str) -> Option<Provider> {
        let providers = self.providers.read().unwrap_or_else(|e| e.into_inner());
        providers.iter().find(|p| p.name == name).cloned()
    }

    /// A model config another server wrote (an Agent File) names its provider's public URL,
    /// or none: where this server reaches that provider at a URL of its own (configured or
    /// created), the config takes that URL. A config naming any other URL keeps it.
    pub fn localize_llm(&self, config: &mut mneme_types::LlmConfig) {
        if let Some(url) = self.local_url(
            &config.model_endpoint_type,
            config.model_endpoint.as_deref(),
        ) {
            config.model_endpoint = Some(url);
        }
    }

    /// [`ModelCatalog::localize_llm`] for an embedding config.
    pub fn localize_embedding(&self, config: &mut EmbeddingConfig) {
        let stored = config.embedding_endpoint.as_deref();
        if let Some(url) = self.local_url(&config.embedding_endpoint_type, stored) {
            config.embedding_endpoint = Some(url);
        }
    }

    /// This server's URL for the provider of `endpoint_type`, when `stored` is its public one.
    fn local_url(&self, endpoint_type: &str, stored: Option<&str>) -> Option<String> {
        let spec = mneme_types::provider::PROVIDERS
            .iter()
            .find(|p| p.endpoint_type == endpoint_type)?;
        let provider = self.provider(spec.name)?;
        let public = spec.default_base_url.map(|u| u.trim_end_matches('/'));
        let stored = stored.map(|u| u.trim_end_matches('/'));
        (stored.is_none() || stored == public).then_some(provider.base_url)
    }

    pub fn providers(&self) -> Vec<Provider> {
        self.providers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Drops the cached model list of `name`, so the next use asks the provider again.
    pub fn forget_listing(&self, name: &str) {
        self.cache.forget(name);
    }

    /// The provider's model list, from the cache or asked now.
    async fn listing(&self, provider: &Provider) -> Listing {
        if let Some(cached) = self.cache.get(&provider.name) {
            return cached;
        }
        let listing = match &self.lister {
            Some(lister) => listing::fetch(lister.as_ref(), &provider.name).await,
            None => Err(mneme_llm::LlmError::Unsupported(provider.name.clone())),
        };
        if let Err(e) = &listing {
            tracing::warn!(provider = %provider.name, error = %e,
                "cannot fetch the provider's model list; offering its known models");
        }
        self.cache.put(&provider.name, listing.clone());
        listing
    }

    /// What `provider` offers: chat models, or embedders with `embeddings`.
    pub(crate) async fn offer(&self, provider: &Provider, embeddings: bool) -> Offer {
        let want = if embeddings {
            ModelKind::Embedding
        } else {
            ModelKind::Chat
        };
        match self.listing(provider).await {
            Ok(models) => Offer {
                models: models
                    .iter()
                    .filter(|m| m.kind == want)
                    .map(|m| offered(provider.kind, m))
                    .collect(),
                fallback: None,
            },
            Err(e) => Offer {
                models: known::known_of(provider.kind, embeddings)
                    .map(|k| Offered {
                        name: k.name.to_owned(),
                        context_window: k.context_window,
                        embedding_dim: k.embedding_dim,
                    })
                    .collect(),
                fallback: Some(e.to_string()),
            },
        }
    }

    /// The listed providers a filter admits.
    fn listed(&self, filter: &ModelFilter) -> Vec<Provider> {
        self.providers()
            .into_iter()
            .filter(|p| p.listed && filter.admits(p))
            .collect()
    }
}

/// A listed model with the window the provider reported, else the known one, else the
/// family's default.
fn offered(kind: ProviderKind, m: &RemoteModel) -> Offered {
    let known = known::known(kind, &m.name);
    Offered {
        name: m.name.clone(),
        context_window: m
            .context_window
            .or(known.map(|k| k.context_window))
            .unwrap_or(kind.spec().default_context_window),
        embedding_dim: m.embedding_dim.or(known.and_then(|k| k.embedding_dim)),
    }
}

#[cfg(test)]
mod tests;
