//! Providers created through `/v1/providers` ("bring your own key"): the stored record and the
//! request bodies. The stored record holds the key only sealed (see `mneme-service`'s
//! `secrets`); the response shape, with the key masked, is built by the service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::ProviderId;

/// A created provider as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProviderRecord {
    pub id: ProviderId,
    /// Unique; the handle prefix of its models (`<name>/<model>`).
    pub name: String,
    /// Letta's `ProviderType`, a registry endpoint type (`openai`, `anthropic`, `azure`, ...).
    pub provider_type: String,
    pub base_url: Option<String>,
    /// The API key, sealed under the server secret.
    pub api_key_sealed: Option<String>,
    /// Bedrock's access key, sealed; kept so a round trip loses nothing.
    pub access_key_sealed: Option<String>,
    pub region: Option<String>,
    pub api_version: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When its model list was last fetched (`refresh`).
    pub last_synced: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for ProviderRecord {
    // Sealed keys are not secret without the server key, but they stay out of logs anyway.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("provider_type", &self.provider_type)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// `ProviderCreate`. Unknown keys are ignored, as in every request type (newer SDKs add
/// fields).
#[derive(Clone, Deserialize, schemars::JsonSchema)]
pub struct CreateProvider {
    pub name: String,
    pub provider_type: String,
    pub api_key: String,
    #[serde(default)]
    pub access_key: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
}

/// `ProviderUpdate`: the key is required, as in Letta; the other fields change when present.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
pub struct UpdateProvider {
    pub api_key: String,
    #[serde(default)]
    pub access_key: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
}

/// `ProviderCheck`.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
pub struct CheckProvider {
    pub provider_type: String,
    pub api_key: String,
    #[serde(default)]
    pub access_key: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
}

macro_rules! keyless_debug {
    ($($t:ident),*) => {$(
        impl std::fmt::Debug for $t {
            // Never print the key itself.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("base_url", &self.base_url)
                    .field("api_version", &self.api_version)
                    .finish_non_exhaustive()
            }
        }
    )*};
}
keyless_debug!(CreateProvider, UpdateProvider, CheckProvider);
