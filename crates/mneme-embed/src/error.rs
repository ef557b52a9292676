//! `EmbedError`: why an embedding request failed, in words an API user can act on (the message
//! ends up in the `detail` of an HTTP error).

use std::path::{Path, PathBuf};

/// An embedding failure. The variants say whose fault it is: the provider is down
/// (`Unavailable`), the provider refused (`Provider`), the provider answered nonsense
/// (`BadResponse`), the local model is absent or broken (`ModelMissing`, `Model`), or the
/// embedding config asks for something this server cannot do (`UnknownEndpointType`,
/// `UnknownModel`, `NotConfigured`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    /// The provider could not be reached: connection refused, DNS failure or timeout.
    #[error("the embedding provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider answered with an error status.
    #[error("the embedding provider answered {status}: {message}")]
    Provider { status: u16, message: String },
    /// The provider answered 2xx with a body that is not a usable embedding list.
    #[error("the embedding provider sent an unexpected response: {0}")]
    BadResponse(String),
    /// A file of the local model is absent (or there is no model directory at all).
    #[error("{}", model_missing_message(dir, missing))]
    ModelMissing { dir: PathBuf, missing: String },
    /// The local model's files are present but the model or tokenizer failed.
    #[error("the local embedding model failed: {0}")]
    Model(String),
    /// `embedding_endpoint_type` names no provider this server knows.
    #[error(
        "unknown embedding_endpoint_type `{0}`: expected one of {known}",
        known = crate::router::known_endpoint_types()
    )]
    UnknownEndpointType(String),
    /// The local provider was asked for a model it does not have.
    #[error("unknown local embedding model `{0}`: the local provider serves only all-MiniLM-L6-v2")]
    UnknownModel(String),
    /// The endpoint type is known but the server has no address for it.
    #[error("the embedding provider is not configured: {0}")]
    NotConfigured(String),
}

impl EmbedError {
    /// Worth another attempt after a short wait: the provider is down or overloaded.
    pub fn is_retryable(&self) -> bool {
        match self {
            EmbedError::Unavailable(_) => true,
            EmbedError::Provider { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

fn model_missing_message(dir: &Path, missing: &str) -> String {
    if dir.as_os_str().is_empty() {
        return format!(
            "the local embedding model is not installed: {missing}; \
             set MNEME_EMBEDDING_MODEL_DIR and fetch the model with scripts/fetch-model"
        );
    }
    format!(
        "the local embedding model is not installed: {missing} is missing in {}; \
         fetch it with scripts/fetch-model (all-MiniLM-L6-v2: config.json, tokenizer.json, \
         model.safetensors)",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_missing_names_the_directory_and_the_file() {
        let e = EmbedError::ModelMissing {
            dir: PathBuf::from("/models/minilm"),
            missing: "model.safetensors".into(),
        };
        let message = e.to_string();
        assert!(message.contains("/models/minilm"), "{message}");
        assert!(message.contains("model.safetensors"), "{message}");
        assert!(message.contains("scripts/fetch-model"), "{message}");
    }

    #[test]
    fn only_outages_and_overload_are_retryable() {
        assert!(EmbedError::Unavailable("refused".into()).is_retryable());
        let status = |status| EmbedError::Provider {
            status,
            message: String::new(),
        };
        assert!(status(429).is_retryable());
        assert!(status(503).is_retryable());
        assert!(!status(401).is_retryable());
        assert!(!EmbedError::BadResponse("x".into()).is_retryable());
    }
}
