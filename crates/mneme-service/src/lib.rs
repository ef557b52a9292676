//! Use cases: what the HTTP server (and later the CLI) asks of mneme. Each function validates its
//! input, calls the store with complete, atomic changes and shapes the result in Letta's terms.

mod agents;
mod blocks;
mod error;
mod include;
pub mod models;
mod names;

use std::sync::Arc;

use mneme_store::Store;

pub use error::ServiceError;
pub use include::Include;
pub use models::{ModelCatalog, Provider, ProviderKind};

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Settings the service needs, resolved once by the binary.
#[derive(Debug, Clone, Default)]
pub struct ServiceConfig {
    /// Handle used when an agent is created with neither `model` nor `llm_config`.
    pub default_model: Option<String>,
    /// Handle used when an agent is created with neither `embedding` nor `embedding_config`.
    pub default_embedding: Option<String>,
}

/// The entry point for every use case. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    models: Arc<ModelCatalog>,
    config: Arc<ServiceConfig>,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, models: ModelCatalog, config: ServiceConfig) -> Service {
        Service {
            store,
            models: Arc::new(models),
            config: Arc::new(config),
        }
    }

    pub fn models(&self) -> &ModelCatalog {
        &self.models
    }
}
