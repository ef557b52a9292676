//! Asking providers which models they serve, with a cache: a listing is reused for five
//! minutes, a failure for thirty seconds (an unreachable server must not slow every request).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mneme_llm::{LlmError, LlmRouter, ProviderAccess, RemoteModel};

/// How the catalogue reaches providers' model lists; the router in production, a stand-in
/// in tests of the catalogue alone.
#[async_trait]
pub trait ModelLister: Send + Sync {
    /// The models provider `name` (of the access table) serves.
    async fn list_models(&self, name: &str) -> Result<Vec<RemoteModel>, LlmError>;
    /// The models served at `access`, which need not be in the table (a provider check).
    async fn list_models_at(&self, access: &ProviderAccess) -> Result<Vec<RemoteModel>, LlmError>;
}

#[async_trait]
impl ModelLister for LlmRouter {
    async fn list_models(&self, name: &str) -> Result<Vec<RemoteModel>, LlmError> {
        LlmRouter::list_models(self, name).await
    }

    async fn list_models_at(&self, access: &ProviderAccess) -> Result<Vec<RemoteModel>, LlmError> {
        LlmRouter::list_models_at(self, access).await
    }
}

/// A listing may take this long before it counts as failed.
pub(crate) const LIST_TIMEOUT: Duration = Duration::from_secs(10);
const FRESH: Duration = Duration::from_secs(300);
const FAILURE_FRESH: Duration = Duration::from_secs(30);

/// The outcome of asking a provider, as cached.
pub(crate) type Listing = Result<Arc<Vec<RemoteModel>>, LlmError>;

#[derive(Default)]
pub(crate) struct ListingCache {
    entries: Mutex<HashMap<String, (Instant, Listing)>>,
}

impl ListingCache {
    /// The cached listing of `name` while it is fresh.
    pub(crate) fn get(&self, name: &str) -> Option<Listing> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (at, listing) = entries.get(name)?;
        let ttl = if listing.is_ok() {
            FRESH
        } else {
            FAILURE_FRESH
        };
        (at.elapsed() < ttl).then(|| listing.clone())
    }

    pub(crate) fn put(&self, name: &str, listing: Listing) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(name.to_owned(), (Instant::now(), listing));
    }

    pub(crate) fn forget(&self, name: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(name);
    }
}

/// Asks `lister` for provider `name`'s models within `LIST_TIMEOUT`.
pub(crate) async fn fetch(lister: &dyn ModelLister, name: &str) -> Listing {
    match tokio::time::timeout(LIST_TIMEOUT, lister.list_models(name)).await {
        Ok(Ok(models)) => Ok(Arc::new(models)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(LlmError::Timeout),
    }
}
