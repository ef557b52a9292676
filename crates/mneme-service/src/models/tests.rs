use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use mneme_llm::{LlmError, ModelKind, ProviderAccess, RemoteModel};
use mneme_types::ProviderSettings;

use super::*;
use crate::ServiceError;

/// A lister that serves a fixed list for `up` and fails for every other provider.
struct Lister {
    up: &'static str,
    calls: AtomicUsize,
}

fn model(name: &str, kind: ModelKind, window: Option<u32>) -> RemoteModel {
    RemoteModel {
        name: name.into(),
        kind,
        context_window: window,
        max_output_tokens: None,
        embedding_dim: None,
    }
}

#[async_trait]
impl ModelLister for Lister {
    async fn list_models(&self, name: &str) -> Result<Vec<RemoteModel>, LlmError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if name != self.up {
            return Err(LlmError::Connection("refused".into()));
        }
        Ok(vec![
            model("qwen3-8b", ModelKind::Chat, Some(40_960)),
            model("llama3:latest", ModelKind::Chat, None),
            model("nomic-embed-text", ModelKind::Embedding, None),
        ])
    }

    async fn list_models_at(&self, _: &ProviderAccess) -> Result<Vec<RemoteModel>, LlmError> {
        Err(LlmError::Connection("unused".into()))
    }
}

fn url(u: &str) -> ProviderSettings {
    ProviderSettings {
        base_url: Some(u.into()),
        ..ProviderSettings::default()
    }
}

fn catalog(up: &'static str) -> (ModelCatalog, Arc<Lister>) {
    let settings = ConfiguredProviders::default()
        .with(ProviderKind::Openai, url("http://127.0.0.1:9/v1/"))
        .with(ProviderKind::Vllm, url("http://gpu:8000/v1"));
    let lister = Arc::new(Lister {
        up,
        calls: AtomicUsize::new(0),
    });
    let c = ModelCatalog::configured(&settings).with_lister(lister.clone());
    (c, lister)
}

fn is_not_found(r: Result<mneme_types::LlmConfig, ServiceError>) -> bool {
    matches!(r, Err(ServiceError::NotFound(_)))
}

#[tokio::test]
async fn a_served_model_resolves_with_its_window_and_letta_defaults() {
    let (c, _) = catalog("vllm");
    let cfg = c.resolve_llm("vllm/qwen3-8b", None).await.unwrap();
    assert_eq!(cfg.model_endpoint_type, "vllm");
    assert_eq!(cfg.model_endpoint.as_deref(), Some("http://gpu:8000/v1"));
    assert_eq!(cfg.provider_category.as_deref(), Some("base"));
    assert_eq!(cfg.context_window, 40_960);
    assert_eq!(cfg.max_tokens, Some(4_096));
    assert_eq!(cfg.temperature, 1.0);
    let ollama_style = c.resolve_llm("vllm/llama3", Some(4_000)).await.unwrap();
    assert_eq!(ollama_style.context_window, 4_000);
    let e = c.resolve_llm("vllm/not-served", None).await.unwrap_err();
    assert!(e.to_string().contains("'vllm/qwen3-8b'"), "{e}");
}

