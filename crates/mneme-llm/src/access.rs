//! Where each provider is and which key it takes: the operator's environment at start-up and
//! the providers created through `/v1/providers` later, looked up per call by provider name.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use mneme_types::{ConfiguredProviders, LlmConfig, ProviderKind};

/// How to reach one provider.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderAccess {
    pub kind: ProviderKind,
    /// The operator's or the provider record's URL; `None`: the registry's default.
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    /// Azure OpenAI's `api-version`.
    pub api_version: Option<String>,
}

impl fmt::Debug for ProviderAccess {
    // Never print the key itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderAccess")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("api_version", &self.api_version)
            .finish()
    }
}

/// Where one call goes: resolved from the config and the access table.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub kind: ProviderKind,
    /// Without a trailing slash.
    pub base_url: String,
    pub api_key: Option<String>,
    pub api_version: Option<String>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// Every provider's access by provider name (the handle prefix and the configs'
/// `provider_name`). Shared between the router, which reads it per call, and the service,
/// which changes it when `/v1/providers` does.
#[derive(Default)]
pub struct AccessTable {
    by_name: RwLock<HashMap<String, ProviderAccess>>,
}

impl AccessTable {
    /// The table for what the operator configured at start-up, under each registry name.
    pub fn configured(providers: &ConfiguredProviders) -> AccessTable {
        let table = AccessTable::default();
        for (spec, settings) in providers.iter().filter(|(_, s)| s.is_configured()) {
            table.set(
                spec.name,
                ProviderAccess {
                    kind: spec.kind,
                    base_url: settings.base_url.clone(),
                    api_key: settings.api_key.clone(),
                    api_version: settings.api_version.clone(),
                },
            );
        }
        table
    }

    pub fn set(&self, name: &str, access: ProviderAccess) {
        let mut map = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        map.insert(name.to_owned(), access);
    }

    pub fn remove(&self, name: &str) {
        let mut map = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        map.remove(name);
    }

    pub fn get(&self, name: &str) -> Option<ProviderAccess> {
        let map = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        map.get(name).cloned()
    }

    /// The names in the table, sorted.
    pub fn names(&self) -> Vec<String> {
        let map = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<String> = map.keys().cloned().collect();
        names.sort_unstable();
        names
    }

    /// Where a call with `config` goes: the provider `provider_name` names (else the registry
    /// provider of the endpoint type); the config's endpoint wins over the table's URL, which
    /// wins over the registry's default. `None` when the endpoint type is unknown (a created
    /// provider's configs carry its type as the endpoint type, as Letta's do).
    pub fn endpoint(&self, config: &LlmConfig) -> Option<Endpoint> {
        let kind = ProviderKind::from_endpoint_type(&config.model_endpoint_type)?;
        let name = config.provider_name.as_deref().unwrap_or(kind.spec().name);
        let access = self.get(name);
        let url = config
            .model_endpoint
            .as_deref()
            .or(access.as_ref().and_then(|a| a.base_url.as_deref()));
        Some(Endpoint {
            kind,
            base_url: kind.spec().openai_base_url(url).into_owned(),
            api_key: access.as_ref().and_then(|a| a.api_key.clone()),
            api_version: access.and_then(|a| a.api_version),
        })
    }

    /// Where provider `name`'s model list is: its table entry, else its registry row.
    pub fn provider_endpoint(&self, name: &str) -> Option<Endpoint> {
        let access = self.get(name);
        let kind = access
            .as_ref()
            .map(|a| a.kind)
            .or_else(|| ProviderKind::from_name(name))?;
        let url = access.as_ref().and_then(|a| a.base_url.as_deref());
        Some(Endpoint {
            kind,
            base_url: kind.spec().openai_base_url(url).into_owned(),
            api_key: access.as_ref().and_then(|a| a.api_key.clone()),
            api_version: access.and_then(|a| a.api_version),
        })
    }
}

impl fmt::Debug for AccessTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTable")
            .field("providers", &self.names())
            .finish()
    }
}
