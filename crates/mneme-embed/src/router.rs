//! `EmbedderRouter`: the `Embedder` for an `EmbeddingConfig`, one cached instance per provider,
//! endpoint and model; and `local_embedding_config`, the config of the in-process model.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use mneme_types::{ConfiguredProviders, EmbeddingConfig, ProviderKind, ProviderSpec, Wire};

#[cfg(feature = "local")]
use crate::LocalEmbedder;
use crate::{
    EmbedError, Embedder, GeminiEmbedder, OllamaEmbedder, OpenAiEmbedder, OpenAiEmbedderOptions,
};

/// The model name of the in-process model.
pub const LOCAL_EMBEDDING_MODEL: &str = "all-MiniLM-L6-v2";
/// The handle under which the in-process model is offered.
pub const LOCAL_EMBEDDING_HANDLE: &str = "local/all-MiniLM-L6-v2";
/// The endpoint type of the in-process model (not a provider of the registry: nothing to
/// configure, nothing to reach).
pub const LOCAL_ENDPOINT_TYPE: &str = "local";
/// The in-process model's vector size.
pub const LOCAL_EMBEDDING_DIM: u32 = 384;

/// The `EmbeddingConfig` of the in-process model, for the service to list and to default to.
pub fn local_embedding_config() -> EmbeddingConfig {
    EmbeddingConfig {
        embedding_endpoint_type: LOCAL_ENDPOINT_TYPE.to_owned(),
        embedding_endpoint: None,
        embedding_model: LOCAL_EMBEDDING_MODEL.to_owned(),
        embedding_dim: LOCAL_EMBEDDING_DIM,
        embedding_chunk_size: Some(300),
        handle: Some(LOCAL_EMBEDDING_HANDLE.to_owned()),
        batch_size: 32,
        extra: serde_json::Map::new(),
    }
}

/// The server's embedding providers: their configured base URLs and keys, the local model's
/// directory. A config's own `embedding_endpoint` wins over the base URL here, as in Letta,
/// where the config records the endpoint it was made for; without either, the registry's
/// default URL. A key goes only to its own provider, never to a local server by accident.
#[derive(Debug, Clone, Default)]
pub struct RouterConfig {
    pub providers: ConfiguredProviders,
    /// Where `config.json`, `tokenizer.json` and `model.safetensors` of all-MiniLM-L6-v2 are.
    pub local_model_dir: Option<PathBuf>,
    /// Where to fetch the local model from when its files are absent; `None`: never fetch.
    pub local_model_fetch: Option<crate::ModelSource>,
    /// Batching, retries and timeouts of the remote providers.
    pub remote: OpenAiEmbedderOptions,
}

/// Hands out the `Embedder` for an `EmbeddingConfig`. Remote embedders are cached per
/// (endpoint type, endpoint, model) so that their HTTP connections are reused; the local model
/// is one instance, loaded on its first use.
pub struct EmbedderRouter {
    config: RouterConfig,
    remote: Mutex<HashMap<RemoteKey, Arc<dyn Embedder>>>,
    #[cfg(feature = "local")]
    local: Option<Arc<LocalEmbedder>>,
}

/// (endpoint type, base URL, model).
type RemoteKey = (String, String, String);

impl EmbedderRouter {
    /// Loads nothing and contacts nothing.
    pub fn new(config: RouterConfig) -> EmbedderRouter {
        EmbedderRouter {
            #[cfg(feature = "local")]
            local: config.local_model_dir.clone().map(|dir| {
                let local = LocalEmbedder::new(dir);
                Arc::new(match config.local_model_fetch.clone() {
                    Some(source) => local.with_fetch(source),
                    None => local,
                })
            }),
            config,
            remote: Mutex::new(HashMap::new()),
        }
    }

    /// The embedder `config` asks for. For `local`, the model files must be present
    /// (`ModelMissing` otherwise); nothing is loaded until the first `embed`.
    /// The built-in model's embedder, when a model directory is configured.
    #[cfg(feature = "local")]
    pub fn local_embedder(&self) -> Option<Arc<LocalEmbedder>> {
        self.local.clone()
    }

    pub fn embedder_for(&self, config: &EmbeddingConfig) -> Result<Arc<dyn Embedder>, EmbedError> {
        let kind = config.embedding_endpoint_type.as_str();
        let endpoint = config
            .embedding_endpoint
            .as_deref()
            .filter(|e| !e.trim().is_empty());
        if kind == LOCAL_ENDPOINT_TYPE {
            return self.local(&config.embedding_model);
        }
        let spec = ProviderKind::from_endpoint_type(kind)
            .map(ProviderKind::spec)
            .filter(|spec| spec.embeddings.is_some())
            .ok_or_else(|| EmbedError::UnknownEndpointType(kind.to_owned()))?;
        let settings = self.config.providers.get(spec.kind);
        let url = endpoint.or(settings.base_url.as_deref());
        let model = config.embedding_model.as_str();
        let base = match spec.embeddings {
            Some(Wire::OpenAi) => spec.openai_base_url(url).into_owned(),
            _ => spec.native_base_url(url).to_owned(),
        };
        // Gemini is asked for the config's dimension, so it is part of what the instance is.
        let instance = match spec.embeddings {
            Some(Wire::Gemini) => format!("{model}@{}", config.embedding_dim),
            _ => model.to_owned(),
        };
        let key = (kind.to_owned(), base, instance);
        // A poisoned lock only means another thread panicked mid-insert; the map is still valid.
        let mut cache = self.remote.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(embedder) = cache.get(&key) {
            return Ok(Arc::clone(embedder));
        }
        let embedder = self.remote_embedder(spec, &key.1, config, settings.api_key.clone())?;
        cache.insert(key, Arc::clone(&embedder));
        Ok(embedder)
    }

