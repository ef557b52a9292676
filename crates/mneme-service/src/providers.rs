//! `/v1/providers`: providers users create with their own keys ("byok"). Keys are sealed
//! before they are stored and never answered in full; every change reaches the router's
//! access table and the model catalogue at once, so the provider's handles work right away.

use mneme_llm::{LlmError, ProviderAccess};
use mneme_store::{Page, ProviderFilter};
use mneme_types::{
    CheckProvider, CreateProvider, ProviderId, ProviderKind, ProviderRecord, UpdateProvider,
};
use serde_json::{Value, json};

use crate::models::Provider;
use crate::secrets::mask;
use crate::{Result, Service, ServiceError};

/// Letta's `ProviderType` values mneme has a registry row for.
const PROVIDER_TYPES: &[&str] = &[
    "anthropic",
    "azure",
    "deepseek",
    "google_ai",
    "groq",
    "lmstudio_openai",
    "mistral",
    "ollama",
    "openai",
    "together",
    "vllm",
    "openrouter",
    "xai",
];

impl Service {
    /// Registers every stored provider with the router and the catalogue (at start-up).
    pub(crate) async fn load_providers(&self) -> Result<()> {
        let page = Page {
            limit: u32::MAX,
            ..Page::default()
        };
        let stored = self
            .store
            .list_providers(&ProviderFilter::default(), &page)
            .await?;
        for record in &stored {
            match self.register(record) {
                Ok(()) => {}
                Err(e) => tracing::warn!(provider = %record.name, error = %e,
                    "a stored provider cannot be used"),
            }
        }
        Ok(())
    }

    pub async fn create_provider(&self, req: CreateProvider) -> Result<Value> {
        let kind = provider_type(&req.provider_type)?;
        validate_name(&req.name)?;
        let base_url = non_empty(req.base_url);
        require_url(kind, base_url.as_deref())?;
        let now = mneme_types::time::now();
        let record = ProviderRecord {
            id: ProviderId::new(),
            name: req.name,
            provider_type: kind.endpoint_type().to_owned(),
            base_url,
            api_key_sealed: non_empty(Some(req.api_key)).map(|k| self.secrets.seal(&k)),
            access_key_sealed: non_empty(req.access_key).map(|k| self.secrets.seal(&k)),
            region: non_empty(req.region),
            api_version: non_empty(req.api_version),
            created_at: now,
            updated_at: now,
            last_synced: None,
        };
        let record = self.store.create_provider(record).await?;
        self.register(&record)?;
        self.provider_json(&record)
    }

    pub async fn list_providers(&self, filter: &ProviderFilter, page: &Page) -> Result<Vec<Value>> {
        let records = self.store.list_providers(filter, page).await?;
        records.iter().map(|r| self.provider_json(r)).collect()
    }

    pub async fn get_provider(&self, id: ProviderId) -> Result<Value> {
        let record = self.store.get_provider(id).await?;
        self.provider_json(&record)
    }

    pub async fn update_provider(&self, id: ProviderId, req: UpdateProvider) -> Result<Value> {
        let key = self.secrets.seal(req.api_key.trim());
        let access = non_empty(req.access_key).map(|k| self.secrets.seal(&k));
        let (base_url, region, version) = (req.base_url, req.region, req.api_version);
        let record = self
            .store
            .update_provider(
                id,
                Box::new(move |r| {
                    r.api_key_sealed = Some(key);
                    r.access_key_sealed = access.or(r.access_key_sealed.take());
                    r.base_url = base_url.map(|u| u.trim().to_owned()).or(r.base_url.take());
                    r.base_url = r.base_url.take().filter(|u| !u.is_empty());
                    r.region = region.or(r.region.take());
                    r.api_version = version.or(r.api_version.take());
                    Ok(())
                }),
            )
            .await?;
        self.register(&record)?;
        self.provider_json(&record)
    }

    pub async fn delete_provider(&self, id: ProviderId) -> Result<Value> {
        let record = self.store.get_provider(id).await?;
        self.store.delete_provider(id).await?;
        self.access.remove(&record.name);
        self.models.remove(&record.name);
        Ok(json!({"message": format!("Provider id={id} successfully deleted")}))
    }

    /// `POST /v1/providers/check`: asks the provider's model list with the key.
    pub async fn check_provider(&self, req: CheckProvider) -> Result<Value> {
        let kind = provider_type(&req.provider_type)?;
        let key = non_empty(Some(req.api_key))
            .ok_or_else(|| ServiceError::bad("API key is required!"))?;
        let base_url = non_empty(req.base_url);
        require_url(kind, base_url.as_deref())?;
        let access = ProviderAccess {
            kind,
            base_url,
            api_key: Some(key),
            api_version: non_empty(req.api_version),
        };
        self.check(&access).await
    }