#[tokio::test]
async fn an_unreachable_provider_offers_its_known_models() {
    let (c, lister) = catalog("vllm");
    let cfg = c.resolve_llm("openai/gpt-4.1", None).await.unwrap();
    assert_eq!(cfg.context_window, GLOBAL_CONTEXT_WINDOW_CAP);
    assert_eq!(cfg.max_tokens, Some(16_384));
    let e = c.resolve_llm("openai/gpt-unknown", None).await.unwrap_err();
    assert!(e.to_string().contains("could not be fetched"), "{e}");
    // The failure is cached: one attempt for both resolutions.
    assert_eq!(lister.calls.load(Ordering::SeqCst), 1);
    c.forget_listing("openai");
    c.resolve_llm("openai/gpt-4o", None).await.unwrap();
    assert_eq!(lister.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn unconfigured_providers_and_bad_handles_are_refused() {
    let (c, _) = catalog("vllm");
    assert!(is_not_found(
        c.resolve_llm("anthropic/claude-sonnet-4-5", None).await
    ));
    assert!(is_not_found(c.resolve_llm("nope/x", None).await));
    assert!(matches!(
        c.resolve_llm("gpt-4o", None).await,
        Err(ServiceError::BadRequest(_))
    ));
    let e = c.resolve_llm("anthropic/x", None).await.unwrap_err();
    assert!(e.to_string().contains("ANTHROPIC_API_KEY"), "{e}");
    assert!(c.resolve_embedding("anthropic/x").is_err());
    let emb = c
        .resolve_embedding("openai/text-embedding-3-large")
        .unwrap();
    assert_eq!(emb.embedding_dim, 3072);
}

#[tokio::test]
async fn listings_show_served_or_known_models_and_filter() {
    let (c, _) = catalog("vllm");
    let all = c.list_llms(&ModelFilter::default()).await;
    let handles: Vec<&str> = all.iter().filter_map(|m| m["handle"].as_str()).collect();
    assert!(handles.contains(&"vllm/qwen3-8b") && handles.contains(&"openai/gpt-4o-mini"));
    assert!(!handles.contains(&"vllm/nomic-embed-text"));
    let vllm_only = ModelFilter {
        provider_type: Some("vllm".into()),
        ..ModelFilter::default()
    };
    let listed = c.list_llms(&vllm_only).await;
    assert!(listed.iter().all(|m| m["provider_name"] == "vllm"));
    assert_eq!(listed.len(), 2);
    let byok = ModelFilter {
        provider_category: vec!["byok".into()],
        ..ModelFilter::default()
    };
    assert!(c.list_llms(&byok).await.is_empty());
    let emb = c.list_embeddings(&ModelFilter::default()).await;
    assert!(emb.iter().any(|m| m["handle"] == "vllm/nomic-embed-text"));
    assert!(
        emb.iter()
            .any(|m| m["handle"] == "openai/text-embedding-3-small")
    );
}

#[tokio::test]
async fn created_providers_are_byok_and_can_be_removed() {
    let (c, _) = catalog("mine");
    c.set(Provider {
        name: "mine".into(),
        kind: ProviderKind::Openai,
        base_url: "http://box/v1".into(),
        listed: true,
        byok: true,
    });
    let cfg = c.resolve_llm("mine/qwen3-8b", None).await.unwrap();
    assert_eq!(cfg.provider_name.as_deref(), Some("mine"));
    assert_eq!(cfg.provider_category.as_deref(), Some("byok"));
    assert_eq!(cfg.model_endpoint_type, "openai");
    c.remove("mine");
    assert!(is_not_found(c.resolve_llm("mine/qwen3-8b", None).await));
}

#[test]
fn an_alias_finds_its_dated_snapshot_and_nothing_else() {
    let offered = |name: &str| Offered {
        name: name.into(),
        context_window: 200_000,
        embedding_dim: None,
    };
    let offer = Offer {
        models: vec![
            offered("claude-haiku-4-5-20251001"),
            offered("claude-sonnet-4-5-20250929"),
            offered("claude-sonnet-4-5-20260101"),
            offered("llama3:latest"),
        ],
        fallback: None,
    };
    let name = |model: &str| resolve::find(&offer, model).map(|m| m.name.clone());
    assert_eq!(
        name("claude-haiku-4-5").as_deref(),
        Some("claude-haiku-4-5-20251001")
    );
    assert_eq!(
        name("claude-sonnet-4-5").as_deref(),
        Some("claude-sonnet-4-5-20260101")
    );
    assert_eq!(name("llama3").as_deref(), Some("llama3:latest"));
    assert_eq!(name("claude-haiku-4"), None);
    assert_eq!(name("claude-haiku"), None);
}
