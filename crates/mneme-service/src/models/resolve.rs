//! Handles to configs, and the catalogue's listings in Letta's `Model` shapes.

use mneme_types::{EmbeddingConfig, LlmConfig};
use serde_json::{Map, Value, json};

use super::known::{DEFAULT_TEMPERATURE, default_max_tokens, known};
use super::{
    DEFAULT_EMBEDDING_DIM, GLOBAL_CONTEXT_WINDOW_CAP, ModelCatalog, ModelFilter, Offer, Offered,
    Provider,
};
use crate::{Result, ServiceError};

/// How many handles a "not found" message lists.
const HANDLES_SHOWN: usize = 20;

impl ModelCatalog {
    /// Resolves `provider/model` to an `LLMConfig` with Letta's per-model defaults, capping the
    /// context window at `limit` when given, else at 128k. The provider must be configured
    /// or created, and serve the model: by its own list, or, when the list cannot be fetched,
    /// by the known models of its family. Otherwise Letta's 404 for an unknown handle.
    pub async fn resolve_llm(&self, handle: &str, limit: Option<u32>) -> Result<LlmConfig> {
        let (provider, model) = self.split(handle)?;
        let offer = self.offer(&provider, false).await;
        let found = find(&offer, model).ok_or_else(|| not_found(handle, &provider, &offer))?;
        let context_window = found
            .context_window
            .min(limit.unwrap_or(GLOBAL_CONTEXT_WINDOW_CAP));
        Ok(LlmConfig {
            model: model.to_owned(),
            model_endpoint_type: provider.kind.endpoint_type().to_owned(),
            model_endpoint: Some(provider.base_url.clone()),
            provider_name: Some(provider.name.clone()),
            provider_category: Some(provider.category().into()),
            context_window,
            handle: Some(handle.to_owned()),
            temperature: DEFAULT_TEMPERATURE,
            max_tokens: Some(default_max_tokens(provider.kind, model)),
            put_inner_thoughts_in_kwargs: Some(false),
            enable_reasoner: true,
            reasoning_effort: None,
            max_reasoning_tokens: 0,
            parallel_tool_calls: Some(false),
            extra: Map::new(),
        })
    }

    /// Resolves `provider/model` to an `EmbeddingConfig`. The provider must be configured or
    /// created; the model is not checked against its list (Letta looks embedders up lazily).
    pub fn resolve_embedding(&self, handle: &str) -> Result<EmbeddingConfig> {
        // The built-in model resolves even before it is installed; using it then is a clear
        // 503 that says how to install it.
        if handle == mneme_embed::LOCAL_EMBEDDING_HANDLE {
            return Ok(mneme_embed::local_embedding_config());
        }
        let (provider, model) = self.split(handle).map_err(|_| {
            ServiceError::bad(format!(
                "INVALID_ARGUMENT: Embedding model {handle} not found"
            ))
        })?;
        let dim = known(provider.kind, model)
            .and_then(|k| k.embedding_dim)
            .unwrap_or(DEFAULT_EMBEDDING_DIM);
        Ok(embedding_config(&provider, model, dim))
    }

    /// `GET /v1/models/`: the chat models of the listed providers the filter admits.
    pub async fn list_llms(&self, filter: &ModelFilter) -> Vec<Value> {
        let providers = self.listed(filter);
        let offers = futures_util::future::join_all(providers.iter().map(|p| self.offer(p, false)));
        let offers = offers.await;
        let mut out = Vec::new();
        for (p, offer) in providers.iter().zip(offers) {
            out.extend(offer.models.iter().map(|m| llm_model(p, m)));
        }
        out
    }

    /// `GET /v1/models/embedding`: the built-in model when installed, then the embedders of
    /// the listed providers.
    pub async fn list_embeddings(&self, filter: &ModelFilter) -> Vec<Value> {
        let local = self
            .local_embedding
            .iter()
            .filter(|_| filter.provider_name.is_none() && filter.provider_type.is_none());
        let mut out: Vec<Value> = local.map(local_model).collect();
        let providers = self.listed(filter);
        let offers = futures_util::future::join_all(providers.iter().map(|p| self.offer(p, true)));
        for (p, offer) in providers.iter().zip(offers.await) {
            out.extend(offer.models.iter().map(|m| {
                let dim = m.embedding_dim.unwrap_or(DEFAULT_EMBEDDING_DIM);
                let config = embedding_config(p, &m.name, dim);
                embedding_model(p, &config)
            }));
        }
        out
    }

    /// The provider a handle names and the model part; a malformed handle is a 400, an
    /// unknown provider Letta's 404.
    fn split<'h>(&self, handle: &'h str) -> Result<(Provider, &'h str)> {
        let Some((provider, model)) = handle
            .split_once('/')
            .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        else {
            return Err(ServiceError::bad(
                "INVALID_ARGUMENT: The model handle should be in the format provider/model-name",
            ));
        };
        let found = self.provider(provider).ok_or_else(|| {
            let names: Vec<String> = self.providers().into_iter().map(|p| p.name).collect();
            let hint = match ProviderHint::of(provider) {
                Some(vars) => format!("; set {vars} or create it through /v1/providers"),
                None => String::new(),
            };
            ServiceError::NotFound(format!(
                "NOT_FOUND: Handle {handle} not found: provider '{provider}' is not configured \
                 (configured: [{}]){hint}",
                names.join(", ")
            ))
        })?;
        Ok((found, model))
    }
}