    /// `POST /v1/providers/{id}/check`.
    pub async fn check_existing_provider(&self, id: ProviderId) -> Result<Value> {
        let record = self.store.get_provider(id).await?;
        let access = self.access_of(&record)?;
        self.check(&access).await
    }

    /// `PATCH /v1/providers/{id}/refresh`: asks the provider's model list again now.
    pub async fn refresh_provider(&self, id: ProviderId) -> Result<Value> {
        let record = self.store.get_provider(id).await?;
        self.models.forget_listing(&record.name);
        let Some(provider) = self.models.provider(&record.name) else {
            return self.provider_json(&record);
        };
        let offer = self.models.offer(&provider, false).await;
        if let Some(why) = offer.fallback {
            // As in Letta: a failed sync is logged and the provider answered as it is.
            tracing::warn!(provider = %record.name, error = %why, "refreshing models failed");
            return self.provider_json(&record);
        }
        let record = self
            .store
            .update_provider(
                id,
                Box::new(|r| {
                    r.last_synced = Some(mneme_types::time::now());
                    Ok(())
                }),
            )
            .await?;
        self.provider_json(&record)
    }

    async fn check(&self, access: &ProviderAccess) -> Result<Value> {
        let lister = self
            .models
            .lister()
            .ok_or_else(|| ServiceError::Internal("no model lister".into()))?;
        let listed =
            tokio::time::timeout(crate::models::LIST_TIMEOUT, lister.list_models_at(access))
                .await
                .unwrap_or(Err(LlmError::Timeout));
        listed.map_err(ServiceError::Llm)?;
        let kind = access.kind.endpoint_type();
        Ok(json!({"message": format!("Valid api key for provider_type={kind}")}))
    }

    /// Puts the provider in the access table and the catalogue under its name.
    fn register(&self, record: &ProviderRecord) -> Result<()> {
        let access = self.access_of(record)?;
        let kind = access.kind;
        self.access.set(&record.name, access);
        self.models.set(Provider {
            name: record.name.clone(),
            kind,
            base_url: kind
                .spec()
                .openai_base_url(record.base_url.as_deref())
                .into_owned(),
            listed: true,
            byok: true,
        });
        Ok(())
    }

    fn access_of(&self, record: &ProviderRecord) -> Result<ProviderAccess> {
        let kind = provider_type(&record.provider_type)?;
        let api_key = match &record.api_key_sealed {
            Some(sealed) => Some(
                self.secrets
                    .open(sealed)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
            ),
            None => None,
        };
        Ok(ProviderAccess {
            kind,
            base_url: record.base_url.clone(),
            api_key,
            api_version: record.api_version.clone(),
        })
    }

    /// Letta's `Provider`, the keys masked.
    fn provider_json(&self, r: &ProviderRecord) -> Result<Value> {
        let masked = |sealed: &Option<String>| {
            sealed.as_ref().map(|s| {
                self.secrets
                    .open(s)
                    .map(|k| mask(&k))
                    .unwrap_or_else(|_| "****".into())
            })
        };
        Ok(json!({
            "id": r.id, "name": r.name, "provider_type": r.provider_type,
            "provider_category": "byok", "api_key": masked(&r.api_key_sealed),
            "base_url": r.base_url, "access_key": masked(&r.access_key_sealed),
            "region": r.region, "api_version": r.api_version, "organization_id": null,
            "updated_at": mneme_types::time::resource(&r.updated_at),
            "last_synced": r.last_synced.as_ref().map(mneme_types::time::resource),
            "api_key_enc": null, "access_key_enc": null,
        }))
    }
}

/// The registry row of a Letta `ProviderType`; one mneme cannot serve is a 400.
fn provider_type(name: &str) -> Result<ProviderKind> {
    PROVIDER_TYPES
        .contains(&name)
        .then(|| ProviderKind::from_endpoint_type(name))
        .flatten()
        .ok_or_else(|| {
            ServiceError::bad(format!(
                "Provider type '{name}' is not supported; supported: {}",
                PROVIDER_TYPES.join(", ")
            ))
        })
}

/// A name is a handle prefix: non-empty, no `/`, and not a registry name (those are the
/// operator's providers, as Letta keeps byok names apart from base ones).
fn validate_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.contains('/') {
        return Err(ServiceError::bad(format!(
            "Provider name '{name}' is invalid: it must be non-empty and contain no '/'"
        )));
    }
    if ProviderKind::from_name(name).is_some() {
        return Err(ServiceError::bad(format!(
            "Provider name '{name}' conflicts with an existing base provider. Please choose a different name."
        )));
    }
    Ok(())
}

/// Azure has no public endpoint: each resource has its own.
fn require_url(kind: ProviderKind, base_url: Option<&str>) -> Result<()> {
    if base_url.is_none() && kind.spec().default_base_url.is_none() {
        return Err(ServiceError::bad(format!(
            "Provider type '{}' needs a base_url",
            kind.endpoint_type()
        )));
    }
    Ok(())
}

/// Letta turns empty strings into "not given".
fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}
