//! `ProviderStore`: providers created through `/v1/providers`.

use std::sync::Arc;

use mneme_types::{ProviderId, ProviderRecord};

use super::fixtures::*;
use crate::{Order, Page, ProviderFilter, Store, StoreError};

/// A provider record as the service stores it (the key already sealed).
pub fn provider(name: &str, provider_type: &str) -> ProviderRecord {
    let now = mneme_types::time::now();
    ProviderRecord {
        id: ProviderId::new(),
        name: name.into(),
        provider_type: provider_type.into(),
        base_url: Some(format!("http://{name}.example/v1")),
        api_key_sealed: Some(format!("sealed-{name}")),
        access_key_sealed: None,
        region: None,
        api_version: None,
        created_at: now,
        updated_at: now,
        last_synced: None,
    }
}

fn names(list: &[ProviderRecord]) -> Vec<&str> {
    list.iter().map(|p| p.name.as_str()).collect()
}

pub async fn providers_round_trip_with_unique_names(store: Arc<dyn Store>) {
    let mut azure = provider("my-azure", "azure");
    azure.api_version = Some("2024-09-01-preview".into());
    azure.region = Some("westeurope".into());
    azure.access_key_sealed = Some("sealed-access".into());
    let created = store.create_provider(azure.clone()).await.unwrap();
    assert_eq!(created, azure);
    assert_eq!(store.get_provider(azure.id).await.unwrap(), azure);
    let err = store
        .create_provider(provider("my-azure", "openai"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = store.get_provider(ProviderId::new()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

pub async fn provider_lists_filter_and_page(store: Arc<dyn Store>) {
    let mut made = Vec::new();
    for (name, kind) in [("a", "openai"), ("b", "anthropic"), ("c", "openai")] {
        made.push(store.create_provider(provider(name, kind)).await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let all = ProviderFilter::default();
    let newest = store
        .list_providers(&all, &page(10, Order::Desc))
        .await
        .unwrap();
    assert_eq!(names(&newest), ["c", "b", "a"]);
    let oldest = store
        .list_providers(&all, &page(2, Order::Asc))
        .await
        .unwrap();
    assert_eq!(names(&oldest), ["a", "b"]);
    let after_a = Page {
        after: Some(made[0].id.to_string()),
        ..page(10, Order::Asc)
    };
    let rest = store.list_providers(&all, &after_a).await.unwrap();
    assert_eq!(names(&rest), ["b", "c"]);
    let before_c = Page {
        before: Some(made[2].id.to_string()),
        ..page(10, Order::Asc)
    };
    let earlier = store.list_providers(&all, &before_c).await.unwrap();
    assert_eq!(names(&earlier), ["a", "b"]);
    let unknown = Page {
        after: Some(ProviderId::new().to_string()),
        ..page(10, Order::Asc)
    };
    assert_eq!(store.list_providers(&all, &unknown).await.unwrap().len(), 3);
    let openai = ProviderFilter {
        provider_type: Some("openai".into()),
        ..ProviderFilter::default()
    };
    let typed = store
        .list_providers(&openai, &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(names(&typed), ["a", "c"]);
    let named = ProviderFilter {
        name: Some("b".into()),
        ..ProviderFilter::default()
    };
    let by_name = store
        .list_providers(&named, &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(names(&by_name), ["b"]);
}

pub async fn update_provider_applies_the_edit_or_nothing(store: Arc<dyn Store>) {
    let p = store
        .create_provider(provider("p", "openai"))
        .await
        .unwrap();
    store
        .create_provider(provider("q", "openai"))
        .await
        .unwrap();
    let updated = store
        .update_provider(
            p.id,
            Box::new(|r| {
                r.api_key_sealed = Some("sealed-new".into());
                r.base_url = None;
                r.id = ProviderId::new();
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(updated.id, p.id);
    assert_eq!(updated.created_at, p.created_at);
    assert!(updated.updated_at >= p.updated_at);
    assert_eq!(updated.api_key_sealed.as_deref(), Some("sealed-new"));
    assert_eq!(store.get_provider(p.id).await.unwrap(), updated);
    let refused = store
        .update_provider(
            p.id,
            Box::new(|r| {
                r.base_url = Some("http://changed".into());
                Err(StoreError::Invalid("no".into()))
            }),
        )
        .await;
    assert!(matches!(refused, Err(StoreError::Invalid(_))));
    let clash = store
        .update_provider(
            p.id,
            Box::new(|r| {
                r.name = "q".into();
                Ok(())
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(clash, StoreError::Conflict(_)), "{clash:?}");
    assert_eq!(store.get_provider(p.id).await.unwrap(), updated);
    let missing = store
        .update_provider(ProviderId::new(), Box::new(|_| Ok(())))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, StoreError::NotFound { .. }),
        "{missing:?}"
    );
}

pub async fn deleted_providers_are_gone_and_free_their_name(store: Arc<dyn Store>) {
    let p = store.create_provider(provider("p", "groq")).await.unwrap();
    store.delete_provider(p.id).await.unwrap();
    let err = store.get_provider(p.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let again = store.delete_provider(p.id).await.unwrap_err();
    assert!(matches!(again, StoreError::NotFound { .. }), "{again:?}");
    store.create_provider(provider("p", "groq")).await.unwrap();
}