/// The environment variables that configure a registry provider, for error messages.
struct ProviderHint;

impl ProviderHint {
    fn of(name: &str) -> Option<String> {
        let kind = mneme_types::ProviderKind::from_name(name)?;
        let vars: Vec<&str> = kind.spec().env_vars().map(|(v, _)| v).collect();
        (!vars.is_empty()).then(|| vars.join(" or "))
    }
}

/// The offered model `model` names: exactly, or Ollama's `:latest` tag left out.
/// The listed model `model` names: itself, Ollama's `name` for `name:latest`, or an alias
/// without the date of a dated snapshot (`claude-haiku-4-5` for `claude-haiku-4-5-20251001`,
/// which Anthropic's API accepts while its model list names only the snapshots).
pub(super) fn find<'o>(offer: &'o Offer, model: &str) -> Option<&'o Offered> {
    let models = &offer.models;
    let snapshot_of = |name: &str| {
        name.strip_prefix(model)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|date| date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()))
    };
    models
        .iter()
        .find(|m| m.name == model)
        .or_else(|| {
            models
                .iter()
                .find(|m| m.name.strip_suffix(":latest") == Some(model))
        })
        .or_else(|| {
            models
                .iter()
                .filter(|m| snapshot_of(&m.name))
                .max_by(|a, b| a.name.cmp(&b.name))
        })
}

fn not_found(handle: &str, provider: &Provider, offer: &Offer) -> ServiceError {
    let mut handles: Vec<String> = offer
        .models
        .iter()
        .take(HANDLES_SHOWN)
        .map(|m| format!("'{}/{}'", provider.name, m.name))
        .collect();
    if offer.models.len() > HANDLES_SHOWN {
        handles.push("...".into());
    }
    let why = match &offer.fallback {
        None => String::new(),
        Some(e) => format!(" (the provider's model list could not be fetched: {e})"),
    };
    ServiceError::NotFound(format!(
        "NOT_FOUND: Handle {handle} not found, must be one of [{}]{why}",
        handles.join(", ")
    ))
}

fn embedding_config(p: &Provider, model: &str, dim: u32) -> EmbeddingConfig {
    EmbeddingConfig {
        embedding_endpoint_type: p.kind.endpoint_type().to_owned(),
        embedding_endpoint: Some(p.base_url.clone()),
        embedding_model: model.to_owned(),
        embedding_dim: dim,
        embedding_chunk_size: Some(300),
        handle: Some(format!("{}/{model}", p.name)),
        batch_size: 32,
        extra: Map::new(),
    }
}

/// Letta's `Model` for a chat model.
fn llm_model(p: &Provider, m: &Offered) -> Value {
    let kind = p.kind.endpoint_type();
    json!({
        "handle": format!("{}/{}", p.name, m.name), "name": m.name, "display_name": m.name,
        "provider_type": kind, "provider_name": p.name, "provider_category": p.category(),
        "model_type": "llm", "model": m.name,
        "model_endpoint_type": kind, "model_endpoint": p.base_url,
        "context_window": m.context_window.min(GLOBAL_CONTEXT_WINDOW_CAP),
        "max_context_window": m.context_window, "model_wrapper": null,
        "put_inner_thoughts_in_kwargs": false, "temperature": DEFAULT_TEMPERATURE,
        "max_tokens": default_max_tokens(p.kind, &m.name), "enable_reasoner": true,
        "reasoning_effort": null, "max_reasoning_tokens": 0, "parallel_tool_calls": false,
    })
}

/// Letta's `EmbeddingModel`.
fn embedding_model(p: &Provider, c: &EmbeddingConfig) -> Value {
    json!({
        "handle": c.handle, "name": c.embedding_model, "display_name": c.embedding_model,
        "provider_type": c.embedding_endpoint_type, "provider_name": p.name,
        "provider_category": p.category(), "model_type": "embedding",
        "embedding_endpoint_type": c.embedding_endpoint_type,
        "embedding_endpoint": c.embedding_endpoint, "embedding_model": c.embedding_model,
        "embedding_dim": c.embedding_dim, "embedding_chunk_size": 300, "batch_size": 32,
    })
}

fn local_model(c: &EmbeddingConfig) -> Value {
    let kind = &c.embedding_endpoint_type;
    json!({
        "handle": c.handle, "name": c.embedding_model, "display_name": c.embedding_model,
        "provider_type": kind, "provider_name": kind, "provider_category": "base",
        "model_type": "embedding", "embedding_endpoint_type": kind, "embedding_endpoint": null,
        "embedding_model": c.embedding_model, "embedding_dim": c.embedding_dim,
        "embedding_chunk_size": 300, "batch_size": c.batch_size,
    })
}