    /// A new embedder for the provider's embeddings protocol.
    fn remote_embedder(
        &self,
        spec: &ProviderSpec,
        base: &str,
        config: &EmbeddingConfig,
        api_key: Option<String>,
    ) -> Result<Arc<dyn Embedder>, EmbedError> {
        let model = config.embedding_model.as_str();
        let options = self.config.remote.clone();
        Ok(match spec.embeddings {
            Some(Wire::Gemini) => {
                let dim = Some(config.embedding_dim);
                Arc::new(GeminiEmbedder::new(base, model, api_key, dim, options)?)
            }
            Some(Wire::Ollama) => Arc::new(OllamaEmbedder::new(base, model, api_key, options)?),
            _ => Arc::new(
                OpenAiEmbedder::new(base, model, api_key, options)?
                    .with_name(format!("{}/{model}", config.embedding_endpoint_type)),
            ),
        })
    }

    #[cfg(feature = "local")]
    fn local(&self, model: &str) -> Result<Arc<dyn Embedder>, EmbedError> {
        check_local_model(model)?;
        let Some(local) = &self.local else {
            return Err(EmbedError::ModelMissing {
                dir: PathBuf::new(),
                missing: "no model directory is configured".to_owned(),
            });
        };
        if !local.is_loaded() && !local.fetches() {
            local.check_files()?;
        }
        Ok(Arc::clone(local) as Arc<dyn Embedder>)
    }

    #[cfg(not(feature = "local"))]
    fn local(&self, model: &str) -> Result<Arc<dyn Embedder>, EmbedError> {
        check_local_model(model)?;
        Err(EmbedError::NotConfigured(
            "this mneme was built without the local embedding model (cargo feature `local`)"
                .to_owned(),
        ))
    }
}

/// The local provider has one model; its handle and the sentence-transformers name are accepted
/// as spellings of it.
fn check_local_model(model: &str) -> Result<(), EmbedError> {
    let name = model
        .strip_prefix("local/")
        .or_else(|| model.strip_prefix("sentence-transformers/"))
        .unwrap_or(model);
    if name == LOCAL_EMBEDDING_MODEL {
        Ok(())
    } else {
        Err(EmbedError::UnknownModel(model.to_owned()))
    }
}

/// The endpoint types that have an embedder, for the error that names an unknown one.
pub(crate) fn known_endpoint_types() -> String {
    let remote = mneme_types::PROVIDERS
        .iter()
        .filter(|spec| spec.embeddings.is_some())
        .flat_map(|spec| spec.aliases.iter().chain([&spec.endpoint_type]));
    let names: Vec<&str> = remote.copied().chain([LOCAL_ENDPOINT_TYPE]).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_is_added_once_where_the_api_lives_under_it() {
        let ollama = ProviderKind::Ollama.spec();
        assert_eq!(
            ollama.openai_base_url(Some("http://h:11434")),
            "http://h:11434/v1"
        );
        assert_eq!(
            ollama.openai_base_url(Some("http://h:11434/")),
            "http://h:11434/v1"
        );
        assert_eq!(
            ollama.openai_base_url(Some("http://h:11434/v1/")),
            "http://h:11434/v1"
        );
        assert_eq!(ollama.openai_base_url(None), "http://localhost:11434/v1");
        let lmstudio = ProviderKind::LmStudio.spec();
        assert_eq!(lmstudio.openai_base_url(None), "http://localhost:1234/v1");
        let openai = ProviderKind::Openai.spec();
        assert_eq!(openai.openai_base_url(None), crate::OPENAI_BASE_URL);
        assert_eq!(
            openai.openai_base_url(Some("http://proxy/x/")),
            "http://proxy/x"
        );
    }

    #[test]
    fn unknown_endpoint_types_list_the_known_ones() {
        assert_eq!(
            known_endpoint_types(),
            "openai, google_ai, ollama, vllm, lmstudio, lmstudio_openai, local"
        );
    }

    #[test]
    fn the_local_model_has_three_spellings() {
        assert!(check_local_model("all-MiniLM-L6-v2").is_ok());
        assert!(check_local_model("local/all-MiniLM-L6-v2").is_ok());
        assert!(check_local_model("sentence-transformers/all-MiniLM-L6-v2").is_ok());
        assert_eq!(
            check_local_model("bge-small"),
            Err(EmbedError::UnknownModel("bge-small".into()))
        );
    }

    #[test]
    fn the_local_config_is_letta_shaped() {
        let config = serde_json::to_value(local_embedding_config()).unwrap();
        assert_eq!(config["handle"], "local/all-MiniLM-L6-v2");
        assert_eq!(config["embedding_endpoint_type"], "local");
        assert_eq!(config["embedding_dim"], 384);
        assert_eq!(config["embedding_chunk_size"], 300);
        assert_eq!(config["batch_size"], 32);
    }
}
