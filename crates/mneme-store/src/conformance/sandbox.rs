//! `SandboxStore`: sandbox configurations (one of each kind) and their variables.

use std::sync::Arc;

use mneme_types::{
    E2bSandboxConfig, LocalSandboxConfig, SandboxConfig, SandboxConfigId, SandboxEnvVarId,
    SandboxSettings, SandboxType,
};

use super::fixtures::*;
use crate::{Order, Page, SandboxEnvVarRecord, Store, StoreError};

/// A configuration as the service builds it.
pub fn sandbox_config(settings: SandboxSettings) -> SandboxConfig {
    let now = mneme_types::time::now();
    SandboxConfig {
        created_by_id: None,
        last_updated_by_id: None,
        created_at: now,
        updated_at: now,
        id: SandboxConfigId::new(),
        kind: settings.kind(),
        organization_id: None,
        config: settings,
    }
}

fn local(dir: &str) -> SandboxSettings {
    SandboxSettings::Local(LocalSandboxConfig {
        sandbox_dir: Some(dir.into()),
        ..LocalSandboxConfig::default()
    })
}

/// A variable as the service stores it (the value already sealed).
pub fn env_var(config: SandboxConfigId, key: &str, sealed: &str) -> SandboxEnvVarRecord {
    let now = mneme_types::time::now();
    SandboxEnvVarRecord {
        id: SandboxEnvVarId::new(),
        sandbox_config_id: config,
        key: key.into(),
        value_sealed: sealed.into(),
        description: None,
        created_at: now,
        updated_at: now,
    }
}

pub async fn one_sandbox_config_per_kind(store: Arc<dyn Store>) {
    let first = store
        .put_sandbox_config(sandbox_config(local("/a")), true)
        .await
        .unwrap();
    assert_eq!(store.get_sandbox_config(first.id).await.unwrap(), first);
    let kept = store
        .put_sandbox_config(sandbox_config(local("/b")), false)
        .await
        .unwrap();
    assert_eq!(kept, first, "without replace the stored one stays");
    let replaced = store
        .put_sandbox_config(sandbox_config(local("/b")), true)
        .await
        .unwrap();
    assert_eq!(replaced.id, first.id);
    assert_eq!(replaced.created_at, first.created_at);
    assert_eq!(replaced.config, local("/b"));
    let e2b = SandboxSettings::E2b(E2bSandboxConfig::default());
    let other = store
        .put_sandbox_config(sandbox_config(e2b), true)
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    let all = store
        .list_sandbox_configs(None, &page(10, Order::Asc))
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|c| c.id).collect();
    assert_eq!(ids, [first.id, other.id]);
    let e2b_only = store
        .list_sandbox_configs(Some(SandboxType::E2b), &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(e2b_only, std::slice::from_ref(&other));
    let after = Page {
        after: Some(first.id.to_string()),
        ..page(10, Order::Asc)
    };
    let rest = store.list_sandbox_configs(None, &after).await.unwrap();
    assert_eq!(rest, [other]);
}

pub async fn sandbox_config_edits_apply_or_write_nothing(store: Arc<dyn Store>) {
    let config = store
        .put_sandbox_config(sandbox_config(local("/a")), true)
        .await
        .unwrap();
    let err = store
        .update_sandbox_config(
            config.id,
            Box::new(|c| {
                c.config = local("/x");
                Err(StoreError::Invalid("no".into()))
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(store.get_sandbox_config(config.id).await.unwrap(), config);
    let changed = store
        .update_sandbox_config(
            config.id,
            Box::new(|c| {
                c.config = local("/y");
                c.kind = SandboxType::Modal;
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(changed.kind, SandboxType::Local, "the kind stays");
    assert_eq!(changed.config, local("/y"));
    assert_eq!(store.get_sandbox_config(config.id).await.unwrap(), changed);
    let missing = store
        .update_sandbox_config(SandboxConfigId::new(), Box::new(|_| Ok(())))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, StoreError::NotFound { .. }),
        "{missing:?}"
    );
}

pub async fn sandbox_env_vars_are_unique_per_key(store: Arc<dyn Store>) {
    let config = store
        .put_sandbox_config(sandbox_config(local("/a")), true)
        .await
        .unwrap();
    let mut first = env_var(config.id, "API_KEY", "sealed-1");
    first.description = Some("the key".into());
    let stored = store.put_sandbox_env_var(first.clone()).await.unwrap();
    assert_eq!(stored, first);
    let again = store
        .put_sandbox_env_var(env_var(config.id, "API_KEY", "sealed-2"))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.value_sealed, "sealed-2");
    assert_eq!(again.description.as_deref(), Some("the key"));
    let second = store
        .put_sandbox_env_var(env_var(config.id, "OTHER", "sealed-3"))
        .await
        .unwrap();
    let listed = store
        .list_sandbox_env_vars(config.id, &page(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(listed, [again.clone(), second.clone()]);
    let clash = store
        .update_sandbox_env_var(
            second.id,
            Box::new(|v| {
                v.key = "API_KEY".into();
                Ok(())
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(clash, StoreError::Conflict(_)), "{clash:?}");
    let renamed = store
        .update_sandbox_env_var(
            second.id,
            Box::new(|v| {
                v.key = "RENAMED".into();
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(renamed.key, "RENAMED");
    assert_eq!(renamed.created_at, second.created_at);
    let unknown = SandboxConfigId::new();
    let err = store
        .put_sandbox_env_var(env_var(unknown, "K", "v"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .list_sandbox_env_vars(unknown, &page(10, Order::Asc))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

pub async fn deleting_a_sandbox_config_deletes_its_variables(store: Arc<dyn Store>) {
    let config = store
        .put_sandbox_config(sandbox_config(local("/a")), true)
        .await
        .unwrap();
    let a = store
        .put_sandbox_env_var(env_var(config.id, "A", "s"))
        .await
        .unwrap();
    let b = store
        .put_sandbox_env_var(env_var(config.id, "B", "s"))
        .await
        .unwrap();
    store.delete_sandbox_env_var(a.id).await.unwrap();
    let err = store.delete_sandbox_env_var(a.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    store.delete_sandbox_config(config.id).await.unwrap();
    let err = store.get_sandbox_config(config.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .update_sandbox_env_var(b.id, Box::new(|_| Ok(())))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "the variable went too: {err:?}"
    );
    let err = store.delete_sandbox_config(config.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let fresh = store
        .put_sandbox_config(sandbox_config(local("/c")), true)
        .await
        .unwrap();
    assert_ne!(fresh.id, config.id, "the kind is free again");
}
