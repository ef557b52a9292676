//! `EmbedderRouter`: the `Embedder` for an `EmbeddingConfig`, one cached instance per provider,
//! endpoint and model; and `local_embedding_config`, the config of the in-process model.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use mneme_types::EmbeddingConfig;

#[cfg(feature = "local")]
use crate::LocalEmbedder;
use crate::{EmbedError, Embedder, OPENAI_BASE_URL, OpenAiEmbedder, OpenAiEmbedderOptions};

/// The model name of the in-process model.
pub const LOCAL_EMBEDDING_MODEL: &str = "all-MiniLM-L6-v2";
/// The handle under which the in-process model is offered.
pub const LOCAL_EMBEDDING_HANDLE: &str = "local/all-MiniLM-L6-v2";
/// The in-process model's vector size.
pub const LOCAL_EMBEDDING_DIM: u32 = 384;

/// The `EmbeddingConfig` of the in-process model, for the service to list and to default to.
pub fn local_embedding_config() -> EmbeddingConfig {
    EmbeddingConfig {
        embedding_endpoint_type: "local".to_owned(),
        embedding_endpoint: None,
        embedding_model: LOCAL_EMBEDDING_MODEL.to_owned(),
        embedding_dim: LOCAL_EMBEDDING_DIM,
        embedding_chunk_size: Some(300),
        handle: Some(LOCAL_EMBEDDING_HANDLE.to_owned()),
        batch_size: 32,
        extra: serde_json::Map::new(),
    }
}

/// The server's embedding providers: base URLs, the OpenAI key, the local model's directory.
/// A config's own `embedding_endpoint` wins over the base URL here, as in Letta, where the
/// config records the endpoint it was made for.
#[derive(Debug, Clone, Default)]
pub struct RouterConfig {
    /// Default `https://api.openai.com/v1`.
    pub openai_base_url: Option<String>,
    /// Sent to `openai` endpoints only, so the key never reaches a local server by accident.
    pub openai_api_key: Option<String>,
    /// Ollama's root (`http://host:11434`, `/v1` is added) or its `/v1`; default localhost.
    pub ollama_base_url: Option<String>,
    /// Default `http://localhost:8000/v1`.
    pub vllm_base_url: Option<String>,
    /// Default `http://localhost:1234/v1`.
    pub lmstudio_base_url: Option<String>,
    /// Where `config.json`, `tokenizer.json` and `model.safetensors` of all-MiniLM-L6-v2 are.
    pub local_model_dir: Option<PathBuf>,
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
            local: config
                .local_model_dir
                .clone()
                .map(|dir| Arc::new(LocalEmbedder::new(dir))),
            config,
            remote: Mutex::new(HashMap::new()),
        }
    }

    /// The embedder `config` asks for. For `local`, the model files must be present
    /// (`ModelMissing` otherwise); nothing is loaded until the first `embed`.
    pub fn embedder_for(&self, config: &EmbeddingConfig) -> Result<Arc<dyn Embedder>, EmbedError> {
        let kind = config.embedding_endpoint_type.as_str();
        let endpoint = config
            .embedding_endpoint
            .as_deref()
            .filter(|e| !e.trim().is_empty());
        let c = &self.config;
        let (base, api_key) = match kind {
            "local" => return self.local(&config.embedding_model),
            "openai" => (
                endpoint
                    .or(c.openai_base_url.as_deref())
                    .unwrap_or(OPENAI_BASE_URL)
                    .to_owned(),
                c.openai_api_key.clone(),
            ),
            "ollama" => (
                with_v1(
                    endpoint.or(c.ollama_base_url.as_deref()),
                    "http://localhost:11434",
                ),
                None,
            ),
            "vllm" => (
                with_v1(
                    endpoint.or(c.vllm_base_url.as_deref()),
                    "http://localhost:8000",
                ),
                None,
            ),
            "lmstudio" | "lmstudio_openai" => (
                with_v1(
                    endpoint.or(c.lmstudio_base_url.as_deref()),
                    "http://localhost:1234",
                ),
                None,
            ),
            other => return Err(EmbedError::UnknownEndpointType(other.to_owned())),
        };
        let key = (kind.to_owned(), base, config.embedding_model.clone());
        // A poisoned lock only means another thread panicked mid-insert; the map is still valid.
        let mut cache = self.remote.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(embedder) = cache.get(&key) {
            return Ok(Arc::clone(embedder));
        }
        let embedder: Arc<dyn Embedder> = Arc::new(
            OpenAiEmbedder::new(&key.1, &key.2, api_key, c.remote.clone())?
                .with_name(format!("{kind}/{}", key.2)),
        );
        cache.insert(key, Arc::clone(&embedder));
        Ok(embedder)
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
        if !local.is_loaded() {
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

/// The OpenAI-compatible root of a local server: Letta stores Ollama's and LM Studio's native
/// roots (`http://host:11434`), whose OpenAI API is under `/v1`.
fn with_v1(url: Option<&str>, default: &str) -> String {
    let url = url.unwrap_or(default).trim_end_matches('/');
    if url.ends_with("/v1") {
        url.to_owned()
    } else {
        format!("{url}/v1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_is_added_once() {
        assert_eq!(with_v1(Some("http://h:11434"), "x"), "http://h:11434/v1");
        assert_eq!(with_v1(Some("http://h:11434/"), "x"), "http://h:11434/v1");
        assert_eq!(
            with_v1(Some("http://h:11434/v1/"), "x"),
            "http://h:11434/v1"
        );
        assert_eq!(
            with_v1(None, "http://localhost:1234"),
            "http://localhost:1234/v1"
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
